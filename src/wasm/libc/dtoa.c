/* Penny's WebAssembly libc: the exact decimal digits of a double, for
 * stdio.c's %e, %f and %g.
 *
 * The double's integer significand m and binary exponent e give the
 * integer m * 2^e (e >= 0) or m * 5^-e (e < 0, the value being that times
 * 10^e), in base 10^9; rounding to the precision then works on its exact
 * decimal digits, ties to even, as glibc does. The largest such integer,
 * m * 5^1074, has 767 digits. */
#include "dtoa.h"

#include <stdint.h>
#include <string.h>

#define BIG_LIMBS 90   /* 767 digits / 9, and a spare */

/* The exact decimal digits of a finite, non-zero |x|: d[0] != '0', and
 * |x| = d[0].d[1]d[2]... * 10^exp. Returns the number of digits. */
size_t penny__exact_digits(double x, char *d, int *exp) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof(bits));
  uint64_t m = bits & (((uint64_t) 1 << 52) - 1);
  int biased = (int) (bits >> 52 & 0x7ff);
  int e2 = biased == 0 ? -1074 : biased - 1075;
  if (biased != 0)
    m |= (uint64_t) 1 << 52;
  /* Drop the significand's trailing zero bits: fewer multiplications,
   * and fewer trailing zero digits (m != 0: x is not zero). */
  int tz = __builtin_ctzll(m);
  m >>= tz;
  e2 += tz;

  uint32_t big[BIG_LIMBS]; /* little-endian, base 10^9 */
  size_t n = 0;
  for (uint64_t v = m; v != 0; v /= 1000000000)
    big[n++] = (uint32_t) (v % 1000000000);
  /* e2 >= 0: times 2^e2, 29 bits at a time (a limb times 2^29 and a carry
   * fit in 64 bits). e2 < 0: times 5^-e2, 13 factors at a time (5^13 <
   * 2^31). */
  int left = e2 >= 0 ? e2 : -e2;
  while (left > 0) {
    uint64_t factor;
    if (e2 >= 0) {
      int k = left < 29 ? left : 29;
      factor = (uint64_t) 1 << k;
      left -= k;
    } else {
      int k = left < 13 ? left : 13;
      factor = 1;
      for (int i = 0; i < k; i++)
        factor *= 5;
      left -= k;
    }
    uint64_t carry = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t t = big[i] * factor + carry;
      big[i] = (uint32_t) (t % 1000000000);
      carry = t / 1000000000;
    }
    while (carry != 0) {
      big[n++] = (uint32_t) (carry % 1000000000);
      carry /= 1000000000;
    }
  }

  /* The digits, most significant limb without its leading zeros. */
  size_t nd = 0;
  char top[10];
  size_t tn = 0;
  for (uint32_t v = big[n - 1]; v != 0; v /= 10)
    top[tn++] = (char) ('0' + v % 10);
  while (tn > 0)
    d[nd++] = top[--tn];
  for (size_t i = n - 1; i-- > 0;) {
    uint32_t v = big[i];
    for (int k = 8; k >= 0; k--) {
      d[nd + (size_t) k] = (char) ('0' + v % 10);
      v /= 10;
    }
    nd += 9;
  }
  *exp = (int) nd - 1 + (e2 < 0 ? e2 : 0);
  /* Trailing zeros carry nothing: the printing pads with zeros anyway. */
  while (nd > 1 && d[nd - 1] == '0')
    nd--;
  return nd;
}

/* Rounds d[0..nd) to `keep` significant digits (keep may be 0: all of
 * them are below the last place kept), half to even on an exact tie.
 * Returns the new count; *exp grows by one when 9s carry into a new
 * leading digit (then d is "1"). */
size_t penny__round_digits(char *d, size_t nd, long long keep, int *exp) {
  if (keep >= (long long) nd)
    return nd;
  if (keep < 0)
    return 0; /* below half of the last place: rounds to zero */
  size_t k = (size_t) keep;
  int up;
  if (d[k] != '5') {
    up = d[k] > '5';
  } else {
    up = nd > k + 1; /* digits past the 5: more than half (no trailing
                        zeros are kept) */
    if (!up)
      up = k > 0 && (d[k - 1] - '0') % 2 == 1; /* a tie: to even */
  }
  if (!up) {
    while (k > 0 && d[k - 1] == '0')
      k--;
    return k;
  }
  while (k > 0 && d[k - 1] == '9')
    k--;
  if (k == 0) {
    d[0] = '1';
    (*exp)++;
    return 1;
  }
  d[k - 1]++;
  return k;
}

