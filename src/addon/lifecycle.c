/* A pool's life in the binding: create() builds it, close(), the
 * environment's teardown or the garbage collector tears it down, and its
 * last owner frees it.
 *
 * A pool_t has three owners: the JS handle (through its wrap), the open
 * prepare handle and the way workers wake the loop thread (the async
 * handle, or the thread-safe function where the runtime's uv_async is
 * not libuv's), each until its close callback or finalizer; two where the
 * runtime has no prepare handle (Deno). Teardown is a normal path, not an
 * error path: every Node-API call may fail while the environment is going
 * away (a Worker terminating), and none of those failures may crash, leak
 * a thread, or lose a task. */
#include "addon.h"
#include "napi_util.h"
#include "../core/platform.h"
#include "../kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

/* Loop thread: allocates the C side of a pool that is not started yet:
 * kernel table, completion ring, record chunks. False when out of memory
 * (the caller frees what was allocated with pool_free_body). */
static bool pool_alloc_body(pool_t *p, const env_data_t *ed) {
  p->table = calloc(MAX_KERNELS, sizeof(entry_t *));
  p->builtins = calloc(penny__builtin_kernel_count, sizeof(entry_t));
  p->chunks = calloc(MAX_CHUNKS, sizeof(task_t *));
  p->done = penny__pages_alloc(sizeof(done_ring_t)); /* zeroed: empty */
  if (p->table == NULL || p->builtins == NULL || p->chunks == NULL ||
      p->done == NULL)
    return false;
  for (size_t i = 0; i < penny__builtin_kernel_count; i++) {
    p->builtins[i].sig = ed->builtin_sigs[i];
    p->builtins[i].kernel = &penny__builtin_kernels[i];
    p->table[i] = &p->builtins[i];
  }
  atomic_init(&p->table_len, penny__builtin_kernel_count);
  atomic_init(&p->done_head, NULL);
  atomic_init(&p->ring_head, 0);
  atomic_init(&p->nslots, 0);
  return true;
}

/* Loop thread: frees what only a running pool needs (task records, the
 * completion ring, the kernel table, plugin libraries) once its workers
 * are joined, so that close() returns the memory at once rather than at
 * garbage collection. What stays is the small shell that the JS handle
 * and the closing uv handle point to. Idempotent; safe on a pool that
 * never started. */
static void pool_free_body(pool_t *p) {
  penny__slots_free(p);
  penny__pages_free(p->done, sizeof(done_ring_t));
  p->done = NULL;
  free(p->table);
  p->table = NULL;
  atomic_store_explicit(&p->table_len, 0, memory_order_relaxed);
  free(p->builtins);
  p->builtins = NULL;
  free(p->deferred_by);
  p->deferred_by = NULL;
  /* The workers are joined: no plugin code can be running. */
  penny__plugins_close(p);
}

/* Loop thread: drops one of the pool's owners (the JS handle, the open uv
 * handles); the last one frees it. */
static void pool_release(pool_t *p) {
  if (--p->owners > 0)
    return;
  pool_free_body(p);
  free(p);
}

/* Loop thread: drops the references a pool holds, so that its buffers
 * and callback can be collected. Deleting a reference runs no JavaScript;
 * should it fail at teardown, the environment frees it itself. */
static void drop_refs(pool_t *p) {
  napi_ref *refs[] = { &p->callback_ref, &p->results_ref, &p->arena_ref,
                       &p->ring_ref, &p->notify_ref };
  for (size_t i = 0; i < sizeof(refs) / sizeof(*refs); i++)
    if (*refs[i] != NULL) {
      (void) napi_delete_reference(p->env, *refs[i]);
      *refs[i] = NULL;
    }
  /* Not at environment teardown (js_gone): the context goes with the
   * environment, and Deno's napi_async_destroy then aborts the process
   * (it makes a V8 handle with no scope to hold it). */
  if (p->actx != NULL && !p->js_gone)
    (void) napi_async_destroy(p->env, p->actx); /* as above */
  p->actx = NULL;
}

/* Loop thread: the way completions woke the loop thread is gone (the
 * async handle closed, the thread-safe function finalized); finishes a
 * teardown that an environment shutdown started. */
