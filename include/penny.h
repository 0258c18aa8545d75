/* Penny: a Cilk-style work-stealing runtime.
 *
 * This is the one public header. It declares the pool, the root jobs that
 * code outside the pool submits, the fork-join API that kernels use on a
 * worker thread, the kernel ABI, and the plugin ABI. Everything named here
 * is ABI; internal structures stay in src/core.
 *
 * A plugin (a shared library of kernels that Node's pool.load() opens)
 * defines PENNY_PLUGIN before including this header: the fork-join calls
 * then go through the table of functions Penny hands the plugin, so the
 * plugin links against nothing. See docs/plugins.md.
 */
#ifndef PENNY_H
#define PENNY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
# if defined(PENNY_BUILDING_SHARED)
#  define PENNY_EXTERN __declspec(dllexport)
# elif defined(PENNY_USING_SHARED)
#  define PENNY_EXTERN __declspec(dllimport)
# else
#  define PENNY_EXTERN /* static library */
# endif
#elif __GNUC__ >= 4
# define PENNY_EXTERN __attribute__((visibility("default")))
#else
# define PENNY_EXTERN /* nothing */
#endif

#define PENNY_VERSION_MAJOR 0
#define PENNY_VERSION_MINOR 1
#define PENNY_VERSION_PATCH 0
#define PENNY_VERSION_HEX ((PENNY_VERSION_MAJOR << 16) | \
                           (PENNY_VERSION_MINOR << 8)  | \
                           (PENNY_VERSION_PATCH))

/* Bumped whenever a struct layout or a function signature below changes. */
#define PENNY_ABI_VERSION 2

/* Error codes: XX(name, value, message). Every fallible function returns 0
 * or one of these negative values. */
#define PENNY_ERRNO_MAP(XX)                                                   \
  XX(EINVAL,    -1, "invalid argument")                                       \
  XX(ENOMEM,    -2, "out of memory")                                          \
  XX(ERANGE,    -3, "value out of range")                                     \
  XX(ECLOSED,   -4, "pool is closed")                                         \
  XX(ECANCELED, -5, "job was cancelled")                                      \
  XX(EBUSY,     -6, "job is already running")                                 \
  XX(EDONE,     -7, "job has already finished")                               \
  XX(ETHREAD,   -8, "could not start a worker thread")                        \
  XX(EKERNEL,   -9, "kernel reported failure")                                \
  XX(EDEADLK,  -10, "would deadlock: called from the pool's own worker")      \

typedef enum {
#define PENNY_ERRNO_ENUM_(name, value, msg) PENNY_##name = value,
  PENNY_ERRNO_MAP(PENNY_ERRNO_ENUM_)
#undef PENNY_ERRNO_ENUM_
  PENNY_OK = 0
} penny_errno_t;

/* "invalid argument" for PENNY_EINVAL; "unknown error" for anything else. */
PENNY_EXTERN const char *penny_strerror(int err);
/* "EINVAL" for PENNY_EINVAL; "UNKNOWN" for anything else. */
PENNY_EXTERN const char *penny_err_name(int err);

/* Opaque long-lived objects. */
typedef struct penny_pool_s penny_pool_t;
typedef struct penny_worker_s penny_worker_t;

/* A unit of work. `w` is the worker running it: pass it on to the
 * fork-join calls below. */
typedef void (*penny_task_fn)(penny_worker_t *w, void *arg);

/* The body of penny_for: handles the index range [lo, hi). */
typedef void (*penny_for_fn)(penny_worker_t *w, int64_t lo, int64_t hi,
                             void *arg);

/* Storage for one spawned child, provided by the caller (usually on the
 * stack), so a spawn never allocates. Its contents are private. */
typedef struct penny_task_s {
  uint64_t opaque_[4];
} penny_task_t;

/* A root job submitted from outside the pool. The caller owns the storage,
 * fills the four public fields, and keeps it alive until `done` has been
 * called, which happens exactly once per submitted job, on a worker thread.
 * `status` is 0, PENNY_ECANCELED (cancelled before it started, or
 * cancellation was requested while it ran), or the code the kernel passed
 * to penny_fail. After `done` returns the pool never touches the job. */
typedef struct penny_job_s penny_job_t;
typedef void (*penny_done_fn)(penny_job_t *job, int status);

