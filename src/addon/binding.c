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
 * Submissions take one of two paths. The fast one needs no native call:
 * lib/ writes the kernel index, the task's slot and up to three scalars or
 * arena views into a cell of a ring in the arena and publishes it with
 * Atomics.store; idle workers poll the ring (the core's penny_source_t),
 * copy the cell out of JS-writable memory and check it exactly as the slow
 * path checks napi values. The slow path, a call to the pool handle,
 * takes any arguments (views over other SharedArrayBuffers are pinned with
 * a reference) and serves whenever the ring is full. JS allocates slots;
 * each names a task record in C memory that only C writes.
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
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

#include "penny.h"
#include "signature.h"
#include "../core/platform.h"
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

/* For calls that cannot fail while the environment exists and take no
 * part in its teardown: a failure there is a broken invariant. */
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
  /* A throw fails when an exception is already pending, which then
   * propagates instead, or when the environment is going away (a Worker
   * terminating), where no JavaScript will see it: neither is an error. */
  (void) napi_throw_error(env, NULL, buf);
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
  /* As in throw_last_error, a failed throw is not an error. */
  if (cls == ERR_TYPE)
    (void) napi_throw_type_error(env, code, msg);
  else if (cls == ERR_RANGE)
    (void) napi_throw_range_error(env, code, msg);
  else
    (void) napi_throw_error(env, code, msg);
  return NULL;
}

/* ---- Per-environment state. ---- */

typedef struct {
  penny__sig_t *builtin_sigs; /* parsed once per environment */
} env_data_t;

/* A kernel as one pool's table holds it. Entries never move once
 * published: workers keep pointers to them. */
typedef struct {
  penny__sig_t sig;
  const penny_kernel_t *kernel;
} entry_t;

/* A plugin library one pool loaded, with its table entries. */
typedef struct plugin_lib_s {
  void *lib;
  entry_t *entries;
  struct plugin_lib_s *next;
} plugin_lib_t;

#define MAX_KERNELS 4096  /* per pool, built-ins and plugins together */

/* ---- Pools and task records. ---- */

/* How a task's kernel first failed through the plugin table: with a
 * message (now in msg), or with a code alone. */
enum { MSG_NONE, MSG_KERNEL, MSG_CODE };

#define BATCH 1024        /* completions handed to JS per call */
#define SLOT_CHUNK 1024   /* task records allocated at a time */
#define MAX_CHUNKS 4096   /* so at most 4M tasks in flight */
#define CHUNK_BYTES (SLOT_CHUNK * sizeof(task_t))
#define MSG_MAX 256       /* an argument error found on a worker, or a
                           * plugin kernel's failure message */

/* The submission ring: a SharedArrayBuffer of its own that lib/pool.js
 * keeps private, so no view a user can make reaches it (a stray write
 * into the public arena can garble data, never lose a task). A 64-byte
 * header, then a power of two of 64-byte cells; lib/pool.js writes it and
 * the offsets below are shared with it. */
#define RING_CELLS_MIN 256
#define RING_CELLS_MAX 16384
#define RING_CELL 64
#define RING_ARGS 3

/* One cell, as JS lays it out. `seq` is Vyukov's turn counter (int32,
 * wrapping) less the cell's index, so that zeroed memory is a free ring
 * and its pages are touched only when used: for position `pos` in cell
 * pos & mask, pos & ~mask means free for that lap and (pos & ~mask) + 1
 * published. `meta` holds the argument count in its low byte and the
 * element type of argument i (arrays) in byte i + 1. Each argument is
 * (value, 0) for a scalar and (byte offset in the arena, length) for an
 * array. */
typedef struct {
  int32_t seq;
  int32_t kernel;
  int32_t slot;
  uint32_t meta;
  double arg[RING_ARGS][2];
} ring_cell_t;

_Static_assert(sizeof(ring_cell_t) == RING_CELL, "ring cell layout");

/* Finished tasks travel back through a bounded MPSC ring in C memory
 * (Vyukov's cells again, seq less the cell's index as in the submission
 * ring, so that fresh zeroed pages are an empty ring and untouched until
 * used): workers write (slot, code, result), two cells to a cache line,
 * and the loop thread reads them in order. Only a task
 * that pins views (they must be unpinned on the loop thread), or one that
 * finds the ring full, goes on the record stack instead. */
#define DONE_CELLS 16384

typedef struct {
  _Atomic uint64_t seq;
  double result;
  int32_t slot;
  int32_t code;          /* what lib/ reads as the status; see js_code */
  uint64_t pad_;
} done_cell_t;

typedef struct {
  alignas(64) _Atomic uint64_t tail;   /* workers */
  alignas(64) uint64_t head;           /* the loop thread */
  alignas(64) done_cell_t cells[DONE_CELLS];
} done_ring_t;

typedef struct pool_s pool_t;
typedef struct task_s task_t;

/* The fields that submit, task_done and drain all touch share the cache
 * line after the job, so a record crosses between threads in few lines. */
struct task_s {
  alignas(64) penny_job_t job; /* job.arg = job.data = this record */
  task_t *next;           /* completion stack */
  pool_t *pool;
  const entry_t *entry;   /* NULL while the slot is free */
  int32_t slot;           /* lib/'s id for the task */
  int status;             /* written by the worker before the push */
  penny_result_t result;  /* written by the kernel */
  /* Claimed (1) from submit or ring_take until drain hands the slot
   * back: a slot that JS reuses too early is refused, not corrupted. */
  _Atomic int busy;
  _Atomic int cancel_req; /* js_cancel's request, for ring tasks */
  int rejected;           /* its arguments failed the checks; msg says */
  _Atomic int has_msg;    /* MSG_* : how a plugin kernel first failed */
  int reject_code;        /* PENNY_EINVAL or PENNY_ERANGE, when rejected */
  unsigned nrefs;         /* pinned views over foreign SharedArrayBuffers */
  penny_arg_t args[PENNY_MAX_ARGS];
  napi_ref refs[PENNY_MAX_ARGS];
  char msg[MSG_MAX];
};

/* NEW until create() has started everything; a pool that failed to
 * start stays NEW until its handle is collected. */
enum { POOL_NEW, POOL_OPEN, POOL_CLOSED };

