/* Scaling of the core and the built-in kernels from 1 worker to many.
 *
 *   core-scale [--threads 1,2,4,8,16] [--reps N] [--only WORD] [--json FILE]
 *
 * One pool per thread count, all created up front; each rep runs every
 * workload once on every pool in turn, so drift in the machine's speed is
 * shared by all thread counts. Prints, per workload, the median time on each
 * pool and the speed-up over the 1-worker pool (T1/Tp). The kernels are
 * called directly from a root task with arguments built here, the way the
 * addon calls them after its checks.
 *
 * Workloads: fib(36) with a spawn at every level (the cost and scaling of
 * fork points), the sum of 10^8 doubles (memory bandwidth) next to its
 * ceiling, the same sum on as many plain threads, the square root
 * of 10^7 doubles into another array, the sort of 10^7 doubles, gemm at
 * 1024^3 in f64, and mandelbrot at 1024^2 with 1,000 iterations over an
 * off-centre view (unbalanced rows). */
#include "bench.h"
#include "penny.h"
#include "../../src/kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POOLS 16

static const penny_kernel_t *kernel(const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < penny__builtin_kernel_count; i++) {
    const char *s = penny__builtin_kernels[i].signature;
    if (strncmp(s, name, len) == 0 && s[len] == '(')
      return &penny__builtin_kernels[i];
  }
  fprintf(stderr, "no kernel %s\n", name);
  exit(1);
}

/* ---- One kernel call as a root job, waited for. ---- */

typedef struct {
  const penny_kernel_t *k;
  const penny_arg_t *args;
  penny_result_t result;
} call_t;

static void call_task(penny_worker_t *w, void *arg) {
  call_t *c = arg;
  c->k->fn(w, c->args, &c->result);
}

/* Runs the kernel on the pool and returns the seconds it took. */
static double call(penny_pool_t *pool, const char *name,
                   const penny_arg_t *args, penny_result_t *result) {
  call_t c;
  memset(&c, 0, sizeof(c));
  c.k = kernel(name);
  c.args = args;
  double t0 = bench_now();
  int status = bench_run_job(pool, call_task, &c);
  double t = bench_now() - t0;
  if (status != 0) {
    fprintf(stderr, "%s failed: %d\n", name, status);
    exit(1);
  }
  if (result)
    *result = c.result;
  return t;
}

static penny_arg_t arr(void *data, size_t length, int type) {
  penny_arg_t a = { data, length, 0, type };
  return a;
}

static penny_arg_t num(double v, int type) {
  penny_arg_t a = { NULL, 0, v, type };
  return a;
}

/* ---- Workloads. ---- */

enum { W_FIB, W_SUM, W_CEIL, W_SQRT, W_SORT, W_GEMM, W_MANDEL, W_COUNT };
static const char *names[W_COUNT] = {
  "fib(36), spawn at every level", "sum 1e8 f64",
  "sum 1e8 f64, plain threads", "sqrt 1e7 f64",
  "sort 1e7 f64", "gemm 1024^3 f64", "mandelbrot 1024^2, 1000"
};

#define SUM_N 100000000
#define N 10000000
#define M 1024
#define W 1024

static double *sum_x, *x, *y, *sort_src, *sort_x, *A, *B, *C;
static uint32_t *iters;

static void setup(void) {
  sum_x = malloc(sizeof(double) * SUM_N);
  x = malloc(sizeof(double) * N);
  y = malloc(sizeof(double) * N);
  sort_src = malloc(sizeof(double) * N);
  sort_x = malloc(sizeof(double) * N);
  A = malloc(sizeof(double) * M * M);
  B = malloc(sizeof(double) * M * M);
  C = malloc(sizeof(double) * M * M);
  iters = malloc(sizeof(uint32_t) * W * W);
  if (!sum_x || !x || !y || !sort_src || !sort_x || !A || !B || !C || !iters)
    abort();
  for (int64_t i = 0; i < SUM_N; i++)
    sum_x[i] = (double) (i % 1000);
  for (int64_t i = 0; i < N; i++) {
    x[i] = (i % 1000) * 0.37;
    y[i] = 0;
    sort_src[i] = sin(i * 12.9898) * 43758.5453;
  }
  for (int64_t i = 0; i < M * M; i++) {
    A[i] = (i % 7) * 0.5;
    B[i] = (i % 11) * 0.25;
    C[i] = 0;
  }
  memset(iters, 0, sizeof(uint32_t) * W * W);
}

static double check_sum(double s) {
  if (s != 499.5 * SUM_N) {
    fprintf(stderr, "sum is %.17g\n", s);
    exit(1);
  }
  return s;
}

