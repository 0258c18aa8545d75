/* Penny's WebAssembly libc: formatting, and stderr through the host.
 *
 * Floating point is converted exactly, as glibc does (the digits come
 * from dtoa.c); the buffers for them are on the stack (about 1.1 KiB).
 * No long double anywhere: on wasm32 it is a 128-bit type whose
 * arithmetic needs compiler-rt. */
#include "dtoa.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes len bytes of text (UTF-8, not NUL-terminated) to the host's
 * log; a chunk, not necessarily a line. */
__attribute__((import_module("env"), import_name("penny_host_log")))
void penny_host_log(const char *s, size_t len);

struct __penny_file {
  int unused; /* there is one stream, and it has no state */
};

FILE __penny_stderr;

/* ---- The output: a bounded buffer that counts what did not fit. ---- */

typedef struct {
  char *buf;
  size_t cap; /* bytes buf holds, the terminating NUL included */
  size_t len; /* bytes produced so far, stored or not (saturates) */
} out_t;

static void put(out_t *o, const char *s, size_t n) {
  if (o->cap > 0 && o->len < o->cap - 1) {
    size_t room = o->cap - 1 - o->len;
    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len = n > SIZE_MAX - o->len ? SIZE_MAX : o->len + n;
}

static void put_char(out_t *o, char c) {
  put(o, &c, 1);
}

static void put_repeat(out_t *o, char c, size_t n) {
  char chunk[32];
  memset(chunk, c, sizeof(chunk));
  for (; n > sizeof(chunk); n -= sizeof(chunk))
    put(o, chunk, sizeof(chunk));
  put(o, chunk, n);
}

/* ---- A conversion specification. ---- */

#define F_LEFT 1u  /* - */
#define F_PLUS 2u  /* + */
#define F_SPACE 4u /* space */
#define F_ALT 8u   /* # */
#define F_ZERO 16u /* 0 */

typedef struct {
  unsigned flags;
  size_t width;
  int prec; /* -1: none given */
} spec_t;

/* Writes the padding that goes before the body, and the prefix (a sign,
 * or 0x): spaces before the prefix, or zeros after it (F_ZERO, where the
 * conversion allows it; the caller clears it otherwise). The caller then
 * writes the body, body_len bytes, and calls pad_right. */
static void pad_left(out_t *o, const spec_t *sp, const char *prefix,
                     size_t body_len) {
  size_t plen = strlen(prefix);
  size_t total = plen + body_len;
  size_t fill = sp->width > total ? sp->width - total : 0;
  if (!(sp->flags & (F_LEFT | F_ZERO)))
    put_repeat(o, ' ', fill);
  put(o, prefix, plen);
  if ((sp->flags & (F_LEFT | F_ZERO)) == F_ZERO)
    put_repeat(o, '0', fill);
}

static void pad_right(out_t *o, const spec_t *sp, size_t total) {
  if ((sp->flags & F_LEFT) && sp->width > total)
    put_repeat(o, ' ', sp->width - total);
}

/* ---- Integers. ---- */

static void fmt_int(out_t *o, spec_t sp, uintmax_t v, int negative,
                    char conv) {
  char digits[24]; /* 22 octal digits for 2^64 - 1 */
  size_t n = 0;
  unsigned base = conv == 'o'   ? 8
                  : conv == 'd' || conv == 'i' || conv == 'u' ? 10
                                                              : 16;
  const char *set = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  for (uintmax_t x = v; x != 0; x /= base)
    digits[sizeof(digits) - ++n] = set[x % base];
  /* The precision is the least number of digits; with a precision, the 0
   * flag is ignored. Zero with precision 0 has no digits at all. */
  size_t min_digits = sp.prec < 0 ? 1 : (size_t) sp.prec;
  if (sp.prec >= 0)
    sp.flags &= ~F_ZERO;
  /* # with o: the first digit is a 0. */
  if (conv == 'o' && (sp.flags & F_ALT) && min_digits <= n)
    min_digits = n + 1;
  char prefix[3] = "";
  if (conv == 'd' || conv == 'i') {
    if (negative)
      prefix[0] = '-';
    else if (sp.flags & F_PLUS)
      prefix[0] = '+';
    else if (sp.flags & F_SPACE)
      prefix[0] = ' ';
  } else if ((conv == 'x' || conv == 'X' || conv == 'p') &&
             (sp.flags & F_ALT) && v != 0) {
    prefix[0] = '0';
    prefix[1] = conv == 'X' ? 'X' : 'x';
  }
  size_t zeros = min_digits > n ? min_digits - n : 0;
  pad_left(o, &sp, prefix, zeros + n);
  put_repeat(o, '0', zeros);
  put(o, digits + sizeof(digits) - n, n);
  pad_right(o, &sp, strlen(prefix) + zeros + n);
}

/* ---- Strings. ---- */

static void fmt_str(out_t *o, spec_t sp, const char *s) {
  size_t n = 0;
  /* Reads no further than the precision: the array need not hold a
   * NUL within it. */
  while ((sp.prec < 0 || n < (size_t) sp.prec) && s[n] != '\0')
    n++;
  sp.flags &= ~F_ZERO;
  pad_left(o, &sp, "", n);
  put(o, s, n);
  pad_right(o, &sp, n);
}

/* ---- Floating point. ---- */

/* The digit of d (count nd) at significance index i, zeros past it. */
static char digit_at(const char *d, size_t nd, long long i) {
  return i >= 0 && (size_t) i < nd ? d[i] : '0';
}

static void put_digits(out_t *o, const char *d, size_t nd, long long from,
                       long long count) {
  for (long long i = 0; i < count; i++)
    put_char(o, digit_at(d, nd, from + i));
}

static void fmt_float(out_t *o, spec_t sp, double x, char conv) {
  char prefix[2] = "";
  if (__builtin_signbit(x))
    prefix[0] = '-';
  else if (sp.flags & F_PLUS)
    prefix[0] = '+';
  else if (sp.flags & F_SPACE)
    prefix[0] = ' ';
  size_t plen = prefix[0] != '\0';
  int upper = conv == 'E' || conv == 'F' || conv == 'G';

  if (!__builtin_isfinite(x)) {
    const char *s = __builtin_isnan(x) ? (upper ? "NAN" : "nan")
                                       : (upper ? "INF" : "inf");
    sp.flags &= ~F_ZERO;
    pad_left(o, &sp, prefix, 3);
    put(o, s, 3);
    pad_right(o, &sp, plen + 3);
    return;
  }

  char d[MAX_DIGITS];
  int exp = 0;
  size_t nd = 1;
  d[0] = '0';
  if (x != 0)
    nd = penny__exact_digits(x, d, &exp);

  /* 64-bit: a precision near INT_MAX plus an exponent overflows 32. */
  long long prec = sp.prec < 0 ? 6 : sp.prec;
  int alt = (sp.flags & F_ALT) != 0;
  char lower = (char) (conv | 0x20);
  int style_e = lower == 'e';
  if (lower == 'g') {
    /* %g: the precision counts significant digits (0 means 1), and the
     * exponent after rounding to them picks the style. Either style then
     * keeps exactly those digits, so the rounding below changes nothing
     * more (no double rounding). */
    if (prec == 0)
      prec = 1;
    if (x != 0)
      nd = penny__round_digits(d, nd, prec, &exp);
    if (exp < -4 || exp >= prec) {
      style_e = 1;
      prec -= 1;
    } else {
      prec -= 1 + exp;
    }
  }
  /* Round for the style: prec digits after the point. */
  long long keep = style_e ? prec + 1 : (long long) exp + 1 + prec;
  if (x != 0)
    nd = penny__round_digits(d, nd, keep, &exp);
  if (nd == 0) {
    /* Rounded to zero (%f of a tiny value): one zero digit. */
    d[0] = '0';
    nd = 1;
    exp = 0;
  }
  if (lower == 'g' && !alt) {
    /* %g drops trailing zeros of the fraction, and then a bare point. */
    long long frac_have = style_e ? (long long) nd - 1
                                  : (long long) nd - 1 - exp;
    if (frac_have < 0)
      frac_have = 0;
    if (prec > frac_have)
      prec = frac_have;
  }
  int point = prec > 0 || alt;

  /* The body's length, then padding, then the body. */
  size_t body;
  char ebuf[8]; /* e+308 */
  size_t elen = 0;
  if (style_e) {
    int e = x == 0 ? 0 : exp;
    char digits[4];
    size_t dn = 0;
    for (int v = e < 0 ? -e : e; v != 0 || dn < 2; v /= 10)
      digits[dn++] = (char) ('0' + v % 10);
    ebuf[elen++] = upper ? 'E' : 'e';
    ebuf[elen++] = e < 0 ? '-' : '+';
    while (dn > 0)
      ebuf[elen++] = digits[--dn];
    body = 1 + (size_t) point + (size_t) prec + elen;
  } else {
    size_t int_digits = exp >= 0 ? (size_t) exp + 1 : 1;
    body = int_digits + (size_t) point + (size_t) prec;
  }
  pad_left(o, &sp, prefix, body);
  if (style_e) {
    put_char(o, d[0]);
    if (point)
      put_char(o, '.');
    put_digits(o, d, nd, 1, prec);
    put(o, ebuf, elen);
  } else {
    if (exp >= 0)
      put_digits(o, d, nd, 0, (long long) exp + 1);
    else
      put_char(o, '0');
    if (point)
      put_char(o, '.');
    put_digits(o, d, nd, (long long) exp + 1, prec);
  }
  pad_right(o, &sp, plen + body);
}

/* ---- The format string. ---- */

static size_t parse_num(const char **p) {
  size_t v = 0;
  while (**p >= '0' && **p <= '9') {
    size_t digit = (size_t) (**p - '0');
    v = v > (SIZE_MAX - digit) / 10 ? SIZE_MAX : v * 10 + digit;
    (*p)++;
  }
  return v;
}

enum { L_NONE, L_HH, L_H, L_L, L_LL, L_J, L_Z, L_T, L_BIG_L };

/* %zd reads a long: size_t's signed counterpart on wasm32. */
_Static_assert(sizeof(long) == sizeof(size_t), "long is not size_t's width");

/* The arguments through a pointer to the caller's list: C allows a
 * va_list to be used by another function that way (7.16p3). */
static void format(out_t *o, const char *fmt, va_list *ap) {
  while (*fmt != '\0') {
    if (*fmt != '%') {
      const char *run = fmt;
      while (*fmt != '\0' && *fmt != '%')
        fmt++;
      put(o, run, (size_t) (fmt - run));
      continue;
    }
    const char *start = fmt++;
    spec_t sp = { 0, 0, -1 };
    for (;; fmt++) {
      if (*fmt == '-')
        sp.flags |= F_LEFT;
      else if (*fmt == '+')
        sp.flags |= F_PLUS;
      else if (*fmt == ' ')
        sp.flags |= F_SPACE;
      else if (*fmt == '#')
        sp.flags |= F_ALT;
      else if (*fmt == '0')
        sp.flags |= F_ZERO;
      else
        break;
    }
    if (*fmt == '*') {
      int w = va_arg(*ap, int);
      fmt++;
      if (w < 0) {
        sp.flags |= F_LEFT; /* a negative width is the - flag */
        sp.width = (size_t) -(long long) w;
      } else {
        sp.width = (size_t) w;
      }
    } else {
      sp.width = parse_num(&fmt);
    }
    if (*fmt == '.') {
      fmt++;
      if (*fmt == '*') {
        int p = va_arg(*ap, int);
        fmt++;
        sp.prec = p < 0 ? -1 : p; /* negative: as if none were given */
      } else {
        size_t p = parse_num(&fmt);
        sp.prec = p > INT_MAX ? INT_MAX : (int) p;
      }
    }
    int len = L_NONE;
    switch (*fmt) {
    case 'h':
      len = fmt[1] == 'h' ? L_HH : L_H;
      fmt += len == L_HH ? 2 : 1;
      break;
    case 'l':
      len = fmt[1] == 'l' ? L_LL : L_L;
      fmt += len == L_LL ? 2 : 1;
      break;
    case 'j': len = L_J; fmt++; break;
    case 'z': len = L_Z; fmt++; break;
    case 't': len = L_T; fmt++; break;
    case 'L': len = L_BIG_L; fmt++; break;
    default: break;
    }
    char conv = *fmt;
    if (conv != '\0')
      fmt++;
    switch (conv) {
    case 'd':
    case 'i': {
      intmax_t v;
      switch (len) {
      case L_HH: v = (signed char) va_arg(*ap, int); break;
      case L_H: v = (short) va_arg(*ap, int); break;
      case L_L: v = va_arg(*ap, long); break;
      case L_LL: v = va_arg(*ap, long long); break;
      case L_J: v = va_arg(*ap, intmax_t); break;
      case L_Z: v = va_arg(*ap, long); break; /* size_t's signed type */
      case L_T: v = va_arg(*ap, ptrdiff_t); break;
      default: v = va_arg(*ap, int); break;
      }
      /* The magnitude in unsigned arithmetic: -INTMAX_MIN overflows. */
      uintmax_t mag = v < 0 ? (uintmax_t) 0 - (uintmax_t) v : (uintmax_t) v;
      fmt_int(o, sp, mag, v < 0, conv);
      break;
    }
    case 'u':
    case 'o':
    case 'x':
    case 'X': {
      uintmax_t v;
      switch (len) {
      case L_HH: v = (unsigned char) va_arg(*ap, unsigned); break;
      case L_H: v = (unsigned short) va_arg(*ap, unsigned); break;
      case L_L: v = va_arg(*ap, unsigned long); break;
      case L_LL: v = va_arg(*ap, unsigned long long); break;
      case L_J: v = va_arg(*ap, uintmax_t); break;
      case L_Z: v = va_arg(*ap, size_t); break;
      case L_T: v = (size_t) va_arg(*ap, ptrdiff_t); break;
      default: v = va_arg(*ap, unsigned); break;
      }
      fmt_int(o, sp, v, 0, conv);
      break;
    }
    case 'p': {
      void *v = va_arg(*ap, void *);
      if (v == NULL) {
        fmt_str(o, sp, "(nil)"); /* as glibc prints it */
      } else {
        sp.flags |= F_ALT;
        fmt_int(o, sp, (uintptr_t) v, 0, 'p');
      }
      break;
    }
    case 'c': {
      char c = (char) va_arg(*ap, int);
      sp.flags &= ~F_ZERO;
      pad_left(o, &sp, "", 1);
      put_char(o, c);
      pad_right(o, &sp, 1);
      break;
    }
    case 's': {
      const char *s = va_arg(*ap, const char *);
      fmt_str(o, sp, s != NULL ? s : "(null)");
      break;
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      if (len == L_BIG_L) {
        /* long double: taken off the list, so that the arguments after
         * it still line up, and shown as the specification itself.
         * Copying it needs no compiler-rt; converting it would. */
        (void) va_arg(*ap, long double);
        put(o, start, (size_t) (fmt - start));
        break;
      }
      fmt_float(o, sp, va_arg(*ap, double), conv);
      break;
    case '%':
      put_char(o, '%');
      break;
    case 'n':
      /* Not supported (a write through an argument is the classic format
       * string exploit); the pointer is taken off the list. */
      (void) va_arg(*ap, void *);
      break;
    default:
      /* Unknown: shown as written. What follows may not line up with the
       * arguments any more, but it is not read past the format. */
      put(o, start, (size_t) (fmt - start));
      break;
    }
  }
}

/* ---- The interface. ---- */

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt,
              va_list ap) {
  out_t o = { buf, size, 0 };
  va_list copy;
  va_copy(copy, ap);
  format(&o, fmt, &copy);
  va_end(copy);
  if (size > 0)
    buf[o.len < size ? o.len : size - 1] = '\0';
  return o.len > INT_MAX ? -1 : (int) o.len; /* POSIX: EOVERFLOW */
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt,
             ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

/* Formats into a stack buffer, or into the heap when it does not fit
 * there (a message cut short when even that fails), and hands the host
 * one chunk. */
int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap) {
  (void) f;
  char small[512];
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  if (n < 0) {
    va_end(again);
    return -1;
  }
  char *text = small;
  size_t len = (size_t) n;
  if (len >= sizeof(small)) {
    char *big = malloc(len + 1);
    if (big != NULL) {
      (void) vsnprintf(big, len + 1, fmt, again);
      text = big;
    } else {
      len = sizeof(small) - 1;
    }
  }
  va_end(again);
  penny_host_log(text, len);
  if (text != small)
    free(text);
  return n;
}

int fprintf(FILE *restrict f, const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(f, fmt, ap);
  va_end(ap);
  return n;
}

int fputs(const char *restrict s, FILE *restrict f) {
  (void) f;
  penny_host_log(s, strlen(s));
  return 0;
}

int fputc(int c, FILE *f) {
  (void) f;
  char ch = (char) c;
  penny_host_log(&ch, 1);
  return (unsigned char) ch;
}

size_t fwrite(const void *restrict p, size_t size, size_t count,
              FILE *restrict f) {
  (void) f;
  if (size == 0 || count == 0)
    return 0;
  if (count > SIZE_MAX / size)
    return 0;
  penny_host_log(p, size * count);
  return count;
}

int fflush(FILE *f) {
  (void) f; /* nothing is buffered */
  return 0;
}

/* assert.h's failure path: glibc's message, then a trap. */
_Noreturn void __penny_assert_fail(const char *expr, const char *file,
                                   int line, const char *func) {
  fprintf(stderr, "%s:%d: %s: Assertion `%s' failed.\n", file, line, func,
          expr);
  __builtin_trap();
}
