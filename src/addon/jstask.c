/* JavaScript tasks: a pool whose workers are worker_threads lent to the
 * core (PENNY_POOL_EXTERNAL_THREADS), each running JS jobs by calling
 * back into its own environment.
 *
 * A task pool's Workers run lib/task-worker.js, which calls enter() to
 * run the worker loop on its thread and parks in Atomics.wait on the
 * ring's epoch word when the core has nothing for it (so that terminate
 * and process exit can always stop it). A JS task is the JS-task kernel
 * (JS_TASK_SIGNATURE): its job calls the thread's runner, which reads the
 * task from the thread's mailbox, calls the user's function and returns
 * its result: a number, undefined, the mailbox holding a few numbers (a
 * short array of them), the serialized bytes of any other value or of a
 * thrown error, or null for a promise, which the thread awaits outside
 * the core and hands over with finish().
 *
 * Lent threads find their pool by id in a registry. Every call from a
 * lent thread that touches the pool looks it up under the registry lock
 * and either counts itself into the core (enter) or does its work under
 * the lock (finish, cancelled), so teardown, which removes the pool from
 * the registry before it destroys the core, never frees a pool that such
 * a call still uses. */
#include "addon.h"
#include "napi_util.h"
#include "../core/platform.h"

#include <stdlib.h>
#include <string.h>

/* ---- The registry of task pools, by id. ---- */

/* Statically initialized, and not libuv's: Bun and Deno have no real
 * libuv mutexes. */
static penny__mutex_t registry_lock = PENNY__MUTEX_INITIALIZER;
static pool_t *registry;    /* linked through pool_t.lend_next */
static int32_t registry_last;

/* Loop thread: gives the pool an id lent threads can find it by. */
void penny__lend_register(pool_t *p) {
  penny__mutex_lock(&registry_lock);
  p->lend_id = ++registry_last;
  p->lend_next = registry;
  registry = p;
  penny__mutex_unlock(&registry_lock);
}

/* Loop thread, before the core is destroyed: no lent thread finds the
 * pool from now on, and none is using it under the lock. Idempotent. */
void penny__lend_unregister(pool_t *p) {
  if (p->lend_id == 0)
    return;
  penny__mutex_lock(&registry_lock);
  for (pool_t **at = &registry; *at != NULL; at = &(*at)->lend_next)
    if (*at == p) {
      *at = p->lend_next;
      break;
    }
  p->lend_id = 0;
  penny__mutex_unlock(&registry_lock);
}

/* With the lock held: the open pool with this id, or NULL. */
static pool_t *registry_find(int32_t id) {
  for (pool_t *p = registry; p != NULL; p = p->lend_next)
    if (p->lend_id == id)
      return p->state == POOL_OPEN ? p : NULL;
  return NULL;
}

/* ---- The lent thread. ---- */

_Thread_local lent_thread_t *penny__lent;

const void *penny__thread_marker(void) {
  static _Thread_local char marker;
  return &marker;
}

/* The thread's deferred task (its pool's id and the slot), if any: one at
 * a time, since the thread stays out of the core until it settles. */
static _Thread_local int32_t tls_deferred_pool;
static _Thread_local int32_t tls_deferred_slot = -1;


/* Any thread of a task pool: the core wants parked workers woken. It has
 * bumped the epoch already; V8's Atomics.wait wakes only for
 * Atomics.notify, so this calls the notify function of the JS thread it
 * runs on: a lent thread's own, or the pool's on its loop thread. During
 * teardown no JS runs: lib/ notifies after close(), and a thread that
 * misses a wake-up finds the pool gone at its wait's timeout. */