struct penny_job_s {
  penny_task_fn fn;
  void *arg;
  penny_done_fn done;
  void *data;             /* for the caller; the pool never reads it */
  uint64_t opaque_[4];
};

/* Job states, as returned by penny_job_state. */
#define PENNY_JOB_QUEUED    0
#define PENNY_JOB_RUNNING   1
#define PENNY_JOB_DONE      2
#define PENNY_JOB_CANCELLED 3

/* A second source of root jobs besides penny_pool_submit, for producers
 * that cannot make a call per job: a JavaScript thread that writes job
 * descriptions into shared memory, say. Idle workers poll it after their
 * own deque, the other workers' deques and the injector.
 *
 * take(ctx): runs on a worker (possibly several at once). Returns a job
 * with fn and done set and its state reset by penny_job_reset, or NULL
 * when there is none. The job is then run as if it had been submitted.
 *
 * ready(ctx): asks the producer to call penny_pool_notify on its next
 * publish, and returns non-zero if take may find a job now. It runs on a
 * worker about to sleep, after it has counted itself asleep and passed a
 * full barrier, and on a worker that took a root job while all the others
 * slept, to see whether one must be woken for more. A producer that
 * publishes a job with a SeqCst store and then reads, with a SeqCst load,
 * a word that ready() sets with a SeqCst store before looking, learns
 * whether it must call penny_pool_notify: either ready() sees the job or
 * the producer sees the word. ready() must not count sleepers.
 *
 * Destroy does not drain a source: what is left in it belongs to the
 * producer. */
typedef struct penny_source_s {
  penny_job_t *(*take)(void *ctx);
  int (*ready)(void *ctx);
  void *ctx;
} penny_source_t;

/* Pool options. Zero-initialise, then set what you need. */
typedef struct penny_pool_options_s {
  unsigned threads;          /* 0: one per available CPU */
  unsigned deque_capacity;   /* power of two; 0: 4096 frames per worker */
  unsigned injector_capacity; /* power of two, at least 2; 0: 4096 jobs */
  unsigned spin_us;          /* idle spin before sleeping; 0: 50 us */
  unsigned flags;            /* PENNY_POOL_* below */
  /* Optional caller-supplied memory for the pool's control blocks
   * (workers, deques, injector): 64-byte aligned, at least
   * penny_pool_mem_size() bytes, alive until penny_pool_destroy returns.
   * NULL: the pool allocates it. */
  void *mem;
  size_t mem_size;
  /* Optional second source of root jobs (see above); copied. */
  const penny_source_t *source;
  /* PENNY_POOL_EXTERNAL_THREADS: the wake-up epoch word that lent threads
   * park on themselves (see penny_worker_run), and how to wake them. */
  uint32_t *park_word;
  void (*park_wake)(void *ctx, int all);
  void *park_ctx;
} penny_pool_options_t;

/* Debug switch: every deque reports itself full, so every spawn runs its
 * child inline. Results must not change; tests use it. */
#define PENNY_POOL_DEBUG_FULL_DEQUE 0x1u
/* Debug switch: a thief yields the CPU between reading a frame and
 * claiming it, a submit yields before and after its push, and a sync that
 * puts back a borrowed frame pauses first, to widen the races that stress
 * tests look for. */
#define PENNY_POOL_DEBUG_RACE 0x2u
/* Use the textbook symmetric fences in the deques even where the faster
 * asymmetric ones (Linux membarrier) are available. */
#define PENNY_POOL_SYMMETRIC_FENCES 0x4u
/* The pool starts no threads: each of its `threads` workers is a thread
 * the caller lends with penny_worker_run (see below). */
#define PENNY_POOL_EXTERNAL_THREADS 0x8u

/* Bytes of control memory a pool with these options needs. */
PENNY_EXTERN int penny_pool_mem_size(const penny_pool_options_t *opts,
                                     size_t *size);

/* Starts the worker threads. `opts` may be NULL for the defaults. */
PENNY_EXTERN int penny_pool_create(penny_pool_t **pool,
                                   const penny_pool_options_t *opts);

/* Optional: the process-wide set-up that a pool's first worker otherwise
 * does as it starts, before it runs anything (on Linux, registering the
 * process for membarrier, which can take milliseconds). Call it early,
 * from a thread whose latency does not matter. Thread-safe; once a call
 * has returned, later ones (and pool creation) return at once. */
PENNY_EXTERN void penny_prepare(void);

