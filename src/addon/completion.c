/* Completions: the way a finished task gets back to lib/.
 *
 * A worker writes the task's (slot, status, result) on the done ring, or
 * pushes its record on a lock-free stack, and wakes the loop thread: with
 * uv_async_send on Node (libuv coalesces), or, where the runtime's
 * uv_async is not libuv's (Bun, Deno), with a call of a thread-safe
 * function that the wake_pending flag coalesces the same way. The async
 * callback takes them all, writes them into the completion buffer shared
 * with lib/ (its layout is in contract.h) and
 * calls lib/'s onComplete once per COMPLETION_BATCH tasks inside a
 * callback scope (napi_make_callback), which settles the promises in JS
 * and runs their continuations at once. Settling in JS instead of through
 * one napi_deferred per task avoids a V8 global handle and a native call
 * per task, which more than doubles throughput (see bench/). */
#include "addon.h"
#include "../core/platform.h"

#include <stdio.h>
#include <string.h>

/* Any thread: the status lib/ sees for a finished task. A task refused on
 * a worker keeps its argument error, any failure but a cancellation left
 * its message in t->msg (penny__task_done wrote it), and a success is
 * told apart by the kind of its result. */
static completion_status_t completion_status(const task_t *t) {
  if (t->rejected)
    return t->reject_code == PENNY_EINVAL ? COMPLETION_ARG_TYPE
                                          : COMPLETION_ARG_RANGE;
  if (t->status == PENNY_ECANCELED)
    return COMPLETION_CANCELLED;
  if (t->js_failed)
    return COMPLETION_TASK_FAILED;
  /* Any other status but 0 fails, so that a status penny.h does not
   * define (a positive one) rejects loudly rather than passing for a
   * result. */
  if (t->status != 0)
    return COMPLETION_FAILED;
  if (t->payload != NULL)
    return t->payload[0] == JS_PAYLOAD_ERROR ? COMPLETION_THROWN
                                             : COMPLETION_PAYLOAD;
  if (t->js_numbers)
    return COMPLETION_NUMBERS;
  if (t->js_void || t->entry->sig.result == PENNY_TYPE_NONE)
    return COMPLETION_VOID;
  if (t->result.big)
    return COMPLETION_BIGINT;
  return COMPLETION_RESULT;
}

/* Any thread: what a done cell's seq reads when it is free for position
 * `pos` (see done_cell_t); published is one more. */
static uint64_t done_lap(uint64_t pos) {
  return pos & ~(uint64_t) (DONE_CELLS - 1);
}

/* Worker thread: queues the completion on the done ring and frees the
 * record; false when the ring is full. */
static bool done_ring_push(pool_t *p, task_t *t) {
  done_ring_t *d = p->done;
  uint64_t pos = atomic_load_explicit(&d->tail, memory_order_relaxed);
  for (;;) {
    done_cell_t *c = &d->cells[pos % DONE_CELLS];
    /* Acquire: pairs with penny__drain's release of the cell; its read of the
     * previous entry is done. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    int64_t dif = (int64_t) (seq - done_lap(pos));
    if (dif < 0)
      return false;
    if (dif > 0) {
      pos = atomic_load_explicit(&d->tail, memory_order_relaxed);
      continue;
    }
    /* Relaxed: claims the cell; the seq store below publishes it. */
    if (!atomic_compare_exchange_weak_explicit(&d->tail, &pos, pos + 1,
                                               memory_order_relaxed,
                                               memory_order_relaxed))
      continue;
    c->slot = t->slot;
    c->status = completion_status(t);
    c->result = t->result.num;
    /* Release: whoever claims the slot next (after lib/ has seen the
     * completion, or a forged cell before that) sees the record as we
     * left it. We do not touch the record again. */
    atomic_store_explicit(&t->busy, 0, memory_order_release);
    /* Release: publishes the entry, and (through the joins that ended the
     * kernel) the kernel's writes, to penny__drain's acquire load. */
    atomic_store_explicit(&c->seq, done_lap(pos) + 1, memory_order_release);
    return true;
  }
}

/* Worker thread, once per submitted task (teardown: the loop thread, for
 * tasks left in the ring). */