static void lend_park_wake(void *ctx, int all) {
  pool_t *p = ctx;
  napi_env env;
  napi_ref fn_ref;
  lent_thread_t *lt = penny__lent;
  if (lt != NULL && lt->pool == p) {
    env = lt->env;
    fn_ref = lt->notify;
  } else {
    if (p->quiet || !penny__on_loop_thread(p))
      return;
    env = p->env;
    fn_ref = p->notify_ref;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok)
    return;
  napi_value fn, recv, arg, ret;
  /* A failure means the environment is going away; its threads are
   * being stopped, and nobody waits for the wake-up. */
  if (napi_get_reference_value(env, fn_ref, &fn) == napi_ok && fn != NULL &&
      napi_get_undefined(env, &recv) == napi_ok &&
      napi_create_int32(env, all ? INT32_MAX : 1, &arg) == napi_ok)
    (void) napi_call_function(env, recv, fn, 1, &arg, &ret);
  (void) napi_close_handle_scope(env, scope);
}

/* Loop thread: the core options of a task pool. */
void penny__lend_options(penny_pool_options_t *opts, pool_t *p) {
  opts->flags |= PENNY_POOL_EXTERNAL_THREADS;
  opts->park_word = (uint32_t *) (void *) (p->ring + RING_EPOCH_OFFSET);
  opts->park_wake = lend_park_wake;
  opts->park_ctx = p;
}

/* ---- The JS-task kernel. ---- */

/* Lent thread, inside a job: `bytes` (a Uint8Array) becomes the task's
 * payload. False when out of memory or not a Uint8Array. */
static bool take_payload(napi_env env, napi_value v, task_t *t) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL,
                               NULL) != napi_ok ||
      type != napi_uint8_array || length == 0)
    return false;
  uint8_t *copy = malloc(length);
  if (copy == NULL)
    return false;
  memcpy(copy, data, length);
  free(t->payload);
  t->payload = copy;
  t->payload_len = length;
  return true;
}

/* Lent thread: numbers from the mailbox, when the runner returned the
 * mailbox itself. */
static bool take_numbers(const double *mailbox, task_t *t) {
  double n = mailbox[MAILBOX_COUNT];
  if (!(n >= 0 && n <= JS_RESULT_NUMBERS) || n != (double) (int) n)
    return false;
  _Static_assert(sizeof(t->result.limbs) ==
                 JS_RESULT_NUMBERS * sizeof(double), "numbers fit the limbs");
  memcpy(t->result.limbs, &mailbox[MAILBOX_NUMBERS],
         (size_t) n * sizeof(double));
  t->result.num = n;
  t->js_numbers = 1;
  return true;
}

/* Lent thread: the runner's return value becomes the task's result:
 * a number, undefined (void), a Uint8Array payload, null (deferred), or,
 * when the caller passes the thread's mailbox (js_task_kernel, not
 * finish()), the mailbox itself, holding numbers. Returns false for
 * anything else. */
static bool take_result(napi_env env, napi_value ret, task_t *t,
                        const double *mailbox) {
  napi_valuetype type;
  if (napi_typeof(env, ret, &type) != napi_ok)
    return false;
  if (mailbox != NULL && type == napi_object) {
    napi_typedarray_type ta;
    size_t length;
    void *data;
    bool is_ta;
    if (napi_is_typedarray(env, ret, &is_ta) == napi_ok && is_ta &&
        napi_get_typedarray_info(env, ret, &ta, &length, &data, NULL,
                                 NULL) == napi_ok &&
        data == (const void *) mailbox)
      return take_numbers(mailbox, t);
  }
  switch (type) {
  case napi_number:
    return napi_get_value_double(env, ret, &t->result.num) == napi_ok;
  case napi_undefined:
    t->js_void = 1;
    return true;
  case napi_null:
    t->deferred = 1;
    return true;
  default:
    return take_payload(env, ret, t);
  }
}

/* The task did not complete because its thread is stopping (or its
 * runner broke): it rejects with ERR_PENNY_TASK and this message. */
static void js_task_failed(task_t *t, const char *msg) {
  t->js_failed = 1;
  snprintf(t->msg, sizeof(t->msg), "%s", msg);
}

bool penny__lent_call(lent_thread_t *lt, napi_value *ret) {
  napi_env env = lt->env;
  napi_value fn, recv;
  if (napi_get_reference_value(env, lt->runner, &fn) == napi_ok &&
      fn != NULL && napi_get_undefined(env, &recv) == napi_ok &&
      napi_call_function(env, recv, fn, 0, NULL, ret) == napi_ok)
    return true;
  /* The runner catches what the task throws, so this is the thread
   * stopping (process.exit, terminate) or a runner that ran out of stack
   * or memory. Nothing to report here: clear what is pending. */
  bool pending = false;
  napi_value exc;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    (void) napi_get_and_clear_last_exception(env, &exc);
  lt->dying = true;
  return false;
}