/* Lent threads (PENNY_POOL_EXTERNAL_THREADS). A thread that the caller
 * owns (one with an event loop of its own, say) works as worker `index`:
 * penny_worker_run runs the worker loop on it, and returns
 *   0                  once the pool is being destroyed: call no more;
 *   PENNY_WORKER_PARK  when there is nothing to do: *epoch is set, and the
 *                      caller waits until the park word differs from it
 *                      (park_wake is called when it should look), then
 *                      calls again with resume = 1;
 *   PENNY_WORKER_LEFT  after a job called penny_worker_leave: the worker
 *                      is vacant, and any thread may run it again with
 *                      resume = 0.
 * resume = 0 takes a vacant worker (each starts vacant) and fails with
 * PENNY_EBUSY if another thread has it. A thread that dies while parked
 * (after PENNY_WORKER_PARK, before resuming) must be reported with
 * penny_worker_vacate, or the pool would count it as asleep forever; one
 * cannot die inside penny_worker_run. Destroy waits for every thread
 * inside penny_worker_run to return, and completes the jobs nobody took
 * with PENNY_ECANCELED itself (queued jobs do not wait for a parked thread
 * to come back); from a job on a lent thread it returns PENNY_EDEADLK.
 * Destroy wakes parked threads but frees the pool without waiting for
 * them: a thread must not call penny_worker_run after destroy has begun.
 * A lender whose parked threads may wake then guards the pool's lifetime
 * itself, for instance with penny_worker_enter under a lock that destroy
 * also takes (as the Node binding does). */
#define PENNY_WORKER_PARK 1
#define PENNY_WORKER_LEFT 2
PENNY_EXTERN int penny_worker_run(penny_pool_t *pool, unsigned index,
                                  int resume, uint32_t *epoch);
/* penny_worker_run in two steps, for a caller that must know the thread
 * is counted in before it lets go of the pool (a lock that keeps the pool
 * alive, say): enter takes the worker (0, or PENNY_ECLOSED once the pool
 * is being destroyed, or as above), run_entered runs the loop. Between
 * them destroy waits. */
PENNY_EXTERN int penny_worker_enter(penny_pool_t *pool, unsigned index,
                                    int resume);
PENNY_EXTERN int penny_worker_run_entered(penny_pool_t *pool, unsigned index,
                                          uint32_t *epoch);
/* From a job on a lent thread: its penny_worker_run returns
 * PENNY_WORKER_LEFT once the job is done, instead of taking more work. */
PENNY_EXTERN void penny_worker_leave(penny_worker_t *w);
/* Any thread: worker `index`, whose thread is gone, is vacant again.
 * PENNY_EBUSY if a thread is inside penny_worker_run for it. */
PENNY_EXTERN int penny_worker_vacate(penny_pool_t *pool, unsigned index);
/* Any thread: how many threads are inside penny_worker_run now, a
 * snapshot. Destroy waits for each of them to return; a caller that must
 * not block (an event loop) can wait for 0 first. */
PENNY_EXTERN unsigned penny_pool_lent_inside(const penny_pool_t *pool);

/* Flag for penny_pool_destroy: jobs still queued finish with
 * PENNY_ECANCELED without running, running ones see penny_cancelled(). */
#define PENNY_DESTROY_CANCEL 0x1u

/* Refuses new jobs, lets the queued and running ones finish (or cancels
 * them, see above), stops and joins every worker and frees the pool. No
 * thread of the pool runs after it returns.
 *
 * Submits made by the pool's own workers while it drains (a `done`
 * callback that queues a follow-up job, say) return PENNY_ECLOSED. A
 * submit that is still returning on another thread is waited for: a job's
 * `done` can run before its submit returns, so destroying as soon as the
 * last `done` has run is safe. Starting a submit on another thread
 * concurrently with destroy is not: like any call on a pool being freed,
 * it may touch freed memory.
 *
 * Returns PENNY_EDEADLK, and does nothing, when called on one of the
 * pool's own workers (from a kernel or a `done` callback). */
PENNY_EXTERN int penny_pool_destroy(penny_pool_t *pool, unsigned flags);

/* Queues a root job. Never waits for a worker and never fails for lack of
 * room (when the ring is full it briefly takes the overflow list's lock).
 * Returns PENNY_ECLOSED once destruction has begun, PENNY_EINVAL for a job
 * without fn or done. Any thread may submit, the pool's workers included
 * (a kernel that wants parallelism forks with penny_spawn instead). The
 * job's `done` may run before this returns. */