void penny__task_done(penny_job_t *job, int status) {
  task_t *t = job->data;
  t->status = status;
  /* A JS task awaiting its promise completes in finish() (jstask.c), also
   * one cancelled before it returned the promise: its thread still holds
   * the slot for finish(), so posting now would free the slot while that
   * thread could still settle whatever task takes it next. */
  if (t->deferred)
    return;
  penny__task_post(t);
}

/* Any thread: hands a finished task, its status set, to the loop thread. */
void penny__task_post(task_t *t) {
  pool_t *p = t->pool;
  int status = t->status;
  /* A failed kernel's message: its own, if the failure that won was the
   * one that gave it, else the code's. Relaxed: the joins that ended the
   * kernel ordered the failing worker's writes before this. */
  if (!t->rejected && status != 0 && status != PENNY_ECANCELED &&
      !(status == PENNY_EKERNEL &&
        atomic_load_explicit(&t->failure_kind, memory_order_relaxed) ==
          FAILURE_MESSAGE))
    snprintf(t->msg, sizeof(t->msg), "%s failed: %s",
             t->entry != NULL ? t->entry->sig.name : "kernel",
             penny_strerror(status));
  /* A BigInt result, or numbers, do not fit a done cell: they take the
   * stack. */
  if (t->nrefs > 0 || t->result.big || t->js_numbers ||
      !done_ring_push(p, t)) {
    task_t *head = atomic_load_explicit(&p->done_head, memory_order_relaxed);
    do {
      t->next = head;
      /* Release: publishes the status, the result and (through the joins
       * that ended the kernel) its writes to the acquire exchange in
       * penny__drain(). Only whole-stack exchanges consume, so there is
       * no ABA. */
    } while (!atomic_compare_exchange_weak_explicit(&p->done_head, &head, t,
                                                    memory_order_release,
                                                    memory_order_relaxed));
  }
  /* The pool outlives this call: teardown joins every worker before it
   * closes the handle or releases the function. */
  if (!p->use_tsfn) {
    (void) uv_async_send(&p->async); /* cannot fail on an open handle */
    return;
  }
  /* Acq_rel: the release publishes the completion above to the loop
   * thread's exchange in penny__on_tsfn; reading 1 means a call is queued
   * that has not reset the flag yet, so its drain will see this. */
  if (atomic_exchange_explicit(&p->wake_pending, 1, memory_order_acq_rel) != 0)
    return;
  /* Fails only with napi_closing (the environment is going away: its
   * cleanup hook tears the pool down and drains what is left) or, for a
   * queue of unlimited size, never with napi_queue_full. */
  napi_status st = napi_call_threadsafe_function(p->tsfn, NULL,
                                                 napi_tsfn_nonblocking);
  if (st != napi_ok)
    atomic_store_explicit(&p->wake_pending, 0, memory_order_relaxed);
}

/* Loop thread: starts or stops the handles, for lib/ (which counts the
 * pending tasks; ring tasks reach C only on a worker) or for the prepare
 * callback once lib/ marked its last task settled. While they run, the
 * async handle keeps the process alive and lib/'s callback, and with it
 * the Pool, cannot be collected. */
void penny__set_active(pool_t *p, bool active) {
  uint32_t count;
  if (active == p->active)
    return;
  p->active = active;
  /* Neither call runs JavaScript; a failure would mean a torn-down
   * environment, where keeping the callback alive no longer matters. */
  if (p->use_tsfn) {
    /* Both fail only for a function already released (teardown). */
    if (active)
      (void) napi_ref_threadsafe_function(p->env, p->tsfn);
    else
      (void) napi_unref_threadsafe_function(p->env, p->tsfn);
  }
  if (active) {
    if (!p->use_tsfn)
      uv_ref((uv_handle_t *) &p->async);
    if (p->has_prepare)
      (void) uv_prepare_start(&p->prepare, penny__on_prepare); /* no fail */
    (void) napi_reference_ref(p->env, p->callback_ref, &count);
  } else {
    if (!p->use_tsfn)
      uv_unref((uv_handle_t *) &p->async);
    if (p->has_prepare)
      (void) uv_prepare_stop(&p->prepare);
    (void) napi_reference_unref(p->env, p->callback_ref, &count);
  }
  p->activity[ACTIVITY_STATE] = active ? ACTIVITY_ACTIVE : ACTIVITY_INACTIVE;
}

/* Loop thread: counts a completion by the status lib/ will see. A task
 * refused before it ran is a bad call rather than a task, and is not
 * counted. */