/* Lent thread: the job of a JS task. args: head (the function's id times
 * 8 plus lib/'s tag), a, b. */
static void js_task_kernel(penny_worker_t *w, const penny_arg_t *args,
                           penny_result_t *result) {
  /* The result is the task record's; the record holds the rest. */
  task_t *t = (task_t *) (void *) ((char *) result -
                                   offsetof(task_t, result));
  lent_thread_t *lt = penny__lent;
  if (lt == NULL || lt->pool != t->pool) {
    js_task_failed(t, "a JS task reached a thread that cannot run it");
    return;
  }
  lt->mailbox[MAILBOX_HEAD] = args[0].num;
  lt->mailbox[MAILBOX_A] = args[1].num;
  lt->mailbox[MAILBOX_B] = args[2].num;
  lt->mailbox[MAILBOX_SLOT] = t->slot;
  lt->worker = w;
  lt->current = t;
  size_t base = penny__fork_depth();
  lt->floor = base;
  napi_handle_scope scope;
  napi_value ret;
  bool ok = napi_open_handle_scope(lt->env, &scope) == napi_ok;
  if (ok) {
    ok = penny__lent_call(lt, &ret) &&
         take_result(lt->env, ret, t, lt->mailbox);
    (void) napi_close_handle_scope(lt->env, scope); /* nothing to undo */
  }
  /* Children the task left unsynced: only a runner that failed leaves
   * any (lib/ syncs the rest), and nobody wants their outcome now. */
  penny__fork_unwind(w, base);
  lt->current = NULL;
  lt->worker = NULL;
  if (!ok) {
    js_task_failed(t, "the thread running the task stopped before it "
                      "finished (process.exit, terminate, or a fatal error)");
    penny_worker_leave(w);
  } else if (t->deferred) {
    /* The promise settles on this thread's event loop: leave the core
     * until then, and answer for the task in finish(). */
    tls_deferred_pool = lt->pool_id;
    tls_deferred_slot = t->slot;
    /* Relaxed: finish() reads it on this thread, vacate after the thread
     * has exited; the others only compare it with their own task. */
    atomic_store_explicit(&t->pool->deferred_by[penny_worker_index(w)], t,
                          memory_order_relaxed);
    penny_worker_leave(w);
  }
}

const penny_kernel_t penny__js_task_kernel = {
  JS_TASK_SIGNATURE, js_task_kernel, NULL
};

/* ---- The lent thread's calls. ---- */

/* Codes enter() returns besides an epoch (>= 0) to wait on. */
enum { ENTER_GONE = -1, ENTER_LEFT = -2, ENTER_BUSY = -3, ENTER_BROKEN = -4 };

static napi_value make_int(napi_env env, int32_t v) {
  napi_value out;
  PENNY_NAPI_CALL(env, napi_create_int32(env, v, &out));
  return out;
}

/* Lent thread: enter(id, index, resume, runner, notify, mailbox,
 * stackBudget) runs the worker loop on this thread as worker `index` of
 * pool `id`; a sync waiting for a stolen child runs other work only while
 * the thread has used less than stackBudget bytes of stack below here.
 * Returns the epoch to wait on when there is nothing to do (then enter again with
 * resume true), ENTER_LEFT when the thread left the core (its task
 * awaits a promise, or the thread is stopping; enter again with resume
 * false), ENTER_GONE once the pool is closed or gone, ENTER_BUSY if the
 * worker is taken, ENTER_BROKEN once a call into this thread's JS failed:
 * its environment is stopping (process.exit, terminate, an uncaught
 * error), which V8 forgets once the binding has caught the termination,
 * so every later call would fail too; the thread must end, and the pool
 * replaces it. */
