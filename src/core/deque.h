/* The Chase-Lev work-stealing deque of a worker: the owner pushes and pops
 * frames at the bottom, thieves steal the oldest from the top. Its fields
 * are the first lines of the worker record (core.h), so that a thief finds
 * the victim's deque, fence mode and current job together. */
#ifndef PENNY_DEQUE_H
#define PENNY_DEQUE_H

#include "core.h"

/* What a steal found: a frame, nothing, or a lost race that may be worth
 * another try. */
typedef enum {
  STEAL_EMPTY = 0,
  STEAL_SUCCESS = 1,
  STEAL_RETRY = 2      /* lost a race with the owner or another thief */
} penny__steal_t;

/* ---- The owner's half (inline: every spawn and sync runs it). ----
 *
 * D. Chase and Y. Lev, "Dynamic circular work-stealing deque", SPAA 2005,
 * with the C11 memory orders of N. M. Le, A. Pop, A. Cohen and
 * F. Zappa Nardelli, "Correct and efficient work-stealing for weak memory
 * models", PPoPP 2013. The ring is fixed (no resize): a full deque makes
 * the spawn run its child inline. Indices are signed 64-bit and never wrap
 * in practice. The thief side is penny__deque_steal in deque.c.
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
 * offers it (Linux membarrier, private expedited), take uses a
 * compiler-only fence and a thief instead calls penny__heavy_barrier() in
 * place of its own SeqCst fence: that makes the owner execute a full
 * barrier at some point during the call, which is all the Dekker-style
 * handshake between take and steal needs. If the
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
 * *left to the number of frames still on the deque. `asym` is w->asym,
 * which the sync fast path already holds; penny__deque_pop reads it. */
static inline penny__task_t *penny__deque_pop_fenced(penny_worker_t *w,
                                                     int asym,
                                                     int64_t *left) {
  int64_t b = atomic_load_explicit(&w->bottom, memory_order_relaxed) - 1;
  /* Release: see 1. above. */
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
  return penny__deque_pop_fenced(w, w->asym, left);
}

/* ---- Looking without taking. ---- */

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

/* ---- The thief's half. ---- */

/* Thief: takes the oldest frame of v's deque into *out and the root job it
 * belongs to into *job. Any thread but v's owner. */
penny__steal_t penny__deque_steal(penny_worker_t *v, penny__task_t **out,
                                  penny_job_t **job);

#endif /* PENNY_DEQUE_H */
