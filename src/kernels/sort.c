/* sort(inout num[] x): ascending, in the order of
 * TypedArray.prototype.sort(): numeric, -0 before +0, every NaN last.
 *
 * A parallel LSD radix sort, 11 bits a pass (6 passes for 64-bit
 * elements, 3 for 32-bit). The elements are mapped in place to unsigned
 * keys with the same order (flip the sign bit of integers; for floats
 * flip every bit of negatives and the sign bit of the rest, and map every
 * NaN to the largest key) by the first pass's count, sorted as keys, and
 * mapped back by the last pass's scatter (a NaN comes back as the
 * canonical quiet NaN).
 *
 * Each pass splits the array into blocks: every block counts its digits
 * in parallel, a serial prefix over (digit, block) gives every block its
 * place for each digit, and every block scatters in parallel, stably, into
 * a buffer of about the same size (the next pass scatters back). A pass
 * whose digit is the same for every element is skipped. Cancellation is
 * polled between passes and blocks.
 *
 * Nothing stops JavaScript, another task or a plugin from writing x while
 * it is sorted (CONVENTIONS 18), so a block may scatter other digits than
 * it counted, and its offsets then run past the places they were given.
 * No write leaves the arrays, at no cost in the scatter loop:
 * - A pass that reads x writes the buffer, which has room for one block
 *   more than n: every offset starts at n at most, and a block moves its
 *   offsets one step per element it has.
 * - A pass that reads the buffer writes x. Only this call has the buffer,
 *   so its count and its scatter see the same keys, and the offsets stay
 *   in their ranges.
 * After its scatter each block checks that every offset ended exactly
 * where its range does. A pass that fails the check is dropped (its blocks
 * may have written over each other's places in the buffer: nothing reads
 * them), and the sort ends there, leaving x as it was last read (garbage,
 * but only in x). A pass that passes it wrote every slot of dst exactly
 * once, since each block's counts add up to its length. */
#include "kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/platform.h"

#define BLOCK_MIN 65536 /* elements per block, at least */
#define BLOCKS_MAX 64
#define BITS 11         /* per digit */
#define DIGITS (1 << BITS)
/* A block's row of counts or offsets, padded by a cache line: rows 16 KiB
 * apart would put a digit's entries for every block in the same cache set,
 * and the serial prefix over them would miss on every one (measured, for
 * 64 blocks: 1.8 ms a pass, against 0.1 ms padded). */
#define ROW (DIGITS + 8)

typedef struct {
  void *src;
  void *dst;
  int64_t n;
  int64_t nblocks;
  int size;               /* bytes per element: 1, 2, 4 or 8 */
  int type;               /* PENNY_* */
  int shift;              /* of the current digit */
  int first;              /* counting: map the elements to keys first */
  int scatter;            /* this pass scatters (else it counts) */
  int last;               /* scattering: map the keys back on the way */
  unsigned char *keyed;   /* [block]: mapped to keys by the first count */
  unsigned char *spilled; /* [block]: its scatter left its ranges */
  uint64_t (*hist)[ROW];    /* [block][digit] counts, then offsets */
  uint64_t (*end)[ROW];     /* [block][digit]: end of the allotted range */
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
  case PENNY_F32: case PENNY_F64: {
    /* Negatives: every bit flipped; the rest: the sign bit. Branch-free,
     * since signs are as random as the data. */
    uint64_t neg = (v >> (8 * size - 1)) & 1;
    uint64_t k = v ^ (((0 - neg) & MASK(size)) | SIGN(size));
    return is_nan_bits(v, type) ? MASK(size) : k;
  }
  default:
    return v;
  }
}

static uint64_t from_key(uint64_t k, int type, int size) {
  switch (type) {
  case PENNY_I8: case PENNY_I16: case PENNY_I32: case PENNY_I64:
    return k ^ SIGN(size);
  case PENNY_F32: case PENNY_F64: {
    uint64_t pos = (k >> (8 * size - 1)) & 1; /* the key of a non-negative */
    uint64_t v = k ^ (((pos - 1) & MASK(size)) | SIGN(size));
    if (k == MASK(size))
      return type == PENNY_F32 ? 0x7fc00000u : 0x7ff8000000000000ull;
    return v;
  }
  default:
    return k;
  }
}

static void block_range(const radix_t *r, int64_t b, int64_t *lo,
                        int64_t *hi) {
  *lo = r->n * b / r->nblocks;
  *hi = r->n * (b + 1) / r->nblocks;
}

