/* The Node binding's shared types: a pool as the binding keeps it, its
 * task records, and what the binding's files offer one another.
 *
 * The binding converts values and forwards them to the core, which alone
 * decides which worker runs what. Promises, AbortSignal and the arena heap
 * live in lib/. What the binding does own are the two queues that cross
 * the JS boundary: the submission ring that lib/ fills and idle workers
 * poll (ring.c), and the completion ring and record stack that workers
 * fill and the loop thread drains into lib/ (completion.c).
 *
 * Threads: functions named js_* and the uv callbacks run on the thread of
 * the JS environment that created the pool (the main thread or a
 * Worker's), the "loop thread". The job functions, penny__task_done and
 * the ring's source functions run on Penny's worker threads, which never
 * call napi_* and touch only the task record and memory pinned by
 * references. The one exception is a task pool's: its workers are
 * worker_threads lent to the core, each with a JS environment of its own,
 * and jstask.c calls into that environment (never the pool's) from them.
 * Each function says where it runs.
 *
 * The files:
 *   binding.c     the exports and module init
 *   contract.c    the JS<->C contract (contract.h) as a JS object
 *   lifecycle.c   a pool from create() to teardown and free
 *   tasks.c       task records by slot
 *   jstask.c      JS tasks on lent worker_threads
 *   ring.c        the submission ring's consumer
 *   completion.c  finished tasks back to lib/
 *   plugin.c      plugin libraries
 *   convert.c     arguments from Node-API values
 *   checks.c      argument checks against a signature, plain C
 *   signature.c   kernel signatures, plain C
 *   napi_util.c   Node-API status checks and errors */
#ifndef PENNY_ADDON_H
#define PENNY_ADDON_H

#include <node_api.h>
#include <uv.h>

/* The prepare handle only speeds up the loop thread (completion.c), and
 * Deno's Node-API has no uv_prepare_*: on ELF systems they are weak, NULL
 * where the runtime lacks them, so that the addon still loads there. */
#if defined(__ELF__)
# pragma weak uv_prepare_init
# pragma weak uv_prepare_start
# pragma weak uv_prepare_stop
# define PENNY_HAS_UV_PREPARE() (uv_prepare_init != NULL)
#else
# define PENNY_HAS_UV_PREPARE() true
#endif

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "penny.h"
#include "checks.h"
#include "contract.h"
#include "signature.h"

/* ---- Per-environment state. ---- */


typedef struct {
  penny__sig_t *builtin_sigs; /* parsed once per environment */
  penny__sig_t js_task_sig;   /* the JS-task kernel's (jstask.c) */
} env_data_t;

/* A plugin library one pool loaded, with its table entries. */
typedef struct plugin_lib_s {
  void *lib;
  entry_t *entries;
  struct plugin_lib_s *next;
} plugin_lib_t;

/* ---- Pools and task records. ---- */

/* How a task's kernel first failed through the plugin table: with a
 * message (now in msg), or with a code alone. */
typedef enum {
  FAILURE_NONE,
  FAILURE_MESSAGE,
  FAILURE_CODE
} failure_kind_t;

typedef struct pool_s pool_t;
typedef struct task_s task_t;

#define CHUNK_BYTES (SLOT_CHUNK * sizeof(task_t))

/* Finished tasks travel back through a bounded MPSC ring in C memory
 * (Vyukov's cells again, seq less the cell's index as in the submission
 * ring, so that fresh zeroed pages are an empty ring and untouched until
 * used): workers write (slot, status, result), two cells to a cache line,
 * and the loop thread reads them in order. Only a task that pins views
 * (they must be unpinned on the loop thread), or one that finds the ring
 * full, goes on the record stack instead. */
#define DONE_CELLS 16384

typedef struct {
  _Atomic uint64_t seq;
  double result;
  int32_t slot;
  int32_t status;        /* a completion_status_t */
  uint64_t pad_;
} done_cell_t;

typedef struct {
  alignas(64) _Atomic uint64_t tail;   /* workers */
  alignas(64) uint64_t head;           /* the loop thread */
  alignas(64) done_cell_t cells[DONE_CELLS];
} done_ring_t;

