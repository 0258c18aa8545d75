/* The Node-API binding: converts values and forwards to the core. It holds
 * no scheduling logic. Promises, AbortSignal and the arena heap live in
 * lib/; this file re-checks everything lib/ hands it ("never trust JS"),
 * because a wrong length or pointer here is memory corruption on a worker.
 *
 * Threads: functions named js_* and the uv callbacks run on the thread of
 * the JS environment that created the pool (the main thread or a Worker's).
 * task_run and task_done run on Penny's worker threads, which never call
 * napi_* and touch only the task record and memory pinned by references.
 *
 * Completions: a worker pushes a finished task on a lock-free stack and
 * calls uv_async_send (libuv coalesces). The async callback takes the whole
 * stack, writes (slot, status, result) triples into a buffer shared with
 * lib/ and calls lib/'s onComplete once per 1024 tasks inside a callback
 * scope (napi_make_callback), which settles the promises in JS and runs
 * their continuations at once. Settling in JS instead of through one
 * napi_deferred per task avoids a V8 global handle and a native call per
 * task, which more than doubles throughput (see bench/). */
#include <node_api.h>
#include <uv.h>

#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "penny.h"
#include "signature.h"
#include "../kernels/kernels.h"

/* ---- Node-API status checks. ---- */

/* On failure: throw (unless an exception is already pending) and return
 * `ret` from the calling function. */
#define PENNY_NAPI_CALL_RET(env, call, ret)                                   \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      throw_last_error((env), #call);                                         \
      return ret;                                                             \
    }                                                                         \
  } while (0)

#define PENNY_NAPI_CALL(env, call) PENNY_NAPI_CALL_RET(env, call, NULL)
#define PENNY_NAPI_CALL_VOID(env, call) PENNY_NAPI_CALL_RET(env, call, )

/* For finalizers, cleanup hooks and uv callbacks, which cannot throw: a
 * failure there is a broken invariant. */
#define PENNY_NAPI_CALL_FATAL(call)                                           \
  do {                                                                        \
    if ((call) != napi_ok)                                                    \
      napi_fatal_error(__FILE__ ":" PENNY_STR_(__LINE__), NAPI_AUTO_LENGTH,   \
                       #call, NAPI_AUTO_LENGTH);                              \
  } while (0)
#define PENNY_STR_(x) PENNY_STR2_(x)
#define PENNY_STR2_(x) #x

static void throw_last_error(napi_env env, const char *call) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    return;
  const napi_extended_error_info *info = NULL;
  const char *msg = NULL;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL)
    msg = info->error_message;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s failed: %s", call,
           msg ? msg : "unknown Node-API error");
  napi_throw_error(env, NULL, buf);
}

/* Throws a TypeError, RangeError or Error with a `code`. Returns NULL so
 * a js_* function can `return throw_code(...)`. */
typedef enum { ERR_PLAIN, ERR_TYPE, ERR_RANGE } err_class_t;

