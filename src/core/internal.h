/* Internal structures of the core. Nothing here is ABI. */
#ifndef PENNY_INTERNAL_H
#define PENNY_INTERNAL_H

#include "core.h"
#include "injector.h"

typedef enum {
  STEAL_EMPTY = 0,
  STEAL_SUCCESS = 1,
  STEAL_RETRY = 2      /* lost a race with the owner or another thief */
} penny__steal_t;

void penny__notify(penny_pool_t *pool, penny_worker_t *waker);
void penny__maybe_wake(penny_pool_t *pool, penny_worker_t *waker);
penny__steal_t penny__deque_steal(penny_worker_t *v, penny__task_t **out,
                                  penny_job_t **job);
void penny__run_stolen(penny_worker_t *w, penny__task_t *t, penny_job_t *job);
void penny__run_job(penny_worker_t *w, penny_job_t *job);
bool penny__find_work(penny_worker_t *w, penny__task_t **task,
                      penny_job_t **job, bool jobs);

/* The worker's current root job; only its owner calls these. Relaxed:
 * thieves read the job with the ordering argued in penny__deque_steal. */
static inline penny_job_t *penny__job_of(const penny_worker_t *w) {
  return atomic_load_explicit(&w->job, memory_order_relaxed);
}

static inline void penny__set_job(penny_worker_t *w, penny_job_t *job) {
  atomic_store_explicit(&w->job, job, memory_order_relaxed);
}

PENNY_NOINLINE void penny__sync_slow(penny_worker_t *w, penny__task_t *t,
                                     penny__task_t *popped);
uint64_t penny__rand(penny_worker_t *w);

/* ---- The Chase-Lev deque, owner side (hot path, inline). ----
 *
 * D. Chase and Y. Lev, "Dynamic circular work-stealing deque", SPAA 2005,
 * with the C11 memory orders of N. M. Le, A. Pop, A. Cohen and
 * F. Zappa Nardelli, "Correct and efficient work-stealing for weak memory
 * models", PPoPP 2013. The ring is fixed (no resize): a full deque makes
 * the spawn run its child inline. Indices are signed 64-bit and never wrap
 * in practice. The thief side is penny__deque_steal in fork.c.
 *
 * Two deliberate differences from the paper:
 *
 * 1. Every store to `bottom` is a release store, where the paper uses a
 * release fence before a relaxed store in push and relaxed stores in take.
 * Without resizing, the fence orders exactly what the release store orders
 * (the slot and the frame before the new bottom); making the take stores
 * release too means every value a thief can read heads its own release
 * sequence under the C11 and C++20 rules alike, and ThreadSanitizer, which
 * does not model fences, sees the same happens-before edges as the
 * hardware. On x86 all of these are plain moves.
 *
 * 2. Asymmetric fences (when w->asym): the SeqCst fence of take, which
 * every sync pays, drains the store buffer; it cost 7-8 ns of a 20 ns
 * fork point on the development machine (bench/README.md). Where the OS
 * offers it (Linux membarrier, private expedited), take uses a compiler-only fence and a thief instead
 * calls penny__heavy_barrier() in place of its own SeqCst fence: that makes
 * the owner execute a full barrier at some point during the call, which is
 * all the Dekker-style handshake between take and steal needs. If the
 * owner's barrier comes after its store of bottom, the thief's load of
 * bottom (after the call) sees the new bottom. If it comes before, the
 * owner's load of top comes after the barrier and sees at least the top
 * the thief read before the call, including a value written by another
 * thief's CAS (membarrier is cumulative: what the thief had seen is
 * visible to the owner after its barrier). Thieves pay a system call
 * (microseconds) per steal from a deque that looks non-empty; steals are
 * rare in fork-join, syncs are not. Without membarrier, under
 * ThreadSanitizer, or with PENNY_POOL_SYMMETRIC_FENCES, the fences are the
 * paper's. */

/* The owner's half of the take/steal handshake (see 2. above). `asym` is
 * w->asym, passed in so callers can keep it in a register across the
 * atomics, which make the compiler reload fields. */
static inline void penny__owner_fence(int asym) {
  if (PENNY_LIKELY(asym))
    /* Compiler-only: the thief's heavy barrier supplies the hardware
     * fence. */
    atomic_signal_fence(memory_order_seq_cst);
  else
    /* SeqCst fence: pairs with the SeqCst fence in steal. */
    atomic_thread_fence(memory_order_seq_cst);
}

/* Owner: pushes t and stores the index it went to in *at; false if the
 * deque is full. */
static inline bool penny__deque_push(penny_worker_t *w, penny__task_t *t,
                                     int64_t *at) {
  int64_t b = atomic_load_explicit(&w->bottom, memory_order_relaxed);
  if (PENNY_UNLIKELY(b >= w->push_limit)) {
    /* Acquire pairs with the thieves' CAS on top: a slot a thief has
     * stolen from is read before we overwrite it (Le et al., push). */
    w->push_limit = atomic_load_explicit(&w->top, memory_order_acquire) +
                    w->cap_limit;
    if (b >= w->push_limit)
      return false;
  }
  atomic_store_explicit(&w->ring[b & w->mask], t, memory_order_relaxed);
  /* Release: publishes the slot and the frame's fields to the thief whose
   * acquire load of bottom reads this value. */
  atomic_store_explicit(&w->bottom, b + 1, memory_order_release);
  *at = b;
  return true;
}