/* The fields that submission, penny__task_done and penny__drain all
 * touch share the cache line after the job, so a record crosses between
 * threads in few lines. */
struct task_s {
  alignas(64) penny_job_t job; /* job.arg = job.data = this record */
  task_t *next;           /* completion stack */
  pool_t *pool;
  const entry_t *entry;   /* NULL while the slot is free */
  int32_t slot;           /* lib/'s id for the task */
  int status;             /* written by the worker before the push */
  penny_result_t result;  /* written by the kernel */
  /* Claimed (1) from js_submit or penny__ring_take until the completion
   * hands the slot back: a slot that JS reuses too early is refused, not
   * corrupted. */
  _Atomic int busy;
  _Atomic int cancel_req; /* js_cancel's request, for ring tasks */
  int rejected;           /* its arguments failed the checks; msg says */
  _Atomic int failure_kind; /* a failure_kind_t: how a plugin kernel
                             * first failed */
  int reject_code;        /* PENNY_EINVAL or PENNY_ERANGE, when rejected */
  unsigned nrefs;         /* pinned views over foreign SharedArrayBuffers */
  /* JS tasks (jstask.c), written by the thread that ran it: the outcome
   * as bytes (malloc'd; payload() hands it to lib/), a void result, a
   * task that could not finish (msg says why), one awaiting its promise
   * (its completion waits for finish()). */
  uint8_t *payload;
  size_t payload_len;
  int js_void;
  int js_numbers;         /* the result is result.num numbers, as doubles
                           * in result.limbs (COMPLETION_NUMBERS) */
  int js_failed;
  int deferred;
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
  int owners;                  /* the JS handle + the open uv handles or
                                * thread-safe function */
  bool draining;               /* inside penny__drain(): close waits */
  bool js_gone;                /* a call into JS failed: the environment
                                * is going away, stop delivering */
  /* How workers wake the loop thread for completions: the libuv async
   * handle (Node), or, where a runtime's uv_async_* is not libuv's (Bun,
   * Deno), a thread-safe function whose calls wake_pending coalesces
   * (completion.c). Set before any worker starts. */
  bool use_tsfn;
  uv_async_t async;
  napi_threadsafe_function tsfn;
  bool tsfn_finalized;         /* its finalizer ran (loop thread only) */
  _Atomic int wake_pending;    /* a tsfn call is queued, not yet run */
  /* Runs just before the loop would sleep, while tasks are pending: waits
   * briefly for a completion there rather than in the poll (completion.c,
   * penny__on_prepare). */
  uv_prepare_t prepare;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
  napi_ref arena_ref;          /* Uint8Array over the arena, strong */
  napi_ref ring_ref;           /* Uint8Array over the ring, strong */
  napi_ref results_ref;        /* Float64Array of COMPLETION_BATCH
                                * entries, strong; the limbs follow */
  napi_ref callback_ref;       /* onComplete: strong only while active */
  double *results;
  uint64_t *bigs;              /* COMPLETION_LIMBS per entry, after them */
  int32_t *activity;           /* ACTIVITY_WORDS, after the limbs */
  uint8_t *arena;
  size_t arena_bytes;
  /* The kernels: MAX_KERNELS pointers. Only the loop thread appends
   * (pool.load), and publishes the new length with a release store. */
  entry_t **table;
  _Atomic size_t table_len;
  entry_t *builtins;
  plugin_lib_t *plugins;
  /* Task records by slot: chunks[slot / SLOT_CHUNK], MAX_CHUNKS entries.
   * Only the loop thread adds chunks; nslots publishes them to
   * penny__claim_slot (release/acquire). */
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
  /* Slots js_cancel touched, so penny__drain can clear their request: a cancel
   * may arrive after the worker has finished and freed the record. */
  uint8_t *cancel_sent;
  /* Task pools (jstask.c): the registry's id (0: none) and link, the
   * loop thread's Atomics.notify function and thread, no JS calls once
   * teardown has begun, and per worker the task its thread awaits. */
  int32_t lend_id;
  pool_t *lend_next;
  napi_ref notify_ref;
  const void *loop_thread;     /* penny__thread_marker() of that thread */
  bool has_prepare;            /* the runtime has uv_prepare_* */
  bool quiet;
  /* By worker index: the task its lent thread awaits (jstask.c), or
   * NULL. Atomic: the thread sets its own entry outside the registry
   * lock, under which finish() and vacate read them all. */
  _Atomic(task_t *) *deferred_by;
  /* The JS-task kernel, at index JS_TASK_INDEX past the table; only a
   * task pool has it (kernel != NULL). */
  entry_t js_entry;
};