PENNY_EXTERN int penny_pool_submit(penny_pool_t *pool, penny_job_t *job);

/* Wakes a sleeping worker if one sleeps and none is searching: for
 * producers that feed a penny_source_t. Any thread. */
PENNY_EXTERN void penny_pool_notify(penny_pool_t *pool);

/* Marks a job queued, as penny_pool_submit does, for a job that a
 * penny_source_t's take() hands out. A SeqCst store: a canceller that
 * publishes its request before calling penny_job_cancel, and a take()
 * that reads that request after this call, cannot both miss it. */
PENNY_EXTERN void penny_job_reset(penny_job_t *job);

/* Cancels a job. 0: it was queued and will finish with PENNY_ECANCELED
 * without running. PENNY_EBUSY: it is running; penny_cancelled() now
 * reports true to its kernel, which finishes with PENNY_ECANCELED.
 * PENNY_EDONE: it has finished (or was cancelled before). The caller must
 * know the job is still alive, i.e. `done` has not returned. */
PENNY_EXTERN int penny_job_cancel(penny_job_t *job);

/* One of PENNY_JOB_*. DONE or CANCELLED can be seen shortly before `done`
 * is called: only `done` says the job's storage may be reused. */
PENNY_EXTERN int penny_job_state(const penny_job_t *job);

PENNY_EXTERN unsigned penny_pool_threads(const penny_pool_t *pool);

/* Per-worker event counters (zero when built with PENNY_NO_STATS). Tasks
 * run on a worker are jobs + steals; children that run where they were
 * spawned cost a function call and are not counted, to keep spawns free
 * of bookkeeping. */
typedef struct penny_stats_s {
  uint64_t jobs;           /* root jobs run (not counting cancelled ones) */
  uint64_t steals;         /* tasks taken from another worker's deque, run */
  uint64_t inlined;        /* children run at once because the deque was full */
  uint64_t failed_steals;  /* steal attempts that found nothing or lost */
  uint64_t sleeps;         /* times the worker parked */
  uint64_t wakeups;        /* wake-ups this worker sent to sleepers */
} penny_stats_t;

#define PENNY_ALL_WORKERS ((unsigned)-1)

/* Counters of one worker, or summed over all with PENNY_ALL_WORKERS.
 * Safe from any thread at any time; the values are a racy snapshot. */
PENNY_EXTERN int penny_pool_stats(const penny_pool_t *pool, unsigned worker,
                                  penny_stats_t *stats);

/* ---- Fork-join: only on a worker thread, with that worker's `w`. ---- */

/* A plugin gets these same calls as static inline functions that go
 * through Penny's table (see the end of this header). */
#ifndef PENNY_PLUGIN

/* Makes fn(w, arg) available to other workers and returns. Any number of
 * children may be spawned from one frame; each must be synced, in the
 * reverse order of its spawn, before the spawning function returns. */
PENNY_EXTERN void penny_spawn(penny_worker_t *w, penny_task_t *child,
                              penny_task_fn fn, void *arg);

/* Returns once the child has run: runs it here if no thief took it,
 * otherwise helps with other work until the thief is done. */
PENNY_EXTERN void penny_sync(penny_worker_t *w, penny_task_t *child);

/* Runs fa(w, a) and fb(w, b), in parallel when a worker is free. */
PENNY_EXTERN void penny_join(penny_worker_t *w, penny_task_fn fa, void *a,
                             penny_task_fn fb, void *b);

/* Calls body over [0, n) in chunks of at least `grain` indices (0: pick
 * one), splitting lazily: a range is halved only while its worker's deque
 * is empty, i.e. when a thief could use the other half. Stops handing out
 * chunks once the job is cancelled. */
PENNY_EXTERN void penny_for(penny_worker_t *w, int64_t n, int64_t grain,
                            penny_for_fn body, void *arg);

/* Non-zero once the current root job has been cancelled (or the pool is
 * being destroyed with PENNY_DESTROY_CANCEL). Poll at chunk boundaries. */
PENNY_EXTERN int penny_cancelled(const penny_worker_t *w);

/* Makes the current root job finish with `err` (a negative PENNY_* code)
 * once its kernel returns. The first failure wins. */
PENNY_EXTERN void penny_fail(penny_worker_t *w, int err);

