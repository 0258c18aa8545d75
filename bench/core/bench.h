#ifndef PENNY_BENCH_H
#define PENNY_BENCH_H

#include <stdint.h>

#include "penny.h"

int64_t bench_fib_omp(int n, int threads);

/* Submits fn(w, arg) as a root job and waits for it; returns its status
 * (aborts if the pool refuses it). */
int bench_run_job(penny_pool_t *pool, penny_task_fn fn, void *arg);
/* Seconds on the monotonic clock. */
double bench_now(void);
/* The median of v[0, n); sorts v. */
double bench_median(double *v, int n);

/* Sum of x[lo, hi) with eight accumulators. */
double bench_sum_chunk(const double *x, int64_t lo, int64_t hi);
/* The same over x[0, n) split across `threads` plain threads (at most
 * 64), each summing one contiguous range: the bandwidth ceiling. */
double bench_sum_threads(const double *x, int64_t n, int threads);

#endif
