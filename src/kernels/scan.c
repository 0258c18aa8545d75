/* scan and histogram: the two kernels whose parallel form needs a second
 * pass over per-chunk results.
 *
 * scan(inout num[] x): inclusive prefix sums in place, in three steps:
 * every chunk's total in parallel, the totals' prefix serially, then every
 * chunk again in parallel, starting from its offset. Integer types wrap as
 * a JavaScript loop `x[i] += x[i - 1]` does, so their results are exactly
 * the loop's. Float results differ from the loop's only in rounding:
 * chunk offsets are summed in a different order.
 *
 * histogram(in num[] x, out u32[] counts, f64 lo, f64 hi): counts[k] is
 * the number of elements v with lo <= v < hi whose bin
 *   k = Math.floor((v - lo) * (counts.length / (hi - lo)))
 * is k, the last bin also taking values that rounding would put just past
 * it; NaN and values outside [lo, hi) are not counted. Chunks count into
 * private tables that are added up, or, for many bins, into the shared
 * table with atomic increments. */
#include "kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 16384 /* elements per scan chunk */
#define HIST_LEAF 32768
#define HIST_PRIVATE_MAX 4096 /* up to this many bins: private tables */

/* ---- scan ---- */

typedef struct {
  int type;
  void *x;
  int64_t n;
  int64_t nchunks;
  union {
    double *f;     /* float types: chunk totals, then offsets */
    uint64_t *u;   /* integer types, wrapping */
  } t;
} scan_t;

/* Pass 1 (offset unused) and pass 3 (offset from the chunk's total). */
#define SCAN_INT(TYPE, T, U)                                                  \
  case TYPE: {                                                                \
    U *x = s->x;                                                              \
    for (int64_t c = lo; c < hi; c++) {                                       \
      int64_t a = c * CHUNK, b = a + CHUNK < s->n ? a + CHUNK : s->n;         \
      uint64_t run = pass == 1 ? 0 : s->t.u[c];                               \
      for (int64_t i = a; i < b; i++) {                                       \
        run += (uint64_t) (T) x[i];                                           \
        if (pass == 3)                                                        \
          x[i] = (U) run;                                                     \
      }                                                                       \
      if (pass == 1)                                                          \
        s->t.u[c] = run;                                                      \
    }                                                                         \
    break;                                                                    \
  }

static void scan_pass(penny_worker_t *w, int64_t lo, int64_t hi, void *arg,
                      int pass) {
  (void) w;
  scan_t *s = arg;
  switch (s->type) {
  SCAN_INT(PENNY_I8, int8_t, uint8_t)
  SCAN_INT(PENNY_U8, uint8_t, uint8_t)
  SCAN_INT(PENNY_I16, int16_t, uint16_t)
  SCAN_INT(PENNY_U16, uint16_t, uint16_t)
  SCAN_INT(PENNY_I32, int32_t, uint32_t)
  SCAN_INT(PENNY_U32, uint32_t, uint32_t)
  SCAN_INT(PENNY_I64, int64_t, uint64_t)
  SCAN_INT(PENNY_U64, uint64_t, uint64_t)
  case PENNY_F32: {
    float *x = s->x;
    for (int64_t c = lo; c < hi; c++) {
      int64_t a = c * CHUNK, b = a + CHUNK < s->n ? a + CHUNK : s->n;
      /* As the loop does: add in double, round to float each step. */
      float run = pass == 1 ? 0.0f : (float) s->t.f[c];
      for (int64_t i = a; i < b; i++) {
        run = (float) ((double) run + (double) x[i]);
        if (pass == 3)
          x[i] = run;
      }
      if (pass == 1)
        s->t.f[c] = run;
    }
    break;
  }
  case PENNY_F64: {
    double *x = s->x;
    for (int64_t c = lo; c < hi; c++) {
      int64_t a = c * CHUNK, b = a + CHUNK < s->n ? a + CHUNK : s->n;
      double run = pass == 1 ? 0.0 : s->t.f[c];
      for (int64_t i = a; i < b; i++) {
        run += x[i];
        if (pass == 3)
          x[i] = run;
      }
      if (pass == 1)
        s->t.f[c] = run;
    }
    break;
  }
  }
}

static void scan_totals(penny_worker_t *w, int64_t lo, int64_t hi,
                        void *arg) {
  scan_pass(w, lo, hi, arg, 1);
}

static void scan_apply(penny_worker_t *w, int64_t lo, int64_t hi,
                       void *arg) {
  scan_pass(w, lo, hi, arg, 3);
}

void penny__scan_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  scan_t s;
  s.type = args[0].type;
  s.x = args[0].data;
  s.n = (int64_t) args[0].length;
  s.nchunks = (s.n + CHUNK - 1) / CHUNK;
  if (s.n == 0)
    return;
  /* One total per chunk; a 10^9-element array needs 61,036 of them. */
  void *totals = calloc((size_t) s.nchunks, sizeof(uint64_t));
  if (totals == NULL) {
    penny_fail(w, PENNY_ENOMEM);
    return;
  }
  s.t.u = totals; /* same storage for s.t.f */
  penny_for(w, s.nchunks, 1, scan_totals, &s);
  /* Exclusive prefix of the totals: each chunk's offset. */
  if (penny__is_float(s.type)) {
    double run = 0;
    for (int64_t c = 0; c < s.nchunks; c++) {
      double t = s.t.f[c];
      s.t.f[c] = s.type == PENNY_F32 ? (double) (float) run : run;
      run = s.type == PENNY_F32 ? (double) (float) (run + t) : run + t;
    }
  } else {
    uint64_t run = 0;
    for (int64_t c = 0; c < s.nchunks; c++) {
      uint64_t t = s.t.u[c];
      s.t.u[c] = run;
      run += t;
    }
  }
  if (!penny_cancelled(w))
    penny_for(w, s.nchunks, 1, scan_apply, &s);
  free(totals);
}