/* Fork-join for a caller that runs its children itself, such as a lent
 * thread whose children are functions of another language:
 * penny_spawn_try pushes `child` as penny_spawn does and returns 1, or
 * returns 0 when the deque is full (the child counts as inlined) and the
 * caller runs it now. penny_sync_try, for a pushed child, returns 1 when
 * no thief took it, without calling fn: the caller runs it. Otherwise it
 * waits for the thief and returns 0; meanwhile, if `help` is non-zero, it
 * runs other frames (the thief's first), never new root jobs. fn runs
 * only on a thief. The ordering rule of penny_sync applies. */
PENNY_EXTERN int penny_spawn_try(penny_worker_t *w, penny_task_t *child,
                                 penny_task_fn fn, void *arg);
PENNY_EXTERN int penny_sync_try(penny_worker_t *w, penny_task_t *child,
                                int help);

/* Frames on the calling worker's own deque, waiting for a sync or a
 * thief (0 means a thief would find nothing there): lazy splitting asks
 * this before it halves a range. */
PENNY_EXTERN int64_t penny_worker_queued(const penny_worker_t *w);

/* The worker's index in its pool, from 0, and the pool's worker count. */
PENNY_EXTERN unsigned penny_worker_index(const penny_worker_t *w);
PENNY_EXTERN unsigned penny_worker_count(const penny_worker_t *w);

/* The root job whose task the worker is running, NULL between jobs. */
PENNY_EXTERN penny_job_t *penny_worker_job(const penny_worker_t *w);
#endif /* !PENNY_PLUGIN */

/* ---- Kernels: C functions that JavaScript calls by name. ---- */

/* Element types of typed-array parameters, and types of scalar ones. */
#define PENNY_TYPE_MAP(XX)                                                    \
  XX(I8,  1, "i8",  int8_t)                                                   \
  XX(U8,  2, "u8",  uint8_t)                                                  \
  XX(I16, 3, "i16", int16_t)                                                  \
  XX(U16, 4, "u16", uint16_t)                                                 \
  XX(I32, 5, "i32", int32_t)                                                  \
  XX(U32, 6, "u32", uint32_t)                                                 \
  XX(I64, 7, "i64", int64_t)                                                  \
  XX(U64, 8, "u64", uint64_t)                                                 \
  XX(F32, 9, "f32", float)                                                    \
  XX(F64, 10, "f64", double)                                                  \

typedef enum {
#define PENNY_TYPE_ENUM_(name, value, str, ctype) PENNY_##name = value,
  PENNY_TYPE_MAP(PENNY_TYPE_ENUM_)
#undef PENNY_TYPE_ENUM_
  PENNY_TYPE_NONE = 0
} penny_type_t;

/* One argument as a kernel sees it. For a typed-array parameter `data`
 * points at the first element, `length` counts elements and `type` is the
 * actual element type (for `num[]` parameters the kernel dispatches on it).
 * For a scalar parameter `num` holds the value, already checked against the
 * declared type (integers are exact), and `data` is NULL. */
typedef struct penny_arg_s {
  void *data;
  size_t length;
  double num;
  int type;
} penny_arg_t;

/* A kernel's scalar result, read when its signature declares one. Set
 * `num`; or, for an integer result that a double cannot hold exactly (a
 * reduction over a BigInt64Array, say), set `big` and the value as a
 * 256-bit two's-complement integer, least significant limb first, which
 * JavaScript receives as a BigInt. */
typedef struct penny_result_s {
  double num;
  int big;
  uint64_t limbs[4];
} penny_result_t;

/* Runs on a worker. Fork with `w`; report failure with penny_fail. */
typedef void (*penny_kernel_fn)(penny_worker_t *w, const penny_arg_t *args,
                                penny_result_t *result);

/* Optional pre-flight check, run once the arguments match the signature
 * and before the kernel: on the submitting thread, or on a worker for a
 * task that came through a job source (several may run at once; keep it a
 * pure function of its arguments). Returns 0, PENNY_EINVAL (a wrong kind
 * of argument) or PENNY_ERANGE (a bad size or value), and then points
 * *msg at a static, human-readable reason. */
typedef int (*penny_check_fn)(const penny_arg_t *args, const char **msg);

/* A kernel and its signature, for example
 *   "axpy(f64 a, in f64[] x, inout f64[] y) -> void"
 * Parameters are scalars (`TYPE name`) or typed arrays
 * (`in|out|inout TYPE[] name`, where TYPE may be `num` for any element
 * type); the result is `void` or `f64`. At most PENNY_MAX_ARGS
 * parameters. */