static double run(penny_pool_t *pool, unsigned threads, int which) {
  penny_arg_t a[8];
  penny_result_t r;
  switch (which) {
  case W_FIB:
    a[0] = num(36, PENNY_I32);
    return call(pool, "fib", a, NULL);
  case W_SUM: {
    a[0] = arr(sum_x, SUM_N, PENNY_F64);
    double t = call(pool, "sum", a, &r);
    check_sum(r.num);
    return t;
  }
  case W_CEIL: {
    double t0 = bench_now();
    double s = bench_sum_threads(sum_x, SUM_N, (int) threads);
    double t = bench_now() - t0;
    check_sum(s);
    return t;
  }
  case W_SQRT:
    a[0] = arr(x, N, PENNY_F64);
    a[1] = arr(y, N, PENNY_F64);
    return call(pool, "sqrt", a, NULL);
  case W_SORT: {
    memcpy(sort_x, sort_src, sizeof(double) * N);
    a[0] = arr(sort_x, N, PENNY_F64);
    double t = call(pool, "sort", a, NULL);
    for (int64_t i = 1; i < N; i++)
      if (sort_x[i - 1] > sort_x[i]) {
        fprintf(stderr, "not sorted at %lld\n", (long long) i);
        exit(1);
      }
    return t;
  }
  case W_GEMM:
    a[0] = arr(A, M * M, PENNY_F64);
    a[1] = arr(B, M * M, PENNY_F64);
    a[2] = arr(C, M * M, PENNY_F64);
    a[3] = num(M, PENNY_I32);
    a[4] = num(M, PENNY_I32);
    a[5] = num(M, PENNY_I32);
    return call(pool, "gemm", a, NULL);
  case W_MANDEL:
    a[0] = arr(iters, W * W, PENNY_U32);
    a[1] = num(W, PENNY_I32);
    a[2] = num(W, PENNY_I32);
    a[3] = num(-2, PENNY_F64);
    a[4] = num(-0.5, PENNY_F64);
    a[5] = num(0.5, PENNY_F64);
    a[6] = num(1.5, PENNY_F64);
    a[7] = num(1000, PENNY_I32);
    return call(pool, "mandelbrot", a, NULL);
  }
  abort();
}

int main(int argc, char **argv) {
  unsigned threads[MAX_POOLS] = { 1, 2 };
  int npools = 2, reps = 5;
  const char *only = NULL; /* run only the workloads whose name has this */
  const char *json = "build/c/bench/scale.json";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      npools = 0;
      for (char *s = strtok(argv[++i], ","); s && npools < MAX_POOLS;
           s = strtok(NULL, ","))
        threads[npools++] = (unsigned) atoi(s);
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--threads 1,2,4] [--reps N] [--only WORD] "
                      "[--json FILE]\n",
              argv[0]);
      return 2;
    }
  }
  if (npools < 1 || threads[0] < 1 || reps < 1) {
    fprintf(stderr, "need at least one thread count and one rep\n");
    return 2;
  }

  setup();
  penny_pool_t *pools[MAX_POOLS];
  for (int p = 0; p < npools; p++) {
    penny_pool_options_t o;
    memset(&o, 0, sizeof(o));
    o.threads = threads[p];
    if (penny_pool_create(&pools[p], &o) != 0)
      abort();
  }

  double *t = calloc((size_t) (W_COUNT * npools * reps), sizeof(double));
  if (!t)
    abort();
#define T(wl, p, r) t[((wl) * npools + (p)) * reps + (r)]
  int skip[W_COUNT];
  for (int w = 0; w < W_COUNT; w++)
    skip[w] = only && !strstr(names[w], only);
  for (int w = 0; w < W_COUNT; w++) /* warm up: page faults, clones */
    for (int p = 0; p < npools && !skip[w]; p++)
      run(pools[p], threads[p], w);
  for (int r = 0; r < reps; r++)
    for (int w = 0; w < W_COUNT; w++)
      for (int p = 0; p < npools && !skip[w]; p++)
        T(w, p, r) = run(pools[p], threads[p], w);

  FILE *out = fopen(json, "w");
  if (out)
    fprintf(out, "{\"threads\":[");
  for (int p = 0; p < npools; p++)
    if (out)
      fprintf(out, "%s%u", p ? "," : "", threads[p]);
  if (out)
    fprintf(out, "],\"reps\":%d,\"workloads\":{", reps);
  int first = 1;
  printf("%-32s", "median ms (T1/Tp)");
  for (int p = 0; p < npools; p++)
    printf(" %9u thr", threads[p]);
  printf("\n");
  for (int w = 0; w < W_COUNT; w++) {
    double med[MAX_POOLS];
    if (skip[w])
      continue;
    for (int p = 0; p < npools; p++)
      med[p] = bench_median(&T(w, p, 0), reps);
    printf("%-32s", names[w]);
    for (int p = 0; p < npools; p++)
      printf(" %7.1f %5.2fx", med[p] * 1e3, med[0] / med[p]);
    printf("\n");
    if (out) {
      fprintf(out, "%s\"%s\":[", first ? "" : ",", names[w]);
      first = 0;
      for (int p = 0; p < npools; p++)
        fprintf(out, "%s%.6f", p ? "," : "", med[p]);
      fprintf(out, "]");
    }
  }
  if (out) {
    fprintf(out, "}}\n");
    fclose(out);
  }
  if (!skip[W_GEMM]) {
    printf("gemm GFLOP/s:");
    for (int p = 0; p < npools; p++)
      printf(" %u thr %.1f", threads[p],
             2.0 * M * M * M / bench_median(&T(W_GEMM, p, 0), reps) / 1e9);
    printf("\n");
  }
  if (!skip[W_SUM] && !skip[W_CEIL]) {
    printf("sum GB/s, Penny (plain threads):");
    for (int p = 0; p < npools; p++)
      printf(" %u thr %.1f (%.1f)", threads[p],
             8.0 * SUM_N / bench_median(&T(W_SUM, p, 0), reps) / 1e9,
             8.0 * SUM_N / bench_median(&T(W_CEIL, p, 0), reps) / 1e9);
    printf("\n");
  }
  for (int p = 0; p < npools; p++)
    penny_pool_destroy(pools[p], 0);
  free(t);
  return 0;
}
