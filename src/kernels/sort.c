/* sort(inout num[] x): ascending, in the order of
 * TypedArray.prototype.sort(): numeric, -0 before +0, every NaN last.
 *
 * A parallel LSD radix sort, 11 bits a pass (6 passes for 64-bit
 * elements, 3 for 32-bit). The elements are first mapped
 * in place to unsigned keys with the same order (flip the sign bit of
 * integers; for floats flip every bit of negatives and the sign bit of
 * the rest, and map every NaN to the largest key), sorted as keys, and
 * mapped back (a NaN comes back as the canonical quiet NaN).
 *
 * Each pass splits the array into blocks: every block counts its digits
 * in parallel, a serial prefix over (digit, block) gives every block its
 * place for each digit, and every block scatters in parallel, stably, into
 * a buffer of the same size. A pass whose digit is the same for every
 * element is skipped. Cancellation is polled between passes and blocks. */
#include "kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN 65536 /* elements per block, at least */
#define BLOCKS_MAX 64
#define BITS 11         /* per digit */
#define DIGITS (1 << BITS)

typedef struct {
  void *src;
  void *dst;
  int64_t n;
  int64_t nblocks;
  int size;               /* bytes per element: 1, 2, 4 or 8 */
  int shift;              /* of the current digit */
  uint64_t (*hist)[DIGITS]; /* [block][digit] counts, then offsets */
} radix_t;

static inline uint64_t key_at(const void *p, int size, int64_t i) {
  switch (size) {
  case 1: return ((const uint8_t *) p)[i];
  case 2: return ((const uint16_t *) p)[i];
  case 4: return ((const uint32_t *) p)[i];
  default: return ((const uint64_t *) p)[i];
  }
}

static inline void key_put(void *p, int size, int64_t i, uint64_t k) {
  switch (size) {
  case 1: ((uint8_t *) p)[i] = (uint8_t) k; break;
  case 2: ((uint16_t *) p)[i] = (uint16_t) k; break;
  case 4: ((uint32_t *) p)[i] = (uint32_t) k; break;
  default: ((uint64_t *) p)[i] = k; break;
  }
}

static void block_range(const radix_t *r, int64_t b, int64_t *lo,
                        int64_t *hi) {
  *lo = r->n * b / r->nblocks;
  *hi = r->n * (b + 1) / r->nblocks;
}

static void count_blocks(penny_worker_t *w, int64_t b0, int64_t b1,
                         void *arg) {
  radix_t *r = arg;
  for (int64_t b = b0; b < b1; b++) {
    if (penny_cancelled(w))
      return;
    int64_t lo, hi;
    block_range(r, b, &lo, &hi);
    uint64_t *h = r->hist[b];
    memset(h, 0, DIGITS * sizeof(uint64_t));
    for (int64_t i = lo; i < hi; i++)
      h[(key_at(r->src, r->size, i) >> r->shift) & (DIGITS - 1)]++;
  }
}

#define SCATTER(T)                                                            \
  do {                                                                        \
    const T *s = r->src;                                                      \
    T *d = r->dst;                                                            \
    for (int64_t i = lo; i < hi; i++) {                                       \
      T k = s[i];                                                             \
      d[off[(k >> r->shift) & (DIGITS - 1)]++] = k;                          \
    }                                                                         \
  } while (0)

static void scatter_blocks(penny_worker_t *w, int64_t b0, int64_t b1,
                           void *arg) {
  radix_t *r = arg;
  for (int64_t b = b0; b < b1; b++) {
    if (penny_cancelled(w))
      return;
    int64_t lo, hi;
    block_range(r, b, &lo, &hi);
    uint64_t *off = r->hist[b];
    switch (r->size) {
    case 1: SCATTER(uint8_t); break;
    case 2: SCATTER(uint16_t); break;
    case 4: SCATTER(uint32_t); break;
    default: SCATTER(uint64_t); break;
    }
  }
}

/* Turns counts into starting offsets; false if one digit holds every
 * element (the pass would change nothing). */
