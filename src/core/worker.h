/* The worker: its loop, the search for work, running a stolen frame or a
 * root job, and the wait inside a sync whose child was stolen. */
#ifndef PENNY_WORKER_H
#define PENNY_WORKER_H

#include "core.h"

/* The thread's entry point (penny_pool_create starts one per worker, with
 * the worker as its argument): runs work until the pool is destroyed. */
void penny__worker_main(void *arg);
int penny__worker_loop(penny_worker_t *w, uint32_t *park);

/* One pass over the other workers' deques from a random start, then (if
 * `jobs`) the injector and the pool's source. Fills *task (with its root
 * job in *job) or *job alone, and returns true if it found something. */
bool penny__find_work(penny_worker_t *w, penny__task_t **task,
                      penny_job_t **job, bool jobs);
/* Runs a frame stolen from another worker on behalf of its root job, then
 * marks it done for the owner's sync. */
void penny__run_stolen(penny_worker_t *w, penny__task_t *t, penny_job_t *job);
/* Runs a root job from the injector or the source, unless it was
 * cancelled while queued, and calls its `done`. */
void penny__run_job(penny_worker_t *w, penny_job_t *job);
/* The worker's next pseudo-random number (xorshift64), to pick victims. */
uint64_t penny__rand(penny_worker_t *w);

/* The sync's slow path: the pop in penny__sync took `popped`, not t.
 * Keeps the worker busy until a thief has finished t (fork.h). */
PENNY_NOINLINE void penny__sync_slow(penny_worker_t *w, penny__task_t *t,
                                     penny__task_t *popped);

/* Waits until a thief has finished t, a frame of this worker's that was
 * stolen. With WAIT_HELP_FRAMES it runs other frames meanwhile, the
 * thief's first (leapfrogging), and with WAIT_HELP_JOBS also new root jobs
 * (never on a lent thread); with neither it only waits. */
enum { WAIT_HELP_FRAMES = 1, WAIT_HELP_JOBS = 2 };
void penny__wait_stolen(penny_worker_t *w, penny__task_t *t, int help);

/* The worker's current root job; only its owner calls these. Relaxed:
 * thieves read the job with the ordering argued in penny__deque_steal. */
static inline penny_job_t *penny__job_of(const penny_worker_t *w) {
  return atomic_load_explicit(&w->job, memory_order_relaxed);
}

static inline void penny__set_job(penny_worker_t *w, penny_job_t *job) {
  atomic_store_explicit(&w->job, job, memory_order_relaxed);
}

#endif /* PENNY_WORKER_H */
