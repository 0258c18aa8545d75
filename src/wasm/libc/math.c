/* Penny's WebAssembly libc: math. math.h maps exp, log, fabs, floor,
 * trunc and sqrt to imports or builtins with macros; these are the real
 * functions behind them, and the exact fmod and ldexp.
 *
 * Neither fmod nor ldexp has an instruction. Both are exact where the
 * result is representable (always, for fmod), which is what the kernels
 * rely on to match JavaScript's % and its integer arithmetic. */
#include <math.h>
#include <stdint.h>

#undef exp
#undef log
#undef fabs
#undef floor
#undef trunc
#undef sqrt

double exp(double x) {
  return __penny_host_exp(x);
}

double log(double x) {
  return __penny_host_log(x);
}

double fabs(double x) {
  return __builtin_fabs(x);
}

double floor(double x) {
  return __builtin_floor(x);
}

double trunc(double x) {
  return __builtin_trunc(x);
}

double sqrt(double x) {
  return __builtin_sqrt(x);
}

static uint64_t bits_of(double x) {
  uint64_t u;
  __builtin_memcpy(&u, &x, sizeof(u));
  return u;
}

static double double_of(uint64_t u) {
  double x;
  __builtin_memcpy(&x, &u, sizeof(x));
  return x;
}

/* x * 2^e, rounded once. Each step multiplies by a power of two that is
 * a normal double, which is exact while the product stays normal; only
 * the last multiplication may round (overflow to infinity, or lose bits
 * to the subnormal range). Steps toward zero stop at 2^-969 rather than
 * 2^-1022, so that the product stays at least 2^53 above the subnormal
 * range and the last step rounds once, not twice. */
double scalbn(double x, int e) {
  if (e > 1023) {
    x *= 0x1p1023;
    e -= 1023;
    if (e > 1023) {
      x *= 0x1p1023;
      e -= 1023;
      if (e > 1023)
        e = 1023; /* infinity (or x is 0 or NaN) either way */
    }
  } else if (e < -1022) {
    x *= 0x1p-969;
    e += 969;
    if (e < -1022) {
      x *= 0x1p-969;
      e += 969;
      if (e < -1022)
        e = -1022; /* zero either way */
    }
  }
  return x * double_of((uint64_t) (0x3ff + e) << 52);
}

double ldexp(double x, int e) {
  return scalbn(x, e);
}

/* The integer significand m and exponent e of a finite, non-zero |x| = m *
 * 2^e, with m in [2^52, 2^53) (subnormals normalized). */
static uint64_t split(uint64_t bits, int *e) {
  uint64_t m = bits & (((uint64_t) 1 << 52) - 1);
  int biased = (int) (bits >> 52 & 0x7ff);
  if (biased == 0) {
    *e = -1074;
    while (m < (uint64_t) 1 << 52) {
      m <<= 1;
      (*e)--;
    }
    return m;
  }
  *e = biased - 1075;
  return m | (uint64_t) 1 << 52;
}

/* The remainder of x / y truncated toward zero, with x's sign; exact.
 * With |x| = mx * 2^ex and |y| = my * 2^ey (ex >= ey, since |x| >= |y|),
 * the remainder is (mx * 2^(ex - ey) mod my) * 2^ey: long division, one
 * bit of the quotient a step. */
double fmod(double x, double y) {
  if (isnan(x) || isnan(y))
    return x + y;
  if (isinf(x) || y == 0)
    return __builtin_nan(""); /* invalid: C's domain error */
  if (isinf(y) || fabs(x) < fabs(y))
    return x;
  uint64_t bx = bits_of(x);
  int ex, ey;
  uint64_t mx = split(bx & ~((uint64_t) 1 << 63), &ex);
  uint64_t my = split(bits_of(y) & ~((uint64_t) 1 << 63), &ey);
  uint64_t r = mx >= my ? mx - my : mx;
  for (int k = ex - ey; k > 0; k--) {
    r <<= 1; /* < 2^54: no overflow */
    if (r >= my)
      r -= my;
  }
  /* r < my < 2^53 converts exactly, and r * 2^ey < |y| is representable,
   * so the scaling does not round. */
  double m = scalbn((double) r, ey);
  return bx >> 63 ? -m : m;
}
