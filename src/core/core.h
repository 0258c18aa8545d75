/* The records every module of the core shares: spawned frames, the private
 * words of a root job, the injector, the worker and the pool, with who
 * writes each field and the cache lines that keep writers apart. Types,
 * constants and compiler hints only: what each module does with them is
 * declared in its own header (injector.h, deque.h, sleep.h, worker.h,
 * fork.h). Nothing here is ABI. */
#ifndef PENNY_CORE_H
#define PENNY_CORE_H

#include "penny.h"
#include "platform.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PENNY_CACHE_LINE 64

#if defined(__GNUC__)
# define PENNY_LIKELY(x) __builtin_expect(!!(x), 1)
# define PENNY_UNLIKELY(x) __builtin_expect(!!(x), 0)
# define PENNY_NOINLINE __attribute__((noinline))
#else
# define PENNY_LIKELY(x) (x)
# define PENNY_UNLIKELY(x) (x)
# define PENNY_NOINLINE
#endif

/* Compile-time counters: each is written only by its own worker, so an
 * increment is a relaxed load and store (no locked instruction), and
 * penny_pool_stats reads them with relaxed loads from any thread. */
#ifdef PENNY_NO_STATS
# define PENNY_COUNT(w, field) ((void) 0)
#else
# define PENNY_COUNT(w, field)                                              \
  atomic_store_explicit(&(w)->stats.field,                                  \
      atomic_load_explicit(&(w)->stats.field, memory_order_relaxed) + 1,    \
      memory_order_relaxed)
#endif

typedef struct {
  _Atomic uint64_t jobs, steals, inlined, failed_steals, sleeps, wakeups;
} penny__counters_t;

/* ---- Spawned frames (the private view of penny_task_t). ---- */

enum {
  TASK_PUSHED = 0,  /* on the owner's deque (or being stolen from it) */
  TASK_INLINE = 1,  /* the deque was full: already ran inside spawn */
  TASK_DONE = 2     /* a thief ran it to completion */
};

/* `word` packs the state (low 32 bits) with the index of the worker that
 * stole the frame (high 32 bits), so a spawn initializes both in one
 * store. */
#define TASK_NO_THIEF UINT32_MAX
#define TASK_WORD(state, thief) (((uint64_t) (thief) << 32) | (state))
#define TASK_STATE(word) ((uint32_t) (word))
#define TASK_THIEF(word) ((uint32_t) ((word) >> 32))

/* The frame does not record its root job: a frame on a worker's deque
 * always belongs to that worker's current job (w->job), because a worker
 * takes on other work only once its deque is empty (a sync whose child
 * was stolen, or the top of its loop), and syncs everything that work
 * spawns before it switches back. A thief reads the victim's job while it
 * steals (penny__deque_steal). */
typedef struct penny__task_s {
  penny_task_fn fn;
  void *arg;
  _Atomic uint64_t word;    /* TASK_WORD(TASK_*, thief); a thief sets
                               TASK_DONE with a release store */
} penny__task_t;

static_assert(sizeof(penny__task_t) <= sizeof(penny_task_t),
              "penny_task_t too small for the private frame");
static_assert(alignof(penny__task_t) <= alignof(penny_task_t),
              "penny_task_t under-aligned for the private frame");

/* ---- Root jobs (the private words of penny_job_t). ---- */

#define JOB_STATE_MASK 0x3u      /* PENNY_JOB_* */
#define JOB_CANCEL_REQ 0x4u      /* cancellation requested while running */

typedef struct {
  _Atomic uint32_t state;   /* PENNY_JOB_* | JOB_CANCEL_REQ */
  _Atomic int32_t status;   /* first penny_fail code, 0 if none */
  penny_job_t *next;        /* overflow list link, under the injector lock */
  uint64_t reserved;
} penny__job_priv_t;

static_assert(sizeof(penny__job_priv_t) <= sizeof(((penny_job_t *) 0)->opaque_),
              "penny_job_t too small for the private job words");

static inline penny__job_priv_t *penny__job_priv(const penny_job_t *job) {
  return (penny__job_priv_t *) (void *) &job->opaque_[0];
}

/* ---- The injector: jobs from outside the pool (injector.h). ---- */

/* A bounded multi-producer multi-consumer ring (Vyukov's sequence-numbered
 * cells) with an overflow list behind a mutex for when it is full, so a
 * submission never fails and never blocks on a worker. The pool embeds
 * it, hence its record here. */
typedef struct {
  _Atomic uint64_t seq;
  penny_job_t *job;
} penny__cell_t;

typedef struct {
  alignas(PENNY_CACHE_LINE) _Atomic uint64_t enqueue_pos; /* producers */
  alignas(PENNY_CACHE_LINE) _Atomic uint64_t dequeue_pos; /* consumers */
  alignas(PENNY_CACHE_LINE) penny__cell_t *cells;         /* immutable */
  uint64_t mask;
  /* Jobs in the overflow list; producers use the list while it is not
   * empty, so jobs keep their order. */
  _Atomic uint64_t overflow_count;
  penny__mutex_t overflow_lock;
  penny_job_t *overflow_head;   /* under overflow_lock */
  penny_job_t *overflow_tail;   /* under overflow_lock */
} penny__injector_t;

/* ---- Workers. ----
 *
 * The Chase-Lev deque's fields (top, bottom, ring, mask, cap_limit,
 * push_limit: deque.h) share the record with the worker loop's (worker.h),
 * laid out by who touches them: a thief reads only the first three lines,
 * and the owner's private words sit on a line of their own. */