static napi_value throw_code(napi_env env, err_class_t cls, const char *code,
                             const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

static napi_value throw_code(napi_env env, err_class_t cls, const char *code,
                             const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (cls == ERR_TYPE)
    napi_throw_type_error(env, code, msg);
  else if (cls == ERR_RANGE)
    napi_throw_range_error(env, code, msg);
  else
    napi_throw_error(env, code, msg);
  return NULL;
}

/* ---- Per-environment state. ---- */

typedef struct {
  penny__sig_t *builtin_sigs; /* parsed once per environment */
} env_data_t;

/* A kernel as one pool's table holds it. */
typedef struct {
  penny__sig_t sig;
  const penny_kernel_t *kernel;
} entry_t;

/* ---- Pools and task records. ---- */

#define BATCH 1024        /* completions handed to JS per call */
#define SLOT_CHUNK 256    /* task records allocated at a time */
#define MAX_SLOTS (1u << 24)

typedef struct pool_s pool_t;
typedef struct task_s task_t;

/* The fields that submit, task_done and drain all touch share the cache
 * line after the job, so a record crosses between threads in few lines. */
struct task_s {
  alignas(64) penny_job_t job; /* job.arg = job.data = this record */
  task_t *next;           /* completion stack (workers) or free list */
  pool_t *pool;
  const entry_t *entry;
  int32_t slot;           /* index in pool->slots, also lib/'s id */
  int status;             /* written by the worker before the push */
  double result;          /* written by the kernel */
  unsigned nrefs;         /* pinned views over foreign SharedArrayBuffers */
  penny_arg_t args[PENNY_MAX_ARGS];
  napi_ref refs[PENNY_MAX_ARGS];
};

enum { POOL_OPEN, POOL_CLOSED };

struct pool_s {
  /* Loop thread only, unless noted. */
  napi_env env;
  penny_pool_t *core;
  int state;
  int owners;                  /* the JS external + the open uv handle */
  bool draining;               /* inside drain(): close must wait */
  uv_async_t async;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
  napi_ref arena_ref;          /* Uint8Array over the arena, strong */
  napi_ref results_ref;        /* Float64Array of BATCH triples, strong */
  napi_ref callback_ref;       /* onComplete: strong only while pending */
  double *results;
  uint8_t *arena;
  size_t arena_bytes;
  size_t heap_start;           /* bytes from `arena`; below: control */
  entry_t *table;
  size_t table_len;
  task_t **slots;
  size_t nslots;
  task_t *free_list;
  size_t pending;              /* submitted, not yet handed to JS */
  uint64_t submitted, completed, failed, cancelled;
  /* Workers push finished tasks here; the loop thread takes them all. */
  _Atomic(task_t *) done_head;
};

/* Tags the external so that a foreign external is never taken for a pool. */
static const napi_type_tag pool_tag = {
  0x70656e6e79706f6fULL, 0x6c2d6578746e6c31ULL
};

/* ---- Worker side. ---- */

/* Runs on a worker thread. */
static void task_run(penny_worker_t *w, void *arg) {
  task_t *t = arg;
  t->entry->kernel->fn(w, t->args, &t->result);
}

/* Runs on a worker thread, once per submitted task. */
static void task_done(penny_job_t *job, int status) {
  task_t *t = job->data;
  pool_t *p = t->pool;
  t->status = status;
  task_t *head = atomic_load_explicit(&p->done_head, memory_order_relaxed);
  do {
    t->next = head;
    /* Release: publishes the status, the result and (through the joins
     * that ended the kernel) its writes to the acquire exchange in
     * drain(). Only whole-stack exchanges consume, so there is no ABA. */
  } while (!atomic_compare_exchange_weak_explicit(&p->done_head, &head, t,
                                                  memory_order_release,
                                                  memory_order_relaxed));
  /* The pool outlives this call: teardown joins every worker before it
   * closes the handle. uv_async_send cannot fail on an open handle. */
  (void) uv_async_send(&p->async);
}

/* ---- Task records (loop thread). ---- */

static task_t *take_task(pool_t *p) {
  if (p->free_list == NULL) {
    if (p->nslots + SLOT_CHUNK > MAX_SLOTS)
      return NULL;
    task_t **slots = realloc(p->slots,
                             (p->nslots + SLOT_CHUNK) * sizeof(*slots));
    if (slots == NULL)
      return NULL;
    p->slots = slots;
    task_t *chunk = aligned_alloc(alignof(task_t),
                                  SLOT_CHUNK * sizeof(task_t));
    if (chunk == NULL)
      return NULL;
    memset(chunk, 0, SLOT_CHUNK * sizeof(task_t));
    for (size_t i = SLOT_CHUNK; i-- > 0;) {
      chunk[i].slot = (int32_t) (p->nslots + i);
      chunk[i].pool = p;
      chunk[i].next = p->free_list;
      p->free_list = &chunk[i];
      slots[p->nslots + i] = &chunk[i];
    }
    p->nslots += SLOT_CHUNK;
  }
  task_t *t = p->free_list;
  p->free_list = t->next;
  t->nrefs = 0;
  t->result = 0;
  return t;
}

/* Unpins the task's foreign views and returns it to the free list. */
static void put_task(napi_env env, pool_t *p, task_t *t) {
  for (unsigned i = 0; i < t->nrefs; i++)
    PENNY_NAPI_CALL_FATAL(napi_delete_reference(env, t->refs[i]));
  t->nrefs = 0;
  t->entry = NULL; /* marks the slot free for js_cancel */
  t->next = p->free_list;
  p->free_list = t;
}

static void set_pending(pool_t *p, size_t pending) {
  uint32_t count;
  if (p->pending == 0 && pending > 0) {
    /* A pending task keeps the process alive, and keeps lib/'s callback
     * (and through it the Pool) from being collected. */
    uv_ref((uv_handle_t *) &p->async);
    PENNY_NAPI_CALL_FATAL(napi_reference_ref(p->env, p->callback_ref,
                                             &count));
  } else if (p->pending > 0 && pending == 0) {
    uv_unref((uv_handle_t *) &p->async);
    PENNY_NAPI_CALL_FATAL(napi_reference_unref(p->env, p->callback_ref,
                                               &count));
  }
  p->pending = pending;
}

/* Takes every finished task and hands them to JS in batches. With
 * `call_js` false (teardown) the tasks are only recycled. */
static void drain(pool_t *p, bool call_js) {
  napi_env env = p->env;
  /* Acquire: pairs with the release CAS in task_done. */
  task_t *list = atomic_exchange_explicit(&p->done_head, NULL,
                                          memory_order_acquire);
  if (list == NULL)
    return;
  task_t *fifo = NULL; /* the stack is newest first; settle oldest first */
  while (list != NULL) {
    task_t *next = list->next;
    list->next = fifo;
    fifo = list;
    list = next;
  }

  napi_handle_scope scope;
  PENNY_NAPI_CALL_FATAL(napi_open_handle_scope(env, &scope));
  napi_value fn = NULL, recv = NULL, argv[1];
  if (call_js) {
    PENNY_NAPI_CALL_FATAL(napi_get_reference_value(env, p->callback_ref,
                                                   &fn));
    PENNY_NAPI_CALL_FATAL(napi_get_global(env, &recv)); /* must be an object */
  }
  p->draining = true;
  while (fifo != NULL) {
    uint32_t n = 0;
    for (; fifo != NULL && n < BATCH; n++) {
      task_t *t = fifo;
      fifo = t->next;
      p->results[3 * n] = t->slot;
      /* 1 marks a success without a result (a void kernel). */
      p->results[3 * n + 1] =
        t->status == 0 && t->entry->sig.result == PENNY_TYPE_NONE
          ? 1 : t->status;
      p->results[3 * n + 2] = t->result;
      if (t->status == 0)
        p->completed++;
      else if (t->status == PENNY_ECANCELED)
        p->cancelled++;
      else
        p->failed++;
      put_task(env, p, t);
    }
    /* Before the call: continuations run inside it may submit more. */
    set_pending(p, p->pending - n);
    if (fn == NULL)
      continue;
    PENNY_NAPI_CALL_FATAL(napi_create_uint32(env, n, &argv[0]));
    napi_value ret;
    napi_status st = napi_make_callback(env, p->actx, recv, fn, 1, argv,
                                        &ret);
    if (st == napi_pending_exception) {
      /* A throwing onComplete is a bug in lib/; report it as Node
       * reports any uncaught exception instead of losing it. */
      napi_value err;
      PENNY_NAPI_CALL_FATAL(napi_get_and_clear_last_exception(env, &err));
      PENNY_NAPI_CALL_FATAL(napi_fatal_exception(env, err));
    } else if (st != napi_ok) {
      PENNY_NAPI_CALL_FATAL(st);
    }
  }
  p->draining = false;
  PENNY_NAPI_CALL_FATAL(napi_close_handle_scope(env, scope));
}

/* Loop thread: libuv calls it after one or more uv_async_send. */
static void on_async(uv_async_t *handle) {
  pool_t *p = handle->data;
  if (p->state == POOL_OPEN)
    drain(p, true);
}

/* ---- Teardown. ---- */

static void pool_release(pool_t *p) {
  if (--p->owners > 0)
    return;
  for (size_t i = 0; i < p->nslots; i += SLOT_CHUNK)
    free(p->slots[i]);
  free(p->slots);
  free(p->table);
  free(p);
}

/* Loop thread: the async handle is closed; finishes a teardown that an
 * environment shutdown started. */
static void on_async_closed(uv_handle_t *handle) {
  pool_t *p = handle->data;
  if (p->hook != NULL) {
    PENNY_NAPI_CALL_FATAL(napi_remove_async_cleanup_hook(p->hook));
    p->hook = NULL;
  }
  pool_release(p);
}

/* Loop thread. Stops the workers (after the queued tasks finished, or
 * cancelling them), settles or recycles what they completed, drops the
 * references and closes the handle. Idempotent. */
static void pool_teardown(pool_t *p, unsigned destroy_flags, bool call_js,
                          bool keep_hook) {
  if (p->state != POOL_OPEN)
    return;
  /* Joins every worker: no task_done and no uv_async_send after this.
   * Cannot return EDEADLK: this is not a worker thread. */
  int rc = penny_pool_destroy(p->core, destroy_flags);
  if (rc != 0)
    napi_fatal_error("penny", NAPI_AUTO_LENGTH, penny_strerror(rc),
                     NAPI_AUTO_LENGTH);
  p->core = NULL;
  p->state = POOL_CLOSED;
  drain(p, call_js);
  /* Whatever drain could not hand to JS (no JS at teardown) is dropped:
   * the environment that would observe those promises is going away. */
  if (p->pending > 0)
    set_pending(p, 0);
  PENNY_NAPI_CALL_FATAL(napi_delete_reference(p->env, p->callback_ref));
  PENNY_NAPI_CALL_FATAL(napi_delete_reference(p->env, p->results_ref));
  PENNY_NAPI_CALL_FATAL(napi_delete_reference(p->env, p->arena_ref));
  PENNY_NAPI_CALL_FATAL(napi_async_destroy(p->env, p->actx));
  if (!keep_hook && p->hook != NULL) {
    PENNY_NAPI_CALL_FATAL(napi_remove_async_cleanup_hook(p->hook));
    p->hook = NULL;
  }
  uv_close((uv_handle_t *) &p->async, on_async_closed);
}

/* Loop thread, while the environment shuts down (process exit or
 * Worker.terminate()): queued tasks are cancelled, running kernels see
 * penny_cancelled(), and no thread is left behind. The hook is removed
 * once the handle has closed. */
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  pool_t *p = arg;
  (void) hook;
  pool_teardown(p, PENNY_DESTROY_CANCEL, false, true);
}

