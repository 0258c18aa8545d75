/* Shared helpers for the core tests. */
#ifndef PENNY_TEST_HELPERS_H
#define PENNY_TEST_HELPERS_H

#include "penny.h"
#include "runner.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/core/platform.h"

/* A count-down latch: wait() returns once count() has been called n times. */
typedef struct {
  penny__mutex_t mutex;
  penny__cond_t cond;
  int64_t left;
} latch_t;

static inline void latch_init(latch_t *l, int64_t n) {
  ASSERT_EQ(penny__mutex_init(&l->mutex), 0);
  ASSERT_EQ(penny__cond_init(&l->cond), 0);
  l->left = n;
}

static inline void latch_count(latch_t *l) {
  penny__mutex_lock(&l->mutex);
  if (--l->left == 0)
    penny__cond_broadcast(&l->cond);
  penny__mutex_unlock(&l->mutex);
}

static inline void latch_wait(latch_t *l) {
  penny__mutex_lock(&l->mutex);
  while (l->left > 0)
    penny__cond_wait(&l->cond, &l->mutex);
  penny__mutex_unlock(&l->mutex);
}

static inline void latch_destroy(latch_t *l) {
  penny__cond_destroy(&l->cond);
  penny__mutex_destroy(&l->mutex);
}

/* Runs fn(w, arg) as one root job on `pool` and waits for it. Returns the
 * job's status. */
typedef struct {
  penny_job_t job;
  latch_t latch;
  int status;
} sync_job_t;

static inline void sync_job_done(penny_job_t *job, int status) {
  sync_job_t *s = job->data;
  s->status = status;
  latch_count(&s->latch);
}

/* Submits fn(w, arg) without waiting; sync_job_wait collects it. */
static inline void sync_job_submit(penny_pool_t *pool, sync_job_t *s,
                                   penny_task_fn fn, void *arg) {
  memset(s, 0, sizeof(*s));
  latch_init(&s->latch, 1);
  s->job.fn = fn;
  s->job.arg = arg;
  s->job.done = sync_job_done;
  s->job.data = s;
  s->status = 1;
  ASSERT_EQ(penny_pool_submit(pool, &s->job), 0);
}

static inline int sync_job_wait(sync_job_t *s) {
  latch_wait(&s->latch);
  latch_destroy(&s->latch);
  return s->status;
}

static inline int run_on_pool(penny_pool_t *pool, penny_task_fn fn,
                              void *arg) {
  sync_job_t s;
  sync_job_submit(pool, &s, fn, arg);
  return sync_job_wait(&s);
}

static inline penny_pool_t *make_pool(unsigned threads, unsigned flags) {
  penny_pool_options_t o;
  penny_pool_t *pool = NULL;
  memset(&o, 0, sizeof(o));
  o.threads = threads;
  o.flags = flags;
  ASSERT_EQ(penny_pool_create(&pool, &o), 0);
  ASSERT(pool != NULL);
  return pool;
}

static inline int64_t fib_serial(int n) {
  return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

/* fib with a spawn at every level: the standard fork-join workout. */
typedef struct {
  int n;
  int64_t result;
} fib_arg_t;

static inline void fib_task(penny_worker_t *w, void *arg) {
  fib_arg_t *a = arg;
  if (a->n < 2) {
    a->result = a->n;
    return;
  }
  fib_arg_t x = { a->n - 1, 0 }, y = { a->n - 2, 0 };
  penny_task_t child;
  penny_spawn(w, &child, fib_task, &x);
  fib_task(w, &y);
  penny_sync(w, &child);
  a->result = x.result + y.result;
}

/* A recursive parallel sum with penny_join: halves down to leaves of 64. */
typedef struct {
  const int64_t *x;
  int64_t n;
  int64_t sum;
} sum_arg_t;

static inline void sum_task(penny_worker_t *w, void *arg) {
  sum_arg_t *a = arg;
  if (a->n <= 64) {
    int64_t s = 0;
    for (int64_t i = 0; i < a->n; i++)
      s += a->x[i];
    a->sum = s;
    return;
  }
  int64_t h = a->n / 2;
  sum_arg_t l = { a->x, h, 0 }, r = { a->x + h, a->n - h, 0 };
  penny_join(w, sum_task, &l, sum_task, &r);
  a->sum = l.sum + r.sum;
}

static inline int64_t sum_serial(const int64_t *x, int64_t n) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++)
    s += x[i];
  return s;
}

/* n values from a 64-bit LCG started at `seed`, each its top 64 - shift
 * bits centred on zero, so that sums of many of them stay far from
 * overflow. The caller frees the array. */
static inline int64_t *random_values(int64_t n, uint64_t seed, int shift) {
  int64_t *x = malloc(sizeof(int64_t) * (size_t) (n > 0 ? n : 1));
  ASSERT(x != NULL);
  uint64_t rng = seed;
  for (int64_t i = 0; i < n; i++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (int64_t) (rng >> shift) - (int64_t) (1ll << (63 - shift));
  }
  return x;
}

#endif /* PENNY_TEST_HELPERS_H */
