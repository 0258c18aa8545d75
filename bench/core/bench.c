/* The core benchmark: fork-join overhead and scaling on fib, and memory
 * bandwidth on a parallel sum, each against baselines measured in the same
 * run. Prints a table and writes JSON.
 *
 *   core-bench [--quick] [--reps N] [--json FILE]
 *
 * fib(n) spawns at every level with no cutoff, so it measures the cost of
 * a fork point: a push, a pop with its SeqCst fence, and the call. The
 * serial baseline is the same recursion with inlining of fib into itself
 * forbidden (noinline, noclone), which is what Penny's fib has to do too;
 * the plain gcc -O3 fib is printed beside it for reference.
 *
 * The sum reads 10^7 doubles (80 MB, beyond the last-level cache), so it
 * measures how much memory bandwidth Penny leaves on the table. Its
 * ceiling is two plain threads with eight accumulators each. */
#include "bench.h"
#include "../../src/core/fork.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static penny_pool_t *pool_of(unsigned threads, unsigned flags) {
  penny_pool_options_t o;
  penny_pool_t *p;
  memset(&o, 0, sizeof(o));
  o.threads = threads;
  o.flags = flags;
  if (penny_pool_create(&p, &o) != 0)
    abort();
  return p;
}

/* ---- fib. ---- */

/* noipa: no inlining into itself, no cloning, and no discovery that the
 * function is pure (which would let gcc reuse one call's result). */