napi_value penny__js_enter(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t id, index;
  double budget;
  bool resume;
  napi_typedarray_type type;
  size_t length;
  void *data;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7 || napi_get_value_int32(env, argv[0], &id) != napi_ok ||
      napi_get_value_int32(env, argv[1], &index) != napi_ok ||
      napi_get_value_bool(env, argv[2], &resume) != napi_ok ||
      napi_get_typedarray_info(env, argv[5], &type, &length, &data, NULL,
                               NULL) != napi_ok ||
      type != napi_float64_array || length < MAILBOX_LEN || index < 0 ||
      napi_get_value_double(env, argv[6], &budget) != napi_ok ||
      !(budget >= 0))
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "enter(id, index, resume, runner, notify, "
                             "mailbox, stackBudget)");
  lent_thread_t lt;
  memset(&lt, 0, sizeof(lt));
  lt.env = env;
  lt.pool_id = id;
  lt.mailbox = data;
  lt.stack_base = (const char *) &lt;
  lt.stack_budget = budget < (double) SIZE_MAX ? (size_t) budget : SIZE_MAX;
  PENNY_NAPI_CALL(env, napi_create_reference(env, argv[3], 1, &lt.runner));
  if (napi_create_reference(env, argv[4], 1, &lt.notify) != napi_ok) {
    (void) napi_delete_reference(env, lt.runner); /* runs no JS */
    penny__throw_last_error(env, "enter");
    return NULL;
  }
  /* A thread whose environment has begun to stop (an uncaught error in a
   * timer, process.exit) can still be running this loop, but no call into
   * its JS would work: it must take no task. Atomics.notify of no waiter
   * is the probe. */
  napi_value nfn, nrecv, zero, nret;
  if (napi_get_reference_value(env, lt.notify, &nfn) != napi_ok ||
      nfn == NULL || napi_get_undefined(env, &nrecv) != napi_ok ||
      napi_create_int32(env, 0, &zero) != napi_ok ||
      napi_call_function(env, nrecv, nfn, 1, &zero, &nret) != napi_ok) {
    bool pending = false;
    napi_value exc;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
      (void) napi_get_and_clear_last_exception(env, &exc);
    lt.dying = true;
  }
  int rc = PENNY_ECLOSED;
  pool_t *p = NULL;
  if (!lt.dying) {
    penny__mutex_lock(&registry_lock);
    p = registry_find(id);
    rc = p == NULL ? PENNY_ECLOSED
                   : penny_worker_enter(p->core, (unsigned) index, resume);
    penny__mutex_unlock(&registry_lock);
  }
  int32_t out;
  if (lt.dying) {
    out = ENTER_BROKEN;
  } else if (rc == 0) {
    /* Counted inside: destroy waits for us, so p stays valid until
     * run_entered returns. */
    uint32_t epoch = 0;
    lt.pool = p;
    penny__lent = &lt;
    rc = penny_worker_run_entered(p->core, (unsigned) index, &epoch);
    penny__lent = NULL;
    penny__fork_release();
    out = lt.dying ? ENTER_BROKEN
        : rc == PENNY_WORKER_PARK ? (int32_t) (epoch & INT32_MAX)
        : rc == PENNY_WORKER_LEFT ? ENTER_LEFT : ENTER_GONE;
  } else {
    out = rc == PENNY_EBUSY ? ENTER_BUSY : ENTER_GONE;
  }
  (void) napi_delete_reference(env, lt.runner); /* runs no JS */
  (void) napi_delete_reference(env, lt.notify);
  return make_int(env, out);
}

/* Lent thread: finish(value) settles the thread's deferred task with the
 * runner's encoding of its outcome (see take_result; not null). Returns
 * false if there is none, or its pool is gone (its promise has been
 * rejected already). */
