/* The Node-API binding's entry points: one function per export, each with
 * one skeleton (read the arguments, check them again, call into the pool,
 * map the error, return), and the module's init, which declares them in
 * one table. lib/ calls them; users never see them. What each forwards to
 * is in addon.h. */
#include "addon.h"
#include "napi_util.h"
#include "../core/platform.h"
#include "../kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

static napi_value js_submit(napi_env env, napi_callback_info info);

/* JS thread: create(arenaView, ringView, threads, onComplete[, notify[,
 *   useTsfn]])
 *   -> [handle, completions, bigLimbs, ringStart, activity[, id]], where
 *   handle(kernel, slot, ...args) submits a task under a slot from grow(),
 *   completions and bigLimbs are the completion buffer and activity the
 *   words after it (contract.h), and the ring starts ringStart bytes into
 *   ringView's buffer. With notify
 *   (n => Atomics.notify on the ring's epoch word) it is a task pool: it
 *   starts no threads, and lib/'s Workers enter it by its id (jstask.c).
 *   With useTsfn true, completions wake this thread through a thread-safe
 *   function rather than libuv's async handle (completion.c). */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  env_data_t *ed;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        (void **) &ed));
  if (argc < 4)
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "create(arena, ring, threads, onComplete)");
  pool_config_t cfg;
  memset(&cfg, 0, sizeof(cfg));
  size_t ring_bytes;
  if (!penny__shared_bytes(env, argv[0], &cfg.arena, &cfg.arena_bytes) ||
      !penny__shared_bytes(env, argv[1], &cfg.ring, &ring_bytes))
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "the arena and the ring must be Uint8Arrays "
                             "over SharedArrayBuffers");
  cfg.ring_cells = penny__ring_cells(ring_bytes);
  if (cfg.ring_cells == 0)
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "the ring must hold a power of two of cells "
                             "from %d to %d", RING_CELLS_MIN, RING_CELLS_MAX);
  /* Up to RING_ALIGN - 1 bytes to reach a cache line. */
  cfg.ring_start = (size_t) (-(uintptr_t) cfg.ring & (RING_ALIGN - 1));
  napi_valuetype vt;
  double threads;
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[2], &vt));
  if (vt != napi_number)
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "threads must be a number");
  PENNY_NAPI_CALL(env, napi_get_value_double(env, argv[2], &threads));
  if (!(threads >= 1 && threads <= MAX_THREADS) ||
      threads != (double) (uint32_t) threads)
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "threads must be an integer from 1 to %d, "
                             "got %g", MAX_THREADS, threads);
  cfg.threads = (uint32_t) threads;
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[3], &vt));
  if (vt != napi_function)
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "onComplete must be a function");
  if (argc >= 5) {
    PENNY_NAPI_CALL(env, napi_typeof(env, argv[4], &vt));
    if (vt == napi_function)
      cfg.notify = argv[4];
    else if (vt != napi_undefined)
      return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                               "notify must be a function");
  }
  if (argc >= 6) {
    PENNY_NAPI_CALL(env, napi_typeof(env, argv[5], &vt));
    if (vt == napi_boolean)
      PENNY_NAPI_CALL(env, napi_get_value_bool(env, argv[5], &cfg.use_tsfn));
    else if (vt != napi_undefined)
      return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                               "useTsfn must be a boolean");
  }
  cfg.arena_view = argv[0];
  cfg.ring_view = argv[1];
  cfg.on_complete = argv[3];
  cfg.submit = js_submit;
  return penny__pool_create(env, ed, &cfg);
}

/* JS thread: handle(kernelIndex, slot, ...args): the slow submission path. The
 * pool handle that create() returns is this function, bound to its pool. */
