/* Lent threads: a worker run by a thread the caller owns, entering and
 * leaving the worker loop through penny_worker_run, parking outside the
 * core, and a thread that died while parked handed back with
 * penny_worker_vacate. The pool's idle counts (sleep.h) only ever count
 * workers whose thread is inside or parked, so a vacant worker is never
 * the one a wake-up waits for. */
#include "lend.h"
#include "injector.h"
#include "sleep.h"
#include "worker.h"

/* The pool whose loop this lent thread runs now, if any: destroy from
 * one of its jobs could only wait for itself. */
static _Thread_local penny_pool_t *lent_self;

bool penny__lent_is_self(const penny_pool_t *pool) {
  return lent_self == pool;
}

/* A worker's searching count is gone (it left): if work is still queued
 * and the others sleep, one of them must look, since a sleeper is only
 * woken while nobody searches (SLEEP.md). */
static void leave_searching(penny_pool_t *pool) {
  /* SeqCst: the count must be gone before penny__notify's look at it
   * (its fence orders the look after this). */
  atomic_fetch_sub_explicit(&pool->idle, IDLE_SEARCHING_ONE,
                            memory_order_seq_cst);
  penny__notify(pool, NULL);
}

int penny_worker_enter(penny_pool_t *pool, unsigned index, int resume) {
  if (pool == NULL || !pool->external || index >= pool->threads)
    return PENNY_EINVAL;
  penny_worker_t *w = &pool->workers[index];
  /* SeqCst increment, then SeqCst load of `exiting`: pairs with destroy's
   * store of `exiting` and its loads of `inside`. Either destroy waits for
   * us, or we see it and stay out. */
  atomic_fetch_add_explicit(&pool->inside, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&pool->exiting, memory_order_seq_cst)) {
    atomic_fetch_sub_explicit(&pool->inside, 1, memory_order_seq_cst);
    return PENNY_ECLOSED;
  }
  int from = resume ? LENT_PARKED : LENT_VACANT;
  /* Acquire: pairs with the release stores in penny_worker_run_entered, so
   * a thread that takes the worker over sees all the last one did to it. */
  if (!atomic_compare_exchange_strong_explicit(&w->lent, &from, LENT_INSIDE,
                                               memory_order_acquire,
                                               memory_order_relaxed)) {
    atomic_fetch_sub_explicit(&pool->inside, 1, memory_order_seq_cst);
    return resume ? PENNY_EINVAL : PENNY_EBUSY;
  }
  if (resume) {
    penny__worker_sleep_end(w);
  } else {
    /* Relaxed: bookkeeping, as in penny__worker_sleep_end; the search that
     * follows synchronizes through the deques and the injector. */
    atomic_fetch_add_explicit(&pool->idle, IDLE_SEARCHING_ONE,
                              memory_order_relaxed);
  }
  return 0;
}

int penny_worker_run_entered(penny_pool_t *pool, unsigned index,
                             uint32_t *epoch) {
  penny_worker_t *w = &pool->workers[index];
  penny_pool_t *outer = lent_self; /* a job may lend itself to another */
  lent_self = pool;
  int rc = penny__worker_loop(w, epoch);
  lent_self = outer;
  if (rc == PENNY_WORKER_LEFT)
    leave_searching(pool);
  /* Release: see the acquire in penny_worker_enter. */
  atomic_store_explicit(&w->lent,
                        rc == PENNY_WORKER_PARK ? LENT_PARKED : LENT_VACANT,
                        memory_order_release);
  /* SeqCst: destroy's wait reads it; our last touch of the pool is above. */
  atomic_fetch_sub_explicit(&pool->inside, 1, memory_order_seq_cst);
  return rc;
}

int penny_worker_run(penny_pool_t *pool, unsigned index, int resume,
                     uint32_t *epoch) {
  if (epoch == NULL)
    return PENNY_EINVAL;
  int rc = penny_worker_enter(pool, index, resume);
  if (rc == PENNY_ECLOSED)
    return 0;
  if (rc != 0)
    return rc;
  return penny_worker_run_entered(pool, index, epoch);
}

void penny_worker_leave(penny_worker_t *w) {
  if (w != NULL && w->pool->external)
    w->leave = 1; /* read by this same thread's loop after the job */
}

int penny_worker_vacate(penny_pool_t *pool, unsigned index) {
  if (pool == NULL || !pool->external || index >= pool->threads)
    return PENNY_EINVAL;
  penny_worker_t *w = &pool->workers[index];
  int from = LENT_PARKED;
  /* Acquire: as in penny_worker_run; the dead thread's last store. */
  if (atomic_compare_exchange_strong_explicit(&w->lent, &from, LENT_INSIDE,
                                              memory_order_acquire,
                                              memory_order_relaxed)) {
    /* Out of the sleeping set the way a woken worker leaves it, answering
     * a wake-up addressed to it, then out of the searching count. */
    penny__worker_sleep_end(w);
    leave_searching(pool);
    atomic_store_explicit(&w->lent, LENT_VACANT, memory_order_release);
    return 0;
  }
  return from == LENT_INSIDE ? PENNY_EBUSY : 0;
}

unsigned penny_pool_lent_inside(const penny_pool_t *pool) {
  if (pool == NULL)
    return 0;
  /* Relaxed: a snapshot to poll; destroy makes its own SeqCst handshake
   * with the threads that are inside. */
  return atomic_load_explicit(&pool->inside, memory_order_relaxed);
}

void penny__lent_drain(penny_pool_t *pool) {
  while (atomic_load_explicit(&pool->inside, memory_order_seq_cst) != 0)
    penny__thread_yield();
  /* No thread is inside and none can enter: the queued jobs are ours. */
  penny_job_t *job;
  while ((job = penny__injector_pop(&pool->injector)) != NULL) {
    /* Release: as when a worker cancels a queued job (penny__run_job). */
    atomic_store_explicit(&penny__job_priv(job)->state, PENNY_JOB_CANCELLED,
                          memory_order_release);
    job->done(job, PENNY_ECANCELED);
  }
}