static void count_completion(pool_t *p, int status) {
  switch (status) {
  case COMPLETION_RESULT:
  case COMPLETION_VOID:
  case COMPLETION_BIGINT:
    p->completed++;
    break;
  case COMPLETION_CANCELLED:
    p->cancelled++;
    break;
  case COMPLETION_PAYLOAD:
  case COMPLETION_NUMBERS:
    p->completed++;
    break;
  case COMPLETION_FAILED:
  case COMPLETION_TASK_FAILED:
  case COMPLETION_THROWN:
    p->failed++;
    break;
  default:
    break;
  }
}

/* Loop thread: hands `n` completions in p->results to lib/'s onComplete.
 * lib/ never throws from it, but the callback scope it runs in also runs
 * process.nextTick callbacks, which may: their error is reported as Node
 * reports any uncaught exception. Any other failure, or a report that
 * cannot be made, means that the environment is going away (a Worker
 * terminating, the process exiting): no JavaScript will run again, so
 * delivery stops and teardown, which follows, recycles the rest. */
static void call_on_complete(pool_t *p, napi_value fn, napi_value recv,
                             uint32_t n) {
  napi_env env = p->env;
  napi_value argv[1], ret, err;
  if (fn == NULL || n == 0 || p->js_gone)
    return;
  napi_status st = napi_create_uint32(env, n, &argv[0]);
  if (st == napi_ok)
    st = napi_make_callback(env, p->actx, recv, fn, 1, argv, &ret);
  if (st == napi_ok)
    return;
  if (st == napi_pending_exception &&
      napi_get_and_clear_last_exception(env, &err) == napi_ok &&
      napi_fatal_exception(env, err) == napi_ok)
    return;
  p->js_gone = true;
}

/* Loop thread: writes entry n of the completion buffer. */
static void put_completion(pool_t *p, uint32_t n, int32_t slot, int status,
                           double result) {
  double *e = &p->results[COMPLETION_FIELDS * n];
  e[COMPLETION_SLOT] = slot;
  e[COMPLETION_STATUS] = status;
  e[COMPLETION_VALUE] = result;
}

/* Loop thread: takes the finished tasks, from the done ring and the
 * record stack, and hands them to JS in batches; with `call_js` false
 * (teardown) they are only recycled. The ring is read only up to where it
 * stood on entry, so that tasks which continuations keep submitting
 * cannot hold the loop here forever. */
void penny__drain(pool_t *p, bool call_js) {
  napi_env env = p->env;
  done_ring_t *d = p->done;
  uint64_t limit = atomic_load_explicit(&d->tail, memory_order_relaxed);
  /* Acquire: pairs with the release CAS in penny__task_done. */
  task_t *list = atomic_exchange_explicit(&p->done_head, NULL,
                                          memory_order_acquire);
  if (list == NULL && d->head == limit)
    return;
  task_t *fifo = NULL; /* the stack is newest first; settle oldest first */
  while (list != NULL) {
    task_t *next = list->next;
    list->next = fifo;
    fifo = list;
    list = next;
  }

  /* A failure here, as in call_on_complete, means a dying environment:
   * the completions are then recycled without JavaScript. */
  napi_handle_scope scope = NULL;
  napi_value fn = NULL, recv = NULL;
  if (call_js && !p->js_gone &&
      (napi_open_handle_scope(env, &scope) != napi_ok ||
       napi_get_reference_value(env, p->callback_ref, &fn) != napi_ok ||
       fn == NULL ||
       napi_get_global(env, &recv) != napi_ok)) /* must be an object */
    p->js_gone = true;
  if (p->js_gone)
    fn = NULL;
  p->draining = true;
  uint32_t n = 0;
  while (d->head != limit) {
    done_cell_t *c = &d->cells[d->head % DONE_CELLS];
    /* Acquire: pairs with the release in done_ring_push. A cell claimed
     * but not yet written stops us; its uv_async_send follows. */
    if (atomic_load_explicit(&c->seq, memory_order_acquire) !=
        done_lap(d->head) + 1)
      break;
    int32_t slot = c->slot, status = c->status;
    put_completion(p, n, slot, status, c->result);
    /* Release: our reads are done before a worker reuses the cell. */
    atomic_store_explicit(&c->seq, done_lap(d->head) + DONE_CELLS,
                          memory_order_release);
    d->head++;
    penny__clear_cancel(p, (uint32_t) slot);
    count_completion(p, status);
    if (++n == COMPLETION_BATCH) {
      call_on_complete(p, fn, recv, n);
      n = 0;
    }
  }
  while (fifo != NULL) {
    task_t *t = fifo;
    fifo = t->next;
    completion_status_t status = completion_status(t);
    put_completion(p, n, t->slot, status, t->result.num);
    if (status == COMPLETION_BIGINT || status == COMPLETION_NUMBERS)
      memcpy(&p->bigs[COMPLETION_LIMBS * n], t->result.limbs,
             sizeof(t->result.limbs));
    count_completion(p, status);
    penny__release_task(env, p, t);
    if (++n == COMPLETION_BATCH) {
      call_on_complete(p, fn, recv, n);
      n = 0;
    }
  }
  call_on_complete(p, fn, recv, n);
  p->draining = false;
  if (scope != NULL)
    (void) napi_close_handle_scope(env, scope); /* nothing to undo */
}

