/* What the core benchmarks share: a clock, medians, running a root job,
 * and the
 * memory-bandwidth ceilings Penny's sums are compared with (a loop with
 * eight accumulators, enough to hide the latency of the additions, and the
 * same loop on plain threads, one contiguous range each). */
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../src/core/platform.h"

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
  penny_job_t job;
  penny__mutex_t mutex;
  penny__cond_t cond;
  int done;
  int status;
} waiter_t;

static void waiter_done(penny_job_t *job, int status) {
  waiter_t *w = job->data;
  penny__mutex_lock(&w->mutex);
  w->done = 1;
  w->status = status;
  penny__cond_signal(&w->cond);
  penny__mutex_unlock(&w->mutex);
}

int bench_run_job(penny_pool_t *pool, penny_task_fn fn, void *arg) {
  waiter_t w;
  memset(&w, 0, sizeof(w));
  penny__mutex_init(&w.mutex);
  penny__cond_init(&w.cond);
  w.job.fn = fn;
  w.job.arg = arg;
  w.job.done = waiter_done;
  w.job.data = &w;
  if (penny_pool_submit(pool, &w.job) != 0)
    abort();
  penny__mutex_lock(&w.mutex);
  while (!w.done)
    penny__cond_wait(&w.cond, &w.mutex);
  penny__mutex_unlock(&w.mutex);
  penny__cond_destroy(&w.cond);
  penny__mutex_destroy(&w.mutex);
  return w.status;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

double bench_median(double *v, int n) {
  qsort(v, (size_t) n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define ACC 8
#define MAX_THREADS 64

double bench_sum_chunk(const double *x, int64_t lo, int64_t hi) {
  double a[ACC] = { 0 };
  int64_t i = lo;
  for (; i + ACC <= hi; i += ACC)
    for (int k = 0; k < ACC; k++)
      a[k] += x[i + k];
  double s = 0;
  for (; i < hi; i++)
    s += x[i];
  for (int k = 0; k < ACC; k++)
    s += a[k];
  return s;
}

typedef struct {
  const double *x;
  int64_t lo, hi;
  double s;
} part_t;

static void sum_thread(void *arg) {
  part_t *p = arg;
  p->s = bench_sum_chunk(p->x, p->lo, p->hi);
}

double bench_sum_threads(const double *x, int64_t n, int threads) {
  penny__thread_t t[MAX_THREADS];
  part_t part[MAX_THREADS];
  if (threads > MAX_THREADS)
    threads = MAX_THREADS;
  for (int i = 0; i < threads; i++) {
    part[i] = (part_t) { x, n * i / threads, n * (i + 1) / threads, 0 };
    if (penny__thread_create(&t[i], 0, sum_thread, &part[i]) != 0)
      abort();
  }
  double s = 0;
  for (int i = 0; i < threads; i++) {
    penny__thread_join(&t[i]);
    s += part[i].s;
  }
  return s;
}
