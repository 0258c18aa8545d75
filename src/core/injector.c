/* The injector: a bounded MPMC ring for jobs submitted from outside the
 * pool, after D. Vyukov's "bounded MPMC queue" (each cell carries a
 * sequence number that says whose turn it is), plus an overflow list for
 * when the ring is full. */
#include "injector.h"

int penny__injector_init(penny__injector_t *q, penny__cell_t *cells,
                         uint64_t capacity) {
  if (penny__mutex_init(&q->overflow_lock) != 0)
    return PENNY_ENOMEM;
  q->cells = cells;
  q->mask = capacity - 1;
  for (uint64_t i = 0; i < capacity; i++) {
    atomic_init(&cells[i].seq, i);
    cells[i].job = NULL;
  }
  atomic_init(&q->enqueue_pos, 0);
  atomic_init(&q->dequeue_pos, 0);
  atomic_init(&q->overflow_count, 0);
  q->overflow_head = NULL;
  q->overflow_tail = NULL;
  return 0;
}

void penny__injector_destroy(penny__injector_t *q) {
  penny__mutex_destroy(&q->overflow_lock);
}

static bool ring_push(penny__injector_t *q, penny_job_t *job) {
  uint64_t pos = atomic_load_explicit(&q->enqueue_pos, memory_order_relaxed);
  for (;;) {
    penny__cell_t *c = &q->cells[pos & q->mask];
    /* Acquire pairs with the consumer's release of this cell: its read of
     * the previous job is done before we overwrite it. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    int64_t dif = (int64_t) (seq - pos);
    if (dif == 0) {
      /* Relaxed: the CAS only claims the cell; the release store of seq
       * below publishes the job. */
      if (atomic_compare_exchange_weak_explicit(&q->enqueue_pos, &pos,
                                                pos + 1,
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
        c->job = job;
        /* Release: publishes the job (and everything the submitter wrote
         * into it) to the consumer that acquires this seq. */
        atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
        return true;
      }
    } else if (dif < 0) {
      return false; /* Full. */
    } else {
      pos = atomic_load_explicit(&q->enqueue_pos, memory_order_relaxed);
    }
  }
}

static penny_job_t *ring_pop(penny__injector_t *q) {
  uint64_t pos = atomic_load_explicit(&q->dequeue_pos, memory_order_relaxed);
  for (;;) {
    penny__cell_t *c = &q->cells[pos & q->mask];
    /* Acquire pairs with the producer's release of this cell. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    int64_t dif = (int64_t) (seq - (pos + 1));
    if (dif == 0) {
      /* Relaxed: claiming only, as in ring_push. */
      if (atomic_compare_exchange_weak_explicit(&q->dequeue_pos, &pos,
                                                pos + 1,
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
        penny_job_t *job = c->job;
        /* Release: our read of the job happens before a producer reuses
         * the cell one lap later. */
        atomic_store_explicit(&c->seq, pos + q->mask + 1,
                              memory_order_release);
        return job;
      }
    } else if (dif < 0) {
      return NULL; /* Empty (or the producer of this cell is mid-push). */
    } else {
      pos = atomic_load_explicit(&q->dequeue_pos, memory_order_relaxed);
    }
  }
}

void penny__injector_push(penny__injector_t *q, penny_job_t *job) {
  /* Relaxed: only a hint that keeps jobs in order; the list itself is
   * under the lock. */
  if (atomic_load_explicit(&q->overflow_count, memory_order_relaxed) == 0 &&
      ring_push(q, job))
    return;
  penny__job_priv(job)->next = NULL;
  penny__mutex_lock(&q->overflow_lock);
  if (q->overflow_tail)
    penny__job_priv(q->overflow_tail)->next = job;
  else
    q->overflow_head = job;
  q->overflow_tail = job;
  /* Relaxed: consumers take the lock before they touch the list; the
   * count only tells them whether to try. Its visibility to a worker about
   * to sleep is ordered by the notify fence that follows every push. */
  atomic_fetch_add_explicit(&q->overflow_count, 1, memory_order_relaxed);
  penny__mutex_unlock(&q->overflow_lock);
}

penny_job_t *penny__injector_pop(penny__injector_t *q) {
  penny_job_t *job = ring_pop(q);
  if (job != NULL ||
      atomic_load_explicit(&q->overflow_count, memory_order_relaxed) == 0)
    return job;
  penny__mutex_lock(&q->overflow_lock);
  job = q->overflow_head;
  if (job) {
    q->overflow_head = penny__job_priv(job)->next;
    if (!q->overflow_head)
      q->overflow_tail = NULL;
    atomic_fetch_sub_explicit(&q->overflow_count, 1, memory_order_relaxed);
  }
  penny__mutex_unlock(&q->overflow_lock);
  return job;
}

bool penny__injector_empty(penny__injector_t *q) {
  uint64_t d = atomic_load_explicit(&q->dequeue_pos, memory_order_relaxed);
  uint64_t e = atomic_load_explicit(&q->enqueue_pos, memory_order_relaxed);
  return d == e &&
         atomic_load_explicit(&q->overflow_count, memory_order_relaxed) == 0;
}