struct pool_s {
  /* Loop thread only, unless noted. */
  napi_env env;
  penny_pool_t *core;
  int state;
  int owners;                  /* the JS external + the open uv handle */
  bool draining;               /* inside drain(): close must wait */
  bool js_gone;                /* a call into JS failed: the environment
                                * is going away, stop delivering */
  uv_async_t async;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
  napi_ref arena_ref;          /* Uint8Array over the arena, strong */
  napi_ref ring_ref;           /* Uint8Array over the ring, strong */
  napi_ref results_ref;        /* Float64Array of BATCH triples, strong;
                                * BATCH x 4 BigInt limbs follow them */
  napi_ref callback_ref;       /* onComplete: strong only while active */
  double *results;
  uint64_t *bigs;              /* BATCH x 4 limbs, after the triples */
  uint8_t *arena;
  size_t arena_bytes;
  /* The kernels: MAX_KERNELS pointers. Only the loop thread appends
   * (pool.load), and publishes the new length with a release store. */
  entry_t **table;
  _Atomic size_t table_len;
  entry_t *builtins;
  plugin_lib_t *plugins;
  /* Task records by slot: chunks[slot / SLOT_CHUNK], MAX_CHUNKS entries.
   * Only the loop thread adds chunks; nslots publishes them to ring_take
   * (release/acquire). */
  task_t **chunks;
  _Atomic uint32_t nslots;
  /* The ring: JS produces, workers (and teardown) consume. */
  uint8_t *ring;               /* in its own SharedArrayBuffer */
  uint32_t ring_cells;         /* a power of two */
  _Atomic uint64_t ring_head;  /* next cell to consume */
  bool active;                 /* lib/ has tasks pending (ref/unref) */
  uint64_t completed, failed, cancelled;
  /* Workers push finished tasks here; the loop thread takes them all. */
  _Atomic(task_t *) done_head;
  done_ring_t *done;
  /* Slots js_cancel touched, so drain can clear their request: a cancel
   * may arrive after the worker has finished and freed the record. */
  uint8_t *cancel_sent;
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

/* The status lib/ sees: 1 for a void kernel's success, 2 and 3 for a
 * task refused on a worker for a TypeError or a RangeError (js_message
 * returns why), 4 for a BigInt result (its limbs travel apart), 5 for a
 * kernel that failed (js_message says how), otherwise the task's status:
 * 0, or PENNY_ECANCELED. */
static int js_code(const task_t *t) {
  if (t->rejected)
    return t->reject_code == PENNY_EINVAL ? 2 : 3;
  if (t->status < 0 && t->status != PENNY_ECANCELED)
    return 5; /* task_done wrote the message */
  if (t->status == 0 && t->entry->sig.result == PENNY_TYPE_NONE)
    return 1;
  if (t->status == 0 && t->result.big)
    return 4;
  return t->status;
}

/* What a done cell's seq reads when it is free for position `pos` (see
 * done_cell_t); published is one more. */
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
    /* Acquire: pairs with drain's release of the cell; its read of the
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
    c->code = js_code(t);
    c->result = t->result.num;
    /* Release: whoever claims the slot next (after lib/ has seen the
     * completion, or a forged cell before that) sees the record as we
     * left it. We do not touch the record again. */
    atomic_store_explicit(&t->busy, 0, memory_order_release);
    /* Release: publishes the entry, and (through the joins that ended the
     * kernel) the kernel's writes, to drain's acquire load. */
    atomic_store_explicit(&c->seq, done_lap(pos) + 1, memory_order_release);
    return true;
  }
}

/* Runs on a worker thread, once per submitted task. */
static void task_done(penny_job_t *job, int status) {
  task_t *t = job->data;
  pool_t *p = t->pool;
  t->status = status;
  /* A failed kernel's message: its own, if the failure that won was the
   * one that gave it, else the code's. Relaxed: the joins that ended the
   * kernel ordered the failing worker's writes before this. */
  if (!t->rejected && status < 0 && status != PENNY_ECANCELED &&
      !(status == PENNY_EKERNEL &&
        atomic_load_explicit(&t->has_msg, memory_order_relaxed) ==
          MSG_KERNEL))
    snprintf(t->msg, sizeof(t->msg), "%s failed: %s",
             t->entry != NULL ? t->entry->sig.name : "kernel",
             penny_strerror(status));
  /* A BigInt result does not fit a done cell: it takes the stack. */
  if (t->nrefs > 0 || t->result.big || !done_ring_push(p, t)) {
    task_t *head = atomic_load_explicit(&p->done_head, memory_order_relaxed);
    do {
      t->next = head;
      /* Release: publishes the status, the result and (through the joins
       * that ended the kernel) its writes to the acquire exchange in
       * drain(). Only whole-stack exchanges consume, so there is no ABA. */
    } while (!atomic_compare_exchange_weak_explicit(&p->done_head, &head, t,
                                                    memory_order_release,
                                                    memory_order_relaxed));
  }
  /* The pool outlives this call: teardown joins every worker before it
   * closes the handle. uv_async_send cannot fail on an open handle. */
  (void) uv_async_send(&p->async);
}

/* ---- Task records. ---- */

static task_t *slot_task(pool_t *p, uint32_t slot) {
  return &p->chunks[slot / SLOT_CHUNK][slot % SLOT_CHUNK];
}

/* Any thread: claims the record of `slot`, or returns NULL if there is no
 * such slot or it is in use. */
static task_t *claim_slot(pool_t *p, double slot) {
  /* Acquire: pairs with the release in js_grow; the chunk is set up. */
  uint32_t n = atomic_load_explicit(&p->nslots, memory_order_acquire);
  if (!(slot >= 0 && slot < n) || slot != (double) (uint32_t) slot)
    return NULL;
  task_t *t = slot_task(p, (uint32_t) slot);
  int expected = 0;
  /* Acquire: pairs with the release in release_task, so the claimer sees
   * the record as the last user left it. */
  if (!atomic_compare_exchange_strong_explicit(&t->busy, &expected, 1,
                                               memory_order_acquire,
                                               memory_order_relaxed))
    return NULL;
  t->slot = (int32_t) slot;
  t->pool = p;
  t->nrefs = 0;
  memset(&t->result, 0, sizeof(t->result));
  t->rejected = 0;
  atomic_store_explicit(&t->has_msg, MSG_NONE, memory_order_relaxed);
  t->entry = NULL;
  return t;
}

/* Loop thread: a finished slot forgets a cancel request that js_cancel
 * made for it. Relaxed: the slot's next task is published to a worker by
 * a later release (ring) or by the claim on this thread (submit). */
static void clear_cancel(pool_t *p, uint32_t slot) {
  if (p->cancel_sent[slot]) {
    p->cancel_sent[slot] = 0;
    atomic_store_explicit(&slot_task(p, slot)->cancel_req, 0,
                          memory_order_relaxed);
  }
}

/* Loop thread: unpins the task's foreign views and frees its slot. */
static void release_task(napi_env env, pool_t *p, task_t *t) {
  /* Deleting a reference runs no JavaScript; should it fail at teardown,
   * the environment frees its references itself. */
  for (unsigned i = 0; i < t->nrefs; i++)
    (void) napi_delete_reference(env, t->refs[i]);
  t->nrefs = 0;
  t->entry = NULL;
  clear_cancel(p, (uint32_t) t->slot);
  /* Release: our writes to the record happen before the next claim. */
  atomic_store_explicit(&t->busy, 0, memory_order_release);
}

/* lib/ says whether it has tasks pending (it counts them; ring tasks
 * reach C only on a worker). While it has, the handle keeps the process
 * alive and lib/'s callback, and with it the Pool, cannot be collected. */
static void set_active(pool_t *p, bool active) {
  uint32_t count;
  if (active == p->active)
    return;
  p->active = active;
  /* Neither call runs JavaScript; a failure would mean a torn-down
   * environment, where keeping the callback alive no longer matters. */
  if (active) {
    uv_ref((uv_handle_t *) &p->async);
    (void) napi_reference_ref(p->env, p->callback_ref, &count);
  } else {
    uv_unref((uv_handle_t *) &p->async);
    (void) napi_reference_unref(p->env, p->callback_ref, &count);
  }
}

