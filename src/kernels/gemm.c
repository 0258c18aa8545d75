/* gemm(in num[] A, in num[] B, out num[] C, i32 m, i32 n, i32 k):
 * C = A * B for row-major A (m x k), B (k x n) and C (m x n), all
 * Float32Array or all Float64Array.
 *
 * Blocks of rows of C go through penny_for; within a block the loops run
 * i, p, j over panels of B (KB rows by NB columns) that stay in cache, so
 * the innermost loop streams one row of B into one row of C and
 * vectorises. Each C[i][j] gets its products added in order of p, from
 * zero: for Float64Array exactly what the JavaScript loop
 *   let s = 0; for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
 * computes (the build never fuses a multiply and an add). A Float32Array
 * rounds to float at every step, where such a loop keeps a double. C may
 * not overlap A or B (the checks refuse it), hence `restrict`. */
#include "kernels.h"

#include <stdint.h>
#include <string.h>

#define ROWS 16  /* rows of C per chunk */
#define KB 128   /* rows of B per panel */
#define NB 512   /* columns of B per panel */

typedef struct {
  int type;
  const void *a;
  const void *b;
  void *c;
  int64_t m, n, k;
} gemm_t;

#define GEMM_ROWS(T)                                                          \
  do {                                                                        \
    const T *A = g->a;                                                        \
    const T *B = g->b;                                                        \
    T *C = g->c;                                                              \
    int64_t i0 = lo * ROWS, i1 = hi * ROWS < g->m ? hi * ROWS : g->m;         \
    memset(C + i0 * g->n, 0, (size_t) ((i1 - i0) * g->n) * sizeof(T));       \
    for (int64_t jj = 0; jj < g->n; jj += NB) {                               \
      int64_t j1 = jj + NB < g->n ? jj + NB : g->n;                           \
      for (int64_t pp = 0; pp < g->k; pp += KB) {                             \
        if (penny_cancelled(w))                                               \
          return;                                                             \
        int64_t p1 = pp + KB < g->k ? pp + KB : g->k;                         \
        for (int64_t i = i0; i < i1; i++) {                                   \
          T *restrict c = C + i * g->n;                                       \
          for (int64_t p = pp; p < p1; p++) {                                 \
            T a = A[i * g->k + p];                                            \
            const T *restrict b = B + p * g->n;                               \
            for (int64_t j = jj; j < j1; j++)                                 \
              c[j] += a * b[j];                                               \
          }                                                                   \
        }                                                                     \
      }                                                                       \
    }                                                                         \
  } while (0)

/* Built for AVX2 and the baseline (see PENNY_CLONES). Without FMA: a
 * fused multiply-add would round differently from the JavaScript loop. */
PENNY_CLONES
static void gemm_body(penny_worker_t *w, int64_t lo, int64_t hi,
                      void *arg) {
  const gemm_t *g = arg;
  if (g->type == PENNY_F32)
    GEMM_ROWS(float);
  else
    GEMM_ROWS(double);
}

void penny__gemm_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  gemm_t g = { args[0].type, args[0].data, args[1].data, args[2].data,
               (int64_t) args[3].num, (int64_t) args[4].num,
               (int64_t) args[5].num };
  penny_for(w, (g.m + ROWS - 1) / ROWS, 1, gemm_body, &g);
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