/* Loop thread, when the Pool's handle is garbage-collected. Only an idle
 * pool can be collected: a pending task keeps lib/'s callback, and with
 * it the handle, strongly referenced. */
static void finalize_pool(napi_env env, void *data, void *hint) {
  (void) env;
  (void) hint;
  pool_t *p = data;
  pool_teardown(p, PENNY_DESTROY_CANCEL, false, false);
  pool_release(p);
}

/* ---- Argument conversion (loop thread). ---- */

static pool_t *get_pool(napi_env env, napi_value v) {
  bool ok = false;
  napi_valuetype t;
  PENNY_NAPI_CALL(env, napi_typeof(env, v, &t));
  if (t == napi_function)
    PENNY_NAPI_CALL(env, napi_check_object_type_tag(env, v, &pool_tag, &ok));
  if (!ok) {
    throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "not a pool handle");
    return NULL;
  }
  void *data;
  PENNY_NAPI_CALL(env, napi_unwrap(env, v, &data));
  return data;
}

static const char *typeof_name(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok)
    return "a value";
  switch (t) {
  case napi_undefined: return "undefined";
  case napi_null: return "null";
  case napi_boolean: return "a boolean";
  case napi_number: return "a number";
  case napi_string: return "a string";
  case napi_symbol: return "a symbol";
  case napi_bigint: return "a bigint";
  case napi_function: return "a function";
  default: return "an object";
  }
}