/* Counts a completion by the code lib/ will see. */
static void count_code(pool_t *p, int code) {
  if (code == 0 || code == 1 || code == 4)
    p->completed++;
  else if (code == PENNY_ECANCELED)
    p->cancelled++;
  else if (code < 0 || code == 5)
    p->failed++;
  /* 2 and 3: refused before it ran, a bad call rather than a task. */
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

/* Loop thread: takes the finished tasks, from the done ring and the
 * record stack, and hands them to JS in batches; with `call_js` false
 * (teardown) they are only recycled. The ring is read only up to where it
 * stood on entry, so that tasks which continuations keep submitting
 * cannot hold the loop here forever. */
static void drain(pool_t *p, bool call_js) {
  napi_env env = p->env;
  done_ring_t *d = p->done;
  uint64_t limit = atomic_load_explicit(&d->tail, memory_order_relaxed);
  /* Acquire: pairs with the release CAS in task_done. */
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
    int32_t slot = c->slot, code = c->code;
    p->results[3 * n] = slot;
    p->results[3 * n + 1] = code;
    p->results[3 * n + 2] = c->result;
    /* Release: our reads are done before a worker reuses the cell. */
    atomic_store_explicit(&c->seq, done_lap(d->head) + DONE_CELLS,
                          memory_order_release);
    d->head++;
    clear_cancel(p, (uint32_t) slot);
    count_code(p, code);
    if (++n == BATCH) {
      call_on_complete(p, fn, recv, n);
      n = 0;
    }
  }
  while (fifo != NULL) {
    task_t *t = fifo;
    fifo = t->next;
    int code = js_code(t);
    p->results[3 * n] = t->slot;
    p->results[3 * n + 1] = code;
    p->results[3 * n + 2] = t->result.num;
    if (code == 4)
      memcpy(&p->bigs[4 * n], t->result.limbs, sizeof(t->result.limbs));
    count_code(p, code);
    release_task(env, p, t);
    if (++n == BATCH) {
      call_on_complete(p, fn, recv, n);
      n = 0;
    }
  }
  call_on_complete(p, fn, recv, n);
  p->draining = false;
  if (scope != NULL)
    (void) napi_close_handle_scope(env, scope); /* nothing to undo */
}

/* Loop thread: libuv calls it after one or more uv_async_send. */
static void on_async(uv_async_t *handle) {
  pool_t *p = handle->data;
  if (p->state == POOL_OPEN)
    drain(p, true);
}

/* ---- Plugins: the table Penny hands them, and their libraries. ---- */

/* Any worker: claims the first failure of the current task for a message
 * (MSG_KERNEL) or a code alone (MSG_CODE); the task that runs on `w`, or
 * NULL when it lost or there is none. */
static task_t *claim_failure(penny_worker_t *w, int how) {
  penny_job_t *job = penny_worker_job(w);
  if (job == NULL)
    return NULL;
  task_t *t = job->data; /* every job of the binding's pools is a record */
  int expected = MSG_NONE;
  /* Relaxed: one claimer wins; the joins that end the kernel order its
   * writes before the task completes. */
  return atomic_compare_exchange_strong_explicit(&t->has_msg, &expected,
                                                 how, memory_order_relaxed,
                                                 memory_order_relaxed)
    ? t : NULL;
}

/* Any worker: penny_fail for plugins, which keeps the first failure the
 * one reported when a message comes later. */
static void host_fail(penny_worker_t *w, int err) {
  if (err >= 0)
    return;
  claim_failure(w, MSG_CODE);
  penny_fail(w, err);
}

/* Any worker: fails the current task with a message (penny_api_t). */
static void host_fail_message(penny_worker_t *w, const char *msg) {
  task_t *t = claim_failure(w, MSG_KERNEL);
  if (t != NULL) {
    if (msg == NULL || *msg == '\0')
      msg = "kernel failed";
    size_t n = strlen(msg);
    if (n > MSG_MAX - 1) {
      n = MSG_MAX - 1;
      /* Do not cut a UTF-8 sequence (at most 3 continuation bytes). */
      while (n > MSG_MAX - 4 && ((unsigned char) msg[n] & 0xc0) == 0x80)
        n--;
    }
    memcpy(t->msg, msg, n);
    t->msg[n] = '\0';
  }
  penny_fail(w, PENNY_EKERNEL);
}

static const penny_api_t host_api = {
  PENNY_PLUGIN_ABI, sizeof(penny_api_t),
  penny_spawn, penny_sync, penny_join, penny_for, penny_cancelled,
  host_fail, host_fail_message, penny_worker_index, penny_worker_count
};

/* Opens a shared library; NULL with a reason in err. */
static void *lib_open(const char *path, char *err, size_t errlen) {
#if defined(_WIN32)
  HMODULE h = LoadLibraryA(path);
  if (h == NULL)
    snprintf(err, errlen, "LoadLibrary failed with error %lu",
             (unsigned long) GetLastError());
  return (void *) h;
#else
  /* RTLD_LOCAL: a plugin's symbols never resolve another plugin's. */
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *why = dlerror();
    snprintf(err, errlen, "%s", why ? why : "dlopen failed");
  }
  return h;
#endif
}

static void *lib_symbol(void *lib, const char *name) {
#if defined(_WIN32)
  return (void *) GetProcAddress((HMODULE) lib, name);
#else
  return dlsym(lib, name);
#endif
}

static void lib_close(void *lib) {
#if defined(_WIN32)
  FreeLibrary((HMODULE) lib);
#else
  dlclose(lib);
#endif
}

/* Checks a plugin's kernels and parses their signatures into `entries`;
 * NULL, or a reason in err. Changes nothing in the pool. */
static const char *plugin_entries(const pool_t *p, const penny_plugin_t *d,
                                  entry_t *entries, char *err,
                                  size_t errlen) {
  size_t len = atomic_load_explicit(&p->table_len, memory_order_relaxed);
  for (uint32_t i = 0; i < d->count; i++) {
    const penny_kernel_t *k = &d->kernels[i];
    const char *why = NULL;
    if (k->signature == NULL || k->fn == NULL) {
      snprintf(err, errlen, "kernel #%u has no %s", i,
               k->signature == NULL ? "signature" : "function");
      return err;
    }
    if (penny__sig_parse(k->signature, &entries[i].sig, &why) != 0) {
      snprintf(err, errlen, "kernel #%u has a malformed signature \"%.80s\":"
               " %s", i, k->signature, why);
      return err;
    }
    entries[i].kernel = k;
    const char *name = entries[i].sig.name;
    for (size_t j = 0; j < len; j++)
      if (strcmp(p->table[j]->sig.name, name) == 0) {
        snprintf(err, errlen, "kernel '%s' clashes with a kernel of the "
                 "same name already in the pool", name);
        return err;
      }
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(entries[j].sig.name, name) == 0) {
        snprintf(err, errlen, "kernel '%s' is declared twice", name);
        return err;
      }
  }
  return NULL;
}

/* Loop thread: opens the plugin at `path` and appends its kernels to the
 * pool's table; all or nothing. Returns NULL, or the reason it failed
 * (in err). On success *first is the index of its first kernel. */
