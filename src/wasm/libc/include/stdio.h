/* Penny's WebAssembly libc: formatting (stdio.c). There is one stream,
 * stderr, and no files: each call that writes to it hands the host one
 * chunk of text through the imported env.penny_host_log(s, len), which
 * need not end in a newline. clang may turn an fprintf into fputs, fputc
 * or fwrite, which are here for that reason. */
#ifndef PENNY_WASM_STDIO_H
#define PENNY_WASM_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

typedef struct __penny_file FILE;
extern FILE __penny_stderr;
#define stderr (&__penny_stderr)

#define PENNY_PRINTF_(fmt, args) __attribute__((format(printf, fmt, args)))

/* Conversions: d i u o x X c s p % and e E f F g G (exact, rounded half
 * to even as glibc does), with the flags - + space # 0, a width and a
 * precision (either may be *), and the length modifiers hh h l ll j z t
 * (L is refused: long double would need compiler-rt). %n is not
 * supported. */
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
    PENNY_PRINTF_(3, 4);
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt,
              va_list ap) PENNY_PRINTF_(3, 0);
int fprintf(FILE *restrict f, const char *restrict fmt, ...)
    PENNY_PRINTF_(2, 3);
int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
    PENNY_PRINTF_(2, 0);
int fputs(const char *restrict s, FILE *restrict f);
int fputc(int c, FILE *f);
size_t fwrite(const void *restrict p, size_t size, size_t count,
              FILE *restrict f);
int fflush(FILE *f);

#undef PENNY_PRINTF_

#endif /* PENNY_WASM_STDIO_H */
