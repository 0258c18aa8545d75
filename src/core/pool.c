/* The pool: its memory layout, creating it (its workers and their
 * threads), destroying it, and its statistics. */
#include "core.h"
#include "injector.h"
#include "sleep.h"
#include "worker.h"
#include "lend.h"

#include <string.h>

/* ---- Memory layout. ---- */

#define DEFAULT_DEQUE_CAPACITY 4096u
#define DEFAULT_INJECTOR_CAPACITY 4096u
#define DEFAULT_SPIN_US 50u
#ifdef __wasm__
/* A wasm thread's stack is malloc'd from the one shared memory (2 GiB at
 * most) and holds only C frames: a JS task's own recursion is on the
 * engine's stack. */
# define WORKER_STACK_SIZE ((size_t) 1 << 20)
#else
# define WORKER_STACK_SIZE ((size_t) 8 << 20)
#endif

/* The registrar only names itself and registers. */
#define REGISTRAR_STACK_SIZE ((size_t) 64 << 10)

typedef struct {
  unsigned threads;
  uint64_t deque_capacity;
  uint64_t injector_capacity;
  size_t rings_off, cells_off, size;
} layout_t;

static bool is_pow2(uint64_t x) {
  return x != 0 && (x & (x - 1)) == 0;
}

static size_t align_up(size_t x) {
  return (x + PENNY_CACHE_LINE - 1) & ~(size_t) (PENNY_CACHE_LINE - 1);
}

static int compute_layout(const penny_pool_options_t *o, layout_t *l) {
  static const penny_pool_options_t defaults;
  if (o == NULL)
    o = &defaults;
  l->threads = o->threads ? o->threads : penny__cpu_count();
  l->deque_capacity = o->deque_capacity ? o->deque_capacity
                                        : DEFAULT_DEQUE_CAPACITY;
  l->injector_capacity = o->injector_capacity ? o->injector_capacity
                                              : DEFAULT_INJECTOR_CAPACITY;
  /* The injector needs two cells at least: with one, the sequence number
   * a push leaves behind reads as "free" to the next push. */
  if (l->threads > PENNY_MAX_THREADS || !is_pow2(l->deque_capacity) ||
      !is_pow2(l->injector_capacity) || l->injector_capacity < 2 ||
      l->deque_capacity > (1u << 24) ||
      l->injector_capacity > (1u << 24) ||
      (o->flags & ~(PENNY_POOL_DEBUG_FULL_DEQUE | PENNY_POOL_DEBUG_RACE |
                    PENNY_POOL_SYMMETRIC_FENCES |
                    PENNY_POOL_EXTERNAL_THREADS)) != 0)
    return PENNY_EINVAL;
  /* Workers first, then their rings, then the injector's cells. */
  l->rings_off = align_up(sizeof(penny_worker_t) * l->threads);
  l->cells_off = l->rings_off +
      align_up(sizeof(_Atomic(penny__task_t *)) * l->deque_capacity) *
          l->threads;
  l->size = l->cells_off +
      align_up(sizeof(penny__cell_t) * l->injector_capacity);
  return 0;
}

int penny_pool_mem_size(const penny_pool_options_t *opts, size_t *size) {
  layout_t l;
  int err;
  if (size == NULL)
    return PENNY_EINVAL;
  if ((err = compute_layout(opts, &l)) != 0)
    return err;
  *size = l.size;
  return 0;
}

/* ---- Creating and destroying pools. ---- */

void penny_prepare(void) {
  (void) penny__heavy_barrier_init();
}

static void set_fences(penny_pool_t *pool, int asym) {
  for (unsigned i = 0; i < pool->threads; i++)
    pool->workers[i].asym = asym;
}

/* The registrar thread of a lent pool (see penny_pool_create). */
static void registrar_main(void *arg) {
  (void) arg;
  penny__thread_set_name("penny-fences");
  penny_prepare();
}

void penny__decide_fences(penny_pool_t *pool) {
  int state = FENCES_UNDECIDED;
  /* Relaxed: the CAS only elects the decider; what it writes is published
   * by the release store below. */
  if (atomic_compare_exchange_strong_explicit(&pool->fences, &state,
                                              FENCES_DECIDING,
                                              memory_order_relaxed,
                                              memory_order_relaxed)) {
    if (pool->registering) {
      penny__thread_join(&pool->registrar);
      pool->registering = 0;
    }
    set_fences(pool, penny__heavy_barrier_init());
    /* Release: every `asym` above before any worker goes past
     * penny__fences_ready. */
    atomic_store_explicit(&pool->fences, FENCES_DECIDED,
                          memory_order_release);
    return;
  }
  /* While the decider registers, register too (each call waits for its
   * own grace period, about as long; once one has returned the next
   * returns at once), then wait for the decider's store. */
  (void) penny__heavy_barrier_init();
  /* Acquire: as in penny__fences_ready. */
  while (atomic_load_explicit(&pool->fences, memory_order_acquire) !=
         FENCES_DECIDED)
    penny__thread_yield();
}