static const char *plugin_load(pool_t *p, const char *path, size_t *first,
                               char *err, size_t errlen) {
  char why[512];
  void *lib = lib_open(path, why, sizeof(why));
  if (lib == NULL) {
    snprintf(err, errlen, "cannot load %.200s: %.250s", path, why);
    return err;
  }
  penny_plugin_entry_fn entry;
  void *sym = lib_symbol(lib, PENNY_PLUGIN_ENTRY_NAME);
  memcpy(&entry, &sym, sizeof(entry)); /* object to function pointer */
  const penny_plugin_t *d = NULL;
  entry_t *entries = NULL;
  plugin_lib_t *node = NULL;
  size_t len = atomic_load_explicit(&p->table_len, memory_order_relaxed);
  if (sym == NULL) {
    snprintf(err, errlen, "%.200s is not a Penny plugin: it does not export "
             "%s()", path, PENNY_PLUGIN_ENTRY_NAME);
  } else if ((d = entry(PENNY_PLUGIN_ABI, &host_api)) == NULL) {
    snprintf(err, errlen, "%.200s: %s() returned NULL", path,
             PENNY_PLUGIN_ENTRY_NAME);
  } else if (d->abi != PENNY_PLUGIN_ABI) {
    snprintf(err, errlen, "%.200s was built for plugin ABI %u, and this Penny "
             "speaks %u: rebuild it against this version's penny.h", path,
             (unsigned) d->abi, (unsigned) PENNY_PLUGIN_ABI);
  } else if (d->count == 0 || d->kernels == NULL) {
    snprintf(err, errlen, "%.200s declares no kernels", path);
  } else if (d->count > MAX_KERNELS - len) {
    snprintf(err, errlen, "%.200s: a pool holds at most %d kernels", path,
             MAX_KERNELS);
  } else if ((entries = calloc(d->count, sizeof(entry_t))) == NULL ||
             (node = calloc(1, sizeof(*node))) == NULL) {
    snprintf(err, errlen, "%.200s: out of memory", path);
  } else if (plugin_entries(p, d, entries, why, sizeof(why)) != NULL) {
    snprintf(err, errlen, "%.200s: %.250s", path, why);
  } else {
    for (uint32_t i = 0; i < d->count; i++)
      p->table[len + i] = &entries[i];
    /* Release: workers that see the new length (acquire in check_cell)
     * see the entries. */
    atomic_store_explicit(&p->table_len, len + d->count,
                          memory_order_release);
    node->lib = lib;
    node->entries = entries;
    node->next = p->plugins;
    p->plugins = node;
    *first = len;
    return NULL;
  }
  free(node);
  free(entries);
  lib_close(lib);
  return err;
}

/* ---- Teardown. ---- */

static penny_job_t *ring_take(void *ctx);

/* Loop thread: frees what only a running pool needs (task records, the
 * completion ring, the kernel table, plugin libraries) once its workers
 * are joined, so that close() returns the memory at once rather than at
 * garbage collection. What stays is the small shell that the JS handle
 * and the closing uv handle point to. Idempotent; safe on a pool that
 * never started. */
static void pool_free_body(pool_t *p) {
  if (p->chunks != NULL)
    for (size_t i = 0; i < MAX_CHUNKS && p->chunks[i] != NULL; i++)
      penny__pages_free(p->chunks[i], CHUNK_BYTES);
  free(p->chunks);
  p->chunks = NULL;
  atomic_store_explicit(&p->nslots, 0, memory_order_relaxed); /* no reader */
  free(p->cancel_sent);
  p->cancel_sent = NULL;
  penny__pages_free(p->done, sizeof(done_ring_t));
  p->done = NULL;
  free(p->table);
  p->table = NULL;
  atomic_store_explicit(&p->table_len, 0, memory_order_relaxed);
  free(p->builtins);
  p->builtins = NULL;
  /* The workers are joined: no plugin code can be running. */
  while (p->plugins != NULL) {
    plugin_lib_t *lib = p->plugins;
    p->plugins = lib->next;
    lib_close(lib->lib);
    free(lib->entries);
    free(lib);
  }
}

/* Loop thread: drops one of the pool's owners (the JS handle, the open uv
 * handle); the last one frees it. */
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
                       &p->ring_ref };
  for (size_t i = 0; i < sizeof(refs) / sizeof(*refs); i++)
    if (*refs[i] != NULL) {
      (void) napi_delete_reference(p->env, *refs[i]);
      *refs[i] = NULL;
    }
  if (p->actx != NULL) {
    (void) napi_async_destroy(p->env, p->actx); /* as above */
    p->actx = NULL;
  }
}

/* Loop thread: the async handle is closed; finishes a teardown that an
 * environment shutdown started. */
static void on_async_closed(uv_handle_t *handle) {
  pool_t *p = handle->data;
  if (p->hook != NULL) {
    /* Cannot fail for a hook that is registered. */
    (void) napi_remove_async_cleanup_hook(p->hook);
    p->hook = NULL;
  }
  pool_release(p);
}

/* Loop thread. Stops the workers (after the queued tasks finished, or
 * cancelling them), settles or recycles what they completed, drops the
 * references, frees the pool's body and closes the handle. Idempotent. */
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
  /* Tasks still in the ring were never taken: they settle as cancelled
   * (rejected ones keep their argument error). At most one lap: only
   * lib/ writes the ring, and it writes no more once closed. */
  penny_job_t *job;
  for (unsigned i = 0; i < p->ring_cells && (job = ring_take(p)) != NULL;
       i++) {
    task_t *t = job->data;
    task_done(job, t->rejected ? t->reject_code : PENNY_ECANCELED);
  }
  drain(p, call_js);
  /* Whatever drain could not hand to JS (no JS at teardown) is dropped:
   * the environment that would observe those promises is going away. */
  set_active(p, false);
  /* Nothing reads the ring again (lib/ drops it at close), but its buffer
   * is freed only when collected: its pages go back now. */
  penny__pages_discard(p->ring, 64 + (size_t) p->ring_cells * RING_CELL);
  drop_refs(p);
  pool_free_body(p);
  if (!keep_hook && p->hook != NULL) {
    (void) napi_remove_async_cleanup_hook(p->hook); /* registered: ok */
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
  p->js_gone = true;
  pool_teardown(p, PENNY_DESTROY_CANCEL, false, true);
}

/* Loop thread, when the Pool's handle is garbage-collected (or the
 * environment frees it). Only an idle pool can be collected: a pending
 * task keeps lib/'s callback, and with it the handle, strongly
 * referenced. A pool whose start failed was never opened. */
static void finalize_pool(napi_env env, void *data, void *hint) {
  (void) env;
  (void) hint;
  pool_t *p = data;
  pool_teardown(p, PENNY_DESTROY_CANCEL, false, false);
  drop_refs(p);
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

/* The common start of every entry point that takes a pool handle first:
 * reads `want` arguments into argv (the handle is argv[0]) and unwraps the
 * pool. NULL, with an exception pending, when a call does not fit `usage`. */
static pool_t *pool_args(napi_env env, napi_callback_info info, size_t want,
                         napi_value *argv, const char *usage) {
  size_t argc = want;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < want) {
    throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "%s", usage);
    return NULL;
  }
  return get_pool(env, argv[0]);
}

