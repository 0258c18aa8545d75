/* gemm(in num[] A, in num[] B, out num[] C, i32 m, i32 n, i32 k):
 * C = A * B for row-major A (m x k), B (k x n) and C (m x n), all
 * Float32Array or all Float64Array.
 *
 * Blocks of rows of C go through penny_for. Within a block the products
 * run over panels of B (KB rows by NB columns) that stay in L2. A register
 * block of C (MR rows by NR columns, NV vectors a row) is loaded, takes one
 * panel's products, and is stored back: each step of p loads NV vectors of
 * B and broadcasts MR elements of A for MR * NV multiplies and as many
 * adds, where an i-p-j loop streaming c[j] += a * b[j] loads and stores C
 * at every step and runs at about a third of the speed. Rows of B are n
 * apart, which the L1 cache holds badly (the same sets, over and over), so
 * each panel is first copied, once per chunk, into a malloc'ed buffer (too
 * big for a worker's stack) as strips NR columns wide that the inner loop
 * reads in order. Columns past the last whole strip and rows past the
 * last whole register block take the plain i-p-j loop.
 *
 * Each C[i][j] gets its products added in order of p, from zero, and keeps
 * its partial sum in C from one panel to the next: for Float64Array
 * exactly what the JavaScript loop
 *   let s = 0; for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
 * computes (the build never fuses a multiply and an add). A Float32Array
 * rounds to float at every step, where such a loop keeps a double. C may
 * not overlap A or B (the checks refuse it), hence `restrict`. */
#include "kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KB 128       /* rows of B per panel */
#define NB_STRIPS 64 /* strips of B per panel: 512 doubles or 1024 floats */
#define MR 4         /* rows of C per register block */
#define NV 2         /* vectors of C per register block row */

/* Rows of C per chunk: enough that copying a panel of B (once per chunk)
 * is a small part of the chunk's work, few enough that every worker gets
 * several chunks to balance with. */
#define MIN_ROWS (4 * MR)
#define MAX_ROWS (32 * MR)

/* 32-byte vectors: one AVX2 register, two SSE2 or NEON ones. Without GCC's
 * vector extensions (clang has them too) a "vector" is one element, and
 * the same register blocking runs on scalars. */
#if defined(__GNUC__)
typedef double f64v __attribute__((vector_size(32)));
typedef float f32v __attribute__((vector_size(32)));
#else
typedef double f64v;
typedef float f32v;
#endif

typedef struct {
  int type;
  const void *a;
  const void *b;
  void *c;
  int64_t m, n, k;
  int64_t rows; /* rows of C per penny_for index */
} gemm_t;

/* C[i][j] += A[i][p] * B[p][j] for rows [i0, i1), columns [j0, j1) and
 * p in [p0, p1), in order of p. */
#define GEMM_LOOP(T, i0, i1, j0, j1, p0, p1)                                  \
  for (int64_t i = (i0); i < (i1); i++) {                                     \
    T *restrict c = C + i * n;                                                \
    for (int64_t p = (p0); p < (p1); p++) {                                   \
      T a = A[i * k + p];                                                     \
      const T *restrict b = B + p * n;                                        \
      for (int64_t j = (j0); j < (j1); j++)                                   \
        c[j] += a * b[j];                                                     \
    }                                                                         \
  }

/* The register block at row i, column j, over p in [p0, p1), with that
 * strip of B packed at `bp` (NR elements a row). The compiler keeps the
 * MR * NV accumulators in registers (the loops have constant bounds and
 * unroll). memcpy: C's rows and A need not be vector-aligned. */
#define GEMM_BLOCK(T, V, i, j, p0, p1, bp)                                    \
  do {                                                                        \
    enum { L = sizeof(V) / sizeof(T) };                                       \
    V x[MR][NV];                                                              \
    for (int r = 0; r < MR; r++)                                              \
      for (int v = 0; v < NV; v++)                                            \
        memcpy(&x[r][v], C + ((i) + r) * n + (j) + v * L, sizeof(V));         \
    const T *restrict b = (bp);                                               \
    const T *restrict a = A + (i) * k;                                        \
    for (int64_t p = (p0); p < (p1); p++, b += NV * L) {                      \
      V y[NV];                                                                \
      for (int v = 0; v < NV; v++)                                            \
        memcpy(&y[v], b + v * L, sizeof(V));                                  \
      for (int r = 0; r < MR; r++)                                            \
        for (int v = 0; v < NV; v++)                                          \
          x[r][v] += a[r * k + p] * y[v];                                     \
    }                                                                         \
    for (int r = 0; r < MR; r++)                                              \
      for (int v = 0; v < NV; v++)                                            \
        memcpy(C + ((i) + r) * n + (j) + v * L, &x[r][v], sizeof(V));         \
  } while (0)