static napi_value js_submit(napi_env env, napi_callback_info info) {
  size_t argc = 3 + PENNY_MAX_ARGS;
  napi_value argv[3 + PENNY_MAX_ARGS];
  pool_t *p;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        (void **) &p));
  if (p->state != POOL_OPEN)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED",
                             "pool is closed");
  int32_t index = -1;
  const entry_t *e = NULL;
  /* Relaxed: only this thread appends to the table. */
  if (argc >= 2 && napi_get_value_int32(env, argv[0], &index) == napi_ok &&
      index >= 0)
    e = pool_entry(p, (uint32_t) index,
                   atomic_load_explicit(&p->table_len, memory_order_relaxed));
  if (e == NULL)
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "unknown kernel index");
  size_t nargs = argc - 2;
  if (nargs != e->sig.nparams)
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "%s expects %u argument%s, got %s%zu",
                             e->sig.name, e->sig.nparams,
                             e->sig.nparams == 1 ? "" : "s",
                             nargs > PENNY_MAX_ARGS ? "more than " : "",
                             nargs > PENNY_MAX_ARGS ? (size_t) PENNY_MAX_ARGS
                                                    : nargs);
  double slot = -1;
  if (napi_get_value_double(env, argv[1], &slot) != napi_ok)
    slot = -1;
  task_t *t = penny__claim_slot(p, slot);
  if (t == NULL)
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "slot %g is not a free task slot", slot);
  for (unsigned i = 0; i < nargs; i++) {
    bool ok = e->sig.params[i].is_array
                ? penny__convert_array(env, p, e, i, argv[2 + i], t)
                : penny__convert_scalar(env, e, i, argv[2 + i], t);
    if (!ok) {
      penny__release_task(env, p, t);
      return NULL;
    }
  }
  int crc = penny__check_kernel(e, t->args, t->msg);
  if (crc != 0) {
    penny__throw_check(env, crc, t->msg);
    penny__release_task(env, p, t);
    return NULL;
  }
  t->entry = e;
  t->job.fn = penny__task_run;
  t->job.arg = t;
  t->job.done = penny__task_done;
  t->job.data = t;
  int rc = penny_pool_submit(p->core, &t->job);
  if (rc != 0) {
    /* Cannot happen while the pool is open; kept honest anyway. */
    penny__release_task(env, p, t);
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED", "%s",
                             penny_strerror(rc));
  }
  return NULL;
}

/* JS thread: cancel(handle, slot). A queued task will finish cancelled; a
 * running one sees penny_cancelled(). Either way its completion still arrives
 * through onComplete, after the workers are done with its buffers. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  pool_t *p = penny__pool_args(env, info, 2, argv, "cancel(handle, slot)");
  if (p == NULL)
    return NULL;
  int32_t slot = -1;
  napi_valuetype vt;
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[1], &vt));
  if (vt == napi_number)
    PENNY_NAPI_CALL(env, napi_get_value_int32(env, argv[1], &slot));
  if (p->state != POOL_OPEN || slot < 0 ||
      (uint32_t) slot >= atomic_load_explicit(&p->nslots,
                                              memory_order_relaxed))
    return NULL;
  penny__slot_cancel(p, (uint32_t) slot);
  return NULL;
}

/* JS thread: close(handle). Lets queued and running tasks finish, hands their
 * completions to onComplete, stops the threads. lib/ calls it once
 * nothing is pending, so it does not block the loop. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pool_t *p = penny__pool_args(env, info, 1, argv, "close(handle)");
  if (p == NULL)
    return NULL;
  if (p->draining)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_ARG",
                             "close() cannot run inside onComplete");
  penny__pool_teardown(p, 0, true, false);
  return NULL;
}

/* JS thread: lentInside(handle) -> how many of a task pool's threads are
 * inside the core now (0 once closed). lib/ waits for 0 before close()
 * after terminating its Workers: a runtime whose Worker.terminate() does
 * not stop a running task (Deno) would otherwise block this thread in
 * close() until that task returns. */
static napi_value js_lentInside(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pool_t *p = penny__pool_args(env, info, 1, argv, "lentInside(handle)");
  if (p == NULL)
    return NULL;
  napi_value out;
  PENNY_NAPI_CALL(env, napi_create_uint32(env, p->core == NULL ? 0
                                            : penny_pool_lent_inside(p->core),
                                          &out));
  return out;
}

/* JS thread: stats(handle) -> counters. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pool_t *p = penny__pool_args(env, info, 1, argv, "stats(handle)");
  if (p == NULL)
    return NULL;
  penny_stats_t s;
  memset(&s, 0, sizeof(s));
  if (p->core != NULL)
    (void) penny_pool_stats(p->core, PENNY_ALL_WORKERS, &s); /* cannot fail */
  napi_value obj;
  PENNY_NAPI_CALL(env, napi_create_object(env, &obj));
  if (!penny__set_number(env, obj, "completed", (double) p->completed) ||
      !penny__set_number(env, obj, "failed", (double) p->failed) ||
      !penny__set_number(env, obj, "cancelled", (double) p->cancelled) ||
      !penny__set_number(env, obj, "steals", (double) s.steals) ||
      !penny__set_number(env, obj, "inlined", (double) s.inlined) ||
      !penny__set_number(env, obj, "failedSteals",
                         (double) s.failed_steals) ||
      !penny__set_number(env, obj, "sleeps", (double) s.sleeps) ||
      !penny__set_number(env, obj, "wakeups", (double) s.wakeups)) {
    penny__throw_last_error(env, "stats");
    return NULL;
  }
  return obj;
}