/* Owner: pops the newest frame, or NULL if thieves took everything. Sets
 * *left to the number of frames still on the deque. `asym` is w->asym. */
static inline penny__task_t *penny__deque_pop_as(penny_worker_t *w, int asym,
                                                 int64_t *left) {
  int64_t b = atomic_load_explicit(&w->bottom, memory_order_relaxed) - 1;
  /* Release: see the comment above the deque. */
  atomic_store_explicit(&w->bottom, b, memory_order_release);
  /* The store of bottom above is ordered before the load of top below;
   * pairs with the fence (or heavy barrier) in steal between its loads of
   * top and bottom, so the owner never takes frame b without a CAS while
   * a thief is taking it. */
  penny__owner_fence(asym);
  /* Acquire: pairs with a thief's CAS, so that a frame we find stolen was
   * stolen with our current job: the thief read w->job before its CAS,
   * and we change w->job only after seeing the steal (here). */
  int64_t t = atomic_load_explicit(&w->top, memory_order_acquire);
  penny__task_t *x = NULL;
  *left = 0;
  if (PENNY_LIKELY(t < b)) {
    /* More than one frame: no thief can reach slot b. */
    x = atomic_load_explicit(&w->ring[b & w->mask], memory_order_relaxed);
    *left = b - t;
  } else if (t == b) {
    /* The last frame: race the thieves for it. SeqCst as in the paper; it
     * pairs with the thieves' CAS on top. On failure, acquire: the winning
     * thief's read of slot b happens before we overwrite that slot, which
     * the push_limit set below lets later pushes do without reloading
     * top. */
    x = atomic_load_explicit(&w->ring[b & w->mask], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&w->top, &t, t + 1,
                                                 memory_order_seq_cst,
                                                 memory_order_acquire))
      x = NULL;
    atomic_store_explicit(&w->bottom, b + 1, memory_order_release);
    w->push_limit = b + 1 + w->cap_limit; /* top is b + 1 now */
  } else {
    /* Already empty: restore bottom. */
    atomic_store_explicit(&w->bottom, b + 1, memory_order_release);
  }
  return x;
}

static inline penny__task_t *penny__deque_pop(penny_worker_t *w,
                                              int64_t *left) {
  return penny__deque_pop_as(w, w->asym, left);
}

/* For other threads: might v's deque hold a frame? Reads top before
 * bottom, as a steal does. top only grows, so a frame that stays on the
 * deque from before the first load until after the second cannot be
 * missed, however the two loads are delayed; the other order can see a
 * bottom from before a push and a top from after a steal, and report a
 * non-empty deque as empty. Acquire on top: no load below moves above it. */
static inline bool penny__deque_maybe_nonempty(penny_worker_t *v) {
  int64_t t = atomic_load_explicit(&v->top, memory_order_acquire);
  return atomic_load_explicit(&v->bottom, memory_order_relaxed) > t;
}

/* Frames on the deque, as the owner sees it (thieves may be taking some). */
static inline int64_t penny__deque_size(penny_worker_t *w) {
  return atomic_load_explicit(&w->bottom, memory_order_relaxed) -
         atomic_load_explicit(&w->top, memory_order_relaxed);
}

/* ---- Fork-join fast path (inline); the slow path is in fork.c. ---- */

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

static inline void penny__spawn(penny_worker_t *w, penny_task_t *child,
                                penny_task_fn fn, void *arg) {
  penny__task_t *t = (penny__task_t *) (void *) child;
  t->fn = fn;
  t->arg = arg;
  /* Relaxed, and before the push: the push's release store publishes it,
   * and a thief may finish the child (storing TASK_DONE) the moment the
   * push is visible. */
  atomic_store_explicit(&t->word, TASK_WORD(TASK_PUSHED, TASK_NO_THIEF),
                        memory_order_relaxed);
  if (PENNY_LIKELY(penny__deque_push_notify(w, t)))
    return;
  /* Full deque: serial elision, run the child now. */
  atomic_store_explicit(&t->word, TASK_WORD(TASK_INLINE, TASK_NO_THIEF),
                        memory_order_relaxed);
  PENNY_COUNT(w, inlined);
  fn(w, arg);
}

/* The common case pops the child and runs it. A child that ran inline at
 * its spawn (full deque), or was stolen, leaves the pop with some other
 * frame or none: penny__sync_slow sorts that out, so the fast path pays
 * nothing for either. */
static inline void penny__sync(penny_worker_t *w, penny_task_t *child) {
  penny__task_t *t = (penny__task_t *) (void *) child;
  int asym = w->asym;
  int64_t left;
  penny__task_t *p = penny__deque_pop_as(w, asym, &left);
  if (PENNY_LIKELY(p == t)) {
    /* With symmetric fences, frames remaining above us may have been
     * missed by a worker on its way to sleep (SLEEP.md, "the pop check");
     * the fence in pop orders this load after our earlier pushes. With
     * asymmetric fences the sleeper's heavy barrier covers that case. */
    if (PENNY_UNLIKELY(!asym) && left > 0 &&
        atomic_load_explicit(&w->pool->idle, memory_order_relaxed) >=
            IDLE_SLEEPING_ONE)
      penny__maybe_wake(w->pool, w);
    t->fn(w, t->arg);
    return;
  }
  penny__sync_slow(w, t, p);
}

#endif /* PENNY_INTERNAL_H */