static int offsets(radix_t *r) {
  uint64_t total = 0;
  for (int d = 0; d < DIGITS; d++) {
    uint64_t digit_total = 0;
    for (int64_t b = 0; b < r->nblocks; b++) {
      uint64_t c = r->hist[b][d];
      r->hist[b][d] = total + digit_total;
      digit_total += c;
    }
    if (digit_total == (uint64_t) r->n)
      return 0;
    total += digit_total;
  }
  return 1;
}

/* ---- Order-preserving keys. ---- */

#define SIGN(size) ((uint64_t) 1 << (8 * (size) - 1))
#define MASK(size)                                                            \
  ((size) == 8 ? UINT64_MAX : (((uint64_t) 1 << (8 * (size))) - 1))

static int is_nan_bits(uint64_t k, int type) {
  if (type == PENNY_F32)
    return (k & 0x7fffffffu) > 0x7f800000u;
  return (k & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
}

static uint64_t to_key(uint64_t v, int type, int size) {
  switch (type) {
  case PENNY_I8: case PENNY_I16: case PENNY_I32: case PENNY_I64:
    return v ^ SIGN(size);
  case PENNY_F32: case PENNY_F64:
    if (is_nan_bits(v, type))
      return MASK(size);
    return (v & SIGN(size)) ? (~v & MASK(size)) : (v | SIGN(size));
  default:
    return v;
  }
}

static uint64_t from_key(uint64_t k, int type, int size) {
  switch (type) {
  case PENNY_I8: case PENNY_I16: case PENNY_I32: case PENNY_I64:
    return k ^ SIGN(size);
  case PENNY_F32: case PENNY_F64:
    if (k == MASK(size))
      return type == PENNY_F32 ? 0x7fc00000u : 0x7ff8000000000000ull;
    return (k & SIGN(size)) ? (k & ~SIGN(size)) : (~k & MASK(size));
  default:
    return k;
  }
}

typedef struct {
  void *x;
  int type;
  int size;
  int back; /* 0: to keys, 1: from keys */
} keys_t;

static void map_keys(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  (void) w;
  const keys_t *k = arg;
  for (int64_t i = lo; i < hi; i++) {
    uint64_t v = key_at(k->x, k->size, i);
    key_put(k->x, k->size, i, k->back ? from_key(v, k->type, k->size)
                                      : to_key(v, k->type, k->size));
  }
}

void penny__sort_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  int type = args[0].type;
  int size = (int) penny__elem_size(type);
  int64_t n = (int64_t) args[0].length;
  if (n < 2)
    return;
  void *tmp = malloc((size_t) n * (size_t) size);
  uint64_t (*hist)[DIGITS] = malloc(BLOCKS_MAX * sizeof(*hist));
  if (tmp == NULL || hist == NULL) {
    free(tmp);
    free(hist);
    penny_fail(w, PENNY_ENOMEM);
    return;
  }
  int64_t nblocks = n / BLOCK_MIN;
  nblocks = nblocks < 1 ? 1 : nblocks > BLOCKS_MAX ? BLOCKS_MAX : nblocks;
  keys_t k = { args[0].data, type, size, 0 };
  penny_for(w, n, 0, map_keys, &k);
  radix_t r = { args[0].data, tmp, n, nblocks, size, 0, hist };
  for (int shift = 0; shift < 8 * size && !penny_cancelled(w);
       shift += BITS) {
    r.shift = shift;
    penny_for(w, nblocks, 1, count_blocks, &r);
    if (penny_cancelled(w) || !offsets(&r))
      continue;
    penny_for(w, nblocks, 1, scatter_blocks, &r);
    void *t = r.src;
    r.src = r.dst;
    r.dst = t;
  }
  /* The keys may have ended in the buffer; a cancelled sort still leaves
   * x a permutation of what it was, in key form, so map it back. */
  if (r.src != args[0].data)
    memcpy(args[0].data, r.src, (size_t) n * (size_t) size);
  k.back = 1;
  penny_for(w, n, 0, map_keys, &k);
  free(tmp);
  free(hist);
}

int penny__sort_check(const penny_arg_t *args, const char **msg) {
  (void) args;
  (void) msg;
  return 0;
}
