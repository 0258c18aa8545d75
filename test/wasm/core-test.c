/* Penny's C core compiled to wasm32, driven from JavaScript
 * (test/wasm/core.test.js): exports that build a pool on helper Workers,
 * run fork-join work on it and report what they counted. The controlling
 * instance waits for its jobs with wait32; inside the core it does not
 * block (see core.test.js). */
#include "penny.h"
#include "platform.h" /* penny__wasm_wait32: never wait32 inline */

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef struct {
  penny_job_t job;
  _Atomic uint32_t done;
  int status;
} waited_job_t;

static void job_done(penny_job_t *job, int status) {
  waited_job_t *wj = job->data;
  wj->status = status;
  /* Release: the job's writes before the waiter's acquire. */
  atomic_store_explicit(&wj->done, 1, memory_order_release);
  (void) __builtin_wasm_memory_atomic_notify((int *) (void *) &wj->done, 1);
}

/* Submits fn(arg) and waits for it; its status. */
static int run_on(penny_pool_t *pool, penny_task_fn fn, void *arg) {
  waited_job_t wj = { .status = -1 };
  atomic_init(&wj.done, 0);
  wj.job.fn = fn;
  wj.job.arg = arg;
  wj.job.done = job_done;
  wj.job.data = &wj;
  penny_job_reset(&wj.job);
  int rc = penny_pool_submit(pool, &wj.job);
  if (rc != 0)
    return rc;
  /* Acquire: pairs with job_done's release. */
  while (atomic_load_explicit(&wj.done, memory_order_acquire) == 0)
    (void) penny__wasm_wait32(&wj.done, 0, -1);
  return wj.status;
}

/* The last failing status, for the test to report. */
static int last_error;

EXPORT(wasm_last_error)
int wasm_last_error(void) {
  return last_error;
}

static int check(int rc) {
  if (rc != 0)
    last_error = rc;
  return rc;
}

static penny_pool_t *make(unsigned threads) {
  penny_pool_options_t o = { 0 };
  o.threads = threads;
  penny_pool_t *pool = NULL;
  return check(penny_pool_create(&pool, &o)) == 0 ? pool : NULL;
}

static uint64_t steals_of(penny_pool_t *pool) {
  penny_stats_t st;
  return penny_pool_stats(pool, PENNY_ALL_WORKERS, &st) == 0 ? st.steals : 0;
}

/* ---- fib with a join at every level ---- */

typedef struct { int n; int64_t r; } fib_t;

static void fib_task(penny_worker_t *w, void *arg) {
  fib_t *f = arg;
  if (f->n < 2) {
    f->r = f->n;
    return;
  }
  fib_t a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
  penny_join(w, fib_task, &a, fib_task, &b);
  f->r = a.r + b.r;
}

/* fib(n) on `threads` workers; -1 on failure. *steals gets the count. */
EXPORT(wasm_fib)
double wasm_fib(unsigned threads, int n, double *steals) {
  penny_pool_t *pool = make(threads);
  if (pool == NULL)
    return -1;
  fib_t f = { n, 0 };
  int rc = check(run_on(pool, fib_task, &f));
  *steals = (double) steals_of(pool);
  if (check(penny_pool_destroy(pool, 0)) != 0 || rc != 0)
    return -1;
  return (double) f.r;
}

/* ---- penny_for: every index visited exactly once ---- */

typedef struct { _Atomic uint8_t *seen; int64_t n; } cover_t;

static void cover_range(penny_worker_t *w, int64_t lo, int64_t hi,
                        void *arg) {
  cover_t *c = arg;
  (void) w;
  for (int64_t i = lo; i < hi; i++)
    /* Relaxed: a count per index; the job's end orders it for the reader. */
    atomic_fetch_add_explicit(&c->seen[i], 1, memory_order_relaxed);
}

static void cover_task(penny_worker_t *w, void *arg) {
  cover_t *c = arg;
  penny_for(w, c->n, 64, cover_range, c);
}

/* Visits 0..n-1 with penny_for on `threads` workers, `rounds` times;
 * returns how many indexes were not visited exactly once per round. */
EXPORT(wasm_cover)
double wasm_cover(unsigned threads, int n, int rounds) {
  penny_pool_t *pool = make(threads);
  _Atomic uint8_t *seen = calloc((size_t) n, 1);
  if (pool == NULL || seen == NULL)
    return -1;
  int64_t bad = 0;
  for (int r = 0; r < rounds; r++) {
    cover_t c = { seen, n };
    if (run_on(pool, cover_task, &c) != 0)
      bad++;
    for (int i = 0; i < n; i++) {
      if (atomic_load_explicit(&seen[i], memory_order_relaxed) != 1)
        bad++;
      atomic_store_explicit(&seen[i], 0, memory_order_relaxed);
    }
  }
  free(seen);
  if (penny_pool_destroy(pool, 0) != 0)
    return -1;
  return (double) bad;
}

/* ---- many root jobs at once: each runs exactly once ---- */

static void count_task(penny_worker_t *w, void *arg) {
  (void) w;
  /* Relaxed: a counter read after every job is done. */
  atomic_fetch_add_explicit((_Atomic int *) arg, 1, memory_order_relaxed);
}

/* Submits `jobs` jobs to `threads` workers and waits for all; returns
 * how many ran (should be `jobs`), or -1. */
EXPORT(wasm_many)
double wasm_many(unsigned threads, int jobs) {
  penny_pool_t *pool = make(threads);
  waited_job_t *js = calloc((size_t) jobs, sizeof(*js));
  _Atomic int ran;
  atomic_init(&ran, 0);
  if (pool == NULL || js == NULL)
    return -1;
  for (int i = 0; i < jobs; i++) {
    atomic_init(&js[i].done, 0);
    js[i].job.fn = count_task;
    js[i].job.arg = (void *) &ran;
    js[i].job.done = job_done;
    js[i].job.data = &js[i];
    penny_job_reset(&js[i].job);
    if (penny_pool_submit(pool, &js[i].job) != 0)
      return -1;
  }
  for (int i = 0; i < jobs; i++)
    while (atomic_load_explicit(&js[i].done, memory_order_acquire) == 0)
      (void) penny__wasm_wait32(&js[i].done, 0, -1); /* acquire: job_done */
  free(js);
  int n = atomic_load_explicit(&ran, memory_order_relaxed);
  if (penny_pool_destroy(pool, 0) != 0)
    return -1;
  return n;
}

/* ---- V8's Liftoff and wait32 (see penny__wasm_wait32) ---- */

/* x * 7 + y, computed before a wait that does not sleep (the word is not
 * `expected`) and returned after it, with the wait's result: Node 20's
 * baseline compiler returned y as 0 with the wait inline. */
EXPORT(wasm_wait_keeps)
int wasm_wait_keeps(_Atomic uint32_t *word, int x, int y) {
  int keep = x * 7 + y;
  int r = penny__wasm_wait32(word, atomic_load(word) + 1, 0);
  return keep * 10 + r;
}