/* JS thread: kernels(handle) -> [{ name, signature, result, params }] */
static napi_value js_kernels(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pool_t *p = penny__pool_args(env, info, 1, argv, "kernels(handle)");
  if (p == NULL)
    return NULL;
  static const char *const dirs[] = { NULL, "in", "out", "inout" };
  napi_value list;
  /* Relaxed: only this thread appends. */
  size_t n = atomic_load_explicit(&p->table_len, memory_order_relaxed);
  PENNY_NAPI_CALL(env, napi_create_array_with_length(env, n, &list));
  for (size_t i = 0; i < n; i++) {
    const penny__sig_t *sig = &p->table[i]->sig;
    napi_value k, params, v;
    PENNY_NAPI_CALL(env, napi_create_object(env, &k));
    PENNY_NAPI_CALL(env, napi_create_array_with_length(env, sig->nparams,
                                                       &params));
    for (unsigned j = 0; j < sig->nparams; j++) {
      const penny__param_t *pa = &sig->params[j];
      napi_value param, b;
      PENNY_NAPI_CALL(env, napi_create_object(env, &param));
      if ((v = penny__make_string(env, pa->name)) == NULL ||
          napi_set_named_property(env, param, "name", v) != napi_ok ||
          (v = penny__make_string(env, penny__type_name(pa->type))) == NULL ||
          napi_set_named_property(env, param, "type", v) != napi_ok ||
          napi_get_boolean(env, pa->is_array, &b) != napi_ok ||
          napi_set_named_property(env, param, "array", b) != napi_ok ||
          (pa->dir != 0 &&
           ((v = penny__make_string(env, dirs[pa->dir])) == NULL ||
            napi_set_named_property(env, param, "dir", v) != napi_ok)) ||
          napi_set_element(env, params, j, param) != napi_ok) {
        penny__throw_last_error(env, "kernels");
        return NULL;
      }
    }
    if ((v = penny__make_string(env, sig->name)) == NULL ||
        napi_set_named_property(env, k, "name", v) != napi_ok ||
        (v = penny__make_string(env, p->table[i]->kernel->signature)) ==
          NULL ||
        napi_set_named_property(env, k, "signature", v) != napi_ok ||
        (v = penny__make_string(env, sig->result ? "f64" : "void")) == NULL ||
        napi_set_named_property(env, k, "result", v) != napi_ok ||
        napi_set_named_property(env, k, "params", params) != napi_ok ||
        napi_set_element(env, list, (uint32_t) i, k) != napi_ok) {
      penny__throw_last_error(env, "kernels");
      return NULL;
    }
  }
  return list;
}

/* JS thread: grow(handle) -> the new number of task slots. lib/ calls it when
 * it runs out of free slots. */
static napi_value js_grow(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  pool_t *p = penny__pool_args(env, info, 1, argv, "grow(handle)");
  if (p == NULL)
    return NULL;
  if (p->state != POOL_OPEN)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED",
                             "pool is closed");
  uint32_t n;
  int rc = penny__slots_grow(p, &n);
  if (rc == PENNY_ERANGE)
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "too many tasks in flight (%u)", n);
  if (rc != 0)
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "out of memory");
  PENNY_NAPI_CALL(env, napi_create_uint32(env, n, &out));
  return out;
}

/* JS thread: wake(handle). lib/ found the ring's sleepy word set after
 * publishing a cell (see penny__ring_wake). */
static napi_value js_wake(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pool_t *p = penny__pool_args(env, info, 1, argv, "wake(handle)");
  if (p == NULL)
    return NULL;
  if (p->state == POOL_OPEN)
    penny__ring_wake(p);
  return NULL;
}

/* JS thread: vacate(handle, index): worker `index` of a task pool lost
 * its thread (the Worker exited). Throws ERR_PENNY_STATE if a thread is
 * inside the core as that worker. */