static const char *const array_names[] = {
  "typed array", "Int8Array", "Uint8Array", "Int16Array", "Uint16Array",
  "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array",
  "Float32Array", "Float64Array"
};

static const size_t elem_size[] = { 0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8 };

/* napi's enum to PENNY_*; 0 for Uint8ClampedArray, which has no C type
 * of its own (its stores clamp) and so is refused. */
static int penny_type_of(napi_typedarray_type t) {
  switch (t) {
  case napi_int8_array: return PENNY_I8;
  case napi_uint8_array: return PENNY_U8;
  case napi_int16_array: return PENNY_I16;
  case napi_uint16_array: return PENNY_U16;
  case napi_int32_array: return PENNY_I32;
  case napi_uint32_array: return PENNY_U32;
  case napi_float32_array: return PENNY_F32;
  case napi_float64_array: return PENNY_F64;
  case napi_bigint64_array: return PENNY_I64;
  case napi_biguint64_array: return PENNY_U64;
  default: return 0;
  }
}

/* Fills t->args[i] from v, or throws and returns false. */
static bool convert_array(napi_env env, pool_t *p, const entry_t *e,
                          unsigned i, napi_value v, task_t *t) {
  const penny__param_t *pa = &e->sig.params[i];
  const char *kname = e->sig.name;
  bool is_ta = false;
  PENNY_NAPI_CALL_RET(env, napi_is_typedarray(env, v, &is_ta), false);
  if (!is_ta) {
    throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
               "%s: parameter '%s' must be a %s (%s[]), got %s", kname,
               pa->name, array_names[pa->type], penny__type_name(pa->type),
               typeof_name(env, v));
    return false;
  }
  napi_typedarray_type tt;
  size_t length, byte_offset;
  void *data;
  napi_value buffer;
  PENNY_NAPI_CALL_RET(env, napi_get_typedarray_info(env, v, &tt, &length,
                                                    &data, &buffer,
                                                    &byte_offset), false);
  int type = penny_type_of(tt);
  if (type == 0 || (pa->type != 0 && pa->type != type)) {
    throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
               "%s: parameter '%s' must be a %s (%s[]), got %s", kname,
               pa->name, array_names[pa->type], penny__type_name(pa->type),
               type ? array_names[type] : "Uint8ClampedArray");
    return false;
  }
  /* napi_is_arraybuffer is false for a SharedArrayBuffer: only those
   * cannot be detached or transferred while a worker writes. lib/ copies
   * views over ordinary buffers into the arena before it gets here. */
  bool is_ab = false;
  PENNY_NAPI_CALL_RET(env, napi_is_arraybuffer(env, buffer, &is_ab), false);
  if (is_ab) {
    throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
               "%s: parameter '%s' must be a view over a SharedArrayBuffer",
               kname, pa->name);
    return false;
  }
  size_t bytes = length * elem_size[type];
  uint8_t *d = data;
  if (length > 0 && d >= p->arena && d < p->arena + p->arena_bytes) {
    /* Views over the arena are pinned by the pool's own reference, but
     * must stay out of its control blocks. */
    if (d < p->arena + p->heap_start ||
        bytes > (size_t) (p->arena + p->arena_bytes - d)) {
      throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                 "%s: parameter '%s' overlaps the arena's reserved control "
                 "region; use pool.alloc()", kname, pa->name);
      return false;
    }
  } else if (length > 0) {
    PENNY_NAPI_CALL_RET(env, napi_create_reference(env, v, 1,
                                                   &t->refs[t->nrefs]),
                        false);
    t->nrefs++;
  }
  t->args[i].data = data;
  t->args[i].length = length;
  t->args[i].num = 0;
  t->args[i].type = type;
  return true;
}