/* Any thread: the kernel at `index` of a table of `n`, or NULL. */
static inline const entry_t *pool_entry(const pool_t *p, uint32_t index,
                                        size_t n) {
  if (index < n)
    return p->table[index];
  return index == JS_TASK_INDEX && p->js_entry.kernel != NULL ? &p->js_entry
                                                              : NULL;
}

/* Any thread: the record of a slot below nslots. */
static inline task_t *slot_task(pool_t *p, uint32_t slot) {
  return &p->chunks[slot / SLOT_CHUNK][slot % SLOT_CHUNK];
}

/* ---- tasks.c: task records by slot. ---- */

task_t *penny__claim_slot(pool_t *p, double slot);
void penny__release_task(napi_env env, pool_t *p, task_t *t);
void penny__clear_cancel(pool_t *p, uint32_t slot);
void penny__task_run(penny_worker_t *w, void *arg);
void penny__task_reject(penny_worker_t *w, void *arg);
int penny__slots_grow(pool_t *p, uint32_t *count);
void penny__slot_cancel(pool_t *p, uint32_t slot);
void penny__slots_free(pool_t *p);

/* ---- ring.c: the submission ring's consumer (a penny_source_t). ---- */

penny_job_t *penny__ring_take(void *ctx);
int penny__ring_ready(void *ctx);
uint32_t penny__ring_cells(size_t ring_bytes);
void penny__ring_wake(pool_t *p);

/* ---- completion.c: finished tasks back to lib/. ---- */

void penny__task_done(penny_job_t *job, int status);
void penny__task_post(task_t *t);
void penny__drain(pool_t *p, bool call_js);
void penny__on_async(uv_async_t *handle);
void penny__on_tsfn(napi_env env, napi_value fn, void *context, void *data);
void penny__on_prepare(uv_prepare_t *handle);
void penny__set_active(pool_t *p, bool active);

/* An address that names the calling thread while it lives (its own
 * thread-local word): which thread a pool's loop thread is, without
 * libuv's uv_thread_self, which Bun does not provide. */
const void *penny__thread_marker(void);

static inline bool penny__on_loop_thread(const pool_t *p) {
  return penny__thread_marker() == p->loop_thread;
}

/* ---- jstask.c: JS tasks on lent worker_threads. ---- */

/* The mailbox: a Float64Array of the thread's own through which the job
 * hands the runner its task or child, so that the call takes no
 * arguments. The runner sets MAILBOX_SLOT to MAILBOX_STARTED once it has
 * read a child's (whose slot reads MAILBOX_CHILD). A runner that returns
 * the mailbox itself returns MAILBOX_COUNT numbers from MAILBOX_NUMBERS
 * on (COMPLETION_NUMBERS). */
enum { MAILBOX_HEAD, MAILBOX_A, MAILBOX_B, MAILBOX_SLOT, MAILBOX_COUNT,
       MAILBOX_NUMBERS, MAILBOX_LEN = MAILBOX_NUMBERS + JS_RESULT_NUMBERS };
#define MAILBOX_CHILD (-1.0)
#define MAILBOX_STARTED (-2.0)

/* What a lent thread knows while it is inside the core or has a deferred
 * task: its environment, pool, runner and mailbox, and for fork-join
 * (jsfork.c) where its stack began and how much of it waiting syncs may
 * fill with other work. */