static const char *typeof_name(napi_env env, napi_value v) {
  napi_valuetype t;
  bool is_array = false;
  if (napi_typeof(env, v, &t) != napi_ok)
    return "a value";
  if (t == napi_object && napi_is_array(env, v, &is_array) == napi_ok &&
      is_array)
    return "an array";
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

/* Checks one argument against parameter i of e and fills *out. Returns 0,
 * or PENNY_EINVAL (wrong kind) / PENNY_ERANGE (bad size or value) with a
 * message in t->msg. Plain C: both submission paths use it. */
static int arg_error(task_t *t, int code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int arg_error(task_t *t, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
  va_end(ap);
  return code;
}

/* A number as JavaScript prints it, for messages: NaN and Infinity rather
 * than C's nan and inf, and integers without an exponent. */
static const char *js_number(double d, char *buf, size_t size) {
  if (d != d)
    return "NaN";
  if (isinf(d))
    return d > 0 ? "Infinity" : "-Infinity";
  snprintf(buf, size, "%.17g", d);
  return buf;
}

static int check_scalar(const entry_t *e, unsigned i, double d, task_t *t) {
  const penny__param_t *pa = &e->sig.params[i];
  static const double lo[] = { 0, -128, 0, -32768, 0, -2147483648.0, 0 };
  static const double hi[] = { 0, 127, 255, 32767, 65535, 2147483647.0,
                               4294967295.0 };
  if (pa->type <= PENNY_U32) {
    char num[32];
    if (!isfinite(d) || d != trunc(d)) /* as Number.isInteger */
      return arg_error(t, PENNY_EINVAL,
                       "%s: parameter '%s' must be an integer (%s), got %s",
                       e->sig.name, pa->name, penny__type_name(pa->type),
                       js_number(d, num, sizeof(num)));
    if (d < lo[pa->type] || d > hi[pa->type])
      return arg_error(t, PENNY_ERANGE,
                       "%s: parameter '%s' is out of range for %s: %s",
                       e->sig.name, pa->name, penny__type_name(pa->type),
                       js_number(d, num, sizeof(num)));
  }
  t->args[i].data = NULL;
  t->args[i].length = 0;
  t->args[i].num = d;
  t->args[i].type = pa->type;
  return 0;
}

/* `type` is the actual element type (0: one kernels cannot take). Sets
 * *in_arena when the elements lie in the arena's data area. */
static int check_array(pool_t *p, const entry_t *e, unsigned i, int type,
                       void *data, size_t length, task_t *t, bool *in_arena) {
  const penny__param_t *pa = &e->sig.params[i];
  if (type == 0 || (pa->type != 0 && pa->type != type))
    return arg_error(t, PENNY_EINVAL,
                     "%s: parameter '%s' must be a %s (%s[]), got %s",
                     e->sig.name, pa->name, array_names[pa->type],
                     penny__type_name(pa->type),
                     type ? array_names[type] : "Uint8ClampedArray");
  uint8_t *d = data;
  if (length > SIZE_MAX / penny__elem_size(type))
    return arg_error(t, PENNY_ERANGE, "%s: parameter '%s' is too long",
                     e->sig.name, pa->name);
  size_t bytes = length * penny__elem_size(type);
  *in_arena = length > 0 && d >= p->arena && d < p->arena + p->arena_bytes;
  /* Views over the arena are pinned by the pool's own reference. One
   * that starts inside it ends inside it too: the engine's views always
   * do, a ring cell is checked against this. */
  if (*in_arena && bytes > (size_t) (p->arena + p->arena_bytes - d))
    return arg_error(t, PENNY_ERANGE,
                     "%s: parameter '%s' extends past the end of the arena",
                     e->sig.name, pa->name);
  /* Kernels tell an array from a scalar by a non-NULL data pointer (see
   * penny_f64 and its siblings), also for an empty array; one address per
   * parameter, so that two empty arrays never look like one. */
  static const uint64_t empty_arrays[PENNY_MAX_ARGS]; /* read-only */
  t->args[i].data = data != NULL ? data : (void *) &empty_arrays[i];
  t->args[i].length = length;
  t->args[i].num = 0;
  t->args[i].type = type;
  return 0;
}

/* The kernel's own pre-flight check, once every argument is converted. */
static int check_kernel(const entry_t *e, task_t *t) {
  if (e->kernel->check == NULL)
    return 0;
  const char *msg = "invalid argument";
  int rc = e->kernel->check(t->args, &msg);
  if (rc != 0)
    return arg_error(t, rc == PENNY_EINVAL ? PENNY_EINVAL : PENNY_ERANGE,
                     "%s: %s", e->sig.name, msg);
  return 0;
}

/* Throws the error that a check above described. */
static void throw_check(napi_env env, int rc, task_t *t) {
  if (rc == PENNY_EINVAL)
    throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "%s", t->msg);
  else
    throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "%s", t->msg);
}

/* Loop thread: fills t->args[i] from a napi value, or throws and returns
 * false. */
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
  bool in_arena;
  int rc = check_array(p, e, i, penny_type_of(tt), data, length, t,
                       &in_arena);
  if (rc != 0) {
    throw_check(env, rc, t);
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
  if (!in_arena && length > 0) {
    PENNY_NAPI_CALL_RET(env, napi_create_reference(env, v, 1,
                                                   &t->refs[t->nrefs]),
                        false);
    t->nrefs++;
  }
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
  int rc = check_scalar(e, i, d, t);
  if (rc != 0) {
    throw_check(env, rc, t);
    return false;
  }
  return true;
}

/* ---- The ring (penny_source_t). ---- */

static ring_cell_t *ring_cell(pool_t *p, uint64_t pos) {
  return (ring_cell_t *) (void *) (p->ring + 64 +
                                   (pos & (p->ring_cells - 1)) * RING_CELL);
}

/* What a cell's seq reads when it is free for position `pos`: the turn
 * counter less the cell's index (see ring_cell_t). Published is one more. */
static int32_t ring_lap(const pool_t *p, uint64_t pos) {
  return (int32_t) (uint32_t) (pos & ~(uint64_t) (p->ring_cells - 1));
}

static _Atomic int32_t *ring_sleepy(pool_t *p) {
  return (_Atomic int32_t *) (void *) p->ring;
}

/* A job whose arguments failed the checks: it fails at once, so that its
 * promise rejects through the usual completion path. */
static void task_reject(penny_worker_t *w, void *arg) {
  task_t *t = arg;
  penny_fail(w, t->reject_code);
}