int penny_pool_create(penny_pool_t **out, const penny_pool_options_t *opts) {
  static const penny_pool_options_t defaults;
  layout_t l;
  penny_pool_t *pool;
  int err;

  if (out == NULL)
    return PENNY_EINVAL;
  *out = NULL;
  if (opts == NULL)
    opts = &defaults;
  if ((err = compute_layout(opts, &l)) != 0)
    return err;
  if (opts->source != NULL &&
      (opts->source->take == NULL || opts->source->ready == NULL))
    return PENNY_EINVAL;
  if (opts->mem != NULL &&
      (opts->mem_size < l.size ||
       ((uintptr_t) opts->mem & (PENNY_CACHE_LINE - 1)) != 0))
    return PENNY_EINVAL;

  /* Lent threads park on the caller's word, woken through the caller. */
  if ((opts->flags & PENNY_POOL_EXTERNAL_THREADS) &&
      (opts->park_word == NULL || opts->park_wake == NULL))
    return PENNY_EINVAL;
  pool = penny__aligned_alloc(PENNY_CACHE_LINE, sizeof(*pool));
  if (pool == NULL)
    return PENNY_ENOMEM;
  memset(pool, 0, sizeof(*pool));
  pool->threads = l.threads;
  pool->debug_race = (opts->flags & PENNY_POOL_DEBUG_RACE) != 0;
  pool->external = (opts->flags & PENNY_POOL_EXTERNAL_THREADS) != 0;
  if (opts->source != NULL)
    pool->source = *opts->source;
  pool->spin_ns = (uint64_t) (opts->spin_us ? opts->spin_us
                                            : DEFAULT_SPIN_US) * 1000;
  pool->own_mem = opts->mem == NULL;
  pool->mem = opts->mem ? opts->mem
                        : penny__aligned_alloc(PENNY_CACHE_LINE, l.size);
  if (pool->mem == NULL) {
    penny__aligned_free(pool);
    return PENNY_ENOMEM;
  }
  memset(pool->mem, 0, l.size);
  /* Every worker starts out searching; a lent one starts vacant. */
  atomic_init(&pool->idle, pool->external ? 0
                           : (uint64_t) l.threads * IDLE_SEARCHING_ONE);
  atomic_init(&pool->closed, 0);
  atomic_init(&pool->exiting, 0);
  atomic_init(&pool->submitting, 0);
  atomic_init(&pool->jobs_running, 0);
  atomic_init(&pool->cancel_all, 0);
  if ((err = penny__park_init(&pool->park)) != 0)
    goto fail_park;
  pool->epoch = &pool->park.word;
  if (pool->external) {
    pool->epoch = (_Atomic uint32_t *) (void *) opts->park_word;
    pool->ext_wake = opts->park_wake;
    pool->ext_ctx = opts->park_ctx;
  }
  if ((err = penny__injector_init(&pool->injector,
                                  (penny__cell_t *) (void *)
                                      ((char *) pool->mem + l.cells_off),
                                  l.injector_capacity)) != 0)
    goto fail_injector;

  pool->workers = (penny_worker_t *) pool->mem;
  for (unsigned i = 0; i < l.threads; i++) {
    penny_worker_t *w = &pool->workers[i];
    atomic_init(&w->top, 0);
    atomic_init(&w->bottom, 0);
    w->ring = (_Atomic(penny__task_t *) *) (void *)
        ((char *) pool->mem + l.rings_off +
         i * align_up(sizeof(*w->ring) * l.deque_capacity));
    w->mask = (int64_t) l.deque_capacity - 1;
    w->cap_limit = (opts->flags & PENNY_POOL_DEBUG_FULL_DEQUE)
                       ? 0 : (int64_t) l.deque_capacity;
    w->push_limit = w->cap_limit;
    w->debug_race = (opts->flags & PENNY_POOL_DEBUG_RACE) != 0;
    w->asym = 0;
    w->pool = pool;
    atomic_init(&w->job, NULL);
    w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
    w->index = i;
    w->count = l.threads;
  }
  /* The fences: decided here if that takes no time, else by the first
   * worker to start. A pool's own threads start at once and register
   * themselves; a lent pool's may take long, so a registrar thread gets
   * a head start for them (if it cannot start, the first worker
   * registers). */
  if (opts->flags & PENNY_POOL_SYMMETRIC_FENCES) {
    atomic_init(&pool->fences, FENCES_DECIDED);
  } else if (penny__heavy_barrier_known()) {
    set_fences(pool, penny__heavy_barrier_init());
    atomic_init(&pool->fences, FENCES_DECIDED);
  } else {
    atomic_init(&pool->fences, FENCES_UNDECIDED);
    pool->registering = pool->external &&
        penny__thread_create(&pool->registrar, REGISTRAR_STACK_SIZE,
                             registrar_main, NULL) == 0;
  }
  for (unsigned i = 0; i < (pool->external ? 0 : l.threads); i++) {
    err = penny__thread_create(&pool->workers[i].thread, WORKER_STACK_SIZE,
                               penny__worker_main, &pool->workers[i]);
    if (err != 0) {
      /* Stop the ones already running (nothing was submitted yet). */
      atomic_store_explicit(&pool->closed, 1, memory_order_seq_cst);
      atomic_store_explicit(&pool->exiting, 1, memory_order_seq_cst);
      penny__wake_all(pool);
      for (unsigned j = 0; j < i; j++)
        penny__thread_join(&pool->workers[j].thread);
      goto fail_threads;
    }
  }
  *out = pool;
  return 0;

fail_threads:
  penny__injector_destroy(&pool->injector);
fail_injector:
  penny__park_destroy(&pool->park);
fail_park:
  if (pool->own_mem)
    penny__aligned_free(pool->mem);
  penny__aligned_free(pool);
  return err;
}