static bool convert_scalar(napi_env env, const entry_t *e, unsigned i,
                           napi_value v, task_t *t) {
  const penny__param_t *pa = &e->sig.params[i];
  napi_valuetype vt;
  PENNY_NAPI_CALL_RET(env, napi_typeof(env, v, &vt), false);
  if (vt != napi_number) {
    throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
               "%s: parameter '%s' must be a number (%s), got %s",
               e->sig.name, pa->name, penny__type_name(pa->type),
               typeof_name(env, v));
    return false;
  }
  double d;
  PENNY_NAPI_CALL_RET(env, napi_get_value_double(env, v, &d), false);
  static const double lo[] = { 0, -128, 0, -32768, 0, -2147483648.0, 0 };
  static const double hi[] = { 0, 127, 255, 32767, 65535, 2147483647.0,
                               4294967295.0 };
  if (pa->type <= PENNY_U32) {
    if (d != d || d != (double) (long long) d) {
      throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                 "%s: parameter '%s' must be an integer (%s), got %g",
                 e->sig.name, pa->name, penny__type_name(pa->type), d);
      return false;
    }
    if (d < lo[pa->type] || d > hi[pa->type]) {
      throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                 "%s: parameter '%s' is out of range for %s: %.17g",
                 e->sig.name, pa->name, penny__type_name(pa->type), d);
      return false;
    }
  }
  t->args[i].data = NULL;
  t->args[i].length = 0;
  t->args[i].num = d;
  t->args[i].type = pa->type;
  return true;
}

/* ---- Exports. ---- */

static napi_value js_submit(napi_env env, napi_callback_info info);

