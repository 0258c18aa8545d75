/* The built-in function table. Kernels are written on the public
 * fork-join API only (include/penny.h), exactly as a plugin's would be. */
#ifndef PENNY_KERNELS_H
#define PENNY_KERNELS_H

#include "penny.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* On x86-64 Linux a hot loop marked PENNY_CLONES is compiled twice, for
 * AVX2 (four doubles a vector instead of SSE2's two) and for the baseline,
 * and the loader picks one for the CPU it runs on. AVX2 has no FMA
 * instructions of its own, so results are the same bit for bit. */
#if defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define PENNY_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef PENNY_CLONES
#define PENNY_CLONES
#endif

/* A hint to fetch the line at an address (an integer, so that it may lie
 * past the end of an array) for writing. */
#if defined(__GNUC__)
#define PENNY_PREFETCH_WRITE(addr) __builtin_prefetch((const void *) (addr), 1)
#else
#define PENNY_PREFETCH_WRITE(addr) ((void) (addr))
#endif

extern const penny_kernel_t penny__builtin_kernels[];
extern const size_t penny__builtin_kernel_count;

/* ECMAScript's ToInt8 .. ToUint32 (and BigInt.asUintN(64, trunc(v))),
 * widened to 64 bits: truncate, then reduce modulo 2^64; NaN and the
 * infinities become 0. A narrower integer type keeps the low bits, which
 * is the same modular reduction. */
static inline uint64_t penny__js_to_uint64(double v) {
  if (v > -9.2e18 && v < 9.2e18) /* NaN fails both */
    return (uint64_t) (int64_t) v; /* truncates toward zero, exactly */
  if (!isfinite(v))
    return 0;
  /* fmod is exact, and |m| < 2^64 converts exactly; negate in unsigned
   * arithmetic, since adding 2^64 in double precision would round. */
  double m = fmod(trunc(v), 18446744073709551616.0);
  return m < 0 ? (uint64_t) 0 - (uint64_t) -m : (uint64_t) m;
}

/* Bytes per element of a PENNY_* type. */
static inline size_t penny__elem_size(int type) {
  static const unsigned char size[] = { 0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8 };
  return type >= 0 && type <= PENNY_F64 ? size[type] : 0;
}

static inline int penny__is_float(int type) {
  return type == PENNY_F32 || type == PENNY_F64;
}

/* The element types of BigInt64Array and BigUint64Array. */
static inline int penny__is_big(int type) {
  return type == PENNY_I64 || type == PENNY_U64;
}

static inline int penny__is_signed_int(int type) {
  return type == PENNY_I8 || type == PENNY_I16 || type == PENNY_I32 ||
         type == PENNY_I64;
}

/* Do two array arguments share any byte? */
static inline int penny__overlaps(const penny_arg_t *x, const penny_arg_t *y) {
  const uint8_t *x0 = (const uint8_t *) x->data;
  const uint8_t *y0 = (const uint8_t *) y->data;
  const uint8_t *x1 = x0 + x->length * penny__elem_size(x->type);
  const uint8_t *y1 = y0 + y->length * penny__elem_size(y->type);
  return x->length > 0 && y->length > 0 && x0 < y1 && y0 < x1;
}

/* Element-wise kernels (map.c). */
#define PENNY_MAP_KERNELS(XX)                                                 \
  XX(scale, "scale(inout num[] x, f64 a) -> void")                            \
  XX(axpy, "axpy(f64 a, in num[] x, inout num[] y) -> void")                  \
  XX(add, "add(in num[] a, in num[] b, out num[] c) -> void")                 \
  XX(sub, "sub(in num[] a, in num[] b, out num[] c) -> void")                 \
  XX(mul, "mul(in num[] a, in num[] b, out num[] c) -> void")                 \
  XX(div, "div(in num[] a, in num[] b, out num[] c) -> void")                 \
  XX(sqrt, "sqrt(in num[] x, out num[] y) -> void")                           \
  XX(exp, "exp(in num[] x, out num[] y) -> void")                             \
  XX(log, "log(in num[] x, out num[] y) -> void")                             \
  XX(abs, "abs(in num[] x, out num[] y) -> void")

/* Reductions (reduce.c); sum is declared apart, its table entry is older. */
#define PENNY_REDUCE_KERNELS(XX)                                              \
  XX(min, "min(in num[] x) -> f64")                                           \
  XX(max, "max(in num[] x) -> f64")                                           \
  XX(argmin, "argmin(in num[] x) -> f64")                                     \
  XX(argmax, "argmax(in num[] x) -> f64")                                     \
  XX(dot, "dot(in num[] a, in num[] b) -> f64")

/* Scans (scan.c): a prefix sum, and a histogram built the same way. */
#define PENNY_SCAN_KERNELS(XX)                                                \
  XX(scan, "scan(inout num[] x) -> void")                                     \
  XX(histogram,                                                               \
     "histogram(in num[] x, out u32[] counts, f64 lo, f64 hi) -> void")

/* One kernel a file: mandelbrot.c, gemm.c, sort.c. */
#define PENNY_OTHER_KERNELS(XX)                                               \
  XX(mandelbrot,                                                              \
     "mandelbrot(out u32[] iters, i32 width, i32 height, f64 x0, f64 y0, "    \
     "f64 x1, f64 y1, i32 maxIter) -> void")                                 \
  XX(gemm, "gemm(in num[] A, in num[] B, out num[] C, i32 m, i32 n, i32 k) "  \
           "-> void")                                                        \
  XX(sort, "sort(inout num[] x) -> void")

#define PENNY_KERNEL_DECLARE_(name, sig)                                         \
  void penny__##name##_kernel(penny_worker_t *w, const penny_arg_t *args,    \
                              penny_result_t *result);                        \
  int penny__##name##_check(const penny_arg_t *args, const char **msg);
PENNY_MAP_KERNELS(PENNY_KERNEL_DECLARE_)
PENNY_REDUCE_KERNELS(PENNY_KERNEL_DECLARE_)
PENNY_SCAN_KERNELS(PENNY_KERNEL_DECLARE_)
PENNY_OTHER_KERNELS(PENNY_KERNEL_DECLARE_)
PENNY_KERNEL_DECLARE_(sum, "")
#undef PENNY_KERNEL_DECLARE_

#endif /* PENNY_KERNELS_H */
