/* Lent threads: workers whose threads belong to the caller (a JS
 * environment's, say), which run the worker loop through penny_worker_run
 * and park outside the core (see penny.h). */
#ifndef PENNY_CORE_LEND_H
#define PENNY_CORE_LEND_H

#include "core.h"

/* A lent worker's state (penny_worker_t.lent). A vacant worker is not
 * counted in the pool's idle counts; an inside one is, as any worker; a
 * parked one is counted as sleeping. */
enum { LENT_VACANT, LENT_INSIDE, LENT_PARKED };

/* True on a lent thread inside penny_worker_run for `pool`. */
bool penny__lent_is_self(const penny_pool_t *pool);

/* Destroy, with `exiting` set and every sleeper woken: waits for the
 * threads inside penny_worker_run to return, then completes the queued
 * jobs that nobody will take with PENNY_ECANCELED. */
void penny__lent_drain(penny_pool_t *pool);

#endif /* PENNY_CORE_LEND_H */
