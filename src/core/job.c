/* Root jobs from outside the pool: submitting one (into the injector,
 * then a notify), the notify of a job source, and a job's state word:
 * reset, cancel, read. The worker that runs a job is worker.c's. */
#include "core.h"
#include "injector.h"
#include "sleep.h"

int penny_pool_submit(penny_pool_t *pool, penny_job_t *job) {
  if (pool == NULL || job == NULL || job->fn == NULL || job->done == NULL)
    return PENNY_EINVAL;
  /* SeqCst: see penny_pool_destroy; announce ourselves, then look. */
  atomic_fetch_add_explicit(&pool->submitting, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&pool->closed, memory_order_seq_cst)) {
    atomic_fetch_sub_explicit(&pool->submitting, 1, memory_order_release);
    return PENNY_ECLOSED;
  }
  penny__job_priv_t *jp = penny__job_priv(job);
  atomic_init(&jp->state, PENNY_JOB_QUEUED);
  atomic_init(&jp->status, 0);
  jp->next = NULL;
  if (PENNY_UNLIKELY(pool->debug_race))
    penny__thread_yield(); /* Let destroy close the pool now. */
  penny__injector_push(&pool->injector, job);
  if (PENNY_UNLIKELY(pool->debug_race))
    penny__thread_yield(); /* Let the job finish before we notify. */
  penny__notify(pool, NULL);
  /* Release: our last use of the pool happens before destroy, which
   * reads this count, frees it. */
  atomic_fetch_sub_explicit(&pool->submitting, 1, memory_order_release);
  return 0;
}

void penny_pool_notify(penny_pool_t *pool) {
  if (pool != NULL)
    penny__notify(pool, NULL);
}

void penny_job_reset(penny_job_t *job) {
  penny__job_priv_t *jp = penny__job_priv(job);
  atomic_init(&jp->status, 0);
  jp->next = NULL;
  /* SeqCst: see penny.h; orders the reset before the caller's look for a
   * cancel request that was published before a penny_job_cancel. */
  atomic_store_explicit(&jp->state, PENNY_JOB_QUEUED, memory_order_seq_cst);
}

int penny_job_cancel(penny_job_t *job) {
  if (job == NULL)
    return PENNY_EINVAL;
  penny__job_priv_t *jp = penny__job_priv(job);
  uint32_t s = atomic_load_explicit(&jp->state, memory_order_relaxed);
  for (;;) {
    switch (s & JOB_STATE_MASK) {
    case PENNY_JOB_QUEUED:
      /* Relaxed: the worker that dequeues the job only needs to see the
       * new state; no other data travels with it. */
      if (atomic_compare_exchange_weak_explicit(&jp->state, &s,
                                                PENNY_JOB_CANCELLED,
                                                memory_order_relaxed,
                                                memory_order_relaxed))
        return 0;
      break;
    case PENNY_JOB_RUNNING:
      /* Relaxed: penny_cancelled polls with relaxed loads; it needs the
       * bit, not any data. */
      if (atomic_compare_exchange_weak_explicit(&jp->state, &s,
                                                s | JOB_CANCEL_REQ,
                                                memory_order_relaxed,
                                                memory_order_relaxed))
        return PENNY_EBUSY;
      break;
    default:
      return PENNY_EDONE;
    }
  }
}

int penny_job_state(const penny_job_t *job) {
  if (job == NULL)
    return PENNY_EINVAL;
  /* Acquire: a caller that sees DONE also sees the kernel's effects. */
  return (int) (atomic_load_explicit(&penny__job_priv(job)->state,
                                     memory_order_acquire) & JOB_STATE_MASK);
}
