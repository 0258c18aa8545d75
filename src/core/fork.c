/* Fork-join: the slow path of sync, and the public spawn/sync/join/for
 * entry points. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* Root jobs a waiting worker may start on top of its stack, one inside
 * the other: each delays the continuation below it and takes stack, so
 * past this depth a waiting worker only steals. */
#define MAX_NESTED_JOBS 8

/* The pop in penny__sync did not return t (it returned p). Either t ran
 * inline at its spawn (full deque), or it was stolen (p == NULL) and this
 * worker must keep busy until the thief finishes it: any other p means
 * the children were synced out of order. Leapfrogging: the thief's deque
 * holds t's own
 * descendants, so steal from it first, then from anyone, then take new
 * jobs. Our deque is empty here: t was the newest frame and a thief took
 * it from the top, so every older frame was taken before. A waiting
 * worker is not counted as searching, so after it finds work it passes
 * the baton as a searcher would (SLEEP.md): there may be more. */
void penny__sync_slow(penny_worker_t *w, penny__task_t *t,
                      penny__task_t *p) {
  /* Relaxed: TASK_INLINE was stored by this thread. */
  if (TASK_STATE(atomic_load_explicit(&t->word, memory_order_relaxed)) ==
      TASK_INLINE) {
    /* The deque was full at the spawn, so t already ran there, and our
     * pop took a frame of an enclosing sync (or found none): put it back
     * where it was. There is room, since we just took it. While it was
     * off the deque a worker may have looked, found nothing and gone to
     * sleep, so the push calls for help like a spawn's. */
    if (p != NULL) {
      if (PENNY_UNLIKELY(w->debug_race))
        penny__sleep_ms(5); /* Let the other workers fall asleep now. */
      if (!penny__deque_push_notify(w, p))
        abort(); /* Broken invariant: no room right after a pop. */
    }
    return;
  }
  if (p != NULL) {
    fprintf(stderr, "penny: penny_sync called out of order; children must "
                    "be synced in the reverse order of their spawns\n");
    abort();
  }
  unsigned idle_rounds = 0;
  for (;;) {
    /* Acquire pairs with the thief's release store of TASK_DONE. A stale
     * or missing thief index only costs a random pick. */
    uint64_t word = atomic_load_explicit(&t->word, memory_order_acquire);
    if (TASK_STATE(word) == TASK_DONE)
      break;
    penny__task_t *task = NULL;
    penny_job_t *job = NULL;
    uint32_t thief = TASK_THIEF(word);
    if (thief < w->count && thief != w->index &&
        penny__deque_steal(&w->pool->workers[thief], &task, &job) ==
            STEAL_SUCCESS) {
      penny__notify(w->pool, w);
      penny__run_stolen(w, task, job);
      idle_rounds = 0;
      continue;
    }
    if (penny__find_work(w, &task, &job,
                         w->nested_jobs < MAX_NESTED_JOBS)) {
      penny__notify(w->pool, w);
      if (task) {
        penny__run_stolen(w, task, job);
      } else {
        w->nested_jobs++;
        penny__run_job(w, job);
        w->nested_jobs--;
      }
      idle_rounds = 0;
      continue;
    }
    /* Nothing to do but wait for the thief. With more threads than cores
     * the thief may need our CPU, so yield now and then. */
    if (++idle_rounds < 64)
      penny__cpu_relax();
    else
      penny__thread_yield();
  }
}

/* ---- Public entry points (plugins reach these through pointers; the
 * built-in kernels use the inline versions in internal.h). ---- */

void penny_spawn(penny_worker_t *w, penny_task_t *child, penny_task_fn fn,
                 void *arg) {
  penny__spawn(w, child, fn, arg);
}

void penny_sync(penny_worker_t *w, penny_task_t *child) {
  penny__sync(w, child);
}

void penny_join(penny_worker_t *w, penny_task_fn fa, void *a,
                penny_task_fn fb, void *b) {
  penny_task_t child;
  penny__spawn(w, &child, fb, b);
  fa(w, a);
  penny__sync(w, &child);
}

int penny_cancelled(const penny_worker_t *w) {
  const penny_job_t *job = penny__job_of(w);
  /* Relaxed: cancellation is a hint polled at chunk boundaries. */
  return (job != NULL &&
          (atomic_load_explicit(&penny__job_priv(job)->state,
                                memory_order_relaxed) & JOB_CANCEL_REQ)) ||
         atomic_load_explicit(&w->pool->cancel_all, memory_order_relaxed);
}

void penny_fail(penny_worker_t *w, int err) {
  penny_job_t *job = penny__job_of(w);
  if (job == NULL || err >= 0)
    return;
  int32_t expected = 0;
  /* Relaxed: the status is read by the job's worker after the kernel has
   * returned, which the sync of every child orders after this store. */
  atomic_compare_exchange_strong_explicit(&penny__job_priv(job)->status,
                                          &expected, err,
                                          memory_order_relaxed,
                                          memory_order_relaxed);
}

unsigned penny_worker_index(const penny_worker_t *w) {
  return w->index;
}

unsigned penny_worker_count(const penny_worker_t *w) {
  return w->count;
}

penny_job_t *penny_worker_job(const penny_worker_t *w) {
  return penny__job_of(w);
}

/* ---- penny_for: lazy binary splitting (Tzannes, Caragea, Barua and
 * Vishkin, PPoPP 2010). A range is halved only when the worker's deque is
 * empty, a sign that thieves are hungry; otherwise the worker runs one
 * grain and looks again. ---- */

typedef struct {
  penny_for_fn body;
  void *arg;
  int64_t grain;
} for_ctx_t;

typedef struct {
  const for_ctx_t *ctx;
  int64_t lo, hi;
} for_range_t;

static void for_range(penny_worker_t *w, const for_ctx_t *ctx, int64_t lo,
                      int64_t hi);

static void for_half(penny_worker_t *w, void *arg) {
  for_range_t *r = arg;
  for_range(w, r->ctx, r->lo, r->hi);
}

static void for_range(penny_worker_t *w, const for_ctx_t *ctx, int64_t lo,
                      int64_t hi) {
  while (hi - lo > ctx->grain) {
    if (penny_cancelled(w))
      return;
    if (penny__deque_size(w) <= 0) {
      int64_t mid = lo + (hi - lo) / 2;
      for_range_t right = { ctx, mid, hi };
      penny_task_t child;
      penny__spawn(w, &child, for_half, &right);
      for_range(w, ctx, lo, mid);
      penny__sync(w, &child);
      return;
    }
    ctx->body(w, lo, lo + ctx->grain, ctx->arg);
    lo += ctx->grain;
  }
  if (lo < hi && !penny_cancelled(w))
    ctx->body(w, lo, hi, ctx->arg);
}

void penny_for(penny_worker_t *w, int64_t n, int64_t grain,
               penny_for_fn body, void *arg) {
  if (n <= 0)
    return;
  if (grain <= 0) {
    /* Enough chunks to balance, few enough that each is worth a check. */
    grain = n / ((int64_t) w->count * 8);
    if (grain > 8192)
      grain = 8192;
    if (grain < 1)
      grain = 1;
  }
  for_ctx_t ctx = { body, arg, grain };
  for_range(w, &ctx, 0, n);
}
