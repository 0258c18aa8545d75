/* Penny's WebAssembly libc: the little of math.h that Penny uses.
 *
 * exp and log are the host's Math.exp and Math.log, imported, so that a
 * kernel's result equals the plain-JavaScript loop's bit for bit. They
 * are macros over the imports because clang folds a call to the builtin
 * exp or log with a constant argument at compile time with the build
 * machine's libm, whose last bit may differ from the engine's.
 *
 * fabs, floor, trunc and sqrt are one instruction each; fmod and ldexp
 * are exact, in math.c. Each is also a real function (math.c), for code
 * that takes its address or bypasses the macro with (name)(x). */
#ifndef PENNY_WASM_MATH_H
#define PENNY_WASM_MATH_H

#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define HUGE_VAL __builtin_huge_val()

/* Type-generic, as C requires: a float is tested as a float (converting
 * a float NaN to double need not keep its sign bit in WebAssembly). */
#define isfinite(x) __builtin_isfinite(x)
#define isinf(x) __builtin_isinf(x)
#define isnan(x) __builtin_isnan(x)
#define signbit(x) __builtin_signbit(x)

double exp(double x);
double log(double x);
double fabs(double x);
double floor(double x);
double trunc(double x);
double sqrt(double x);
double fmod(double x, double y);
double ldexp(double x, int e);
double scalbn(double x, int e);

__attribute__((import_module("env"), import_name("exp")))
double __penny_host_exp(double x);
__attribute__((import_module("env"), import_name("log")))
double __penny_host_log(double x);

#define exp(x) __penny_host_exp(x)
#define log(x) __penny_host_log(x)
#define fabs(x) __builtin_fabs(x)
#define floor(x) __builtin_floor(x)
#define trunc(x) __builtin_trunc(x)
#define sqrt(x) __builtin_sqrt(x)

#endif /* PENNY_WASM_MATH_H */