/* JS thread: create(arenaView, threads, onComplete)
 *   -> [handle, heapStart, completions], where handle(kernel, ...args)
 *   submits a task and returns its slot. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  env_data_t *ed;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        (void **) &ed));
  if (argc < 3)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "create(arena, threads, onComplete)");

  bool is_ta = false, is_ab = true;
  PENNY_NAPI_CALL(env, napi_is_typedarray(env, argv[0], &is_ta));
  napi_typedarray_type tt = napi_int8_array;
  size_t length = 0, byte_offset;
  void *data = NULL;
  napi_value buffer;
  if (is_ta) {
    PENNY_NAPI_CALL(env, napi_get_typedarray_info(env, argv[0], &tt,
                                                  &length, &data, &buffer,
                                                  &byte_offset));
    PENNY_NAPI_CALL(env, napi_is_arraybuffer(env, buffer, &is_ab));
  }
  if (!is_ta || tt != napi_uint8_array || is_ab)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "the arena must be a Uint8Array over a "
                      "SharedArrayBuffer");
  uint32_t threads;
  napi_valuetype vt;
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[1], &vt));
  if (vt != napi_number)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "threads must be a number");
  double dthreads;
  PENNY_NAPI_CALL(env, napi_get_value_double(env, argv[1], &dthreads));
  if (!(dthreads >= 1 && dthreads <= 1024) ||
      dthreads != (double) (uint32_t) dthreads)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "threads must be an integer from 1 to 1024, got %g",
                      dthreads);
  threads = (uint32_t) dthreads;
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[2], &vt));
  if (vt != napi_function)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "onComplete must be a function");

  /* The pool's control blocks go at the start of the arena, 64-byte
   * aligned; the heap that pool.alloc() manages follows them. */
  penny_pool_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.threads = threads;
  opts.injector_capacity = 1u << 14;
  size_t mem_size;
  int rc = penny_pool_mem_size(&opts, &mem_size);
  if (rc != 0)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "%s",
                      penny_strerror(rc));
  uintptr_t base = (uintptr_t) data;
  size_t ctrl = (size_t) (((base + 63) & ~(uintptr_t) 63) - base);
  size_t heap_start = (ctrl + mem_size + 63) & ~(size_t) 63;
  if (heap_start + 64 > length)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "arenaBytes must be at least %zu for %u threads "
                      "(control blocks plus some heap), got %zu",
                      heap_start + 64, threads, length);
  opts.mem = (uint8_t *) data + ctrl;
  opts.mem_size = mem_size;

  pool_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_RANGE", "out of memory");
  p->env = env;
  p->arena = data;
  p->arena_bytes = length;
  p->heap_start = heap_start;
  p->table_len = penny__builtin_kernel_count;
  p->table = calloc(p->table_len, sizeof(entry_t));
  if (p->table == NULL) {
    free(p);
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_RANGE", "out of memory");
  }
  for (size_t i = 0; i < p->table_len; i++) {
    p->table[i].sig = ed->builtin_sigs[i];
    p->table[i].kernel = &penny__builtin_kernels[i];
  }
  atomic_init(&p->done_head, NULL);

  napi_value results_ab, results, name, handle;
  void *results_data;
  if (napi_create_arraybuffer(env, 3 * BATCH * sizeof(double),
                              &results_data, &results_ab) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, 3 * BATCH,
                             results_ab, 0, &results) != napi_ok ||
      napi_create_string_utf8(env, "penny", NAPI_AUTO_LENGTH,
                              &name) != napi_ok ||
      napi_async_init(env, NULL, name, &p->actx) != napi_ok) {
    throw_last_error(env, "create");
    free(p->table);
    free(p);
    return NULL;
  }
  p->results = results_data;

  rc = penny_pool_create(&p->core, &opts);
  if (rc != 0) {
    PENNY_NAPI_CALL_FATAL(napi_async_destroy(env, p->actx));
    free(p->table);
    free(p);
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_RANGE",
                      "could not start the pool: %s", penny_strerror(rc));
  }
  /* From here on a failure is fatal: unwinding a running pool halfway
   * through registration would be harder to get right than useful. */
  uv_loop_t *loop;
  PENNY_NAPI_CALL_FATAL(napi_get_uv_event_loop(env, &loop));
  if (uv_async_init(loop, &p->async, on_async) != 0)
    napi_fatal_error("penny", NAPI_AUTO_LENGTH, "uv_async_init failed",
                     NAPI_AUTO_LENGTH);
  p->async.data = p;
  uv_unref((uv_handle_t *) &p->async); /* idle pools keep nothing alive */
  p->owners = 2;
  PENNY_NAPI_CALL_FATAL(napi_create_reference(env, argv[0], 1,
                                              &p->arena_ref));
  PENNY_NAPI_CALL_FATAL(napi_create_reference(env, results, 1,
                                              &p->results_ref));
  PENNY_NAPI_CALL_FATAL(napi_create_reference(env, argv[2], 0,
                                              &p->callback_ref));
  PENNY_NAPI_CALL_FATAL(napi_add_async_cleanup_hook(env, on_env_cleanup, p,
                                                    &p->hook));
  /* The handle is the pool's own submit function: calling it skips the
   * unwrapping and tag check that every other entry point does. */
  PENNY_NAPI_CALL_FATAL(napi_create_function(env, "submit", NAPI_AUTO_LENGTH,
                                             js_submit, p, &handle));
  PENNY_NAPI_CALL_FATAL(napi_wrap(env, handle, p, finalize_pool, NULL,
                                  NULL));
  PENNY_NAPI_CALL_FATAL(napi_type_tag_object(env, handle, &pool_tag));

  napi_value out, heap;
  PENNY_NAPI_CALL(env, napi_create_array_with_length(env, 3, &out));
  PENNY_NAPI_CALL(env, napi_create_double(env, (double) heap_start, &heap));
  PENNY_NAPI_CALL(env, napi_set_element(env, out, 0, handle));
  PENNY_NAPI_CALL(env, napi_set_element(env, out, 1, heap));
  PENNY_NAPI_CALL(env, napi_set_element(env, out, 2, results));
  return out;
}

/* JS thread: handle(kernelIndex, ...args) -> slot. The pool handle that
 * create() returns is this function, bound to its pool. */