/* Checks a cell copied out of the ring against the kernel's signature. */
static int check_cell(pool_t *p, const ring_cell_t *c, task_t *t) {
  /* Acquire: pairs with js_load's release; the entries are set up. */
  size_t nkernels = atomic_load_explicit(&p->table_len, memory_order_acquire);
  if (c->kernel < 0 || (size_t) c->kernel >= nkernels)
    return arg_error(t, PENNY_ERANGE, "unknown kernel index %d", c->kernel);
  const entry_t *e = p->table[c->kernel];
  t->entry = e;
  unsigned nargs = c->meta & 0xff;
  if (nargs != e->sig.nparams || nargs > RING_ARGS)
    return arg_error(t, PENNY_EINVAL, "%s expects %u argument%s, got %u",
                     e->sig.name, e->sig.nparams,
                     e->sig.nparams == 1 ? "" : "s", nargs);
  for (unsigned i = 0; i < nargs; i++) {
    int rc;
    if (!e->sig.params[i].is_array) {
      rc = check_scalar(e, i, c->arg[i][0], t);
    } else {
      int type = (int) ((c->meta >> (8 * (i + 1))) & 0xff);
      double off = c->arg[i][0], len = c->arg[i][1];
      if (type > PENNY_F64)
        type = 0;
      size_t size = type ? penny__elem_size(type) : 1;
      /* Offsets and lengths are checked as doubles first, so that no
       * conversion below can wrap. */
      if (!(off >= 0 && off <= (double) p->arena_bytes &&
            off == (double) (size_t) off && (size_t) off % size == 0 &&
            len >= 0 && len * (double) size <= (double) p->arena_bytes - off &&
            len == (double) (size_t) len))
        return arg_error(t, PENNY_ERANGE,
                         "%s: parameter '%s' is not a view inside the arena",
                         e->sig.name, e->sig.params[i].name);
      bool in_arena;
      rc = check_array(p, e, i, type, p->arena + (size_t) off, (size_t) len,
                       t, &in_arena);
      if (rc == 0 && !in_arena && len > 0)
        rc = arg_error(t, PENNY_ERANGE,
                       "%s: parameter '%s' is not a view inside the arena",
                       e->sig.name, e->sig.params[i].name);
    }
    if (rc != 0)
      return rc;
  }
  return check_kernel(e, t);
}

/* Worker thread (and teardown on the loop thread): the core's source.
 * Takes the next published cell, copies it out of JS-writable memory,
 * frees the cell, and turns it into a job: one that runs the kernel, or
 * one that rejects the task when its arguments are wrong. */
static penny_job_t *ring_take(void *ctx) {
  pool_t *p = ctx;
  for (;;) {
    uint64_t pos = atomic_load_explicit(&p->ring_head, memory_order_relaxed);
    ring_cell_t *cell;
    for (;;) {
      cell = ring_cell(p, pos);
      /* Acquire: pairs with lib/'s Atomics.store of seq, which publishes
       * the cell's other words. */
      int32_t seq = atomic_load_explicit((_Atomic int32_t *) &cell->seq,
                                         memory_order_acquire);
      int32_t dif = (int32_t) ((uint32_t) seq -
                               (uint32_t) (ring_lap(p, pos) + 1));
      if (dif < 0)
        return NULL; /* empty */
      if (dif > 0) {
        /* Another consumer took this cell: its CAS moved the head, which
         * our acquire of seq makes visible. An unmoved head means a seq
         * that no lap of the producer wrote: JS scribbled on the ring.
         * Give up rather than spin on it. */
        uint64_t head = atomic_load_explicit(&p->ring_head,
                                             memory_order_relaxed);
        if (head == pos)
          return NULL;
        pos = head;
        continue;
      }
      /* Relaxed: the CAS only claims the cell; seq carried the data. */
      if (atomic_compare_exchange_weak_explicit(&p->ring_head, &pos, pos + 1,
                                                memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    }
    ring_cell_t c;
    memcpy(&c, cell, sizeof(c));
    /* Release: our copy is taken before lib/ reuses the cell a lap later
     * (it checks seq with Atomics.load). */
    atomic_store_explicit((_Atomic int32_t *) &cell->seq,
                          (int32_t) ((uint32_t) ring_lap(p, pos) +
                                     p->ring_cells),
                          memory_order_release);
    task_t *t = claim_slot(p, c.slot);
    if (t == NULL) {
      /* No such slot, or one in use: only a broken producer writes
       * that. Dropping the cell is safe; there is no task to settle. */
      continue;
    }
    int rc = check_cell(p, &c, t);
    t->job.arg = t;
    t->job.done = task_done;
    t->job.data = t;
    penny_job_reset(&t->job);
    if (rc != 0) {
      t->rejected = 1;
      t->reject_code = rc;
      t->job.fn = task_reject;
      return &t->job;
    }
    t->job.fn = task_run;
    /* SeqCst (after penny_job_reset's SeqCst store): pairs with js_cancel,
     * which publishes its request before penny_job_cancel; one of us
     * sees the other, so the request is never lost. */
    if (atomic_load_explicit(&t->cancel_req, memory_order_seq_cst))
      (void) penny_job_cancel(&t->job);
    return &t->job;
  }
}

/* Worker thread, about to sleep (see penny_source_t): announces it in the
 * ring's header, then looks for a published cell. */
static int ring_ready(void *ctx) {
  pool_t *p = ctx;
  /* SeqCst store then SeqCst load: pairs with lib/'s Atomics.store of a
   * cell's seq followed by its Atomics.load of this word. */
  atomic_store_explicit(ring_sleepy(p), 1, memory_order_seq_cst);
  uint64_t pos = atomic_load_explicit(&p->ring_head, memory_order_seq_cst);
  int32_t seq = atomic_load_explicit((_Atomic int32_t *) &ring_cell(p, pos)
                                       ->seq, memory_order_seq_cst);
  return seq == (int32_t) ((uint32_t) ring_lap(p, pos) + 1);
}

/* ---- Exports. ---- */

static napi_value js_submit(napi_env env, napi_callback_info info);

/* Reads a Uint8Array over a SharedArrayBuffer; false if v is not one. */
static bool shared_bytes(napi_env env, napi_value v, uint8_t **data,
                         size_t *length) {
  bool is_ta = false, is_ab = true;
  napi_typedarray_type tt = napi_int8_array;
  size_t byte_offset;
  napi_value buffer;
  void *ptr = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &tt, length, &ptr, &buffer,
                               &byte_offset) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &is_ab) != napi_ok)
    return false;
  *data = ptr;
  return tt == napi_uint8_array && !is_ab;
}

/* Loop thread: undoes a create() that failed before the pool started.
 * With `wrapped`, the JS handle owns the shell and its finalizer frees
 * it; otherwise it is freed here. */
static napi_value create_failed(pool_t *p, bool wrapped) {
  bool pending = false;
  if (napi_is_exception_pending(p->env, &pending) == napi_ok && !pending)
    throw_last_error(p->env, "create");
  drop_refs(p);
  pool_free_body(p);
  if (!wrapped)
    free(p);
  return NULL;
}

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