/* Loop thread: is a completion waiting? Acquire: pairs with the releases
 * that publish a done cell or a stack entry (the drain acquires again). */
static bool completions_ready(pool_t *p) {
  done_ring_t *d = p->done;
  if (atomic_load_explicit(&p->done_head, memory_order_acquire) != NULL)
    return true;
  done_cell_t *c = &d->cells[d->head % DONE_CELLS];
  return atomic_load_explicit(&c->seq, memory_order_acquire) ==
         done_lap(d->head) + 1;
}

/* How long the loop thread waits for a completion before it lets the loop
 * sleep, while tasks are pending. A short task finishes within this, and
 * waking a sleeping loop costs far more (tens of microseconds on a
 * virtual machine, where an idle CPU is handed back to the host). */
#define PREPARE_SPIN_NS 20000

/* How long one prepare phase may go on handing completions over before it
 * lets the loop run its other phases (timers, I/O, setImmediate). */
#define PREPARE_BUDGET_NS 200000

/* Loop thread: libuv's prepare phase, just before it polls (and sleeps),
 * while tasks are pending: waits up to PREPARE_SPIN_NS for a completion
 * and hands over what came, so that the poll does not sleep for it. Then,
 * within PREPARE_BUDGET_NS, it waits for the next one the same way: a
 * continuation that submits again (a task awaited at a time) is answered
 * here, without a trip around the loop and its system calls. The pool
 * outlives the callbacks: it is freed only by the close callbacks that
 * teardown starts, which run in a later phase. */
void penny__on_prepare(uv_prepare_t *handle) {
  pool_t *p = handle->data;
  uint64_t entry = uv_hrtime();
  uint64_t start = entry;
  for (;;) {
    if (p->activity[ACTIVITY_STATE] == ACTIVITY_IDLE)
      penny__set_active(p, false); /* lib/'s last task settled */
    if (p->state != POOL_OPEN || !p->active || p->js_gone)
      return;
    while (!completions_ready(p)) {
      if (uv_hrtime() - start > PREPARE_SPIN_NS)
        return;
      penny__cpu_relax();
    }
    penny__drain(p, true);
    start = uv_hrtime();
    if (start - entry > PREPARE_BUDGET_NS)
      return;
  }
}

/* Loop thread: a queued call of the pool's thread-safe function (env is
 * NULL when the runtime drops it at teardown). The exchange comes first,
 * so that a completion posted during the drain queues another call. */
void penny__on_tsfn(napi_env env, napi_value fn, void *context, void *data) {
  pool_t *p = context;
  (void) fn;
  (void) data;
  if (env == NULL)
    return;
  /* Acq_rel: the acquire pairs with the workers' exchange, whose release
   * published their completions; the release keeps the exchanges one
   * chain, so that a worker either sees 0 and calls again or is seen. */
  (void) atomic_exchange_explicit(&p->wake_pending, 0, memory_order_acq_rel);
  if (p->state == POOL_OPEN)
    penny__drain(p, true);
}

/* Loop thread: libuv calls it after one or more uv_async_send. */
void penny__on_async(uv_async_t *handle) {
  pool_t *p = handle->data;
  if (p->state == POOL_OPEN)
    penny__drain(p, true);
}