static napi_value js_submit(napi_env env, napi_callback_info info) {
  size_t argc = 2 + PENNY_MAX_ARGS;
  napi_value argv[2 + PENNY_MAX_ARGS];
  pool_t *p;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        (void **) &p));
  if (p->state != POOL_OPEN)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED", "pool is closed");
  int32_t index = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &index) != napi_ok ||
      index < 0 || (size_t) index >= p->table_len)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "unknown kernel index");
  const entry_t *e = &p->table[index];
  size_t nargs = argc - 1;
  if (nargs != e->sig.nparams)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "%s expects %u argument%s, got %s%zu", e->sig.name,
                      e->sig.nparams, e->sig.nparams == 1 ? "" : "s",
                      nargs > PENNY_MAX_ARGS ? "more than " : "",
                      nargs > PENNY_MAX_ARGS ? (size_t) PENNY_MAX_ARGS
                                             : nargs);
  task_t *t = take_task(p);
  if (t == NULL)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "too many tasks in flight");
  for (unsigned i = 0; i < nargs; i++) {
    bool ok = e->sig.params[i].is_array
                ? convert_array(env, p, e, i, argv[1 + i], t)
                : convert_scalar(env, e, i, argv[1 + i], t);
    if (!ok) {
      put_task(env, p, t);
      return NULL;
    }
  }
  if (e->kernel->check != NULL) {
    const char *msg = "invalid argument";
    int rc = e->kernel->check(t->args, &msg);
    if (rc != 0) {
      put_task(env, p, t);
      return rc == PENNY_EINVAL
        ? throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "%s: %s", e->sig.name,
                     msg)
        : throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "%s: %s",
                     e->sig.name, msg);
    }
  }
  t->entry = e;
  t->job.fn = task_run;
  t->job.arg = t;
  t->job.done = task_done;
  t->job.data = t;
  int32_t slot = t->slot;
  set_pending(p, p->pending + 1);
  int rc = penny_pool_submit(p->core, &t->job);
  if (rc != 0) {
    /* Cannot happen while the pool is open; kept honest anyway. */
    set_pending(p, p->pending - 1);
    put_task(env, p, t);
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED", "%s",
                      penny_strerror(rc));
  }
  p->submitted++;
  napi_value out;
  PENNY_NAPI_CALL(env, napi_create_int32(env, slot, &out));
  return out;
}

/* JS thread: cancel(handle, slot). A queued task will finish cancelled;
 * a running one sees penny_cancelled(). Either way its completion still
 * arrives through onComplete, after the workers are done with its
 * buffers. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        NULL));
  if (argc < 2)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "cancel(handle, slot)");
  pool_t *p = get_pool(env, argv[0]);
  if (p == NULL)
    return NULL;
  int32_t slot = -1;
  napi_valuetype vt;
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[1], &vt));
  if (vt == napi_number)
    PENNY_NAPI_CALL(env, napi_get_value_int32(env, argv[1], &slot));
  /* A record with an entry has been submitted and not yet drained, so
   * its job is alive (penny_job_cancel's requirement). */
  if (p->state == POOL_OPEN && slot >= 0 && (size_t) slot < p->nslots &&
      p->slots[slot]->entry != NULL)
    (void) penny_job_cancel(&p->slots[slot]->job); /* any outcome is fine */
  return NULL;
}

/* JS thread: close(handle). Lets queued and running tasks finish, hands
 * their completions to onComplete, stops the threads. lib/ calls it once
 * nothing is pending, so it does not block the loop. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        NULL));
  if (argc < 1)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "close(handle)");
  pool_t *p = get_pool(env, argv[0]);
  if (p == NULL)
    return NULL;
  if (p->draining)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_ARG",
                      "close() cannot run inside onComplete");
  pool_teardown(p, 0, true, false);
  return NULL;
}

static bool set_number(napi_env env, napi_value obj, const char *key,
                       double value) {
  napi_value v;
  return napi_create_double(env, value, &v) == napi_ok &&
         napi_set_named_property(env, obj, key, v) == napi_ok;
}

/* JS thread: stats(handle) -> counters. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        NULL));
  if (argc < 1)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "stats(handle)");
  pool_t *p = get_pool(env, argv[0]);
  if (p == NULL)
    return NULL;
  penny_stats_t s;
  memset(&s, 0, sizeof(s));
  if (p->core != NULL)
    (void) penny_pool_stats(p->core, PENNY_ALL_WORKERS, &s); /* cannot fail */
  napi_value obj;
  PENNY_NAPI_CALL(env, napi_create_object(env, &obj));
  if (!set_number(env, obj, "submitted", (double) p->submitted) ||
      !set_number(env, obj, "completed", (double) p->completed) ||
      !set_number(env, obj, "failed", (double) p->failed) ||
      !set_number(env, obj, "cancelled", (double) p->cancelled) ||
      !set_number(env, obj, "pending", (double) p->pending) ||
      !set_number(env, obj, "steals", (double) s.steals) ||
      !set_number(env, obj, "inlined", (double) s.inlined) ||
      !set_number(env, obj, "failedSteals", (double) s.failed_steals) ||
      !set_number(env, obj, "sleeps", (double) s.sleeps) ||
      !set_number(env, obj, "wakeups", (double) s.wakeups)) {
    throw_last_error(env, "stats");
    return NULL;
  }
  return obj;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value v;
  PENNY_NAPI_CALL(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
  return v;
}