#define GEMM_ROWS(T, V)                                                       \
  do {                                                                        \
    const T *A = g->a;                                                        \
    const T *B = g->b;                                                        \
    T *C = g->c;                                                              \
    const int64_t n = g->n, k = g->k;                                         \
    const int64_t NR = NV * (int64_t) (sizeof(V) / sizeof(T));                \
    const int64_t NB = NB_STRIPS * NR;                                        \
    int64_t i0 = lo * g->rows;                                                \
    int64_t i1 = hi * g->rows < g->m ? hi * g->rows : g->m;                   \
    int64_t im = i0 + (i1 - i0) / MR * MR; /* whole register blocks */        \
    memset(C + i0 * n, 0, (size_t) ((i1 - i0) * n) * sizeof(T));             \
    /* Only whole strips are packed; none when n < NR or k == 0. */           \
    int64_t pack_cols = n / NR * NR < NB ? n / NR * NR : NB;                  \
    size_t pack_size = (size_t) ((k < KB ? k : KB) * pack_cols) * sizeof(T);  \
    void *mem = NULL;                                                         \
    T *pack = NULL;                                                           \
    if (pack_size > 0 && im > i0) {                                           \
      if (!(mem = malloc(pack_size + 64))) {                                  \
        penny_fail(w, PENNY_ENOMEM);                                          \
        return;                                                               \
      }                                                                       \
      /* On a cache line, so that no vector of a strip straddles two. */      \
      pack = (T *) (((uintptr_t) mem + 63) & ~(uintptr_t) 63);                \
    }                                                                         \
    for (int64_t jj = 0; jj < n; jj += NB) {                                  \
      int64_t j1 = jj + NB < n ? jj + NB : n;                                 \
      int64_t jn = pack ? jj + (j1 - jj) / NR * NR : jj; /* whole strips */   \
      for (int64_t pp = 0; pp < k; pp += KB) {                                \
        if (penny_cancelled(w)) {                                             \
          free(mem);                                                          \
          return;                                                             \
        }                                                                     \
        int64_t p1 = pp + KB < k ? pp + KB : k;                               \
        /* Strip s holds rows pp .. p1 - 1 of columns jj + s * NR ..., one    \
         * after the other. */                                                \
        T *d = pack;                                                          \
        for (int64_t jb = jj; jb < jn; jb += NR)                              \
          for (int64_t p = pp; p < p1; p++, d += NR)                          \
            memcpy(d, B + p * n + jb, (size_t) NR * sizeof(T));               \
        /* Row blocks outside: one block's rows of A stay in L1 while it      \
         * sweeps the panel, which stays in L2. */                            \
        for (int64_t ib = i0; ib < im; ib += MR)                              \
          for (int64_t jb = jj; jb < jn; jb += NR)                            \
            GEMM_BLOCK(T, V, ib, jb, pp, p1, pack + (jb - jj) * (p1 - pp));   \
        GEMM_LOOP(T, i0, im, jn, j1, pp, p1)                                  \
        GEMM_LOOP(T, im, i1, jj, j1, pp, p1)                                  \
      }                                                                       \
    }                                                                         \
    free(mem);                                                                \
  } while (0)

/* Built for AVX2 and the baseline (see PENNY_CLONES). Without FMA: a
 * fused multiply-add would round differently from the JavaScript loop. */
PENNY_CLONES
static void gemm_body(penny_worker_t *w, int64_t lo, int64_t hi,
                      void *arg) {
  const gemm_t *g = arg;
  if (g->type == PENNY_F32)
    GEMM_ROWS(float, f32v);
  else
    GEMM_ROWS(double, f64v);
}

void penny__gemm_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  gemm_t g = { args[0].type, args[0].data, args[1].data, args[2].data,
               (int64_t) args[3].num, (int64_t) args[4].num,
               (int64_t) args[5].num, 0 };
  /* About four chunks a worker, in whole register blocks. */
  int64_t rows = g.m / (4 * (int64_t) penny_worker_count(w)) / MR * MR;
  g.rows = rows < MIN_ROWS ? MIN_ROWS : rows > MAX_ROWS ? MAX_ROWS : rows;
  penny_for(w, (g.m + g.rows - 1) / g.rows, 1, gemm_body, &g);
}

int penny__gemm_check(const penny_arg_t *args, const char **msg) {
  int t = args[0].type;
  double m = args[3].num, n = args[4].num, k = args[5].num;
  if (!penny__is_float(t)) {
    *msg = "A must be a Float32Array or a Float64Array";
    return PENNY_EINVAL;
  }
  if (args[1].type != t || args[2].type != t) {
    *msg = "A, B and C must have the same element type";
    return PENNY_EINVAL;
  }
  if (m < 0 || n < 0 || k < 0) {
    *msg = "m, n and k must not be negative";
    return PENNY_ERANGE;
  }
  if ((double) args[0].length != m * k || (double) args[1].length != k * n ||
      (double) args[2].length != m * n) {
    *msg = "A must have m * k elements, B k * n and C m * n";
    return PENNY_ERANGE;
  }
  if (penny__overlaps(&args[2], &args[0]) ||
      penny__overlaps(&args[2], &args[1])) {
    *msg = "C must not overlap A or B";
    return PENNY_EINVAL;
  }
  return 0;
}