int penny__scan_check(const penny_arg_t *args, const char **msg) {
  (void) args;
  (void) msg;
  return 0;
}

/* ---- histogram ---- */

typedef struct {
  int type;
  const void *x;
  uint32_t *counts;
  size_t nbins;
  double lo;
  double hi;
  double scale; /* nbins / (hi - lo) */
} hist_t;

/* The bin of v, or -1. The bin is bounded as a double, before the
 * conversion, which is undefined for NaN and for values out of range:
 * when hi - lo overflows, scale is 0 and v - lo may be infinite, and the
 * product NaN. JavaScript's counts[NaN]++ counts nothing; nor does this. */
static inline int64_t bin_of(const hist_t *h, double v) {
  if (!(v >= h->lo && v < h->hi))
    return -1; /* NaN too */
  double k = floor((v - h->lo) * h->scale);
  if (!(k >= 0))
    return -1;
  return k < (double) h->nbins ? (int64_t) k : (int64_t) h->nbins - 1;
}

#define HIST_LOOP(TYPE, T)                                                    \
  case TYPE: {                                                                \
    const T *x = h->x;                                                        \
    for (int64_t i = lo; i < hi; i++) {                                       \
      int64_t k = bin_of(h, (double) x[i]);                                   \
      if (k >= 0)                                                             \
        COUNT(k);                                                             \
    }                                                                         \
    break;                                                                    \
  }

#define HIST_TYPES                                                            \
  HIST_LOOP(PENNY_I8, int8_t) HIST_LOOP(PENNY_U8, uint8_t)                    \
  HIST_LOOP(PENNY_I16, int16_t) HIST_LOOP(PENNY_U16, uint16_t)                \
  HIST_LOOP(PENNY_I32, int32_t) HIST_LOOP(PENNY_U32, uint32_t)                \
  HIST_LOOP(PENNY_I64, int64_t) HIST_LOOP(PENNY_U64, uint64_t)                \
  HIST_LOOP(PENNY_F32, float) HIST_LOOP(PENNY_F64, double)

static void count_private(const hist_t *h, int64_t lo, int64_t hi,
                          uint32_t *local) {
#define COUNT(k) local[k]++
  switch (h->type) {
  HIST_TYPES
  }
#undef COUNT
}

static void count_shared(penny_worker_t *w, int64_t lo, int64_t hi,
                         void *arg) {
  (void) w;
  const hist_t *h = arg;
  /* Relaxed: counts only; the task's completion publishes them. */
#define COUNT(k)                                                              \
  atomic_fetch_add_explicit((_Atomic uint32_t *) &h->counts[k], 1,            \
                            memory_order_relaxed)
  switch (h->type) {
  HIST_TYPES
  }
#undef COUNT
}

typedef struct {
  const hist_t *h;
  int64_t lo;
  int64_t hi;
  uint32_t *local; /* nbins counts, this frame's range */
} hist_frame_t;

/* Small tables: each half counts into its own, the parent adds them. */
static void hist_task(penny_worker_t *w, void *arg) {
  hist_frame_t *f = arg;
  if (f->hi - f->lo <= HIST_LEAF) {
    if (!penny_cancelled(w))
      count_private(f->h, f->lo, f->hi, f->local);
    return;
  }
  /* On the heap: tables of up to 16 KiB at every level of the recursion,
   * and on thieves' stacks, would be too much stack. */
  uint32_t *right = calloc(f->h->nbins, sizeof(uint32_t));
  if (right == NULL) {
    penny_fail(w, PENNY_ENOMEM);
    return;
  }
  int64_t mid = f->lo + (f->hi - f->lo) / 2;
  hist_frame_t a = { f->h, f->lo, mid, f->local };
  hist_frame_t b = { f->h, mid, f->hi, right };
  penny_join(w, hist_task, &a, hist_task, &b);
  for (size_t k = 0; k < f->h->nbins; k++)
    f->local[k] += right[k];
  free(right);
}

void penny__histogram_kernel(penny_worker_t *w, const penny_arg_t *args,
                             penny_result_t *result) {
  (void) result;
  hist_t h = { args[0].type, args[0].data, args[1].data, args[1].length,
               args[2].num, args[3].num,
               (double) args[1].length / (args[3].num - args[2].num) };
  memset(h.counts, 0, h.nbins * sizeof(uint32_t));
  if (h.nbins <= HIST_PRIVATE_MAX) {
    hist_frame_t f = { &h, 0, (int64_t) args[0].length, h.counts };
    hist_task(w, &f);
  } else {
    penny_for(w, (int64_t) args[0].length, HIST_LEAF, count_shared, &h);
  }
}

int penny__histogram_check(const penny_arg_t *args, const char **msg) {
  if (args[1].length == 0) {
    *msg = "counts must have at least one bin";
    return PENNY_ERANGE;
  }
  if (!(isfinite(args[2].num) && isfinite(args[3].num) &&
        args[2].num < args[3].num)) {
    *msg = "lo and hi must be finite, with lo < hi";
    return PENNY_ERANGE;
  }
  if (!isfinite((double) args[1].length / (args[3].num - args[2].num))) {
    *msg = "hi - lo is too small for this many bins";
    return PENNY_ERANGE;
  }
  return 0;
}