typedef struct {
  napi_env env;
  pool_t *pool;               /* inside enter(): pinned by the core */
  penny_worker_t *worker;     /* the job's worker while a job runs */
  napi_ref runner;
  napi_ref notify;
  double *mailbox;            /* MAILBOX_* */
  int32_t pool_id;
  task_t *current;            /* the root task whose code runs now */
  const char *stack_base;     /* an address near enter()'s frame */
  size_t stack_budget;        /* bytes below it that helping may use */
  struct js_child_s *child;   /* the stolen child whose code runs now */
  size_t floor;               /* fork depth where the running level began */
  bool dying;                 /* a call into JS failed: it is stopping */
} lent_thread_t;

/* The calling thread's, while it is inside enter(); NULL otherwise. */
extern _Thread_local lent_thread_t *penny__lent;

/* Lent thread: calls the runner, which reads the mailbox; *ret is its
 * return value. False if the call failed (the thread is stopping, or the
 * runner ran out of stack or memory), with the exception cleared. */
bool penny__lent_call(lent_thread_t *lt, napi_value *ret);

extern const penny_kernel_t penny__js_task_kernel;
void penny__lend_register(pool_t *p);
void penny__lend_unregister(pool_t *p);
void penny__lend_options(penny_pool_options_t *opts, pool_t *p);
int penny__lend_vacate(pool_t *p, unsigned index);
double penny__lend_payload(pool_t *p, uint32_t slot, uint8_t *into,
                           size_t room);
napi_value penny__js_enter(napi_env env, napi_callback_info info);
napi_value penny__js_finish(napi_env env, napi_callback_info info);
napi_value penny__js_cancelled(napi_env env, napi_callback_info info);

/* ---- jsfork.c: join, spawn, sync and parallelFor inside JS tasks. ---- */

size_t penny__fork_depth(void);
void penny__fork_unwind(penny_worker_t *w, size_t base);
void penny__fork_release(void);
napi_value penny__js_fork(napi_env env, napi_callback_info info);
napi_value penny__js_sync(napi_env env, napi_callback_info info);
napi_value penny__js_child_args(napi_env env, napi_callback_info info);
napi_value penny__js_fork_idle(napi_env env, napi_callback_info info);

/* ---- plugin.c: plugin libraries and the table handed to them. ---- */

const char *penny__plugin_load(pool_t *p, const char *path, size_t *first,
                               char *err, size_t errlen);
void penny__plugins_close(pool_t *p);

/* ---- lifecycle.c: a pool from create() to its last owner. ---- */

typedef struct {
  napi_value arena_view;       /* Uint8Array over the arena */
  napi_value ring_view;        /* Uint8Array over the ring's buffer */
  napi_value on_complete;      /* lib/'s callback */
  uint8_t *arena;
  size_t arena_bytes;
  bool use_tsfn;               /* completions through a thread-safe
                                * function, not uv_async */
  uint8_t *ring;               /* the buffer; the ring starts ring_start on */
  size_t ring_start;
  uint32_t ring_cells;
  uint32_t threads;
  napi_value notify;           /* a task pool's Atomics.notify, or NULL */
  napi_callback submit;        /* the handle's function (js_submit) */
} pool_config_t;

napi_value penny__pool_create(napi_env env, const env_data_t *ed,
                              const pool_config_t *cfg);
void penny__pool_teardown(pool_t *p, unsigned destroy_flags, bool call_js,
                          bool keep_hook);

/* ---- convert.c: arguments from Node-API values. ---- */

extern const napi_type_tag penny__pool_tag;
pool_t *penny__pool_args(napi_env env, napi_callback_info info, size_t want,
                         napi_value *argv, const char *usage);
bool penny__shared_bytes(napi_env env, napi_value v, uint8_t **data,
                         size_t *length);
bool penny__convert_array(napi_env env, pool_t *p, const entry_t *e,
                          unsigned i, napi_value v, task_t *t);
bool penny__convert_scalar(napi_env env, const entry_t *e, unsigned i,
                           napi_value v, task_t *t);
void penny__throw_check(napi_env env, int rc, const char *msg);

/* ---- contract.c ---- */

napi_value penny__contract(napi_env env);

#endif /* PENNY_ADDON_H */