static napi_value js_vacate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t index;
  pool_t *p = penny__pool_args(env, info, 2, argv, "vacate(handle, index)");
  if (p == NULL)
    return NULL;
  if (p->state != POOL_OPEN || p->deferred_by == NULL)
    return NULL;
  PENNY_NAPI_CALL(env, napi_get_value_uint32(env, argv[1], &index));
  int rc = penny__lend_vacate(p, index);
  if (rc != 0)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_STATE",
                             "vacate: %s", penny_strerror(rc));
  return NULL;
}

/* JS thread: payload(handle, slot, into) copies the bytes a JS task's
 * completion carries (COMPLETION_PAYLOAD) into the Uint8Array `into`,
 * once, and returns their length; minus the length if `into` is too
 * small (nothing copied), 0 if there are none. */
static napi_value js_payload(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  uint32_t slot;
  napi_typedarray_type type;
  size_t room;
  void *into;
  pool_t *p = penny__pool_args(env, info, 3, argv,
                               "payload(handle, slot, into)");
  if (p == NULL)
    return NULL;
  PENNY_NAPI_CALL(env, napi_get_value_uint32(env, argv[1], &slot));
  if (napi_get_typedarray_info(env, argv[2], &type, &room, &into, NULL,
                               NULL) != napi_ok || type != napi_uint8_array)
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "payload: into must be a Uint8Array");
  /* Relaxed: only this thread grows the slots. */
  if (p->state != POOL_OPEN ||
      slot >= atomic_load_explicit(&p->nslots, memory_order_relaxed))
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "payload: no slot %u", slot);
  PENNY_NAPI_CALL(env, napi_create_double(
                           env, penny__lend_payload(p, slot, into, room),
                           &out));
  return out;
}

/* JS thread: adviseHuge(u8) asks for huge pages behind a Uint8Array over a
 * SharedArrayBuffer, as create() does for the arena: lib/ calls it for a
 * buffer alloc() makes when the arena is full, before its first touch.
 * Advice only, so anything else is ignored. */
static napi_value js_adviseHuge(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint8_t *data;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    penny__throw_last_error(env, "napi_get_cb_info");
    return NULL;
  }
  if (argc == 1 && penny__shared_bytes(env, argv[0], &data, &length))
    penny__advise_huge(data, length);
  return NULL;
}

/* JS thread: active(handle, bool). lib/ starts the handles when its first
 * task is pending and the activity word says they are stopped, and stops
 * them when its last one settles where no prepare callback would, or when
 * it rejects every task (contract.h, ACTIVITY_*). */
static napi_value js_active(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool active = false;
  pool_t *p = penny__pool_args(env, info, 2, argv, "active(handle, bool)");
  if (p == NULL)
    return NULL;
  PENNY_NAPI_CALL(env, napi_get_value_bool(env, argv[1], &active));
  if (p->state == POOL_OPEN)
    penny__set_active(p, active);
  return NULL;
}

/* JS thread: load(handle, path) -> the index of the plugin's first kernel; lib/
 * then reads the table again. Throws ERR_PENNY_PLUGIN. */
static napi_value js_load(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  pool_t *p = penny__pool_args(env, info, 2, argv, "load(handle, path)");
  if (p == NULL)
    return NULL;
  if (p->state != POOL_OPEN)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED",
                             "pool is closed");
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof(path),
                                 &len) != napi_ok)
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "path must be a string");
  if (len == 0 || len >= sizeof(path) - 1 || strlen(path) != len)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_PLUGIN",
                             "cannot load a plugin from an empty, over-long "
                             "or NUL-containing path");
  char err[512];
  size_t first = 0;
  if (penny__plugin_load(p, path, &first, err, sizeof(err)) != NULL)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_PLUGIN", "%s", err);
  napi_value v;
  PENNY_NAPI_CALL(env, napi_create_uint32(env, (uint32_t) first, &v));
  return v;
}

/* JS thread: message(handle, slot) -> the argument error of a task that was
 * refused on a worker (COMPLETION_ARG_TYPE, COMPLETION_ARG_RANGE), or the
 * message a kernel failed with (COMPLETION_FAILED), while its slot is not yet
 * reused. */
