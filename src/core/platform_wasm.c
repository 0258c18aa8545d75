/* The platform layer on WebAssembly with shared memory (wasm32, clang's
 * freestanding target): the module runs in several instances over one
 * shared memory, each in a Worker (a browser's module Web Worker, or a
 * Node worker_thread). A new thread is a record in that memory with a
 * stack and a thread-local block of its own, which the JavaScript host
 * hands to one of its idle Workers (penny_host_spawn); the Worker points
 * its instance's stack pointer at the stack, then calls
 * penny_wasm_thread_main. Locks, condition variables and parking are
 * futexes on memory.atomic.wait32/notify.
 *
 * A browser's main thread may not wait (wait32 traps there): a thread the
 * host has not marked as able to block (penny_wasm_set_can_block) spins
 * instead wherever this file would wait. Penny's browser glue keeps C
 * calls that could wait off the main thread; the spin is the backstop.
 * Compiles to nothing on any other target. */
#ifdef __wasm__

#include "platform.h"
#include "penny.h"

#include <stdlib.h>
#include <string.h>

/* ---- What the JavaScript host provides. ---- */

#define PENNY_HOST_(name) \
  __attribute__((import_module("env"), import_name(#name)))

/* Hands the record to an idle Worker; 0, or -1 if none could take it. */
PENNY_HOST_(penny_host_spawn) int penny_host_spawn(penny__thread_t rec);
/* performance.now(), in milliseconds. */
PENNY_HOST_(penny_host_now) double penny_host_now(void);
/* navigator.hardwareConcurrency (or os.availableParallelism()). */
PENNY_HOST_(penny_host_cpu_count) unsigned penny_host_cpu_count(void);

/* The host reads this record's fields at fixed offsets: keep the layout
 * (wasm32: 4-byte pointers and sizes) in step with lib/wasm/threads.js. */
struct penny__wasm_thread_s {
  _Atomic uint32_t done;    /* 0: running; the host stores 1 and notifies
                             * once fn has returned and the Worker is off
                             * the stack */
  void (*fn)(void *);
  void *arg;
  void *stack;              /* lowest address */
  size_t stack_size;
  void *tls;                /* __tls_size bytes at __tls_align */
  _Atomic uint32_t claimed; /* 0; 1 once a Worker runs it, 2 once a joiner
                             * that may not block ran it itself */
};

/* The record of the thread this instance runs (NULL on the host's first
 * instance), and whether it may wait. */
static _Thread_local penny__thread_t self;
static _Thread_local int can_block;

extern void __wasm_init_tls(void *block);

/* The host, once per instance before anything else runs on it: a fresh
 * thread-local block (which the instance's C code needs before its first
 * access to one). Returns it, or NULL when out of memory. */
__attribute__((export_name("penny_wasm_instance_init")))
void *penny_wasm_instance_init(void) {
  void *tls = aligned_alloc(__builtin_wasm_tls_align(),
                            __builtin_wasm_tls_size() + 1);
  if (tls != NULL)
    __wasm_init_tls(tls);
  return tls;
}

/* The host: whether this instance's thread may wait (a Worker may, a
 * browser's main thread may not). */
__attribute__((export_name("penny_wasm_set_can_block")))
void penny_wasm_set_can_block(int yes) {
  can_block = yes;
}

/* The host, on a Worker whose stack pointer it has set to rec's stack:
 * runs the thread's function. The host then stores rec->done = 1 and
 * notifies (from JavaScript, which uses no stack in this memory). */
__attribute__((export_name("penny_wasm_thread_main")))
void penny_wasm_thread_main(penny__thread_t rec) {
  uint32_t unclaimed = 0;
  /* Relaxed: the record's fields were published to this Worker by the
   * host's hand-over; the claim only decides who runs it. */
  if (!atomic_compare_exchange_strong_explicit(&rec->claimed, &unclaimed, 1,
                                               memory_order_relaxed,
                                               memory_order_relaxed))
    return; /* its joiner ran it (penny__thread_join) */
  __wasm_init_tls(rec->tls);
  self = rec;
  can_block = 1;
  rec->fn(rec->arg);
}

/* ---- Waiting. ---- */

/* memory.atomic.wait32, alone in a function of its own. V8's baseline
 * compiler (Liftoff) in Node 20 (V8 11.3) loses values the function holds
 * in registers across the instruction: a parameter read after a wait in a
 * loop came back 0, and a pool pointer held across a job's wait became
 * NULL. Called, the wait has nothing live around it but its result, and
 * the caller's values are saved as for any call (test/wasm/core.test.js
 * checks both). Never inline it. */
__attribute__((noinline))
int penny__wasm_wait32(_Atomic uint32_t *word, uint32_t expected,
                       int64_t timeout_ns) {
  /* The builtin takes the word as a plain int: the same 4 bytes. */
  return __builtin_wasm_memory_atomic_wait32((int *) (void *) word,
                                             (int) expected, timeout_ns);
}

/* Sleeps while *word == expected (or `ms` milliseconds, -1: no limit);
 * may return spuriously. A thread that may not block spins once. */
static void wait_word(_Atomic uint32_t *word, uint32_t expected, int64_t ms) {
  if (!can_block)
    return;
  (void) penny__wasm_wait32(word, expected, ms < 0 ? -1 : ms * 1000000);
}

static void wake_word(_Atomic uint32_t *word, unsigned count) {
  (void) __builtin_wasm_memory_atomic_notify((int *) (void *) word, count);
}

/* ---- Threads. ---- */

int penny__thread_create(penny__thread_t *t, size_t stack_size,
                         void (*fn)(void *), void *arg) {
  if (stack_size == 0)
    stack_size = (size_t) 1 << 20;
  stack_size = (stack_size + 15) & ~(size_t) 15;
  penny__thread_t rec = calloc(1, sizeof(*rec));
  if (rec == NULL)
    return PENNY_ETHREAD;
  rec->fn = fn;
  rec->arg = arg;
  rec->stack_size = stack_size;
  rec->stack = aligned_alloc(16, stack_size);
  rec->tls = aligned_alloc(__builtin_wasm_tls_align(),
                           __builtin_wasm_tls_size() + 1);
  atomic_init(&rec->done, 0);
  atomic_init(&rec->claimed, 0);
  if (rec->stack == NULL || rec->tls == NULL || penny_host_spawn(rec) != 0) {
    free(rec->stack);
    free(rec->tls);
    free(rec);
    return PENNY_ETHREAD;
  }
  *t = rec;
  return 0;
}

void penny__thread_join(penny__thread_t *t) {
  penny__thread_t rec = *t;
  uint32_t unclaimed = 0;
  /* A joiner that may not block (a page's thread) cannot wait for a
   * Worker that has not started: a browser starts it only once this
   * thread returns to its event loop. If no Worker has claimed the thread
   * yet, the joiner runs it here; the core joins only threads told to
   * exit, so it returns at once. The record, stack and thread-local
   * block are then left allocated: the Worker, when it starts, still
   * reads the record and runs on the stack before it sees the claim.
   * Relaxed: as in penny_wasm_thread_main. */
  if (!can_block &&
      atomic_compare_exchange_strong_explicit(&rec->claimed, &unclaimed, 2,
                                              memory_order_relaxed,
                                              memory_order_relaxed)) {
    rec->fn(rec->arg);
    *t = NULL;
    return;
  }
  /* Acquire: pairs with the host's store of 1 after fn returned, so all
   * the thread did happens before what follows the join. */
  while (atomic_load_explicit(&rec->done, memory_order_acquire) == 0)
    wait_word(&rec->done, 0, -1);
  free(rec->stack);
  free(rec->tls);
  free(rec);
  *t = NULL;
}

int penny__thread_is_self(const penny__thread_t *t) {
  return self != NULL && *t == self;
}

void penny__thread_set_name(const char *name) {
  (void) name; /* the host names its Workers */
}

void penny__thread_yield(void) {
  /* No scheduler to yield to inside a Worker; the callers spin on a
   * condition that another thread changes soon. */
}

void penny__sleep_ms(unsigned ms) {
  _Atomic uint32_t never = 0;
  wait_word(&never, 0, ms);
}

unsigned penny__cpu_count(void) {
  unsigned n = penny_host_cpu_count();
  return n > 0 ? n : 1;
}

uint64_t penny__hrtime(void) {
  return (uint64_t) (penny_host_now() * 1e6);
}

/* ---- Locks: a futex mutex (0 free, 1 held, 2 held and contended). ---- */

int penny__mutex_init(penny__mutex_t *m) {
  atomic_init(&m->state, 0);
  return 0;
}

void penny__mutex_destroy(penny__mutex_t *m) {
  (void) m;
}

void penny__mutex_lock(penny__mutex_t *m) {
  uint32_t c = 0;
  /* Acquire: the holder's writes, released by its unlock, are seen. */
  if (atomic_compare_exchange_strong_explicit(&m->state, &c, 1,
                                              memory_order_acquire,
                                              memory_order_relaxed))
    return;
  /* Contended: mark it so, and sleep while it stays held. Acquire, as
   * above, for the exchange that takes it. */
  if (c != 2)
    c = atomic_exchange_explicit(&m->state, 2, memory_order_acquire);
  while (c != 0) {
    wait_word(&m->state, 2, -1);
    c = atomic_exchange_explicit(&m->state, 2, memory_order_acquire);
  }
}

void penny__mutex_unlock(penny__mutex_t *m) {
  /* Release: our writes before the next holder's acquire. */
  if (atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2)
    wake_word(&m->state, 1);
}

/* ---- Condition variables: a sequence word that each signal bumps. ---- */

int penny__cond_init(penny__cond_t *c) {
  atomic_init(&c->seq, 0);
  return 0;
}

void penny__cond_destroy(penny__cond_t *c) {
  (void) c;
}

void penny__cond_wait(penny__cond_t *c, penny__mutex_t *m) {
  /* Relaxed: read under the mutex, which orders it before the unlock; a
   * signal after the unlock changes it, so the wait does not sleep. */
  uint32_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
  penny__mutex_unlock(m);
  wait_word(&c->seq, seq, -1);
  penny__mutex_lock(m);
}

void penny__cond_signal(penny__cond_t *c) {
  /* Relaxed: the caller holds or just released the mutex that orders the
   * state change; the bump only has to be seen by wait32's compare. */
  atomic_fetch_add_explicit(&c->seq, 1, memory_order_relaxed);
  wake_word(&c->seq, 1);
}

void penny__cond_broadcast(penny__cond_t *c) {
  atomic_fetch_add_explicit(&c->seq, 1, memory_order_relaxed); /* as above */
  wake_word(&c->seq, UINT32_MAX);
}

/* ---- Memory: there is no OS to hand pages back to. ---- */

void *penny__pages_alloc(size_t bytes) {
  void *p = aligned_alloc(64, bytes);
  if (p != NULL)
    memset(p, 0, bytes);
  return p;
}

void penny__pages_free(void *p, size_t bytes) {
  (void) bytes;
  free(p);
}

void penny__pages_discard(void *p, size_t bytes) {
  (void) p; /* "unspecified afterwards" is allowed: nothing to do */
  (void) bytes;
}

void *penny__aligned_alloc(size_t align, size_t size) {
  return aligned_alloc(align, (size + align - 1) & ~(align - 1));
}

void penny__aligned_free(void *p) {
  free(p);
}

void penny__advise_huge(void *data, size_t bytes) {
  (void) data;
  (void) bytes;
}

/* ---- Parking: a futex on the word. ---- */

int penny__park_init(penny__park_t *p) {
  atomic_init(&p->word, 0);
  return 0;
}

void penny__park_destroy(penny__park_t *p) {
  (void) p;
}

void penny__park_wait(penny__park_t *p, uint32_t expected) {
  wait_word(&p->word, expected, -1);
}

void penny__park_wake(penny__park_t *p, int all) {
  wake_word(&p->word, all ? UINT32_MAX : 1);
}

/* No asymmetric fences: every worker uses the SeqCst fence. */
int penny__heavy_barrier_init(void) {
  return 0;
}

int penny__heavy_barrier_known(void) {
  return 1;
}

void penny__heavy_barrier(void) {
}

#endif /* __wasm__ */
