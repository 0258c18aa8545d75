/* The fork-join fast path: spawn and sync, inline for the calls in fork.c
 * that build on them (penny_join, penny_for) and for the exported
 * penny_spawn and penny_sync. A sync whose child did not come back from
 * the pop goes to penny__sync_slow (worker.c). */
#ifndef PENNY_FORK_H
#define PENNY_FORK_H

#include "core.h"
#include "deque.h"
#include "sleep.h"
#include "worker.h"

/* Fills the child's frame (caller storage: a spawn never allocates) and
 * pushes it; false when the deque is full. */
static inline bool penny__spawn_push(penny_worker_t *w, penny_task_t *child,
                                     penny_task_fn fn, void *arg) {
  penny__task_t *t = (penny__task_t *) (void *) child;
  t->fn = fn;
  t->arg = arg;
  /* Relaxed, and before the push: the push's release store publishes it,
   * and a thief may finish the child (storing TASK_DONE) the moment the
   * push is visible. */
  atomic_store_explicit(&t->word, TASK_WORD(TASK_PUSHED, TASK_NO_THIEF),
                        memory_order_relaxed);
  return penny__deque_push_notify(w, t);
}

/* Pushes the child's frame, or runs the child at once if the deque is
 * full. */
static inline void penny__spawn(penny_worker_t *w, penny_task_t *child,
                                penny_task_fn fn, void *arg) {
  if (PENNY_LIKELY(penny__spawn_push(w, child, fn, arg)))
    return;
  /* Full deque: serial elision, run the child now. */
  penny__task_t *t = (penny__task_t *) (void *) child;
  atomic_store_explicit(&t->word, TASK_WORD(TASK_INLINE, TASK_NO_THIEF),
                        memory_order_relaxed);
  PENNY_COUNT(w, inlined);
  fn(w, arg);
}

/* Pops the newest frame for the sync of t and returns it: t itself in
 * the common case, which the caller then runs. */
static inline penny__task_t *penny__sync_pop(penny_worker_t *w,
                                             penny__task_t *t) {
  int asym = w->asym;
  int64_t left;
  penny__task_t *p = penny__deque_pop_fenced(w, asym, &left);
  /* With symmetric fences, frames remaining above us may have been missed
   * by a worker on its way to sleep (SLEEP.md, "the pop check"); the fence
   * in pop orders this load after our earlier pushes. With asymmetric
   * fences the sleeper's heavy barrier covers that case. */
  if (PENNY_LIKELY(p == t) && PENNY_UNLIKELY(!asym) && left > 0 &&
      atomic_load_explicit(&w->pool->idle, memory_order_relaxed) >=
          IDLE_SLEEPING_ONE)
    penny__maybe_wake(w->pool, w);
  return p;
}

/* The common case pops the child and runs it. A child that ran inline at
 * its spawn (full deque), or was stolen, leaves the pop with some other
 * frame or none: penny__sync_slow sorts that out, so the fast path pays
 * nothing for either. */
static inline void penny__sync(penny_worker_t *w, penny_task_t *child) {
  penny__task_t *t = (penny__task_t *) (void *) child;
  penny__task_t *p = penny__sync_pop(w, t);
  if (PENNY_LIKELY(p == t)) {
    t->fn(w, t->arg);
    return;
  }
  penny__sync_slow(w, t, p);
}

#endif /* PENNY_FORK_H */
