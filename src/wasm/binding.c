/* The browser build's binding: what lib/browser/ calls in the module
 * (wasm32, shared memory). The JavaScript side holds plain addresses into
 * the shared memory; every call record is malloc'd here and freed here.
 *
 * A call is a kernel (arguments checked against its signature by the same
 * code as the Node addon's, src/addon/checks.c) or a function of a task
 * module (its arguments and result are bytes that lib/browser/codec.mjs
 * writes and reads). Calls that finish go onto their pool's list of done
 * calls, a lock-free stack, and the pool's `done_seq` word is bumped and
 * notified: the page's main thread waits on it with Atomics.waitAsync
 * and never blocks. */
#include "penny.h"
#include "platform.h"
#include "../addon/checks.h"
#include "../kernels/kernels.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/* Runs a task module's function `fn` on this thread's Worker: the host
 * reads the record's arguments and writes its outcome (pw_task_*). */
__attribute__((import_module("env"), import_name("penny_host_task")))
void penny_host_task(penny_worker_t *w, void *rec);

typedef struct call_s call_t;

typedef struct {
  penny_pool_t *pool;
  /* Bumped (and notified) after every push onto `done`; the main thread
   * waits on it. Its own cache line: workers write it often. */
  _Alignas(64) _Atomic uint32_t done_seq;
  _Atomic(call_t *) done;
} pw_pool_t;

#define KIND_KERNEL 0
#define KIND_TASK   1

/* A call as the main thread made it. JavaScript reads `id`, `status` and
 * the result through the exports below, never by offset. */
struct call_s {
  penny_job_t job;
  pw_pool_t *pw;
  call_t *next;             /* on the pool's done list */
  uint32_t id;              /* the host's number for the call */
  int kind;
  int status;
  const entry_t *e;         /* a kernel's entry */
  penny_arg_t args[PENNY_MAX_ARGS];
  penny_result_t result;
  /* A task's function, arguments and outcome (see pw_task_*). */
  uint32_t fn;
  uint8_t *in;
  uint32_t in_len;
  uint8_t *out;
  uint32_t out_len;
  int threw;
  char msg[MSG_MAX];
};

/* ---- The kernel table: the built-ins, parsed once. ---- */

static entry_t *entries;

static const entry_t *entry_at(unsigned index) {
  if (entries == NULL) {
    entry_t *t = calloc(penny__builtin_kernel_count, sizeof(*t));
    if (t == NULL)
      return NULL;
    for (size_t i = 0; i < penny__builtin_kernel_count; i++) {
      const char *err;
      /* The built-in signatures are constants that the Node tests parse. */
      (void) penny__sig_parse(penny__builtin_kernels[i].signature,
                              &t[i].sig, &err);
      t[i].kernel = &penny__builtin_kernels[i];
    }
    entries = t; /* the main thread only: no race */
  }
  return index < penny__builtin_kernel_count ? &entries[index] : NULL;
}

EXPORT(pw_kernel_count)
unsigned pw_kernel_count(void) {
  return (unsigned) penny__builtin_kernel_count;
}

EXPORT(pw_kernel_signature)
const char *pw_kernel_signature(unsigned index) {
  return index < penny__builtin_kernel_count
             ? penny__builtin_kernels[index].signature : NULL;
}

/* ---- Pools. ---- */

/* A pool of `threads` workers; NULL with *err set when it cannot start. */
EXPORT(pw_pool_create)
pw_pool_t *pw_pool_create(unsigned threads, int *err) {
  pw_pool_t *pw = penny__aligned_alloc(64, sizeof(*pw));
  if (pw == NULL) {
    *err = PENNY_ENOMEM;
    return NULL;
  }
  memset(pw, 0, sizeof(*pw));
  atomic_init(&pw->done_seq, 0);
  atomic_init(&pw->done, NULL);
  penny_pool_options_t o = { 0 };
  o.threads = threads;
  *err = penny_pool_create(&pw->pool, &o);
  if (*err != 0) {
    penny__aligned_free(pw);
    return NULL;
  }
  return pw;
}

/* The word the host waits on, as an index into an Int32Array. */
EXPORT(pw_pool_done_word)
uint32_t pw_pool_done_word(pw_pool_t *pw) {
  return (uint32_t) (uintptr_t) &pw->done_seq / 4;
}