static void wake_closed(pool_t *p) {
  if (p->hook != NULL) {
    /* Cannot fail for a hook that is registered. */
    (void) napi_remove_async_cleanup_hook(p->hook);
    p->hook = NULL;
  }
  pool_release(p);
}

static void on_async_closed(uv_handle_t *handle) {
  wake_closed(handle->data);
}

static void on_tsfn_finalized(napi_env env, void *data, void *hint) {
  pool_t *p = data;
  (void) env;
  (void) hint;
  p->tsfn_finalized = true;
  wake_closed(p);
}

/* Loop thread: the prepare handle is closed; the async handle closes
 * next, so that the cleanup hook goes only once both have. */
static void on_prepare_closed(uv_handle_t *handle) {
  pool_t *p = handle->data;
  if (!p->use_tsfn)
    uv_close((uv_handle_t *) &p->async, on_async_closed);
  pool_release(p);
}

/* Loop thread. Stops the workers (after the queued tasks finished, or
 * cancelling them), settles or recycles what they completed, drops the
 * references, frees the pool's body and closes the handle. Idempotent. */
void penny__pool_teardown(pool_t *p, unsigned destroy_flags, bool call_js,
                          bool keep_hook) {
  if (p->state != POOL_OPEN)
    return;
  /* A task pool: no lent thread finds it from now on, and none calls into
   * JS for it (see lend_park_wake). */
  p->quiet = true;
  penny__lend_unregister(p);
  /* Joins every worker: no penny__task_done and no uv_async_send after
   * this. Cannot return EDEADLK: this is not a worker thread. */
  int rc = penny_pool_destroy(p->core, destroy_flags);
  if (rc != 0)
    napi_fatal_error("penny", NAPI_AUTO_LENGTH, penny_strerror(rc),
                     NAPI_AUTO_LENGTH);
  p->core = NULL;
  p->state = POOL_CLOSED;
  /* Tasks still in the ring were never taken: they settle as cancelled
   * (rejected ones keep their argument error). At most one lap: only
   * lib/ writes the ring, and it writes no more once closed. */
  penny_job_t *job;
  for (unsigned i = 0;
       i < p->ring_cells && (job = penny__ring_take(p)) != NULL; i++) {
    task_t *t = job->data;
    penny__task_done(job, t->rejected ? t->reject_code : PENNY_ECANCELED);
  }
  penny__drain(p, call_js);
  /* Whatever penny__drain could not hand to JS (no JS at teardown) is dropped:
   * the environment that would observe those promises is going away. */
  penny__set_active(p, false);
  /* Nothing reads the ring again (lib/ drops it at close), but its buffer
   * is freed only when collected: its pages go back now. */
  penny__pages_discard(p->ring, RING_HEADER_BYTES +
                                  (size_t) p->ring_cells * RING_CELL_BYTES);
  drop_refs(p);
  pool_free_body(p);
  if (!keep_hook && p->hook != NULL) {
    (void) napi_remove_async_cleanup_hook(p->hook); /* registered: ok */
    p->hook = NULL;
  }
  /* The thread-safe function goes now, not from a close callback: at
   * environment teardown the runtime finalizes it itself once this hook
   * has returned. The workers are joined, so nothing calls it again, and
   * what is queued is dropped (abort). It fails only for a function the
   * runtime has finalized already. */
  if (p->use_tsfn && !p->tsfn_finalized)
    (void) napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
  if (p->has_prepare)
    uv_close((uv_handle_t *) &p->prepare, on_prepare_closed);
  else if (!p->use_tsfn)
    uv_close((uv_handle_t *) &p->async, on_async_closed);
}

/* Loop thread, while the environment shuts down (process exit or
 * Worker.terminate()): queued tasks are cancelled, running kernels see
 * penny_cancelled(), and no thread is left behind. The hook is removed
 * once the handle has closed. */
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  pool_t *p = arg;
  (void) hook;
  p->js_gone = true;
  penny__pool_teardown(p, PENNY_DESTROY_CANCEL, false, true);
}

/* Loop thread, when the Pool's handle is garbage-collected (or the
 * environment frees it). Only an idle pool can be collected: a pending
 * task keeps lib/'s callback, and with it the handle, strongly
 * referenced. A pool whose start failed was never opened. */