/* JS thread: create(arenaView, ringView, threads, onComplete)
 *   -> [handle, completions, bigLimbs, ringStart], where
 *   handle(kernel, slot, ...args) submits a task under a slot from grow().
 * Every Node-API call can fail while the environment is going away (a
 * Worker terminated as it builds a pool): each failure unwinds what was
 * built and throws, so everything that can fail comes before the
 * workers start. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  env_data_t *ed;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        (void **) &ed));
  if (argc < 4)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "create(arena, ring, threads, onComplete)");
  uint8_t *arena, *ring;
  size_t arena_bytes, ring_bytes;
  if (!shared_bytes(env, argv[0], &arena, &arena_bytes) ||
      !shared_bytes(env, argv[1], &ring, &ring_bytes))
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "the arena and the ring must be Uint8Arrays over "
                      "SharedArrayBuffers");
  /* The ring: up to 63 bytes to reach a cache line (the engine aligns a
   * buffer less), a 64-byte header, then a power of two of cells. */
  size_t cells = ring_bytes >= 128 ? (ring_bytes - 128) / RING_CELL : 0;
  if (ring_bytes != 128 + cells * RING_CELL || cells < RING_CELLS_MIN ||
      cells > RING_CELLS_MAX || (cells & (cells - 1)) != 0)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "the ring must hold a power of two of cells from %d "
                      "to %d", RING_CELLS_MIN, RING_CELLS_MAX);
  size_t ring_start = (size_t) (-(uintptr_t) ring & 63);
  napi_valuetype vt;
  double dthreads;
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[2], &vt));
  if (vt != napi_number)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "threads must be a number");
  PENNY_NAPI_CALL(env, napi_get_value_double(env, argv[2], &dthreads));
  if (!(dthreads >= 1 && dthreads <= 1024) ||
      dthreads != (double) (uint32_t) dthreads)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "threads must be an integer from 1 to 1024, got %g",
                      dthreads);
  PENNY_NAPI_CALL(env, napi_typeof(env, argv[3], &vt));
  if (vt != napi_function)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "onComplete must be a function");

  pool_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "out of memory");
  p->env = env;
  p->state = POOL_NEW;
  p->arena = arena;
  p->arena_bytes = arena_bytes;
  p->ring = ring + ring_start;
  p->ring_cells = (uint32_t) cells;
  if (!pool_alloc_body(p, ed)) {
    throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "out of memory");
    return create_failed(p, false);
  }
  /* Large arrays live in the arena: ask for huge pages before the first
   * touch (V8 hands over the buffer untouched). */
  penny__advise_huge(arena, arena_bytes);

  /* Everything JavaScript sees, and every reference, before any thread
   * starts: a failure until the wrap frees the pool here. */
  napi_value results_ab, results, bigs, name, handle, out, start;
  void *results_data;
  if (napi_create_arraybuffer(env, 7 * BATCH * sizeof(double),
                              &results_data, &results_ab) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, 3 * BATCH,
                             results_ab, 0, &results) != napi_ok ||
      napi_create_typedarray(env, napi_biguint64_array, 4 * BATCH,
                             results_ab, 3 * BATCH * sizeof(double),
                             &bigs) != napi_ok ||
      napi_create_string_utf8(env, "penny", NAPI_AUTO_LENGTH,
                              &name) != napi_ok ||
      napi_async_init(env, NULL, name, &p->actx) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &p->arena_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &p->ring_ref) != napi_ok ||
      napi_create_reference(env, results, 1, &p->results_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 0, &p->callback_ref) != napi_ok ||
      /* The handle is the pool's own submit function: calling it skips
       * the unwrapping and tag check that every other entry point does. */
      napi_create_function(env, "submit", NAPI_AUTO_LENGTH, js_submit, p,
                           &handle) != napi_ok ||
      napi_type_tag_object(env, handle, &pool_tag) != napi_ok ||
      napi_create_uint32(env, (uint32_t) ring_start, &start) != napi_ok ||
      napi_create_array_with_length(env, 4, &out) != napi_ok ||
      napi_set_element(env, out, 0, handle) != napi_ok ||
      napi_set_element(env, out, 1, results) != napi_ok ||
      napi_set_element(env, out, 2, bigs) != napi_ok ||
      napi_set_element(env, out, 3, start) != napi_ok)
    return create_failed(p, false);
  p->results = results_data;
  p->bigs = (uint64_t *) (void *) (p->results + 3 * BATCH);
  if (napi_wrap(env, handle, p, finalize_pool, NULL, NULL) != napi_ok)
    return create_failed(p, false);
  p->owners = 1; /* the handle; its finalizer frees the shell from now on */

  penny_pool_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.threads = (uint32_t) dthreads;
  opts.injector_capacity = 1u << 14;
  penny_source_t source = { ring_take, ring_ready, p };
  opts.source = &source;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok)
    return create_failed(p, true);
  int rc = penny_pool_create(&p->core, &opts);
  if (rc != 0) {
    throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
               "could not start the pool: %s", penny_strerror(rc));
    return create_failed(p, true);
  }
  /* uv_async_init fails only for a loop that is not initialized. */
  if (uv_async_init(loop, &p->async, on_async) != 0) {
    (void) penny_pool_destroy(p->core, PENNY_DESTROY_CANCEL); /* idle */
    p->core = NULL;
    return create_failed(p, true);
  }
  p->async.data = p;
  uv_unref((uv_handle_t *) &p->async); /* idle pools keep nothing alive */
  p->owners = 2;
  p->state = POOL_OPEN;
  if (napi_add_async_cleanup_hook(env, on_env_cleanup, p,
                                  &p->hook) != napi_ok) {
    p->hook = NULL;
    throw_last_error(env, "create");
    pool_teardown(p, PENNY_DESTROY_CANCEL, false, false);
    return NULL;
  }
  return out;
}

/* JS thread: handle(kernelIndex, slot, ...args). The pool handle that
 * create() returns is this function, bound to its pool. */
static napi_value js_submit(napi_env env, napi_callback_info info) {
  size_t argc = 3 + PENNY_MAX_ARGS;
  napi_value argv[3 + PENNY_MAX_ARGS];
  pool_t *p;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL,
                                        (void **) &p));
  if (p->state != POOL_OPEN)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED", "pool is closed");
  int32_t index = -1;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &index) != napi_ok ||
      index < 0 ||
      (size_t) index >= atomic_load_explicit(&p->table_len,
                                             memory_order_relaxed))
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "unknown kernel index");
  const entry_t *e = p->table[index];
  size_t nargs = argc - 2;
  if (nargs != e->sig.nparams)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "%s expects %u argument%s, got %s%zu", e->sig.name,
                      e->sig.nparams, e->sig.nparams == 1 ? "" : "s",
                      nargs > PENNY_MAX_ARGS ? "more than " : "",
                      nargs > PENNY_MAX_ARGS ? (size_t) PENNY_MAX_ARGS
                                             : nargs);
  double slot = -1;
  if (napi_get_value_double(env, argv[1], &slot) != napi_ok)
    slot = -1;
  task_t *t = claim_slot(p, slot);
  if (t == NULL)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "slot %g is not a free task slot", slot);
  for (unsigned i = 0; i < nargs; i++) {
    bool ok = e->sig.params[i].is_array
                ? convert_array(env, p, e, i, argv[2 + i], t)
                : convert_scalar(env, e, i, argv[2 + i], t);
    if (!ok) {
      release_task(env, p, t);
      return NULL;
    }
  }
  int crc = check_kernel(e, t);
  if (crc != 0) {
    throw_check(env, crc, t);
    release_task(env, p, t);
    return NULL;
  }
  t->entry = e;
  t->job.fn = task_run;
  t->job.arg = t;
  t->job.done = task_done;
  t->job.data = t;
  int rc = penny_pool_submit(p->core, &t->job);
  if (rc != 0) {
    /* Cannot happen while the pool is open; kept honest anyway. */
    release_task(env, p, t);
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED", "%s",
                      penny_strerror(rc));
  }
  return NULL;
}