/* Once no call is pending (the host counts them): joins the threads. */
EXPORT(pw_pool_destroy)
int pw_pool_destroy(pw_pool_t *pw) {
  int rc = penny_pool_destroy(pw->pool, 0);
  if (rc == 0)
    penny__aligned_free(pw);
  return rc;
}

/* Scheduler counters into out[0..5]: jobs, steals, inlined, failed
 * steals, sleeps, wake-ups. */
EXPORT(pw_pool_stats)
int pw_pool_stats(pw_pool_t *pw, double *out) {
  penny_stats_t st;
  int rc = penny_pool_stats(pw->pool, PENNY_ALL_WORKERS, &st);
  if (rc == 0) {
    out[0] = (double) st.jobs;
    out[1] = (double) st.steals;
    out[2] = (double) st.inlined;
    out[3] = (double) st.failed_steals;
    out[4] = (double) st.sleeps;
    out[5] = (double) st.wakeups;
  }
  return rc;
}

/* All the calls done since the last take, newest first (pw_call_next). */
EXPORT(pw_pool_take_done)
call_t *pw_pool_take_done(pw_pool_t *pw) {
  /* Acquire: pairs with call_done's release, so each call's status and
   * result are seen. */
  return atomic_exchange_explicit(&pw->done, NULL, memory_order_acquire);
}

/* ---- Calls. ---- */

/* Any worker: the call is finished; hand it to the main thread. */
static void call_done(penny_job_t *job, int status) {
  call_t *c = job->data;
  pw_pool_t *pw = c->pw;
  if (c->status == 0)
    c->status = status;
  call_t *head = atomic_load_explicit(&pw->done, memory_order_relaxed);
  do
    c->next = head;
  /* Release: the call's outcome before the take's acquire. Relaxed on
   * failure: only the new head is needed, to retry. */
  while (!atomic_compare_exchange_weak_explicit(
      &pw->done, &head, c, memory_order_release, memory_order_relaxed));
  /* Relaxed: the waiter compares the word only to know it changed. */
  atomic_fetch_add_explicit(&pw->done_seq, 1, memory_order_relaxed);
  (void) __builtin_wasm_memory_atomic_notify((int *) (void *) &pw->done_seq,
                                             UINT32_MAX);
}

static call_t *call_new(pw_pool_t *pw, int kind) {
  call_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->pw = pw;
  c->kind = kind;
  c->job.done = call_done;
  c->job.data = c;
  return c;
}

/* A call of kernel `index` on pw, its arguments still to set; NULL for an
 * unknown kernel or when out of memory. */
EXPORT(pw_call_kernel)
call_t *pw_call_kernel(pw_pool_t *pw, unsigned index) {
  const entry_t *e = entry_at(index);
  if (e == NULL)
    return NULL;
  call_t *c = call_new(pw, KIND_KERNEL);
  if (c != NULL)
    c->e = e;
  return c;
}

/* Scalar argument i; 0, or an error code with pw_call_msg's reason. */
EXPORT(pw_call_scalar)
int pw_call_scalar(call_t *c, unsigned i, double num) {
  if (i >= c->e->sig.nparams || c->e->sig.params[i].is_array)
    return PENNY_EINVAL;
  return penny__check_scalar(c->e, i, num, c->args, c->msg);
}

/* Array argument i: `length` elements of `type` at `data` (memory the
 * host keeps alive until the call is done). */
EXPORT(pw_call_array)
int pw_call_array(call_t *c, unsigned i, int type, void *data,
                  uint32_t length) {
  if (i >= c->e->sig.nparams || !c->e->sig.params[i].is_array)
    return PENNY_EINVAL;
  bool in_arena;
  return penny__check_array(NULL, 0, c->e, i, type, data, length, c->args,
                            c->msg, &in_arena);
}

static void kernel_run(penny_worker_t *w, void *arg) {
  call_t *c = arg;
  c->e->kernel->fn(w, c->args, &c->result);
}

static void task_run(penny_worker_t *w, void *arg) {
  penny_host_task(w, arg);
}

/* Queues the call under the host's number `id`: 0, or an error code (a
 * kernel's own check fails with its reason in pw_call_msg), and then the
 * call is not queued. */
EXPORT(pw_call_submit)
int pw_call_submit(call_t *c, uint32_t id) {
  c->id = id;
  if (c->kind == KIND_KERNEL) {
    int rc = penny__check_kernel(c->e, c->args, c->msg);
    if (rc != 0)
      return rc;
  }
  c->job.fn = c->kind == KIND_KERNEL ? kernel_run : task_run;
  c->job.arg = c;
  penny_job_reset(&c->job);
  return penny_pool_submit(c->pw->pool, &c->job);
}