/* One loop per element size, so that each compiles to straight code. */
#define COUNT(T)                                                              \
  do {                                                                        \
    T *x = r->src;                                                            \
    const int type = r->type, shift = r->shift;                               \
    if (r->first) {                                                           \
      for (int64_t i = lo; i < hi; i++) {                                     \
        T k = (T) to_key(x[i], type, (int) sizeof(T));                        \
        x[i] = k;                                                             \
        h[k & (DIGITS - 1)]++;                                                \
      }                                                                       \
    } else {                                                                  \
      for (int64_t i = lo; i < hi; i++)                                       \
        h[(x[i] >> shift) & (DIGITS - 1)]++;                                  \
    }                                                                         \
  } while (0)

/* Each digit's next line of the destination is fetched (for writing)
 * PREFETCH_LINES lines ahead, when the digit's write position enters a
 * new line: the hardware prefetchers cannot follow 2048 interleaved
 * streams, and without this every eighth write waits for memory
 * (measured: a quarter of the sort's time on 2 workers). */
#define PREFETCH_LINES 2
#define PUT(T, o, v)                                                          \
  do {                                                                        \
    if (((o) & (64 / sizeof(T) - 1)) == 0)                                    \
      PENNY_PREFETCH_WRITE((uintptr_t) &d[o] + PREFETCH_LINES * 64);         \
    d[o] = (v);                                                               \
  } while (0)

/* One loop for the passes that write keys, one for the last pass, which
 * writes elements: the test stays out of the loop. Neither bounds o; the
 * buffer's slack does (see the top of the file). Bounding every write by
 * its digit's range, or by n, made a sort of 10^7 doubles on 2 workers
 * about 3% or 1% slower (medians of interleaved runs). */
#define SCATTER_LOOP(T, VALUE)                                                \
  for (int64_t i = lo; i < hi; i++) {                                         \
    T k = s[i];                                                               \
    uint64_t o = off[(k >> r->shift) & (DIGITS - 1)]++;                       \
    PUT(T, o, VALUE);                                                         \
  }

#define SCATTER(T)                                                            \
  do {                                                                        \
    const T *s = r->src;                                                      \
    T *d = r->dst;                                                            \
    if (r->last)                                                              \
      SCATTER_LOOP(T, (T) from_key(k, r->type, r->size))                      \
    else                                                                      \
      SCATTER_LOOP(T, k)                                                      \
  } while (0)

/* One pass over blocks [b0, b1): the count, or the scatter. */
static void radix_blocks(penny_worker_t *w, int64_t b0, int64_t b1,
                         void *arg) {
  radix_t *r = arg;
  for (int64_t b = b0; b < b1; b++) {
    if (penny_cancelled(w))
      return;
    int64_t lo, hi;
    block_range(r, b, &lo, &hi);
    uint64_t *h = r->hist[b]; /* counts, or offsets when scattering */
    if (r->scatter) {
      uint64_t *off = h;
      switch (r->size) {
      case 1: SCATTER(uint8_t); break;
      case 2: SCATTER(uint16_t); break;
      case 4: SCATTER(uint32_t); break;
      default: SCATTER(uint64_t); break;
      }
      /* Each digit's writes went, in order, from its offset on: the block
       * filled exactly its ranges iff every offset now ends its range. */
      const uint64_t *end = r->end[b];
      for (int d = 0; d < DIGITS; d++)
        if (off[d] != end[d])
          r->spilled[b] = 1;
      continue;
    }
    memset(h, 0, DIGITS * sizeof(uint64_t));
    switch (r->size) {
    case 1: COUNT(uint8_t); break;
    case 2: COUNT(uint16_t); break;
    case 4: COUNT(uint32_t); break;
    default: COUNT(uint64_t); break;
    }
    if (r->first)
      r->keyed[b] = 1;
  }
}

/* Turns counts into starting offsets and the ends of the ranges they
 * start; false if one digit holds every element (the pass would change
 * nothing). The counts add up to n, so every range lies in [0, n). */
static int offsets(radix_t *r) {
  uint64_t total = 0;
  for (int d = 0; d < DIGITS; d++) {
    uint64_t digit_total = 0;
    for (int64_t b = 0; b < r->nblocks; b++) {
      uint64_t c = r->hist[b][d];
      r->hist[b][d] = total + digit_total;
      digit_total += c;
      r->end[b][d] = total + digit_total;
    }
    if (digit_total == (uint64_t) r->n)
      return 0;
    total += digit_total;
  }
  return 1;
}