/* JS thread: cancel(handle, slot). A queued task will finish cancelled;
 * a running one sees penny_cancelled(). Either way its completion still
 * arrives through onComplete, after the workers are done with its
 * buffers. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  pool_t *p = pool_args(env, info, 2, argv, "cancel(handle, slot)");
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
  task_t *t = slot_task(p, (uint32_t) slot);
  /* lib/ cancels only tasks in flight, but one still in the ring has no
   * claimed record yet: the request waits in the record for ring_take.
   * SeqCst: pairs with ring_take's load after penny_job_reset. The job is
   * valid memory in any state; before ring_take resets it, the cancel
   * below finds a stale state and the request catches the task. */
  p->cancel_sent[slot] = 1;
  atomic_store_explicit(&t->cancel_req, 1, memory_order_seq_cst);
  /* SeqCst fence: keeps the loads below (busy, and the job state inside
   * penny_job_cancel) after the store above, the other half of the
   * store-then-load pairing with ring_take. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&t->busy, memory_order_relaxed))
    (void) penny_job_cancel(&t->job); /* any outcome is fine */
  return NULL;
}

/* JS thread: close(handle). Lets queued and running tasks finish, hands
 * their completions to onComplete, stops the threads. lib/ calls it once
 * nothing is pending, so it does not block the loop. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pool_t *p = pool_args(env, info, 1, argv, "close(handle)");
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
  napi_value argv[1];
  pool_t *p = pool_args(env, info, 1, argv, "stats(handle)");
  if (p == NULL)
    return NULL;
  penny_stats_t s;
  memset(&s, 0, sizeof(s));
  if (p->core != NULL)
    (void) penny_pool_stats(p->core, PENNY_ALL_WORKERS, &s); /* cannot fail */
  napi_value obj;
  PENNY_NAPI_CALL(env, napi_create_object(env, &obj));
  if (!set_number(env, obj, "completed", (double) p->completed) ||
      !set_number(env, obj, "failed", (double) p->failed) ||
      !set_number(env, obj, "cancelled", (double) p->cancelled) ||
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
  napi_value argv[1];
  pool_t *p = pool_args(env, info, 1, argv, "kernels(handle)");
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
        (v = make_string(env, p->table[i]->kernel->signature)) == NULL ||
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

/* JS thread: grow(handle) -> the new number of task slots. lib/ calls it
 * when it runs out of free slots. */
static napi_value js_grow(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  pool_t *p = pool_args(env, info, 1, argv, "grow(handle)");
  if (p == NULL)
    return NULL;
  if (p->state != POOL_OPEN)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED", "pool is closed");
  uint32_t n = atomic_load_explicit(&p->nslots, memory_order_relaxed);
  if (n / SLOT_CHUNK >= MAX_CHUNKS)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE",
                      "too many tasks in flight (%u)", n);
  uint8_t *sent = realloc(p->cancel_sent, n + SLOT_CHUNK);
  if (sent == NULL)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "out of memory");
  memset(sent + n, 0, SLOT_CHUNK);
  p->cancel_sent = sent;
  /* Zeroed pages: every record free (busy and cancel_req 0), and a
   * record's memory is touched only once a task uses it (claim_slot
   * fills in its slot and pool). */
  task_t *chunk = penny__pages_alloc(CHUNK_BYTES);
  if (chunk == NULL)
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "out of memory");
  p->chunks[n / SLOT_CHUNK] = chunk;
  /* Release: pairs with the acquire in claim_slot on a worker. */
  atomic_store_explicit(&p->nslots, n + SLOT_CHUNK, memory_order_release);
  PENNY_NAPI_CALL(env, napi_create_uint32(env, n + SLOT_CHUNK, &out));
  return out;
}

/* JS thread: wake(handle). lib/ found the ring's sleepy word set after
 * publishing a cell: clear it and wake a worker if one sleeps and none
 * searches. A worker that goes to sleep later sets the word again. */
static napi_value js_wake(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pool_t *p = pool_args(env, info, 1, argv, "wake(handle)");
  if (p == NULL)
    return NULL;
  if (p->state != POOL_OPEN)
    return NULL;
  /* Relaxed: penny_pool_notify's SeqCst fence orders it before the look
   * at the sleepers; a sleeper counted before that look is woken (or a
   * searcher takes the work), one counted after sets the word anew. */
  atomic_store_explicit(ring_sleepy(p), 0, memory_order_relaxed);
  penny_pool_notify(p->core);
  return NULL;
}

/* JS thread: adviseHuge(u8) asks for huge pages behind a Uint8Array over
 * a SharedArrayBuffer, as create() does for the arena: lib/ calls it for
 * a buffer alloc() makes when the arena is full, before its first touch.
 * Advice only, so anything else is ignored. */
static napi_value js_adviseHuge(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint8_t *data;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_last_error(env, "napi_get_cb_info");
    return NULL;
  }
  if (argc == 1 && shared_bytes(env, argv[0], &data, &length))
    penny__advise_huge(data, length);
  return NULL;
}

/* JS thread: active(handle, bool). lib/ calls it when its count of
 * pending tasks leaves or returns to zero. */
static napi_value js_active(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool active = false;
  pool_t *p = pool_args(env, info, 2, argv, "active(handle, bool)");
  if (p == NULL)
    return NULL;
  PENNY_NAPI_CALL(env, napi_get_value_bool(env, argv[1], &active));
  if (p->state == POOL_OPEN)
    set_active(p, active);
  return NULL;
}

/* JS thread: load(handle, path) -> the index of the plugin's first
 * kernel; lib/ then reads the table again. Throws ERR_PENNY_PLUGIN. */
static napi_value js_load(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  pool_t *p = pool_args(env, info, 2, argv, "load(handle, path)");
  if (p == NULL)
    return NULL;
  if (p->state != POOL_OPEN)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_CLOSED", "pool is closed");
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof(path),
                                 &len) != napi_ok)
    return throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "path must be a string");
  if (len == 0 || len >= sizeof(path) - 1 || strlen(path) != len)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_PLUGIN",
                      "cannot load a plugin from an empty, over-long or "
                      "NUL-containing path");
  char err[512];
  size_t first = 0;
  if (plugin_load(p, path, &first, err, sizeof(err)) != NULL)
    return throw_code(env, ERR_PLAIN, "ERR_PENNY_PLUGIN", "%s", err);
  napi_value v;
  PENNY_NAPI_CALL(env, napi_create_uint32(env, (uint32_t) first, &v));
  return v;
}

/* JS thread: message(handle, slot) -> the argument error of a task that
 * was refused on a worker (codes 2 and 3), or the message a kernel failed
 * with (code 5), while its slot is not yet reused. */
static napi_value js_message(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  pool_t *p = pool_args(env, info, 2, argv, "message(handle, slot)");
  if (p == NULL)
    return NULL;
  uint32_t slot;
  if (napi_get_value_uint32(env, argv[1], &slot) != napi_ok ||
      slot >= atomic_load_explicit(&p->nslots, memory_order_relaxed))
    return throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "no such slot");
  task_t *t = slot_task(p, slot);
  /* Only a worker's claim writes msg, and the slot is free until lib/
   * reuses it; the claim's acquire/release chain orders the rest. */
  return make_string(env, t->msg);
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
    PENNY_EXPORT_(grow),
    PENNY_EXPORT_(wake),
    PENNY_EXPORT_(message),
    PENNY_EXPORT_(load),
    PENNY_EXPORT_(active),
    PENNY_EXPORT_(adviseHuge),
  };
#undef PENNY_EXPORT_
  PENNY_NAPI_CALL(env, napi_define_properties(env, exports,
                                              sizeof(props) / sizeof(*props),
                                              props));
  return exports;
}