int penny_pool_destroy(penny_pool_t *pool, unsigned flags) {
  if (pool == NULL || (flags & ~PENNY_DESTROY_CANCEL) != 0)
    return PENNY_EINVAL;
  /* A worker cannot wait for itself to exit. */
  if (pool->external && penny__lent_is_self(pool))
    return PENNY_EDEADLK;
  for (unsigned i = 0; i < (pool->external ? 0 : pool->threads); i++)
    if (penny__thread_is_self(&pool->workers[i].thread))
      return PENNY_EDEADLK;
  /* Relaxed: jobs dequeued from here on see it (the wake-ups below order
   * it for sleepers); one dequeued just before may still start, and then
   * sees penny_cancelled(). */
  if (flags & PENNY_DESTROY_CANCEL)
    atomic_store_explicit(&pool->cancel_all, 1, memory_order_relaxed);
  /* SeqCst store, then SeqCst loads of `submitting`: pairs with submit's
   * increment of `submitting` and load of `closed`. Either the submit sees
   * `closed` and backs out, or we see it in progress and wait: a job's
   * `done` can run before its submit returns, and the submit still
   * touches the pool after its push. (A submit that starts on another
   * thread after this loop is the caller's use-after-free; see penny.h.) */
  atomic_store_explicit(&pool->closed, 1, memory_order_seq_cst);
  while (atomic_load_explicit(&pool->submitting, memory_order_seq_cst) != 0)
    penny__thread_yield();
  /* SeqCst: pairs with the loads in penny__may_exit. */
  atomic_store_explicit(&pool->exiting, 1, memory_order_seq_cst);
  penny__wake_all(pool);
  if (pool->external) {
    penny__lent_drain(pool);
    /* No thread was ever lent: nobody decided the fences, or joined the
     * registrar (lent_drain has waited out any that was deciding). */
    if (pool->registering)
      penny__thread_join(&pool->registrar);
  } else {
    for (unsigned i = 0; i < pool->threads; i++)
      penny__thread_join(&pool->workers[i].thread);
  }
  penny__injector_destroy(&pool->injector);
  penny__park_destroy(&pool->park);
  if (pool->own_mem)
    penny__aligned_free(pool->mem);
  penny__aligned_free(pool);
  return 0;
}

/* ---- Threads and counters. ---- */

unsigned penny_pool_threads(const penny_pool_t *pool) {
  return pool ? pool->threads : 0;
}

int penny_pool_stats(const penny_pool_t *pool, unsigned worker,
                     penny_stats_t *stats) {
  if (pool == NULL || stats == NULL ||
      (worker != PENNY_ALL_WORKERS && worker >= pool->threads))
    return PENNY_EINVAL;
  memset(stats, 0, sizeof(*stats));
  for (unsigned i = 0; i < pool->threads; i++) {
    if (worker != PENNY_ALL_WORKERS && worker != i)
      continue;
    const penny__counters_t *c = &pool->workers[i].stats;
#define PENNY_ADD_(f) \
    stats->f += atomic_load_explicit(&c->f, memory_order_relaxed)
    PENNY_ADD_(jobs);
    PENNY_ADD_(steals);
    PENNY_ADD_(inlined);
    PENNY_ADD_(failed_steals);
    PENNY_ADD_(sleeps);
    PENNY_ADD_(wakeups);
#undef PENNY_ADD_
  }
  return 0;
}