#define PENNY_MAX_ARGS 8
typedef struct penny_kernel_s {
  const char *signature;
  penny_kernel_fn fn;
  penny_check_fn check;   /* may be NULL */
} penny_kernel_t;

/* Typed access to array arguments: penny_f64(&args[i]) is the data of an
 * f64[] argument as a double *, and NULL when the argument is not an f64
 * array (a scalar, or another element type). Penny passes a non-NULL
 * pointer for every array argument, empty ones included, so NULL always
 * means a mismatch. One getter per element type: penny_i8 .. penny_f64. */
#define PENNY_ARRAY_GETTERS_(XX)                                              \
  XX(i8, I8, int8_t) XX(u8, U8, uint8_t) XX(i16, I16, int16_t)                \
  XX(u16, U16, uint16_t) XX(i32, I32, int32_t) XX(u32, U32, uint32_t)         \
  XX(i64, I64, int64_t) XX(u64, U64, uint64_t) XX(f32, F32, float)            \
  XX(f64, F64, double)
#define PENNY_ARRAY_GETTER_(low, up, ctype)                                   \
  static inline ctype *penny_##low(const penny_arg_t *arg) {                  \
    return arg->type == PENNY_##up && arg->data != NULL ? (ctype *) arg->data \
                                                        : NULL;               \
  }
PENNY_ARRAY_GETTERS_(PENNY_ARRAY_GETTER_)
#undef PENNY_ARRAY_GETTER_

/* ---- Plugins: kernels in a shared library that pool.load() opens. ----
 *
 * A plugin exports one function, named PENNY_PLUGIN_ENTRY_NAME, of type
 * penny_plugin_entry_fn. Penny calls it once per load with the plugin ABI
 * version it speaks and its table of functions; the plugin returns a
 * descriptor that names the version it was built for and lists its
 * kernels. Penny refuses the library unless the two versions are equal.
 *
 * The versioning rule: PENNY_PLUGIN_ABI changes whenever anything a
 * plugin relies on changes incompatibly (penny_api_t, penny_plugin_t,
 * penny_kernel_t, penny_arg_t, penny_result_t, penny_task_t, the element
 * type codes, the error codes, the signature grammar). The entry point's
 * name and type, and the first member of penny_plugin_t, never change, so
 * a mismatch is always reported, never a crash. A plugin built for an
 * older version must be rebuilt against the new header.
 *
 * Only the kernels' own threads call into the table, and only while a
 * pool that loaded the plugin exists. */
#define PENNY_PLUGIN_ABI 1
#define PENNY_PLUGIN_ENTRY_NAME "penny_plugin"

typedef struct penny_api_s {
  uint32_t abi;  /* PENNY_PLUGIN_ABI of the host */
  uint32_t size; /* sizeof(penny_api_t) in the host */
  void (*spawn)(penny_worker_t *w, penny_task_t *child, penny_task_fn fn,
                void *arg);
  void (*sync)(penny_worker_t *w, penny_task_t *child);
  void (*join)(penny_worker_t *w, penny_task_fn fa, void *a,
               penny_task_fn fb, void *b);
  void (*parallel_for)(penny_worker_t *w, int64_t n, int64_t grain,
                       penny_for_fn body, void *arg);
  int (*cancelled)(const penny_worker_t *w);
  void (*fail)(penny_worker_t *w, int err);
  /* Fails the task with a message: its promise rejects with an Error
   * whose code is ERR_PENNY_KERNEL and whose message is `msg` (copied,
   * up to 255 bytes). The first failure of a task wins. */
  void (*fail_message)(penny_worker_t *w, const char *msg);
  unsigned (*worker_index)(const penny_worker_t *w);
  unsigned (*worker_count)(const penny_worker_t *w);
} penny_api_t;

typedef struct penny_plugin_s {
  uint32_t abi;                    /* PENNY_PLUGIN_ABI, as built; first */
  uint32_t count;                  /* kernels */
  const penny_kernel_t *kernels;   /* signatures and functions */
} penny_plugin_t;

typedef const penny_plugin_t *(*penny_plugin_entry_fn)(
  uint32_t host_abi, const penny_api_t *api);

