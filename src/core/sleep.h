/* Sleeping and waking (SLEEP.md): an idle worker parks, and whoever makes
 * work visible wakes one only when some sleep and none searches, so the
 * hot paths make no system call. */
#ifndef PENNY_SLEEP_H
#define PENNY_SLEEP_H

#include "core.h"
#include "deque.h"

/* pool->idle packs three 16-bit counts so one load sees them together:
 * workers searching, sleeping, and wake-ups on their way (SLEEP.md). */
#define IDLE_SEARCHING_ONE ((uint64_t) 1)
#define IDLE_SLEEPING_ONE ((uint64_t) 1 << 16)
#define IDLE_WAKING_ONE ((uint64_t) 1 << 32)
#define IDLE_SEARCHING(s) ((unsigned) ((s) & 0xffff))
#define IDLE_SLEEPING(s) ((unsigned) (((s) >> 16) & 0xffff))
#define IDLE_WAKING(s) ((unsigned) (((s) >> 32) & 0xffff))

/* ---- For whoever publishes work. ---- */

/* Called after publishing work that a sleeping worker may need: a SeqCst
 * fence, then penny__maybe_wake. `waker` is the worker that counts the
 * wake-up, or NULL. */
void penny__notify(penny_pool_t *pool, penny_worker_t *waker);
/* Wakes one sleeper if some sleep while nobody searches or is being
 * woken; the caller has fenced after publishing its work. */
void penny__maybe_wake(penny_pool_t *pool, penny_worker_t *waker);
/* Wakes every sleeper: for shutdown. */
void penny__wake_all(penny_pool_t *pool);

/* ---- For a worker pushing onto its own deque. ---- */

/* Owner: pushes t and, if the deque was empty, calls for help: a sleeping
 * worker may be needed. With frames already there, the push that made it
 * non-empty has called. Every push by the pool goes through here, so none
 * can skip that check (SLEEP.md, "Spawns and the pop check"). */
static inline bool penny__deque_push_notify(penny_worker_t *w,
                                            penny__task_t *t) {
  int64_t b;
  if (PENNY_UNLIKELY(!penny__deque_push(w, t, &b)))
    return false;
  /* Compiler-only: keeps the load of top below after the push's store of
   * bottom in program order, which the asymmetric-fence argument needs
   * (a push after the owner's barrier point is followed by a check after
   * it). The hardware may still reorder them: a load of top that misses
   * a steal of the last frame is covered by the thief's baton, and a
   * sleeper that misses this push by the pop check or, with asymmetric
   * fences, by its heavy barrier; see SLEEP.md. Relaxed: penny__notify
   * fences before it reads the idle counts. */
  atomic_signal_fence(memory_order_seq_cst);
  if (PENNY_UNLIKELY(b <= atomic_load_explicit(&w->top, memory_order_relaxed)))
    penny__notify(w->pool, w);
  return true;
}

/* ---- For the worker loop (worker.c). ---- */

/* The worker found work: it stops searching, and passes the baton if it
 * was the last searcher. */
void penny__stop_searching(penny_worker_t *w);
/* The same for a root job from the injector or the job source: when every
 * other worker sleeps, the baton is passed only if more root jobs are in
 * sight (SLEEP.md). */
void penny__stop_searching_job(penny_worker_t *w);
/* The worker is done with that work and searches again. */
void penny__start_searching(penny_worker_t *w);
/* Parks a searching worker until woken, unless work or the end shows up
 * first; it is searching again on return. */
void penny__worker_sleep(penny_worker_t *w);
/* The two halves of penny__worker_sleep, for a lent thread that parks
 * outside the core: begin says whether to park, and on which epoch; end
 * runs after the park (or instead of it). */
bool penny__worker_sleep_begin(penny_worker_t *w, uint32_t *epoch);
void penny__worker_sleep_end(penny_worker_t *w);
void penny__park_wake_pool(penny_pool_t *pool, int all);
/* Destroy has begun and no job runs: once the injector is empty too,
 * workers may leave. */
bool penny__may_exit(penny_pool_t *pool);

#endif /* PENNY_SLEEP_H */