/* Called after penny_for, whose join orders every block's flag (a plain
 * store) before these loads. */
static int any_spilled(const radix_t *r) {
  for (int64_t b = 0; b < r->nblocks; b++)
    if (r->spilled[b])
      return 1;
  return 0;
}

/* Maps the keyed blocks of src back to elements. It does not poll
 * cancellation: it must finish. */
static void map_back(penny_worker_t *w, int64_t b0, int64_t b1, void *arg) {
  (void) w;
  const radix_t *r = arg;
  for (int64_t b = b0; b < b1; b++) {
    int64_t lo, hi;
    if (!r->keyed[b])
      continue;
    block_range(r, b, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
      key_put(r->src, r->size, i,
              from_key(key_at(r->src, r->size, i), r->type, r->size));
  }
}

/* The buffer each pass scatters into (or out of), freed with
 * penny__aligned_free: in huge pages when it is large (measured: a sort
 * of 10^7 doubles in the arena takes about 12% less time with both in
 * huge pages). */
static void *buffer_alloc(size_t bytes) {
  if (bytes < 2 * PENNY_HUGE_PAGE)
    return penny__aligned_alloc(64, bytes);
  size_t rounded = (bytes + PENNY_HUGE_PAGE - 1) & ~(PENNY_HUGE_PAGE - 1);
  void *p = penny__aligned_alloc(PENNY_HUGE_PAGE, rounded);
  if (p != NULL)
    penny__advise_huge(p, rounded);
  return p;
}

void penny__sort_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  int type = args[0].type;
  int size = (int) penny__elem_size(type);
  int64_t n = (int64_t) args[0].length;
  if (n < 2)
    return;
  int64_t nblocks = n / BLOCK_MIN;
  nblocks = nblocks < 1 ? 1 : nblocks > BLOCKS_MAX ? BLOCKS_MAX : nblocks;
  /* Room for one block more than n: the most that a block whose digits
   * changed since they were counted can run past (see the top). */
  int64_t slack = n / nblocks + 1;
  void *tmp = buffer_alloc((size_t) (n + slack) * (size_t) size);
  /* The offsets, then the ends of their ranges. */
  uint64_t (*hist)[ROW] = malloc(2 * (size_t) nblocks * sizeof(*hist));
  if (tmp == NULL || hist == NULL) {
    penny__aligned_free(tmp);
    free(hist);
    penny_fail(w, PENNY_ENOMEM);
    return;
  }
  unsigned char keyed[BLOCKS_MAX] = { 0 };
  unsigned char spilled[BLOCKS_MAX] = { 0 };
  radix_t r = { args[0].data, tmp, n, nblocks, size, type, 0, 1, 0, 0,
                keyed, spilled, hist, hist + nblocks };
  int in_keys = 1; /* src holds keys (in the blocks marked keyed) */
  for (int shift = 0; shift < 8 * size; shift += BITS) {
    /* The first count maps x to keys on the way. */
    r.shift = shift;
    r.scatter = 0;
    penny_for(w, nblocks, 1, radix_blocks, &r);
    if (penny_cancelled(w))
      break;
    r.first = 0;
    if (!offsets(&r))
      continue;
    /* The last pass writes elements, not keys. */
    r.last = shift + BITS >= 8 * size;
    r.scatter = 1;
    penny_for(w, nblocks, 1, radix_blocks, &r);
    /* A cancelled scatter left dst incomplete; src is still whole. So did
     * one that left its ranges: x changed under it, and tmp may hold
     * slots that nothing wrote (uninitialised memory), which must not
     * reach x. */
    if (penny_cancelled(w) || any_spilled(&r))
      break;
    void *t = r.src;
    r.src = r.dst;
    r.dst = t;
    in_keys = !r.last;
  }
  /* A sort that ended without a last scatter (a constant top digit, or a
   * cancel) still leaves x a permutation of what it was, unless x changed
   * under it. */
  if (in_keys && penny_cancelled(w))
    map_back(w, 0, nblocks, &r); /* penny_for would stop handing out blocks */
  else if (in_keys)
    penny_for(w, nblocks, 1, map_back, &r);
  if (r.src != args[0].data)
    memcpy(args[0].data, r.src, (size_t) n * (size_t) size);
  penny__aligned_free(tmp);
  free(hist);
}

int penny__sort_check(const penny_arg_t *args, const char **msg) {
  (void) args;
  (void) msg;
  return 0;
}
