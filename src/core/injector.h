/* The injector: root jobs submitted from outside the pool wait here for a
 * worker (its record is in core.h, inside the pool's). */
#ifndef PENNY_INJECTOR_H
#define PENNY_INJECTOR_H

#include "core.h"

/* `cells` holds `capacity` cells (a power of two, at least 2). Returns 0
 * or PENNY_ENOMEM. */
int penny__injector_init(penny__injector_t *q, penny__cell_t *cells,
                         uint64_t capacity);
void penny__injector_destroy(penny__injector_t *q);
/* Any thread; never fails and never waits for a worker. */
void penny__injector_push(penny__injector_t *q, penny_job_t *job);
/* Any thread: the oldest job, or NULL if none is visible. */
penny_job_t *penny__injector_pop(penny__injector_t *q);
/* A hint: the queue looked empty at some point during the call. */
bool penny__injector_empty(penny__injector_t *q);

#endif /* PENNY_INJECTOR_H */
