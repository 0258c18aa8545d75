/* Penny's WebAssembly libc: exact decimal digits of doubles (dtoa.c). */
#ifndef PENNY_WASM_DTOA_H
#define PENNY_WASM_DTOA_H

#include <stddef.h>

#define MAX_DIGITS 780 /* 767, rounded up to whole limbs of 9 digits */

/* The exact decimal digits of a finite, non-zero |x| into d (MAX_DIGITS
 * bytes): d[0] != '0', and |x| = d[0].d[1]d[2]... * 10^exp. Returns the
 * number of digits. */
size_t penny__exact_digits(double x, char *d, int *exp);
/* Rounds d[0..nd) to `keep` significant digits, half to even on an exact
 * tie; returns the new count, and *exp grows by one when 9s carry into a
 * new leading digit. */
size_t penny__round_digits(char *d, size_t nd, long long keep, int *exp);

#endif
