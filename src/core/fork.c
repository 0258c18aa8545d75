/* Fork-join, the calls a kernel makes: spawn, sync, join and for, whether
 * the job is cancelled, failing it, and what a worker knows of itself. */
#include "fork.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- Spawn, sync, join. The built-in kernels call these directly and
 * plugins through penny_api_t; both pay a call per spawn and per sync on
 * top of the inline fast path in fork.h, which penny_join and penny_for
 * use directly. ---- */

void penny_spawn(penny_worker_t *w, penny_task_t *child, penny_task_fn fn,
                 void *arg) {
  penny__spawn(w, child, fn, arg);
}

void penny_sync(penny_worker_t *w, penny_task_t *child) {
  penny__sync(w, child);
}

/* ---- Fork-join where the caller runs its own children (a lent thread
 * whose children are JavaScript functions): the frame's fn runs only when
 * a thief takes it. ---- */

int penny_spawn_try(penny_worker_t *w, penny_task_t *child,
                    penny_task_fn fn, void *arg) {
  if (PENNY_LIKELY(penny__spawn_push(w, child, fn, arg)))
    return 1;
  PENNY_COUNT(w, inlined);
  return 0;
}

int penny_sync_try(penny_worker_t *w, penny_task_t *child, int help) {
  penny__task_t *t = (penny__task_t *) (void *) child;
  penny__task_t *p = penny__sync_pop(w, t);
  if (PENNY_LIKELY(p == t))
    return 1;
  if (p != NULL) {
    fprintf(stderr, "penny: penny_sync_try called out of order; children "
                    "must be synced in the reverse order of their spawns\n");
    abort();
  }
  penny__wait_stolen(w, t, help ? WAIT_HELP_FRAMES : 0);
  return 0;
}

int64_t penny_worker_queued(const penny_worker_t *w) {
  return penny__deque_size((penny_worker_t *) w); /* reads only */
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
