/* Task records by slot. lib/ allocates slots and names a task by its
 * slot; each slot names a record in C memory that only C writes. A record
 * is claimed by the submission that fills it (js_submit, or a worker in
 * penny__ring_take) and freed once its completion has been handed to
 * lib/, so a slot that JS reuses too early is refused, not corrupted. */
#include "addon.h"
#include "../core/platform.h"

#include <stdlib.h>
#include <string.h>

/* Any thread: claims the record of `slot`, or returns NULL if there is no
 * such slot or it is in use. */
task_t *penny__claim_slot(pool_t *p, double slot) {
  /* Acquire: pairs with the release in penny__slots_grow; the chunk is
   * set up. */
  uint32_t n = atomic_load_explicit(&p->nslots, memory_order_acquire);
  if (!(slot >= 0 && slot < n) || slot != (double) (uint32_t) slot)
    return NULL;
  task_t *t = slot_task(p, (uint32_t) slot);
  int expected = 0;
  /* Acquire: pairs with the release in penny__release_task (and in
   * done_ring_push), so the claimer sees the record as the last user left
   * it. */
  if (!atomic_compare_exchange_strong_explicit(&t->busy, &expected, 1,
                                               memory_order_acquire,
                                               memory_order_relaxed))
    return NULL;
  t->slot = (int32_t) slot;
  t->pool = p;
  t->nrefs = 0;
  memset(&t->result, 0, sizeof(t->result));
  t->rejected = 0;
  free(t->payload); /* one that lib/ never read */
  t->payload = NULL;
  t->payload_len = 0;
  t->js_void = t->js_numbers = t->js_failed = t->deferred = 0;
  atomic_store_explicit(&t->failure_kind, FAILURE_NONE,
                        memory_order_relaxed);
  t->entry = NULL;
  return t;
}

/* Loop thread: a finished slot forgets a cancel request that js_cancel
 * made for it. Relaxed: the slot's next task is published to a worker by
 * a later release (ring) or by the claim on this thread (submit). */
void penny__clear_cancel(pool_t *p, uint32_t slot) {
  if (p->cancel_sent[slot]) {
    p->cancel_sent[slot] = 0;
    atomic_store_explicit(&slot_task(p, slot)->cancel_req, 0,
                          memory_order_relaxed);
  }
}

/* Loop thread: unpins the task's foreign views and frees its slot. */
void penny__release_task(napi_env env, pool_t *p, task_t *t) {
  /* Deleting a reference runs no JavaScript; should it fail at teardown,
   * the environment frees its references itself. */
  for (unsigned i = 0; i < t->nrefs; i++)
    (void) napi_delete_reference(env, t->refs[i]);
  t->nrefs = 0;
  t->entry = NULL;
  penny__clear_cancel(p, (uint32_t) t->slot);
  /* Release: our writes to the record happen before the next claim. */
  atomic_store_explicit(&t->busy, 0, memory_order_release);
}

/* Worker thread: the job of a task whose arguments passed the checks. */
void penny__task_run(penny_worker_t *w, void *arg) {
  task_t *t = arg;
  t->entry->kernel->fn(w, t->args, &t->result);
}

/* Worker thread: the job of a task whose arguments failed the checks. It
 * fails at once, so that its promise rejects through the usual completion
 * path. */
void penny__task_reject(penny_worker_t *w, void *arg) {
  task_t *t = arg;
  penny_fail(w, t->reject_code);
}

/* Loop thread: adds a chunk of SLOT_CHUNK free records; lib/ calls it
 * (through js_grow) when it runs out of free slots. 0 with the new number
 * of slots in *count, PENNY_ERANGE when the pool has all the chunks it may
 * have, or PENNY_ENOMEM. */
int penny__slots_grow(pool_t *p, uint32_t *count) {
  uint32_t n = atomic_load_explicit(&p->nslots, memory_order_relaxed);
  *count = n;
  if (n / SLOT_CHUNK >= MAX_CHUNKS)
    return PENNY_ERANGE;
  uint8_t *sent = realloc(p->cancel_sent, n + SLOT_CHUNK);
  if (sent == NULL)
    return PENNY_ENOMEM;
  memset(sent + n, 0, SLOT_CHUNK);
  p->cancel_sent = sent;
  /* Zeroed pages: every record free (busy and cancel_req 0), and a
   * record's memory is touched only once a task uses it (penny__claim_slot
   * fills in its slot and pool). */
  task_t *chunk = penny__pages_alloc(CHUNK_BYTES);
  if (chunk == NULL)
    return PENNY_ENOMEM;
  p->chunks[n / SLOT_CHUNK] = chunk;
  /* Release: pairs with the acquire in penny__claim_slot on a worker. */
  atomic_store_explicit(&p->nslots, n + SLOT_CHUNK, memory_order_release);
  *count = n + SLOT_CHUNK;
  return 0;
}

/* Loop thread: asks the task in `slot` (below nslots) to stop. A queued
 * task will finish cancelled; a running one sees penny_cancelled(). */
void penny__slot_cancel(pool_t *p, uint32_t slot) {
  task_t *t = slot_task(p, slot);
  /* lib/ cancels only tasks in flight, but one still in the ring has no
   * claimed record yet: the request waits in the record for
   * penny__ring_take. SeqCst: pairs with its load after penny_job_reset.
   * The job is valid memory in any state; before penny__ring_take resets
   * it, the cancel below finds a stale state and the request catches the
   * task. */
  p->cancel_sent[slot] = 1;
  atomic_store_explicit(&t->cancel_req, 1, memory_order_seq_cst);
  /* SeqCst fence: keeps the loads below (busy, and the job state inside
   * penny_job_cancel) after the store above, the other half of the
   * store-then-load pairing with penny__ring_take. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&t->busy, memory_order_relaxed))
    (void) penny_job_cancel(&t->job); /* any outcome is fine */
}

/* Loop thread, once the workers are joined: frees every record. */
void penny__slots_free(pool_t *p) {
  uint32_t n = atomic_load_explicit(&p->nslots, memory_order_relaxed);
  for (uint32_t slot = 0; slot < n; slot++)
    free(slot_task(p, slot)->payload);
  if (p->chunks != NULL)
    for (size_t i = 0; i < MAX_CHUNKS && p->chunks[i] != NULL; i++)
      penny__pages_free(p->chunks[i], CHUNK_BYTES);
  free(p->chunks);
  p->chunks = NULL;
  atomic_store_explicit(&p->nslots, 0, memory_order_relaxed); /* no reader */
  free(p->cancel_sent);
  p->cancel_sent = NULL;
}
