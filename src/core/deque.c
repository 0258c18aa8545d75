/* The Chase-Lev deque, thief side: the steal. The owner's side is inline
 * in deque.h, since every spawn and sync runs it. */
#include "deque.h"

/* Chase-Lev steal with the memory orders of Le et al. 2013 (see the
 * comment above the owner's half in deque.h). */
penny__steal_t penny__deque_steal(penny_worker_t *v, penny__task_t **out,
                                  penny_job_t **job) {
  /* Acquire pairs with the CAS of earlier thieves: the slot they read is
   * not the one we are about to read. */
  int64_t t = atomic_load_explicit(&v->top, memory_order_acquire);
  if (v->asym) {
    /* A deque that looks empty is not worth a system call; reporting it
     * empty is always allowed (it may have been, a moment ago). Relaxed:
     * only a hint. */
    if (atomic_load_explicit(&v->bottom, memory_order_relaxed) <= t)
      return STEAL_EMPTY;
    /* The thief's half of the asymmetric handshake (see deque.h). */
    penny__heavy_barrier();
  } else {
    /* SeqCst fence: top is read before bottom; pairs with the fence in
     * the owner's pop, so the two cannot both take the last frame. */
    atomic_thread_fence(memory_order_seq_cst);
  }
  /* Acquire pairs with the owner's release stores of bottom: the slot and
   * the frame behind it are visible. */
  int64_t b = atomic_load_explicit(&v->bottom, memory_order_acquire);
  if (t >= b)
    return STEAL_EMPTY;
  /* Relaxed: the slot cannot be overwritten before our CAS succeeds (the
   * owner's push sees the deque full while top is unchanged). */
  penny__task_t *x = atomic_load_explicit(&v->ring[t & v->mask],
                                          memory_order_relaxed);
  /* The frame's job is v's current job for as long as the frame is on
   * v's deque, and if our CAS succeeds it was there from v's push (which
   * our acquire of bottom saw, with the job v had set before it) until
   * the CAS. v changes its job only after its pop sees the steal, with an
   * acquire load of top that pairs with our CAS, so this read cannot see
   * a later job. Relaxed: that ordering comes from bottom and top. */
  penny_job_t *j = atomic_load_explicit(&v->job, memory_order_relaxed);
  if (PENNY_UNLIKELY(v->debug_race))
    penny__thread_yield(); /* Let the owner or another thief move first. */
  /* SeqCst as in the paper: the CAS on top is the single point where
   * thieves and the owner's last-frame pop are ordered. */
  if (!atomic_compare_exchange_strong_explicit(&v->top, &t, t + 1,
                                               memory_order_seq_cst,
                                               memory_order_relaxed))
    return STEAL_RETRY;
  *out = x;
  *job = j;
  return STEAL_SUCCESS;
}