struct penny_worker_s {
  /* Written by thieves (CAS) and by the owner racing for the last item. */
  alignas(PENNY_CACHE_LINE) _Atomic int64_t top;
  /* Written only by the owner, read by thieves. */
  alignas(PENNY_CACHE_LINE) _Atomic int64_t bottom;
  /* Set at creation, read by everyone. */
  alignas(PENNY_CACHE_LINE) _Atomic(penny__task_t *) *ring;
  int64_t mask;             /* ring capacity - 1 */
  int64_t cap_limit;        /* frames the deque may hold before "full" */
  penny_pool_t *pool;
  unsigned index;
  unsigned count;           /* threads in the pool */
  int debug_race;           /* PENNY_POOL_DEBUG_RACE: yield inside steal */
  /* Lent threads only: a LENT_* state (lend.c), and the request of
   * penny_worker_leave, read by the loop after each job. */
  _Atomic int lent;
  int leave;
  int asym;                 /* asymmetric fences (see deque.h) */
  /* Root job of the task running now, or NULL. Written by the owner (only
   * when it switches jobs), read by thieves while they steal. */
  _Atomic(penny_job_t *) job;
  /* Owner-only. */
  /* A bottom at or past push_limit may mean a full deque: it is a lower
   * bound of `top` (read with acquire when last refreshed) plus cap_limit,
   * so the common push compares against one owner-private word. */
  alignas(PENNY_CACHE_LINE) int64_t push_limit;
  unsigned nested_jobs;     /* root jobs started inside penny__sync_slow */
  uint64_t rng;             /* xorshift state for victim selection */
  penny__thread_t thread;   /* written by create, read by destroy */
  /* Written by the owner, read by penny_pool_stats. */
  alignas(PENNY_CACHE_LINE) penny__counters_t stats;
};

/* Thieves hammer `top`, the owner writes `bottom` on every spawn and
 * sync: on one line they would bounce between cores. */
static_assert(offsetof(struct penny_worker_s, bottom) -
                  offsetof(struct penny_worker_s, top) >= PENNY_CACHE_LINE,
              "top and bottom share a cache line");
static_assert(offsetof(struct penny_worker_s, ring) -
                  offsetof(struct penny_worker_s, bottom) >= PENNY_CACHE_LINE,
              "bottom shares a cache line with read-mostly fields");

/* ---- The pool, its sleep state (sleep.h) and its shutdown state. ---- */

#define PENNY_MAX_THREADS 4096

struct penny_pool_s {
  /* Sleep state, read on every notify; changes only when workers go idle,
   * sleep or wake. `idle` holds the IDLE_* counts of sleep.h. */
  alignas(PENNY_CACHE_LINE) _Atomic uint64_t idle;
  penny__park_t park;         /* word: wake-up epoch, bumped by wakers */
  _Atomic uint32_t *epoch;    /* &park.word, or the external park word */
  void (*ext_wake)(void *ctx, int all);
  void *ext_ctx;
  /* Shutdown (penny_pool_destroy): `closed` refuses new submissions;
   * `submitting` counts submit calls in progress, which destroy waits out
   * before it sets `exiting`; workers leave once `exiting` is set, the
   * injector is empty and no job is running (`jobs_running`), so a job
   * still running keeps every thief available to the end.
   * The submitters' words and the workers' words sit on separate lines:
   * workers update `jobs_running` for every job, and sharing its line
   * with `submitting` made each submit wait for that line. */
  alignas(PENNY_CACHE_LINE) _Atomic int closed;
  _Atomic int64_t submitting;
  alignas(PENNY_CACHE_LINE) _Atomic int64_t jobs_running;
  _Atomic int exiting;
  _Atomic int cancel_all;     /* destroy with PENNY_DESTROY_CANCEL */
  penny__injector_t injector;
  penny_worker_t *workers;    /* `threads` of them, in `mem` */
  unsigned threads;
  int debug_race;             /* PENNY_POOL_DEBUG_RACE */
  int external;               /* PENNY_POOL_EXTERNAL_THREADS */
  _Atomic unsigned inside;    /* lent threads inside penny_worker_run */
  uint64_t spin_ns;
  penny_source_t source;      /* take == NULL: none */
  void *mem;                  /* control memory */
  int own_mem;                /* allocated by us, freed by destroy */
  /* The workers' fence discipline (their `asym`), a FENCES_* state: the
   * first worker to start decides it (penny__decide_fences), unless
   * penny_pool_create could. A lent pool's threads may take long to
   * start, so meanwhile a thread of the pool's own registers for the
   * asymmetric fences (`registrar`; `registering` until it is joined). */
  _Atomic int fences;
  int registering;
  penny__thread_t registrar;
};

enum { FENCES_UNDECIDED, FENCES_DECIDING, FENCES_DECIDED };

/* Sets every worker's `asym` once, on the first worker to start; the
 * others wait here until it has. Registering for asymmetric fences can
 * take milliseconds (Linux membarrier waits for an RCU grace period),
 * which is why penny_pool_create's caller does not wait for it. */
void penny__decide_fences(penny_pool_t *pool);

/* Called by each worker before it touches a deque. Acquire: pairs with
 * the release in penny__decide_fences, so the workers' `asym` are set. */
static inline void penny__fences_ready(penny_pool_t *pool) {
  if (PENNY_UNLIKELY(atomic_load_explicit(&pool->fences,
                                          memory_order_acquire) !=
                     FENCES_DECIDED))
    penny__decide_fences(pool);
}

#endif /* PENNY_CORE_H */
