/* Sleeping and waking without lost wake-ups: the searching, sleeping and
 * waking counts, the wake-up epoch, and the handshake between a worker
 * going to sleep and whoever publishes work. SLEEP.md beside this file
 * gives the protocol and the argument. */
#include "sleep.h"
#include "deque.h"
#include "injector.h"

/* Wakes parked workers: on the pool's futex, or through the lender of
 * external threads. */
void penny__park_wake_pool(penny_pool_t *pool, int all) {
  if (pool->ext_wake != NULL)
    pool->ext_wake(pool->ext_ctx, all);
  else
    penny__park_wake(&pool->park, all);
}

/* Wakes one sleeper if some sleep while nobody searches or is being woken.
 * `waker` is the worker that counts the wake-up, or NULL. */
void penny__maybe_wake(penny_pool_t *pool, penny_worker_t *waker) {
  /* Relaxed: callers order this load after publishing their work with a
   * SeqCst fence (penny__notify, or the fence of a symmetric pop); see
   * SLEEP.md. */
  uint64_t s = atomic_load_explicit(&pool->idle, memory_order_relaxed);
  for (;;) {
    if (IDLE_SLEEPING(s) == 0 || IDLE_SEARCHING(s) != 0 ||
        IDLE_WAKING(s) != 0)
      return;
    /* Relaxed: the counts are a claim ("I will wake one"); the epoch
     * bump below carries the ordering the sleeper needs. */
    if (atomic_compare_exchange_weak_explicit(&pool->idle, &s,
                                              s + IDLE_WAKING_ONE,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      break;
  }
  /* SeqCst: the sleeper read the epoch before it counted itself asleep;
   * changing it here makes its futex wait return at once if it has not
   * started waiting yet. */
  atomic_fetch_add_explicit(pool->epoch, 1, memory_order_seq_cst);
  penny__park_wake_pool(pool, 0);
  if (waker)
    PENNY_COUNT(waker, wakeups);
}

/* Called after publishing work that a sleeping worker may need; `waker`
 * as for penny__maybe_wake. */
void penny__notify(penny_pool_t *pool, penny_worker_t *waker) {
  /* SeqCst fence: our work is visible before we read the idle counts;
   * pairs with the fence a worker issues after counting itself asleep
   * and before its last look for work. One of the two sees the other. */
  atomic_thread_fence(memory_order_seq_cst);
  penny__maybe_wake(pool, waker);
}

/* Any work anywhere? Used by a worker about to sleep. */
static bool work_visible(penny_pool_t *pool) {
  if (!penny__injector_empty(&pool->injector))
    return true;
  if (pool->source.ready != NULL && pool->source.ready(pool->source.ctx))
    return true;
  for (unsigned i = 0; i < pool->threads; i++)
    if (penny__deque_maybe_nonempty(&pool->workers[i]))
      return true;
  return false;
}

/* Wakes every sleeper: for shutdown. */
void penny__wake_all(penny_pool_t *pool) {
  /* SeqCst: a sleeper read the epoch before its last look; bumping it
   * after what that look missed ends its wait. */
  atomic_fetch_add_explicit(pool->epoch, 1, memory_order_seq_cst);
  penny__park_wake_pool(pool, 1);
}

/* Destroy has begun, no submit is in progress and no job runs: once the
 * injector is empty too, workers may leave. SeqCst loads: they pair with
 * destroy's store of `exiting` and with the decrement of `jobs_running`
 * in penny__run_job, each followed by a wake-up of every sleeper. */
bool penny__may_exit(penny_pool_t *pool) {
  return atomic_load_explicit(&pool->exiting, memory_order_seq_cst) &&
         atomic_load_explicit(&pool->jobs_running, memory_order_seq_cst) == 0;
}

/* Parks the worker until woken, unless work or stop shows up first. The
 * worker is counted as searching before and after. */
bool penny__worker_sleep_begin(penny_worker_t *w, uint32_t *epoch_out) {
  penny_pool_t *pool = w->pool;
  /* SeqCst: the epoch must be read before we count ourselves asleep; a
   * waker that sees the count bumps the epoch after this read. */
  uint32_t epoch = atomic_load_explicit(pool->epoch, memory_order_seq_cst);
  atomic_fetch_add_explicit(&pool->idle,
                            IDLE_SLEEPING_ONE - IDLE_SEARCHING_ONE,
                            memory_order_seq_cst);
  /* SeqCst fence: pairs with the one in penny__notify (and, with symmetric
   * fences, the one in pop); after it, either our last look below sees
   * the new work, or the submitter sees us asleep and wakes us. With
   * asymmetric fences pushes and pops have no fence at all: the heavy
   * barrier gives every owner one, at a point our look comes after.
   * Sleeping is rare, so its cost does not matter. */
  atomic_thread_fence(memory_order_seq_cst);
  if (w->asym)
    penny__heavy_barrier();
  *epoch_out = epoch;
  bool sleep = !work_visible(pool) && !penny__may_exit(pool);
  if (sleep)
    PENNY_COUNT(w, sleeps);
  return sleep;
}

void penny__worker_sleep_end(penny_worker_t *w) {
  penny_pool_t *pool = w->pool;
  /* Back to searching. A pending wake-up is addressed to the sleeping set
   * as a whole, so whoever leaves it first answers it, whether or not it
   * really parked; otherwise `waking` could stay set with nobody left to
   * clear it, and every later notify would skip its wake-up. */
  uint64_t s = atomic_load_explicit(&pool->idle, memory_order_relaxed);
  for (;;) {
    uint64_t n = s - IDLE_SLEEPING_ONE + IDLE_SEARCHING_ONE;
    if (IDLE_WAKING(s) > 0)
      n -= IDLE_WAKING_ONE;
    /* Relaxed: bookkeeping only; the search that follows synchronizes
     * through the deques and the injector. */
    if (atomic_compare_exchange_weak_explicit(&pool->idle, &s, n,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      break;
  }
}

void penny__worker_sleep(penny_worker_t *w) {
  uint32_t epoch;
  if (penny__worker_sleep_begin(w, &epoch))
    penny__park_wait(&w->pool->park, epoch);
  penny__worker_sleep_end(w);
}

/* Leaves the searching state to run found work: the last searcher to find
 * work wakes a sleeper, since more work may be waiting (SLEEP.md). */
void penny__stop_searching(penny_worker_t *w) {
  /* SeqCst: a submitter that reads the counts after its fence and sees us
   * searching skips its wake-up; the baton below, passed whenever the
   * last searcher finds work, is what makes that safe (SLEEP.md). */
  uint64_t prev = atomic_fetch_sub_explicit(&w->pool->idle,
                                            IDLE_SEARCHING_ONE,
                                            memory_order_seq_cst);
  if (IDLE_SEARCHING(prev) == 1 && IDLE_SLEEPING(prev) > 0)
    penny__maybe_wake(w->pool, w);
}

/* Leaves the searching state to run a root job it took from the injector
 * or the job source. When every other worker sleeps, the baton is passed
 * only if more root jobs are in sight: a lone job submitted to an idle
 * pool would otherwise wake a second worker that finds nothing, and on a
 * machine with as many runnable threads as CPUs that worker can take the
 * CPU of the one running the job for the whole of its spin. Sleepers hold
 * no frames, so the injector and the source are all there is to look at.
 * Otherwise a running worker may have pushed frames that the look could
 * miss (with asymmetric fences its push has no fence of its own), so the
 * baton is passed as for a stolen frame. */
void penny__stop_searching_job(penny_worker_t *w) {
  penny_pool_t *pool = w->pool;
  /* SeqCst: as in penny__stop_searching. */
  uint64_t prev = atomic_fetch_sub_explicit(&pool->idle, IDLE_SEARCHING_ONE,
                                            memory_order_seq_cst);
  if (IDLE_SEARCHING(prev) != 1 || IDLE_SLEEPING(prev) == 0)
    return;
  if (IDLE_SLEEPING(prev) != pool->threads - 1) {
    penny__maybe_wake(pool, w);
    return;
  }
  /* SeqCst fence: pairs with the submitter's fence in penny__notify that
   * read the counts while we still searched and so skipped its wake-up:
   * either it reads them after our decrement and wakes a sleeper itself,
   * or the look below sees its job. The source's ready() also marks the
   * source so that its producer notifies on its next publish (see
   * penny_source_t): a job published after this look is not left to us
   * alone. */
  atomic_thread_fence(memory_order_seq_cst);
  if (!penny__injector_empty(&pool->injector) ||
      (pool->source.ready != NULL && pool->source.ready(pool->source.ctx)))
    penny__maybe_wake(pool, w);
}

void penny__start_searching(penny_worker_t *w) {
  /* SeqCst: a submitter that sees us searching skips its wake-up, so we
   * must be counted before our next look for work. */
  atomic_fetch_add_explicit(&w->pool->idle, IDLE_SEARCHING_ONE,
                            memory_order_seq_cst);
}