static napi_value js_message(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  pool_t *p = penny__pool_args(env, info, 2, argv, "message(handle, slot)");
  if (p == NULL)
    return NULL;
  uint32_t slot;
  if (napi_get_value_uint32(env, argv[1], &slot) != napi_ok ||
      slot >= atomic_load_explicit(&p->nslots, memory_order_relaxed))
    return penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                             "no such slot");
  task_t *t = slot_task(p, slot);
  /* Only a worker's claim writes msg, and the slot is free until lib/
   * reuses it; the claim's acquire/release chain orders the rest. */
  return penny__make_string(env, t->msg);
}

/* JS thread: strerror(code) -> the core's message for a status code. */
static napi_value js_strerror(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t code = 0;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        NULL));
  if (argc < 1 ||
      napi_get_value_int32(env, argv[0], &code) != napi_ok)
    return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                             "strerror(code)");
  return penny__make_string(env, penny_strerror(code));
}

/* ---- Module. ---- */

/* JS thread, as the environment is torn down: frees its state. */
static void finalize_env_data(napi_env env, void *data, void *hint) {
  (void) env;
  (void) hint;
  env_data_t *ed = data;
  free(ed->builtin_sigs);
  free(ed);
}

/* JS thread, once per environment that loads the addon. */
NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  env_data_t *ed = calloc(1, sizeof(*ed));
  if (ed == NULL)
    return penny__throw_code(env, ERR_PLAIN, NULL, "penny: out of memory");
  ed->builtin_sigs = calloc(penny__builtin_kernel_count,
                            sizeof(penny__sig_t));
  if (ed->builtin_sigs == NULL) {
    free(ed);
    return penny__throw_code(env, ERR_PLAIN, NULL, "penny: out of memory");
  }
  const char *js_err = NULL;
  if (penny__sig_parse(penny__js_task_kernel.signature, &ed->js_task_sig,
                       &js_err) != 0)
    napi_fatal_error("penny", NAPI_AUTO_LENGTH, js_err, NAPI_AUTO_LENGTH);
  for (size_t i = 0; i < penny__builtin_kernel_count; i++) {
    const char *err = NULL;
    if (penny__sig_parse(penny__builtin_kernels[i].signature,
                         &ed->builtin_sigs[i], &err) != 0)
      napi_fatal_error("penny", NAPI_AUTO_LENGTH, err, NAPI_AUTO_LENGTH);
  }
  if (napi_set_instance_data(env, ed, finalize_env_data, NULL) != napi_ok) {
    finalize_env_data(env, ed, NULL);
    penny__throw_last_error(env, "napi_set_instance_data");
    return NULL;
  }
  napi_value contract = penny__contract(env);
  if (contract == NULL)
    return NULL;
#define PENNY_EXPORT_(name) \
  { #name, NULL, js_##name, NULL, NULL, NULL, napi_enumerable, ed }
  const napi_property_descriptor props[] = {
    PENNY_EXPORT_(create),
    PENNY_EXPORT_(cancel),
    PENNY_EXPORT_(close),
    PENNY_EXPORT_(stats),
    PENNY_EXPORT_(lentInside),
    PENNY_EXPORT_(kernels),
    PENNY_EXPORT_(strerror),
    PENNY_EXPORT_(grow),
    PENNY_EXPORT_(wake),
    PENNY_EXPORT_(message),
    PENNY_EXPORT_(load),
    PENNY_EXPORT_(active),
    PENNY_EXPORT_(adviseHuge),
    PENNY_EXPORT_(vacate),
    PENNY_EXPORT_(payload),
    { "enter", NULL, penny__js_enter, NULL, NULL, NULL, napi_enumerable, ed },
    { "finish", NULL, penny__js_finish, NULL, NULL, NULL, napi_enumerable,
      ed },
    { "cancelled", NULL, penny__js_cancelled, NULL, NULL, NULL,
      napi_enumerable, ed },
    { "fork", NULL, penny__js_fork, NULL, NULL, NULL, napi_enumerable, ed },
    { "sync", NULL, penny__js_sync, NULL, NULL, NULL, napi_enumerable, ed },
    { "childArgs", NULL, penny__js_child_args, NULL, NULL, NULL,
      napi_enumerable, ed },
    { "forkIdle", NULL, penny__js_fork_idle, NULL, NULL, NULL,
      napi_enumerable, ed },
    { "contract", NULL, NULL, NULL, NULL, contract, napi_enumerable, NULL },
  };
#undef PENNY_EXPORT_
  PENNY_NAPI_CALL(env, napi_define_properties(env, exports,
                                              sizeof(props) / sizeof(*props),
                                              props));
  return exports;
}
