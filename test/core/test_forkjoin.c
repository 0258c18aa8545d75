/* Nested fork-join on a real pool: exact results for many sizes and
 * thread counts, more threads than cores included. */
#include "helpers.h"
#include "../../src/core/core.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

static int check_fib(unsigned threads, unsigned flags, int max_n) {
  penny_pool_t *pool = make_pool(threads, flags);
  for (int n = 0; n <= max_n; n++) {
    fib_arg_t a = { n, -1 };
    ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
    ASSERT_EQ(a.result, fib_serial(n));
  }
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_UEQ(st.jobs, (uint64_t) max_n + 1);
  if (flags & PENNY_POOL_DEBUG_FULL_DEQUE) {
    /* Nothing was pushed, so nothing could be stolen. */
    ASSERT_UEQ(st.steals, 0);
    ASSERT_GT(st.inlined, 0);
  } else {
    ASSERT_UEQ(st.inlined, 0);
  }
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

TEST_IMPL(fib_spawn_threads_1_to_8) {
  int max_n = test_scale(8) >= 8 ? 24 : 18;
  for (unsigned t = 1; t <= 8; t++)
    ASSERT_EQ(check_fib(t, 0, max_n), 0);
  return 0;
}

TEST_IMPL(fib_spawn_racy_steals) {
  return check_fib(4, PENNY_POOL_DEBUG_RACE, test_scale(8) >= 8 ? 22 : 16);
}

TEST_IMPL(fib_spawn_symmetric_fences) {
  for (unsigned t = 1; t <= 4; t++)
    ASSERT_EQ(check_fib(t, PENNY_POOL_SYMMETRIC_FENCES,
                        test_scale(8) >= 8 ? 22 : 16), 0);
  return 0;
}

/* penny_pool_create leaves the fences to the first worker that starts
 * (registering for them can take milliseconds): once a job has run, every
 * worker has the same discipline, the asymmetric one wherever the process
 * can have it, unless the pool asked for the symmetric one. */
TEST_IMPL(fences_decided_by_first_worker) {
  penny_prepare();
  penny_prepare(); /* idempotent */
  const int can = penny__heavy_barrier_init();
  const unsigned flags[] = { 0, PENNY_POOL_SYMMETRIC_FENCES };
  for (int k = 0; k < 2; k++) {
    penny_pool_t *pool = make_pool(4, flags[k]);
    fib_arg_t a = { 18, -1 };
    ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
    ASSERT_EQ(a.result, fib_serial(18));
    ASSERT_EQ(atomic_load(&pool->fences), FENCES_DECIDED);
    for (unsigned i = 0; i < pool->threads; i++)
      ASSERT_EQ(pool->workers[i].asym, flags[k] ? 0 : can);
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  return 0;
}

TEST_IMPL(fib_full_deque_runs_inline) {
  return check_fib(3, PENNY_POOL_DEBUG_FULL_DEQUE, 20);
}

/* The recursive parallel sum (sum_task, helpers.h) at many sizes, on
 * 1 to 8 threads. */
static int check_sum(unsigned flags) {
  static const int64_t sizes[] = { 0, 1, 2, 3, 63, 64, 65, 1000, 4097,
                                   100003, 1000000 };
  int64_t max = sizes[sizeof(sizes) / sizeof(sizes[0]) - 1];
  int64_t *x = random_values(max, 12345, 20);
  for (unsigned t = 1; t <= 8; t++) {
    penny_pool_t *pool = make_pool(t, flags);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
      sum_arg_t a = { x, sizes[k], -1 };
      ASSERT_EQ(run_on_pool(pool, sum_task, &a), 0);
      ASSERT_EQ(a.sum, sum_serial(x, sizes[k]));
    }
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  free(x);
  return 0;
}

TEST_IMPL(join_recursive_sum) {
  return check_sum(0);
}

TEST_IMPL(join_recursive_sum_symmetric_fences) {
  return check_sum(PENNY_POOL_SYMMETRIC_FENCES);
}

TEST_IMPL(join_recursive_sum_full_deque) {
  return check_sum(PENNY_POOL_DEBUG_FULL_DEQUE);
}

/* One frame with many children, synced in reverse order. */
#define MANY 100

typedef struct {
  _Atomic int64_t *slots;
  int64_t i;
} many_arg_t;

static void many_child(penny_worker_t *w, void *arg) {
  many_arg_t *a = arg;
  (void) w;
  atomic_fetch_add(&a->slots[a->i], a->i + 1);
}

static void many_parent(penny_worker_t *w, void *arg) {
  penny_task_t children[MANY];
  many_arg_t args[MANY];
  for (int64_t i = 0; i < MANY; i++) {
    args[i] = (many_arg_t) { arg, i };
    penny_spawn(w, &children[i], many_child, &args[i]);
  }
  for (int64_t i = MANY - 1; i >= 0; i--)
    penny_sync(w, &children[i]);
}

TEST_IMPL(spawn_many_children_per_frame) {
  for (unsigned t = 1; t <= 4; t++) {
    penny_pool_t *pool = make_pool(t, 0);
    for (int rep = 0; rep < 50; rep++) {
      _Atomic int64_t slots[MANY];
      for (int i = 0; i < MANY; i++)
        atomic_init(&slots[i], 0);
      ASSERT_EQ(run_on_pool(pool, many_parent, slots), 0);
      for (int i = 0; i < MANY; i++)
        ASSERT_EQ(atomic_load(&slots[i]), i + 1);
    }
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  return 0;
}

/* penny_for: every index exactly once, whatever n and grain. */
typedef struct {
  _Atomic uint8_t *hits;
  int64_t n;
  _Atomic int bad;
} for_arg_t;

static void for_body(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  for_arg_t *a = arg;
  (void) w;
  if (lo < 0 || hi > a->n || lo >= hi)
    atomic_store(&a->bad, 1);
  for (int64_t i = lo; i < hi && i < a->n && i >= 0; i++)
    atomic_fetch_add_explicit(&a->hits[i], 1, memory_order_relaxed);
}

typedef struct {
  for_arg_t *fa;
  int64_t grain;
} for_job_t;

static void for_job(penny_worker_t *w, void *arg) {
  for_job_t *j = arg;
  penny_for(w, j->fa->n, j->grain, for_body, j->fa);
}

TEST_IMPL(parallel_for_covers_each_index_once) {
  static const int64_t sizes[] = { 0, 1, 2, 7, 8, 9, 1000, 4095, 4096, 4097,
                                   100000 };
  static const int64_t grains[] = { 0, 1, 3, 4096 };
  for (unsigned t = 1; t <= 8; t += 3) {
    penny_pool_t *pool = make_pool(t, 0);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
      for (size_t g = 0; g < sizeof(grains) / sizeof(grains[0]); g++) {
        int64_t n = sizes[s];
        for_arg_t fa;
        fa.hits = calloc((size_t) n + 1, 1);
        fa.n = n;
        atomic_init(&fa.bad, 0);
        for_job_t j = { &fa, grains[g] };
        ASSERT_EQ(run_on_pool(pool, for_job, &j), 0);
        ASSERT_EQ(atomic_load(&fa.bad), 0);
        for (int64_t i = 0; i < n; i++)
          ASSERT_EQ(atomic_load(&fa.hits[i]), 1);
        free(fa.hits);
      }
    }
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  return 0;
}

/* Worker index and count as kernels see them. */
static void where_am_i(penny_worker_t *w, void *arg) {
  unsigned *out = arg;
  out[0] = penny_worker_index(w);
  out[1] = penny_worker_count(w);
}

TEST_IMPL(worker_index_and_count) {
  penny_pool_t *pool = make_pool(3, 0);
  ASSERT_EQ(penny_pool_threads(pool), 3);
  for (int i = 0; i < 20; i++) {
    unsigned out[2] = { 99, 99 };
    ASSERT_EQ(run_on_pool(pool, where_am_i, out), 0);
    ASSERT_LT(out[0], 3);
    ASSERT_EQ(out[1], 3);
  }
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* Workers carry their names (penny-w0, ...) where the OS shows them. */
TEST_IMPL(worker_threads_are_named) {
#ifdef __linux__
  penny_pool_t *pool = make_pool(3, 0);
  int found[3] = { 0, 0, 0 };
  char path[64], name[32];
  /* Threads name themselves as they start: look until all three have. */
  for (int tries = 0; tries < 1000; tries++) {
    DIR *dir = opendir("/proc/self/task");
    ASSERT(dir != NULL);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (e->d_name[0] == '.')
        continue;
      snprintf(path, sizeof(path), "/proc/self/task/%.20s/comm", e->d_name);
      FILE *f = fopen(path, "r");
      if (f == NULL)
        continue;
      if (fgets(name, sizeof(name), f)) {
        unsigned k;
        if (sscanf(name, "penny-w%u", &k) == 1 && k < 3)
          found[k] = 1;
      }
      fclose(f);
    }
    closedir(dir);
    if (found[0] && found[1] && found[2])
      break;
    usleep(1000);
  }
  ASSERT(found[0] && found[1] && found[2]);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
#endif
  return 0;
}

/* A sync whose child ran inline (full deque) borrows the frame below it
 * and puts it back. The put-back must call for help like a spawn: a
 * worker may have gone to sleep while the frame was off the deque. Here
 * the other worker is busy, then sleeps during that window (the debug
 * switch holds the frame 5 ms); the frame must still be stolen by it
 * rather than wait for its owner. */
typedef struct {
  _Atomic int busy_started;
  _Atomic int a_done;
  _Atomic unsigned a_worker;
  unsigned j2_worker;
  int a_done_in_time;
} borrow_t;

static void busy_1ms(penny_worker_t *w, void *arg) {
  borrow_t *b = arg;
  (void) w;
  atomic_store(&b->busy_started, 1);
  usleep(1000);
}

static void frame_a(penny_worker_t *w, void *arg) {
  borrow_t *b = arg;
  atomic_store(&b->a_worker, penny_worker_index(w));
  atomic_store(&b->a_done, 1);
}

static void nothing(penny_worker_t *w, void *arg) {
  (void) w;
  (void) arg;
}

static void borrower(penny_worker_t *w, void *arg) {
  borrow_t *b = arg;
  penny_task_t ta, tt;
  b->j2_worker = penny_worker_index(w);
  penny_spawn(w, &ta, frame_a, b);
  penny_spawn(w, &tt, nothing, NULL); /* Capacity 1: runs inline. */
  penny_sync(w, &tt);                 /* Borrows A, pauses, puts it back. */
  for (int i = 0; i < 1000 && !atomic_load(&b->a_done); i++)
    usleep(1000);
  b->a_done_in_time = atomic_load(&b->a_done);
  penny_sync(w, &ta);
}

TEST_IMPL(put_back_frame_wakes_sleepers) {
  penny_pool_options_t o;
  memset(&o, 0, sizeof(o));
  o.threads = 2;
  o.deque_capacity = 1;
  o.spin_us = 1;
  o.flags = PENNY_POOL_DEBUG_RACE;
  for (int fences = 0; fences < 2; fences++) {
    if (fences)
      o.flags |= PENNY_POOL_SYMMETRIC_FENCES;
    penny_pool_t *pool;
    ASSERT_EQ(penny_pool_create(&pool, &o), 0);
    borrow_t b;
    memset(&b, 0, sizeof(b));
    sync_job_t j1;
    sync_job_submit(pool, &j1, busy_1ms, &b);
    while (!atomic_load(&b.busy_started))
      usleep(50);
    ASSERT_EQ(run_on_pool(pool, borrower, &b), 0);
    ASSERT_EQ(sync_job_wait(&j1), 0);
    ASSERT_EQ(b.a_done_in_time, 1);
    ASSERT_NE(atomic_load(&b.a_worker), b.j2_worker);
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  return 0;
}

/* Nested parallel loops, as a matrix kernel would write them: an outer
 * penny_for over rows whose body runs an inner penny_for over columns.
 * Every cell is visited exactly once, at 1, 3 and 16 threads (8 per
 * core here). */
typedef struct {
  _Atomic uint8_t *cells;
  int64_t rows, cols;
  int64_t grain;
} grid_t;

typedef struct {
  const grid_t *g;
  int64_t row;
} row_t;

static void grid_cols(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  row_t *r = arg;
  (void) w;
  for (int64_t c = lo; c < hi; c++)
    atomic_fetch_add_explicit(&r->g->cells[r->row * r->g->cols + c], 1,
                              memory_order_relaxed);
}

static void grid_rows(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  const grid_t *g = arg;
  for (int64_t i = lo; i < hi; i++) {
    row_t r = { g, i };
    penny_for(w, g->cols, g->grain, grid_cols, &r);
  }
}

static void grid_job(penny_worker_t *w, void *arg) {
  grid_t *g = arg;
  penny_for(w, g->rows, 1, grid_rows, g);
}

TEST_IMPL(nested_parallel_for) {
  static const unsigned threads[] = { 1, 3, 16 };
  static const int64_t shapes[][3] = {
    { 1, 1, 1 }, { 7, 13, 1 }, { 64, 64, 4 }, { 3, 10000, 0 },
    { 500, 300, 16 },
  };
  for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
    penny_pool_t *pool = make_pool(threads[t], 0);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
      grid_t g = { NULL, shapes[s][0], shapes[s][1], shapes[s][2] };
      g.cells = calloc((size_t) (g.rows * g.cols), 1);
      ASSERT(g.cells != NULL);
      ASSERT_EQ(run_on_pool(pool, grid_job, &g), 0);
      for (int64_t i = 0; i < g.rows * g.cols; i++)
        ASSERT_EQ(atomic_load(&g.cells[i]), 1);
      free(g.cells);
    }
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  return 0;
}

/* Fork-join with far more workers than cores: 16 on this 2-core machine. */
TEST_IMPL(fib_spawn_sixteen_threads) {
  return check_fib(16, 0, test_scale(8) >= 8 ? 24 : 18);
}

/* penny_spawn_try / penny_sync_try: fib where the caller runs each child
 * that no thief took, as a lent thread running JavaScript does; fn runs
 * only on thieves. Counts who ran each child: every child exactly once,
 * and with 4 threads some were stolen. `help` 0 waits without working. */
typedef struct {
  int n;
  int help;
  int64_t result;
  _Atomic int64_t *runs_here, *runs_stolen;
} tfib_arg_t;

static void tfib(penny_worker_t *w, tfib_arg_t *a);

static void tfib_stolen(penny_worker_t *w, void *arg) {
  tfib_arg_t *a = arg;
  atomic_fetch_add(a->runs_stolen, 1);
  tfib(w, a);
}

static void tfib(penny_worker_t *w, tfib_arg_t *a) {
  if (a->n < 2) {
    a->result = a->n;
    return;
  }
  tfib_arg_t x = *a, y = *a;
  x.n = a->n - 1;
  y.n = a->n - 2;
  penny_task_t child;
  int pushed = penny_spawn_try(w, &child, tfib_stolen, &x);
  if (!pushed) {
    atomic_fetch_add(a->runs_here, 1);
    tfib(w, &x);
  }
  tfib(w, &y);
  if (pushed && penny_sync_try(w, &child, a->help)) {
    atomic_fetch_add(a->runs_here, 1);
    tfib(w, &x);
  }
  a->result = x.result + y.result;
}

static void tfib_root(penny_worker_t *w, void *arg) {
  tfib(w, arg);
}

static int check_tfib(unsigned threads, unsigned flags, int help) {
  penny_pool_t *pool = make_pool(threads, flags);
  _Atomic int64_t here = 0, stolen = 0;
  int n = test_scale(8) >= 8 ? 24 : 18;
  tfib_arg_t a = { n, help, -1, &here, &stolen };
  ASSERT_EQ(run_on_pool(pool, tfib_root, &a), 0);
  ASSERT_EQ(a.result, fib_serial(n));
  /* fib(n) with a child at every level below n >= 2: fib(n+1) - 1 of
   * them, each run once, here or on a thief. */
  ASSERT_EQ(atomic_load(&here) + atomic_load(&stolen), fib_serial(n + 1) - 1);
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_UEQ(st.steals, (uint64_t) atomic_load(&stolen));
  if (flags & PENNY_POOL_DEBUG_FULL_DEQUE)
    ASSERT_UEQ(st.inlined, (uint64_t) atomic_load(&here));
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

TEST_IMPL(spawn_try_caller_runs_children) {
  for (unsigned t = 1; t <= 4; t++) {
    ASSERT_EQ(check_tfib(t, 0, 1), 0);
    ASSERT_EQ(check_tfib(t, 0, 0), 0);
    ASSERT_EQ(check_tfib(t, PENNY_POOL_DEBUG_RACE, 1), 0);
  }
  ASSERT_EQ(check_tfib(3, PENNY_POOL_DEBUG_FULL_DEQUE, 1), 0);
  return 0;
}