static void finalize_pool(napi_env env, void *data, void *hint) {
  (void) env;
  (void) hint;
  pool_t *p = data;
  penny__pool_teardown(p, PENNY_DESTROY_CANCEL, false, false);
  drop_refs(p);
  pool_release(p);
}

/* Loop thread: builds and starts a pool; returns [handle, completions,
 * bigLimbs, ringStart, activity[, id]] (see js_create), or NULL with an
 * exception pending. Every Node-API call can fail while the
 * environment is going away (a Worker terminated as it builds a pool), so
 * everything that can fail comes before the workers start, and a failure
 * unwinds what was built: until the wrap the pool is freed here, after it
 * the handle's finalizer frees the shell. */
napi_value penny__pool_create(napi_env env, const env_data_t *ed,
                              const pool_config_t *cfg) {
  /* The completion buffer: the entries, then the limbs. */
  const size_t entry_bytes = COMPLETION_FIELDS * sizeof(double);
  const size_t limb_bytes = COMPLETION_LIMBS * sizeof(uint64_t);
  napi_value results_ab, results, bigs, activity, name, handle, out, start;
  void *results_data;
  uv_loop_t *loop;
  penny_pool_options_t opts;
  penny_source_t source = { penny__ring_take, penny__ring_ready, NULL };
  bool wrapped = false, pending = false;
  int rc;

  pool_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "out of memory");
  p->env = env;
  p->state = POOL_NEW;
  p->arena = cfg->arena;
  p->arena_bytes = cfg->arena_bytes;
  p->ring = cfg->ring + cfg->ring_start;
  p->ring_cells = cfg->ring_cells;
  if (!pool_alloc_body(p, ed)) {
    penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "out of memory");
    goto fail;
  }
  /* Large arrays live in the arena: ask for huge pages before the first
   * touch (V8 hands over the buffer untouched). */
  penny__advise_huge(cfg->arena, cfg->arena_bytes);

  /* Everything JavaScript sees, and every reference, before any thread
   * starts. */
  const size_t activity_at = COMPLETION_BATCH * (entry_bytes + limb_bytes);
  if (napi_create_arraybuffer(env, activity_at +
                                     ACTIVITY_WORDS * sizeof(int32_t),
                              &results_data, &results_ab) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array,
                             COMPLETION_FIELDS * COMPLETION_BATCH,
                             results_ab, 0, &results) != napi_ok ||
      napi_create_typedarray(env, napi_biguint64_array,
                             COMPLETION_LIMBS * COMPLETION_BATCH,
                             results_ab, COMPLETION_BATCH * entry_bytes,
                             &bigs) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, ACTIVITY_WORDS,
                             results_ab, activity_at, &activity) != napi_ok ||
      napi_create_string_utf8(env, "penny", NAPI_AUTO_LENGTH,
                              &name) != napi_ok ||
      napi_async_init(env, NULL, name, &p->actx) != napi_ok ||
      napi_create_reference(env, cfg->arena_view, 1,
                            &p->arena_ref) != napi_ok ||
      napi_create_reference(env, cfg->ring_view, 1, &p->ring_ref) != napi_ok ||
      napi_create_reference(env, results, 1, &p->results_ref) != napi_ok ||
      napi_create_reference(env, cfg->on_complete, 0,
                            &p->callback_ref) != napi_ok ||
      /* The handle is the pool's own submit function: calling it skips
       * the unwrapping and tag check that every other entry point does. */
      napi_create_function(env, "submit", NAPI_AUTO_LENGTH, cfg->submit, p,
                           &handle) != napi_ok ||
      napi_type_tag_object(env, handle, &penny__pool_tag) != napi_ok ||
      napi_create_uint32(env, (uint32_t) cfg->ring_start, &start) != napi_ok ||
      napi_create_array_with_length(env, 5, &out) != napi_ok ||
      napi_set_element(env, out, 0, handle) != napi_ok ||
      napi_set_element(env, out, 1, results) != napi_ok ||
      napi_set_element(env, out, 2, bigs) != napi_ok ||
      napi_set_element(env, out, 3, start) != napi_ok ||
      napi_set_element(env, out, 4, activity) != napi_ok)
    goto fail;
  p->results = results_data;
  p->bigs = (uint64_t *) (void *) ((uint8_t *) results_data +
                                   COMPLETION_BATCH * entry_bytes);
  p->activity = (int32_t *) (void *) ((uint8_t *) results_data +
                                      activity_at); /* zeroed: INACTIVE */
  if (napi_wrap(env, handle, p, finalize_pool, NULL, NULL) != napi_ok)
    goto fail;
  wrapped = true;
  p->owners = 1; /* the handle; its finalizer frees the shell from now on */

  memset(&opts, 0, sizeof(opts));
  opts.threads = cfg->threads;
  if (cfg->notify != NULL) {
    /* A task pool: its workers are Worker threads that lib/ starts. */
    p->deferred_by = calloc(cfg->threads, sizeof(*p->deferred_by));
    if (p->deferred_by == NULL ||
        napi_create_reference(env, cfg->notify, 1, &p->notify_ref) !=
          napi_ok)
      goto fail;
    p->loop_thread = penny__thread_marker();
    p->js_entry.sig = ed->js_task_sig;
    p->js_entry.kernel = &penny__js_task_kernel;
    penny__lend_options(&opts, p);
    /* Found by lent threads once it is open; its id is out[5]. */
    penny__lend_register(p);
    napi_value id;
    if (napi_create_int32(env, p->lend_id, &id) != napi_ok ||
        napi_set_element(env, out, 5, id) != napi_ok)
      goto fail;
  }
  opts.injector_capacity = 1u << 14;
  source.ctx = p;
  opts.source = &source;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok)
    goto fail;
  p->use_tsfn = cfg->use_tsfn;
  atomic_init(&p->wake_pending, 0);
  if (p->use_tsfn) {
    /* Unlimited queue (one call is queued at a time anyway), one thread
     * (this one: workers call it without acquiring); unreferenced until
     * tasks are pending. */
    if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, p,
                                        on_tsfn_finalized, p, penny__on_tsfn,
                                        &p->tsfn) != napi_ok)
      goto fail;
    p->owners++; /* dropped by its finalizer */
    if (napi_unref_threadsafe_function(env, p->tsfn) != napi_ok)
      goto fail;
  }
  rc = penny_pool_create(&p->core, &opts);
  if (rc != 0) {
    penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "could not start the pool: %s", penny_strerror(rc));
    goto fail;
  }
  /* uv_async_init fails only for a loop that is not initialized. */
  if (!p->use_tsfn) {
    if (uv_async_init(loop, &p->async, penny__on_async) != 0)
      goto fail_started;
    p->async.data = p;
    uv_unref((uv_handle_t *) &p->async); /* idle pools keep nothing alive */
    p->owners++;
  }
  /* Cannot fail on an initialized loop either; started while active. */
  p->has_prepare = PENNY_HAS_UV_PREPARE();
  p->activity[ACTIVITY_LAZY] = p->has_prepare;
  if (p->has_prepare) {
    (void) uv_prepare_init(loop, &p->prepare);
    p->prepare.data = p;
    uv_unref((uv_handle_t *) &p->prepare);
    p->owners++;
  }
  p->state = POOL_OPEN;
  /* From here the pool runs: a failure is an ordinary teardown. */
  if (napi_add_async_cleanup_hook(env, on_env_cleanup, p,
                                  &p->hook) != napi_ok) {
    p->hook = NULL;
    penny__throw_last_error(env, "create");
    penny__pool_teardown(p, PENNY_DESTROY_CANCEL, false, false);
    return NULL;
  }
  return out;

fail_started:
  (void) penny_pool_destroy(p->core, PENNY_DESTROY_CANCEL); /* idle */
  p->core = NULL;
fail:
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending)
    penny__throw_last_error(env, "create");
  /* Its finalizer drops its owner later; the handle keeps the shell. */
  if (p->tsfn != NULL)
    (void) napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
  penny__lend_unregister(p);
  drop_refs(p);
  pool_free_body(p);
  if (!wrapped)
    free(p);
  return NULL;
}