#ifdef PENNY_PLUGIN
#if defined(_WIN32)
# define PENNY_PLUGIN_EXPORT_ __declspec(dllexport)
# define PENNY_PLUGIN_HIDDEN_
#elif __GNUC__ >= 4
# define PENNY_PLUGIN_EXPORT_ __attribute__((visibility("default")))
# define PENNY_PLUGIN_HIDDEN_ __attribute__((visibility("hidden")))
#else
# define PENNY_PLUGIN_EXPORT_
# define PENNY_PLUGIN_HIDDEN_
#endif

/* Set by the entry point that PENNY_PLUGIN_DEFINE writes, at every load
 * (always to the same table), while kernels of an earlier load may read
 * it: hence atomic accesses, relaxed since the table itself never
 * changes. */
extern PENNY_PLUGIN_HIDDEN_ const penny_api_t *penny_plugin_api_;
#if defined(__GNUC__)
# define PENNY_PLUGIN_API_                                                    \
  ((const penny_api_t *) __atomic_load_n(&penny_plugin_api_,                  \
                                         __ATOMIC_RELAXED))
# define PENNY_PLUGIN_SET_API_(api)                                           \
  __atomic_store_n(&penny_plugin_api_, (api), __ATOMIC_RELAXED)
#else
# define PENNY_PLUGIN_API_ penny_plugin_api_
# define PENNY_PLUGIN_SET_API_(api) (penny_plugin_api_ = (api))
#endif
#ifdef __cplusplus
# define PENNY_PLUGIN_LINKAGE_ extern "C"
#else
# define PENNY_PLUGIN_LINKAGE_
#endif

/* Defines the entry point in one source file of the plugin:
 *   static const penny_kernel_t kernels[] = { { "blur(...) -> void",
 *                                               blur, blur_check } };
 *   PENNY_PLUGIN_DEFINE(kernels)
 */
#define PENNY_PLUGIN_DEFINE(kernels)                                          \
  PENNY_PLUGIN_HIDDEN_ const penny_api_t *penny_plugin_api_;                  \
  PENNY_PLUGIN_LINKAGE_ PENNY_PLUGIN_EXPORT_ const penny_plugin_t *           \
  penny_plugin(uint32_t host_abi, const penny_api_t *api);                    \
  PENNY_PLUGIN_LINKAGE_ PENNY_PLUGIN_EXPORT_ const penny_plugin_t *           \
  penny_plugin(uint32_t host_abi, const penny_api_t *api) {                   \
    static const penny_plugin_t plugin = {                                    \
      PENNY_PLUGIN_ABI, sizeof(kernels) / sizeof((kernels)[0]), (kernels)    \
    };                                                                        \
    if (host_abi == PENNY_PLUGIN_ABI)                                         \
      PENNY_PLUGIN_SET_API_(api);                                             \
    return &plugin;                                                           \
  }

static inline void penny_spawn(penny_worker_t *w, penny_task_t *child,
                               penny_task_fn fn, void *arg) {
  PENNY_PLUGIN_API_->spawn(w, child, fn, arg);
}
static inline void penny_sync(penny_worker_t *w, penny_task_t *child) {
  PENNY_PLUGIN_API_->sync(w, child);
}
static inline void penny_join(penny_worker_t *w, penny_task_fn fa, void *a,
                              penny_task_fn fb, void *b) {
  PENNY_PLUGIN_API_->join(w, fa, a, fb, b);
}
static inline void penny_for(penny_worker_t *w, int64_t n, int64_t grain,
                             penny_for_fn body, void *arg) {
  PENNY_PLUGIN_API_->parallel_for(w, n, grain, body, arg);
}
static inline int penny_cancelled(const penny_worker_t *w) {
  return PENNY_PLUGIN_API_->cancelled(w);
}
static inline void penny_fail(penny_worker_t *w, int err) {
  PENNY_PLUGIN_API_->fail(w, err);
}
static inline void penny_fail_message(penny_worker_t *w, const char *msg) {
  PENNY_PLUGIN_API_->fail_message(w, msg);
}
static inline unsigned penny_worker_index(const penny_worker_t *w) {
  return PENNY_PLUGIN_API_->worker_index(w);
}
static inline unsigned penny_worker_count(const penny_worker_t *w) {
  return PENNY_PLUGIN_API_->worker_count(w);
}
#endif /* PENNY_PLUGIN */

#ifdef __cplusplus
}
#endif
#endif /* PENNY_H */