__attribute__((noipa)) static int64_t fib_serial(int n) {
  return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

/* What gcc -O3 makes of fib when it may inline the recursion (noipa on
 * the entry only, so calls are not merged across runs). */
static int64_t fib_inlinable_rec(int n) {
  return n < 2 ? n : fib_inlinable_rec(n - 1) + fib_inlinable_rec(n - 2);
}

__attribute__((noipa)) static int64_t fib_inlinable(int n) {
  return fib_inlinable_rec(n);
}

static int64_t fork_points(int n) {
  return n < 2 ? 0 : 1 + fork_points(n - 1) + fork_points(n - 2);
}

typedef struct {
  int n;
  int64_t r;
} fib_arg_t;

/* fib with a spawn at every level, once per flavour of the fork-join calls:
 * the inline fast path of fork.h, which penny_join and penny_for run, and
 * the exported functions, which built-in kernels call directly and plugins
 * through penny_api_t (two more calls per fork point). */
#define DEFINE_FIB(name, spawn, sync)                                       \
  static void name(penny_worker_t *w, void *arg) {                          \
    fib_arg_t *a = arg;                                                     \
    if (a->n < 2) {                                                         \
      a->r = a->n;                                                          \
      return;                                                               \
    }                                                                       \
    fib_arg_t x = { a->n - 1, 0 }, y = { a->n - 2, 0 };                     \
    penny_task_t t;                                                         \
    spawn(w, &t, name, &x);                                                 \
    name(w, &y);                                                            \
    sync(w, &t);                                                            \
    a->r = x.r + y.r;                                                       \
  }

DEFINE_FIB(fib_penny, penny__spawn, penny__sync)
DEFINE_FIB(fib_penny_api, penny_spawn, penny_sync)

/* ---- sum. ---- */

static double sum_naive(const double *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += x[i];
  return s;
}

typedef struct {
  const double *x;
  int64_t lo, hi;
  double s;
} range_t;

/* Penny: a recursive join down to 64K-element leaves (512 KB). */
#define SUM_GRAIN 65536

static void sum_penny(penny_worker_t *w, void *arg) {
  range_t *r = arg;
  if (r->hi - r->lo <= SUM_GRAIN) {
    r->s = bench_sum_chunk(r->x, r->lo, r->hi);
    return;
  }
  int64_t mid = r->lo + (r->hi - r->lo) / 2;
  range_t a = { r->x, r->lo, mid, 0 }, b = { r->x, mid, r->hi, 0 };
  penny_task_t t;
  penny__spawn(w, &t, sum_penny, &b);
  sum_penny(w, &a);
  penny__sync(w, &t);
  r->s = a.s + b.s;
}

/* ---- Driver. ---- */

typedef struct {
  const char *name;
  double samples[64];
  double med;
} series_t;

int main(int argc, char **argv) {
  int quick = 0, reps = 7;
  const char *json = "build/c/bench/core.json";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
      json = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--quick] [--reps N] [--json FILE]\n",
              argv[0]);
      return 2;
    }
  }
  if (reps < 1 || reps > 64)
    reps = 7;
  const int fib_small = quick ? 27 : 32;
  const int fib_big = quick ? 32 : 40;
  const int64_t sum_n = 10000000;

  penny_pool_t *p1 = pool_of(1, 0), *p2 = pool_of(2, 0);
  penny_pool_t *p1s = pool_of(1, PENNY_POOL_SYMMETRIC_FENCES);

  /* fib(small): overhead per fork point, against serial and OpenMP. */
  enum { F_SERIAL, F_INLINED, F_P1, F_P2, F_API1, F_SYM1, F_OMP1, F_OMP2,
         F_N };
  series_t fs[F_N] = {
    { "serial (no inlining)", {0}, 0 }, { "serial (gcc -O3)", {0}, 0 },
    { "penny 1 worker", {0}, 0 }, { "penny 2 workers", {0}, 0 },
    { "penny 1 worker, exported API", {0}, 0 },
    { "penny 1 worker, textbook fence", {0}, 0 },
    { "openmp 1 thread", {0}, 0 }, { "openmp 2 threads", {0}, 0 },
  };
  const int64_t expect_small = fib_inlinable(fib_small);
  for (int r = 0; r < reps; r++) {
    for (int k = 0; k < F_N; k++) {
      double t0 = bench_now();
      int64_t got;
      fib_arg_t a = { fib_small, 0 };
      switch (k) {
      case F_SERIAL: got = fib_serial(fib_small); break;
      case F_INLINED: got = fib_inlinable(fib_small); break;
      case F_P1: bench_run_job(p1, fib_penny, &a); got = a.r; break;
      case F_P2: bench_run_job(p2, fib_penny, &a); got = a.r; break;
      case F_API1: bench_run_job(p1, fib_penny_api, &a); got = a.r; break;
      case F_SYM1: bench_run_job(p1s, fib_penny, &a); got = a.r; break;
      case F_OMP1: got = bench_fib_omp(fib_small, 1); break;
      default: got = bench_fib_omp(fib_small, 2); break;
      }
      fs[k].samples[r] = bench_now() - t0;
      if (got != expect_small) {
        fprintf(stderr, "%s: wrong result\n", fs[k].name);
        return 1;
      }
    }
  }
  for (int k = 0; k < F_N; k++)
    fs[k].med = bench_median(fs[k].samples, reps);
  const double forks = (double) fork_points(fib_small);

  /* fib(big): scaling from 1 to 2 workers. */
  enum { B_SERIAL, B_P1, B_P2, B_N };
  series_t bs[B_N] = {
    { "serial (no inlining)", {0}, 0 }, { "penny 1 worker", {0}, 0 },
    { "penny 2 workers", {0}, 0 },
  };
  const int big_reps = reps;
  const int64_t expect_big = fib_serial(fib_big);
  for (int r = 0; r < big_reps; r++) {
    for (int k = 0; k < B_N; k++) {
      double t0 = bench_now();
      fib_arg_t a = { fib_big, 0 };
      if (k == B_SERIAL)
        a.r = fib_serial(fib_big);
      else
        bench_run_job(k == B_P1 ? p1 : p2, fib_penny, &a);
      bs[k].samples[r] = bench_now() - t0;
      if (a.r != expect_big) {
        fprintf(stderr, "%s: wrong result\n", bs[k].name);
        return 1;
      }
    }
  }
  for (int k = 0; k < B_N; k++)
    bs[k].med = bench_median(bs[k].samples, big_reps);

  /* sum of 10^7 doubles. Small integers: every order of summation gives
   * the same, exact result. */
  double *x = aligned_alloc(64, sizeof(double) * (size_t) sum_n);
  if (x == NULL)
    return 1;
  for (int64_t i = 0; i < sum_n; i++)
    x[i] = (double) (i % 1000);
  const double expect_sum = sum_naive(x, sum_n);
  enum { S_NAIVE, S_ACC, S_PT2, S_P1, S_P2, S_N };
  series_t ss[S_N] = {
    { "1 thread, plain loop", {0}, 0 },
    { "1 thread, 8 accumulators", {0}, 0 },
    { "2 threads, 8 accumulators", {0}, 0 },
    { "penny 1 worker", {0}, 0 }, { "penny 2 workers", {0}, 0 },
  };
  const int sum_reps = reps * 3 > 64 ? 64 : reps * 3;
  for (int r = 0; r < sum_reps; r++) {
    for (int k = 0; k < S_N; k++) {
      range_t a = { x, 0, sum_n, 0 };
      double t0 = bench_now();
      switch (k) {
      case S_NAIVE: a.s = sum_naive(x, sum_n); break;
      case S_ACC: a.s = bench_sum_chunk(x, 0, sum_n); break;
      case S_PT2: a.s = bench_sum_threads(x, sum_n, 2); break;
      case S_P1: bench_run_job(p1, sum_penny, &a); break;
      default: bench_run_job(p2, sum_penny, &a); break;
      }
      ss[k].samples[r] = bench_now() - t0;
      if (a.s != expect_sum) {
        fprintf(stderr, "%s: wrong result\n", ss[k].name);
        return 1;
      }
    }
  }
  const double bytes = (double) sum_n * sizeof(double);
  for (int k = 0; k < S_N; k++)
    ss[k].med = bench_median(ss[k].samples, sum_reps);

  penny_stats_t st;
  penny_pool_stats(p2, PENNY_ALL_WORKERS, &st);
  penny_pool_destroy(p1, 0);
  penny_pool_destroy(p1s, 0);
  penny_pool_destroy(p2, 0);
  free(x);

  /* ---- Report. ---- */
  const double ts = fs[F_SERIAL].med;
  printf("fib(%d), a spawn at every level: %.0f fork points, %d runs, "
         "medians\n", fib_small, forks, reps);
  printf("  %-30s %10s %14s %12s\n", "", "ms", "ns/fork point",
         "vs serial");
  for (int k = 0; k < F_N; k++)
    printf("  %-30s %10.2f %14.2f %11.2fx\n", fs[k].name, fs[k].med * 1e3,
           fs[k].med / forks * 1e9, fs[k].med / ts);
  const double overhead_ns = (fs[F_P1].med - ts) / forks * 1e9;
  printf("  penny overhead per fork point (T1 - Ts) / forks: %.2f ns; "
         "openmp: %.2f ns\n", overhead_ns,
         (fs[F_OMP1].med - ts) / forks * 1e9);
  printf("  T1/Ts = %.2f, Ts/T2 = %.2f, T1/T2 = %.2f\n\n",
         fs[F_P1].med / ts, ts / fs[F_P2].med, fs[F_P1].med / fs[F_P2].med);

  printf("fib(%d), no cutoff, %d runs, medians\n", fib_big, big_reps);
  for (int k = 0; k < B_N; k++)
    printf("  %-30s %10.1f ms\n", bs[k].name, bs[k].med * 1e3);
  const double speedup_big = bs[B_P1].med / bs[B_P2].med;
  printf("  2 workers vs 1: %.3fx; vs serial: %.3fx\n\n", speedup_big,
         bs[B_SERIAL].med / bs[B_P2].med);

  printf("sum of %lld doubles (%.0f MB), %d runs, medians\n",
         (long long) sum_n, bytes / 1e6, sum_reps);
  for (int k = 0; k < S_N; k++)
    printf("  %-30s %8.2f ms %8.2f GB/s\n", ss[k].name, ss[k].med * 1e3,
           bytes / ss[k].med / 1e9);
  const double bw_ratio = ss[S_PT2].med / ss[S_P2].med;
  printf("  penny 2 workers / 2-thread ceiling: %.1f%%\n", bw_ratio * 100);
  printf("\npool counters (2-worker pool): jobs %llu, steals %llu, "
         "failed steals %llu, sleeps %llu, wakeups %llu\n",
         (unsigned long long) st.jobs, (unsigned long long) st.steals,
         (unsigned long long) st.failed_steals,
         (unsigned long long) st.sleeps, (unsigned long long) st.wakeups);

  FILE *f = fopen(json, "w");
  if (f == NULL) {
    perror(json);
    return 1;
  }
  fprintf(f, "{\n  \"fib_small\": { \"n\": %d, \"fork_points\": %.0f, "
          "\"runs\": %d, \"median_s\": {", fib_small, forks, reps);
  for (int k = 0; k < F_N; k++)
    fprintf(f, "%s\"%s\": %.6f", k ? ", " : " ", fs[k].name, fs[k].med);
  fprintf(f, " },\n    \"overhead_ns_per_fork\": %.3f, \"t1_over_ts\": %.4f,"
          " \"ts_over_t2\": %.4f },\n", overhead_ns, fs[F_P1].med / ts,
          ts / fs[F_P2].med);
  fprintf(f, "  \"fib_big\": { \"n\": %d, \"runs\": %d, \"median_s\": {",
          fib_big, big_reps);
  for (int k = 0; k < B_N; k++)
    fprintf(f, "%s\"%s\": %.6f", k ? ", " : " ", bs[k].name, bs[k].med);
  fprintf(f, " }, \"speedup_2_over_1\": %.4f },\n", speedup_big);
  fprintf(f, "  \"sum\": { \"n\": %lld, \"runs\": %d, \"gb_per_s\": {",
          (long long) sum_n, sum_reps);
  for (int k = 0; k < S_N; k++)
    fprintf(f, "%s\"%s\": %.3f", k ? ", " : " ", ss[k].name,
            bytes / ss[k].med / 1e9);
  fprintf(f, " }, \"penny2_over_ceiling\": %.4f }\n}\n", bw_ratio);
  fclose(f);
  printf("wrote %s\n", json);
  return 0;
}