/* JS thread: kernels(handle) -> [{ name, signature, result, params }] */
static napi_value js_kernels(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        NULL));
  if (argc < 1)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "kernels(handle)");
  pool_t *p = get_pool(env, argv[0]);
  if (p == NULL)
    return NULL;
  static const char *const dirs[] = { NULL, "in", "out", "inout" };
  napi_value list;
  PENNY_NAPI_CALL(env, napi_create_array_with_length(env, p->table_len,
                                                     &list));
  for (size_t i = 0; i < p->table_len; i++) {
    const penny__sig_t *sig = &p->table[i].sig;
    napi_value k, params, v;
    PENNY_NAPI_CALL(env, napi_create_object(env, &k));
    PENNY_NAPI_CALL(env, napi_create_array_with_length(env, sig->nparams,
                                                       &params));
    for (unsigned j = 0; j < sig->nparams; j++) {
      const penny__param_t *pa = &sig->params[j];
      napi_value param, b;
      PENNY_NAPI_CALL(env, napi_create_object(env, &param));
      if ((v = make_string(env, pa->name)) == NULL ||
          napi_set_named_property(env, param, "name", v) != napi_ok ||
          (v = make_string(env, penny__type_name(pa->type))) == NULL ||
          napi_set_named_property(env, param, "type", v) != napi_ok ||
          napi_get_boolean(env, pa->is_array, &b) != napi_ok ||
          napi_set_named_property(env, param, "array", b) != napi_ok ||
          (pa->dir != 0 &&
           ((v = make_string(env, dirs[pa->dir])) == NULL ||
            napi_set_named_property(env, param, "dir", v) != napi_ok)) ||
          napi_set_element(env, params, j, param) != napi_ok) {
        throw_last_error(env, "kernels");
        return NULL;
      }
    }
    if ((v = make_string(env, sig->name)) == NULL ||
        napi_set_named_property(env, k, "name", v) != napi_ok ||
        (v = make_string(env, p->table[i].kernel->signature)) == NULL ||
        napi_set_named_property(env, k, "signature", v) != napi_ok ||
        (v = make_string(env, sig->result ? "f64" : "void")) == NULL ||
        napi_set_named_property(env, k, "result", v) != napi_ok ||
        napi_set_named_property(env, k, "params", params) != napi_ok ||
        napi_set_element(env, list, (uint32_t) i, k) != napi_ok) {
      throw_last_error(env, "kernels");
      return NULL;
    }
  }
  return list;
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
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "strerror(code)");
  return make_string(env, penny_strerror(code));
}

/* ---- Module. ---- */

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
    return throw_code(env, ERR_PLAIN, NULL, "penny: out of memory");
  ed->builtin_sigs = calloc(penny__builtin_kernel_count,
                            sizeof(penny__sig_t));
  if (ed->builtin_sigs == NULL) {
    free(ed);
    return throw_code(env, ERR_PLAIN, NULL, "penny: out of memory");
  }
  for (size_t i = 0; i < penny__builtin_kernel_count; i++) {
    const char *err = NULL;
    if (penny__sig_parse(penny__builtin_kernels[i].signature,
                         &ed->builtin_sigs[i], &err) != 0)
      napi_fatal_error("penny", NAPI_AUTO_LENGTH, err, NAPI_AUTO_LENGTH);
  }
  if (napi_set_instance_data(env, ed, finalize_env_data, NULL) != napi_ok) {
    finalize_env_data(env, ed, NULL);
    throw_last_error(env, "napi_set_instance_data");
    return NULL;
  }
#define PENNY_EXPORT_(name) \
  { #name, NULL, js_##name, NULL, NULL, NULL, napi_enumerable, ed }
  const napi_property_descriptor props[] = {
    PENNY_EXPORT_(create),
    PENNY_EXPORT_(cancel),
    PENNY_EXPORT_(close),
    PENNY_EXPORT_(stats),
    PENNY_EXPORT_(kernels),
    PENNY_EXPORT_(strerror),
  };
#undef PENNY_EXPORT_
  PENNY_NAPI_CALL(env, napi_define_properties(env, exports,
                                              sizeof(props) / sizeof(*props),
                                              props));
  return exports;
}