napi_value penny__js_finish(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value out;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool done = false;
  int32_t id = tls_deferred_pool, slot = tls_deferred_slot;
  tls_deferred_slot = -1;
  if (slot >= 0 && argc == 1) {
    penny__mutex_lock(&registry_lock);
    pool_t *p = registry_find(id);
    /* Acquire: pairs with the release in penny__slots_grow. */
    if (p != NULL && (uint32_t) slot < atomic_load_explicit(
                         &p->nslots, memory_order_acquire)) {
      task_t *t = slot_task(p, (uint32_t) slot);
      if (t->deferred) {
        t->deferred = 0;
        if (!take_result(env, argv[0], t, NULL) || t->deferred) {
          t->deferred = 0;
          js_task_failed(t, "the task's result could not be read");
        }
        /* Cancelled while it awaited: it settles as a cancelled kernel
         * does, whatever it returned. Relaxed: a request flag. */
        if (atomic_load_explicit(&t->cancel_req, memory_order_relaxed))
          t->status = PENNY_ECANCELED;
        for (unsigned i = 0; i < penny_pool_threads(p->core); i++)
          /* Relaxed: a compare with this thread's own task (see
           * js_task_kernel). */
          if (atomic_load_explicit(&p->deferred_by[i],
                                   memory_order_relaxed) == t)
            atomic_store_explicit(&p->deferred_by[i], NULL,
                                  memory_order_relaxed);
        penny__task_post(t);
        done = true;
      }
    }
    penny__mutex_unlock(&registry_lock);
  }
  PENNY_NAPI_CALL(env, napi_get_boolean(env, done, &out));
  return out;
}

/* Any JS thread: cancelled() -> whether the task running on this thread
 * (or awaiting its promise here) was asked to stop: its signal aborted,
 * or its pool is closing it. False outside a task. */
napi_value penny__js_cancelled(napi_env env, napi_callback_info info) {
  (void) info;
  bool yes = false;
  lent_thread_t *lt = penny__lent;
  napi_value out;
  if (lt != NULL && lt->current != NULL) {
    /* Relaxed: a request flag, polled. */
    yes = penny_cancelled(lt->worker) ||
          atomic_load_explicit(&lt->current->cancel_req,
                               memory_order_relaxed);
  } else if (tls_deferred_slot >= 0) {
    penny__mutex_lock(&registry_lock);
    pool_t *p = registry_find(tls_deferred_pool);
    yes = p == NULL ||
          atomic_load_explicit(&slot_task(p, (uint32_t) tls_deferred_slot)
                                  ->cancel_req, memory_order_relaxed);
    penny__mutex_unlock(&registry_lock);
  }
  PENNY_NAPI_CALL(env, napi_get_boolean(env, yes, &out));
  return out;
}

/* ---- The loop thread's side. ---- */

/* Loop thread: worker `index`'s thread has exited. Its worker becomes
 * vacant, and a task it was awaiting rejects. */
int penny__lend_vacate(pool_t *p, unsigned index) {
  if (p->state != POOL_OPEN || index >= penny_pool_threads(p->core))
    return PENNY_EINVAL;
  int rc = penny_worker_vacate(p->core, index);
  if (rc != 0)
    return rc;
  penny__mutex_lock(&registry_lock);
  /* Relaxed: the thread that set it has exited. */
  task_t *t = atomic_exchange_explicit(&p->deferred_by[index], NULL,
                                       memory_order_relaxed);
  if (t != NULL && t->deferred) {
    t->deferred = 0;
    js_task_failed(t, "the thread running the task exited before its "
                      "promise settled");
    penny__task_post(t);
  }
  penny__mutex_unlock(&registry_lock);
  return 0;
}

/* Loop thread: copies the payload of a finished task into `into`, lib/'s
 * reusable buffer, and drops it from the record; returns its length. When
 * `into` is too small it copies nothing and returns minus the length (lib/
 * grows its buffer and asks again); -0 never happens, since a payload is
 * never empty. 0: the task has none. */
double penny__lend_payload(pool_t *p, uint32_t slot, uint8_t *into,
                           size_t room) {
  task_t *t = slot_task(p, slot);
  if (t->payload == NULL)
    return 0;
  if (t->payload_len > room)
    return -(double) t->payload_len;
  memcpy(into, t->payload, t->payload_len);
  double len = (double) t->payload_len;
  free(t->payload);
  t->payload = NULL;
  t->payload_len = 0;
  return len;
}
