/* The two compiler-rt routines that Penny's kernels need: clang lowers
 * 128-bit multiplication (reduce.c's exact integer dot product) and the
 * conversion of an unsigned 128-bit integer to double (reduce.c's
 * i256_to_double) to calls to these, and there is no compiler-rt for
 * wasm32 here. Both are written on 64-bit halves only, so that they do
 * not lower to calls to themselves.
 *
 * The calling convention is the libcall's: a 128-bit argument as two
 * i64, a 128-bit result through a hidden pointer. Clang's wasm32 C ABI
 * passes and returns unsigned __int128 the same way, so the C signatures
 * below match (wasm-ld checks the signature at link time). */
#include <stdint.h>

typedef unsigned __int128 u128;

/* The 128-bit product of two 64-bit integers, from 32-bit halves. */
static u128 mul_64x64(uint64_t a, uint64_t b) {
  uint64_t a0 = (uint32_t) a, a1 = a >> 32;
  uint64_t b0 = (uint32_t) b, b1 = b >> 32;
  uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  /* Three terms below 2^32 each: no overflow. */
  uint64_t mid = (p00 >> 32) + (uint32_t) p01 + (uint32_t) p10;
  uint64_t lo = (mid << 32) | (uint32_t) p00;
  uint64_t hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return (u128) hi << 64 | lo;
}

u128 __multi3(u128 a, u128 b);
u128 __multi3(u128 a, u128 b) {
  uint64_t al = (uint64_t) a, ah = (uint64_t) (a >> 64);
  uint64_t bl = (uint64_t) b, bh = (uint64_t) (b >> 64);
  /* Modulo 2^128, the cross terms only reach the high half, and their own
   * high halves fall off. The same for signed __int128 (two's
   * complement). */
  u128 r = mul_64x64(al, bl);
  return r + ((u128) (al * bh + ah * bl) << 64);
}

double __floatuntidf(u128 a);
double __floatuntidf(u128 a) {
  uint64_t hi = (uint64_t) (a >> 64);
  uint64_t lo = (uint64_t) a;
  if (hi == 0)
    return (double) lo; /* f64.convert_i64_u, rounded to nearest even */
  /* Keep the top 64 bits, with every bit shifted out folded into the
   * lowest (a sticky bit): 53 bits survive the conversion and the sticky
   * bit sits below the rounding position, so the one rounding of the
   * conversion is the rounding of the whole value. Scaling back by 2^s is
   * exact (a < 2^128 stays finite). */
  int s = 64 - __builtin_clzll(hi); /* 1 .. 64 */
  uint64_t top = s == 64 ? hi : hi << (64 - s) | lo >> s;
  uint64_t rest = s == 64 ? lo : lo << (64 - s);
  top |= rest != 0;
  uint64_t scale = (uint64_t) (0x3ff + s) << 52; /* 2^s */
  double two_s;
  __builtin_memcpy(&two_s, &scale, sizeof(two_s));
  return (double) top * two_s;
}