/* Asks a queued or running call to stop; it still completes. */
EXPORT(pw_call_cancel)
void pw_call_cancel(call_t *c) {
  (void) penny_job_cancel(&c->job);
}

EXPORT(pw_call_next)
call_t *pw_call_next(call_t *c) {
  return c->next;
}

EXPORT(pw_call_id)
uint32_t pw_call_id(call_t *c) {
  return c->id;
}

EXPORT(pw_call_status)
int pw_call_status(call_t *c) {
  return c->status;
}

EXPORT(pw_call_msg)
const char *pw_call_msg(call_t *c) {
  return c->msg;
}

/* A kernel's result: its number, or 1 when it is the 256-bit integer at
 * pw_call_limbs (least significant 64-bit limb first). */
EXPORT(pw_call_result)
double pw_call_result(call_t *c) {
  return c->result.num;
}

EXPORT(pw_call_big)
int pw_call_big(call_t *c) {
  return c->result.big;
}

EXPORT(pw_call_limbs)
uint64_t *pw_call_limbs(call_t *c) {
  return c->result.limbs;
}

EXPORT(pw_call_free)
void pw_call_free(call_t *c) {
  if (c != NULL) {
    free(c->in);
    free(c->out);
    free(c);
  }
}

/* ---- Task-module functions. ---- */

/* A call of task function `fn` with `len` bytes of encoded arguments,
 * which the call owns from here on (memory from malloc). */
EXPORT(pw_call_task)
call_t *pw_call_task(pw_pool_t *pw, uint32_t fn, uint8_t *in, uint32_t len) {
  call_t *c = call_new(pw, KIND_TASK);
  if (c == NULL) {
    free(in);
    return NULL;
  }
  c->fn = fn;
  c->in = in;
  c->in_len = len;
  return c;
}

/* What the host reads and writes around a task function (a call, or a
 * child that penny/task spawned: the same record). */
EXPORT(pw_task_fn)
uint32_t pw_task_fn(call_t *c) {
  return c->fn;
}

EXPORT(pw_task_in)
uint8_t *pw_task_in(call_t *c) {
  return c->in;
}

EXPORT(pw_task_in_len)
uint32_t pw_task_in_len(call_t *c) {
  return c->in_len;
}

EXPORT(pw_task_out)
uint8_t *pw_task_out(call_t *c) {
  return c->out;
}

EXPORT(pw_task_out_len)
uint32_t pw_task_out_len(call_t *c) {
  return c->out_len;
}

EXPORT(pw_task_threw)
int pw_task_threw(call_t *c) {
  return c->threw;
}

/* The outcome: `len` encoded bytes from malloc, which the record owns;
 * threw: they encode an error. */
EXPORT(pw_task_set_out)
void pw_task_set_out(call_t *c, uint8_t *out, uint32_t len, int threw) {
  free(c->out);
  c->out = out;
  c->out_len = len;
  c->threw = threw;
}

/* ---- Fork-join inside a task (penny/task in the browser). ---- */

/* A child of task function `fn`, pushed onto w's deque; its record (a
 * call_t that never reaches a done list) holds a penny_task_t as well. */
typedef struct {
  call_t call;
  penny_task_t task;
} child_t;

EXPORT(pw_spawn)
child_t *pw_spawn(penny_worker_t *w, uint32_t fn, uint8_t *in,
                  uint32_t len) {
  child_t *ch = calloc(1, sizeof(*ch));
  if (ch == NULL) {
    free(in);
    return NULL;
  }
  ch->call.kind = KIND_TASK;
  ch->call.fn = fn;
  ch->call.in = in;
  ch->call.in_len = len;
  penny_spawn(w, &ch->task, task_run, &ch->call);
  return ch;
}

/* Waits for the child (running it here if nobody stole it). Its outcome
 * is then in its record, which the host frees with pw_call_free. */
EXPORT(pw_sync)
call_t *pw_sync(penny_worker_t *w, child_t *ch) {
  penny_sync(w, &ch->task);
  return &ch->call;
}

EXPORT(pw_cancelled)
int pw_cancelled(penny_worker_t *w) {
  return penny_cancelled(w);
}

EXPORT(pw_worker_count)
unsigned pw_worker_count(penny_worker_t *w) {
  return penny_worker_count(w);
}
