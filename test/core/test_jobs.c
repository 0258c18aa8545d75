/* Root jobs from outside the pool: submission, completion exactly once,
 * cancellation, destruction while busy, idleness, errors. */
#include "helpers.h"

#include <stdlib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Many jobs from two submitter threads. ---- */

typedef struct {
  penny_job_t job;
  _Atomic int runs;
  _Atomic int dones;
  _Atomic int status;
} counted_job_t;

typedef struct {
  _Atomic int64_t done_count;
  latch_t all_done;
  int64_t total;
} counter_t;

static void counter_init(counter_t *c, int64_t total) {
  atomic_init(&c->done_count, 0);
  c->total = total;
  latch_init(&c->all_done, 1);
}

static void counted_fn(penny_worker_t *w, void *arg) {
  counted_job_t *j = arg;
  (void) w;
  atomic_fetch_add_explicit(&j->runs, 1, memory_order_relaxed);
}

static void counted_done(penny_job_t *job, int status) {
  counted_job_t *j = (counted_job_t *) job;
  counter_t *c = job->data;
  /* Read total first: once the count completes, the waiting thread may
   * reuse the counter. */
  int64_t total = c->total;
  atomic_store_explicit(&j->status, status, memory_order_relaxed);
  atomic_fetch_add_explicit(&j->dones, 1, memory_order_relaxed);
  if (atomic_fetch_add(&c->done_count, 1) + 1 == total)
    latch_count(&c->all_done);
}

static void init_counted(counted_job_t *j, counter_t *c, penny_task_fn fn) {
  memset(j, 0, sizeof(*j));
  j->job.fn = fn;
  j->job.arg = j;
  j->job.done = counted_done;
  j->job.data = c;
}

typedef struct {
  penny_pool_t *pool;
  counted_job_t *jobs;
  int64_t n;
} submitter_t;



static void submitter_main(void *arg) {
  submitter_t *s = arg;
  for (int64_t i = 0; i < s->n; i++)
    ASSERT_EQ(penny_pool_submit(s->pool, &s->jobs[i].job), 0);
}

static int two_submitters(int64_t n, unsigned injector_capacity) {
  counted_job_t *jobs = aligned_alloc(64, sizeof(*jobs) * (size_t) n);
  counter_t c;
  ASSERT(jobs != NULL);
  counter_init(&c, n);
  for (int64_t i = 0; i < n; i++)
    init_counted(&jobs[i], &c, counted_fn);
  penny_pool_options_t o;
  memset(&o, 0, sizeof(o));
  o.threads = 3;
  o.injector_capacity = injector_capacity;
  penny_pool_t *pool;
  ASSERT_EQ(penny_pool_create(&pool, &o), 0);

  submitter_t s[2] = { { pool, jobs, n / 2 },
                       { pool, jobs + n / 2, n - n / 2 } };
  penny__thread_t tid[2];
  for (int i = 0; i < 2; i++)
    ASSERT_EQ(penny__thread_create(&tid[i], 0, submitter_main, &s[i]), 0);
  for (int i = 0; i < 2; i++)
    penny__thread_join(&tid[i]);
  latch_wait(&c.all_done);
  for (int64_t i = 0; i < n; i++) {
    ASSERT_EQ(atomic_load(&jobs[i].runs), 1);
    ASSERT_EQ(atomic_load(&jobs[i].dones), 1);
    ASSERT_EQ(atomic_load(&jobs[i].status), 0);
    ASSERT_EQ(penny_job_state(&jobs[i].job), PENNY_JOB_DONE);
  }
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_UEQ(st.jobs, (uint64_t) n);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  latch_destroy(&c.all_done);
  free(jobs);
  return 0;
}

/* A small injector, so the overflow list is used too. */
TEST_IMPL(million_jobs_two_submitters) {
  return two_submitters(test_scale(1000000), 256);
}

/* The smallest ring the injector accepts: nearly everything overflows. */
TEST_IMPL(jobs_through_a_two_cell_injector) {
  return two_submitters(test_scale(200000), 2);
}

/* ---- Destroy while busy. ---- */

typedef struct {
  counted_job_t cj;
  fib_arg_t fib;
} fib_job_t;

static void fib_job_fn(penny_worker_t *w, void *arg) {
  fib_job_t *j = arg;
  atomic_fetch_add_explicit(&j->cj.runs, 1, memory_order_relaxed);
  fib_task(w, &j->fib);
}

TEST_IMPL(destroy_while_busy_finishes_everything) {
  const int64_t n = test_scale(2000);
  fib_job_t *jobs = aligned_alloc(64, sizeof(*jobs) * (size_t) n);
  counter_t c;
  ASSERT(jobs != NULL);
  counter_init(&c, n);
  penny_pool_t *pool = make_pool(4, 0);
  for (int64_t i = 0; i < n; i++) {
    init_counted(&jobs[i].cj, &c, fib_job_fn);
    jobs[i].cj.job.arg = &jobs[i];
    jobs[i].fib = (fib_arg_t) { 12 + (int) (i % 6), -1 };
    ASSERT_EQ(penny_pool_submit(pool, &jobs[i].cj.job), 0);
  }
  /* Returns only after every queued job ran and every thread exited. */
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  ASSERT_EQ(atomic_load(&c.done_count), n);
  for (int64_t i = 0; i < n; i++) {
    ASSERT_EQ(atomic_load(&jobs[i].cj.runs), 1);
    ASSERT_EQ(atomic_load(&jobs[i].cj.dones), 1);
    ASSERT_EQ(atomic_load(&jobs[i].cj.status), 0);
    ASSERT_EQ(jobs[i].fib.result, fib_serial(jobs[i].fib.n));
  }
  latch_destroy(&c.all_done);
  free(jobs);
  return 0;
}

/* A job that spins until cancelled, as kernels poll at chunk boundaries. */
static void until_cancelled_fn(penny_worker_t *w, void *arg) {
  counted_job_t *j = arg;
  atomic_fetch_add_explicit(&j->runs, 1, memory_order_relaxed);
  while (!penny_cancelled(w))
    usleep(50);
}

TEST_IMPL(destroy_with_cancel_settles_everything) {
  const int64_t n = 1000;
  counted_job_t *jobs = aligned_alloc(64, sizeof(*jobs) * (size_t) n);
  counter_t c;
  ASSERT(jobs != NULL);
  counter_init(&c, n);
  penny_pool_t *pool = make_pool(2, 0);
  for (int64_t i = 0; i < n; i++) {
    init_counted(&jobs[i], &c, until_cancelled_fn);
    ASSERT_EQ(penny_pool_submit(pool, &jobs[i].job), 0);
  }
  /* Let the two workers start their endless jobs. */
  while (atomic_load(&jobs[0].runs) + atomic_load(&jobs[1].runs) == 0)
    usleep(1000);
  ASSERT_EQ(penny_pool_destroy(pool, PENNY_DESTROY_CANCEL), 0);
  ASSERT_EQ(atomic_load(&c.done_count), n);
  int64_t ran = 0;
  for (int64_t i = 0; i < n; i++) {
    ASSERT_EQ(atomic_load(&jobs[i].dones), 1);
    ASSERT_EQ(atomic_load(&jobs[i].status), PENNY_ECANCELED);
    ran += atomic_load(&jobs[i].runs);
  }
  /* Only the jobs already running ran; the queued ones never started. */
  ASSERT_GE(ran, 1);
  ASSERT_LE(ran, 2);
  latch_destroy(&c.all_done);
  free(jobs);
  return 0;
}

/* ---- Cancellation. ---- */

typedef struct {
  counted_job_t cj;
  _Atomic int *release;
} gate_job_t;

static void gate_fn(penny_worker_t *w, void *arg) {
  gate_job_t *g = arg;
  (void) w;
  atomic_fetch_add(&g->cj.runs, 1);
  while (!atomic_load_explicit(g->release, memory_order_acquire))
    usleep(100);
}

TEST_IMPL(cancel_queued_running_and_done_jobs) {
  const int64_t n = 200;
  counted_job_t *jobs = aligned_alloc(64, sizeof(*jobs) * (size_t) n);
  counter_t c;
  _Atomic int release = 0;
  gate_job_t gate;
  ASSERT(jobs != NULL);
  counter_init(&c, n + 1);
  penny_pool_t *pool = make_pool(1, 0);

  /* The one worker is held by the gate, so everything after it queues. */
  init_counted(&gate.cj, &c, gate_fn);
  gate.cj.job.arg = &gate;
  gate.release = &release;
  ASSERT_EQ(penny_pool_submit(pool, &gate.cj.job), 0);
  while (atomic_load(&gate.cj.runs) == 0)
    usleep(100);
  ASSERT_EQ(penny_job_state(&gate.cj.job), PENNY_JOB_RUNNING);
  for (int64_t i = 0; i < n; i++) {
    init_counted(&jobs[i], &c, counted_fn);
    ASSERT_EQ(penny_pool_submit(pool, &jobs[i].job), 0);
    ASSERT_EQ(penny_job_state(&jobs[i].job), PENNY_JOB_QUEUED);
  }
  for (int64_t i = 0; i < n; i += 2) {
    ASSERT_EQ(penny_job_cancel(&jobs[i].job), 0);
    ASSERT_EQ(penny_job_state(&jobs[i].job), PENNY_JOB_CANCELLED);
    ASSERT_EQ(penny_job_cancel(&jobs[i].job), PENNY_EDONE);
  }
  atomic_store_explicit(&release, 1, memory_order_release);
  latch_wait(&c.all_done);
  ASSERT_EQ(atomic_load(&gate.cj.status), 0);
  for (int64_t i = 0; i < n; i++) {
    ASSERT_EQ(atomic_load(&jobs[i].dones), 1);
    if (i % 2 == 0) {
      ASSERT_EQ(atomic_load(&jobs[i].runs), 0);
      ASSERT_EQ(atomic_load(&jobs[i].status), PENNY_ECANCELED);
    } else {
      ASSERT_EQ(atomic_load(&jobs[i].runs), 1);
      ASSERT_EQ(atomic_load(&jobs[i].status), 0);
      ASSERT_EQ(penny_job_cancel(&jobs[i].job), PENNY_EDONE);
    }
  }

  /* A running job sees the request and finishes as cancelled. */
  counted_job_t spin;
  latch_destroy(&c.all_done);
  counter_init(&c, 1);
  init_counted(&spin, &c, until_cancelled_fn);
  ASSERT_EQ(penny_pool_submit(pool, &spin.job), 0);
  while (atomic_load(&spin.runs) == 0)
    usleep(100);
  ASSERT_EQ(penny_job_cancel(&spin.job), PENNY_EBUSY);
  latch_wait(&c.all_done);
  ASSERT_EQ(atomic_load(&spin.status), PENNY_ECANCELED);
  ASSERT_EQ(penny_job_state(&spin.job), PENNY_JOB_DONE);

  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  latch_destroy(&c.all_done);
  free(jobs);
  return 0;
}

/* Cancellation reaches stolen children too: penny_for stops early. */
typedef struct {
  _Atomic int64_t chunks;
  _Atomic int started;
} for_cancel_t;

static void slow_body(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  for_cancel_t *a = arg;
  (void) w; (void) lo; (void) hi;
  atomic_store(&a->started, 1);
  atomic_fetch_add(&a->chunks, 1);
  usleep(200);
}

static void for_cancel_fn(penny_worker_t *w, void *arg) {
  penny_for(w, 1000000, 1, slow_body, arg);
}

TEST_IMPL(cancel_stops_parallel_for) {
  for_cancel_t a;
  atomic_init(&a.chunks, 0);
  atomic_init(&a.started, 0);
  penny_pool_t *pool = make_pool(4, 0);
  sync_job_t s;
  sync_job_submit(pool, &s, for_cancel_fn, &a);
  while (!atomic_load(&a.started))
    usleep(100);
  usleep(20000);
  ASSERT_EQ(penny_job_cancel(&s.job), PENNY_EBUSY);
  ASSERT_EQ(sync_job_wait(&s), PENNY_ECANCELED);
  /* A million chunks of 200 us would take minutes: it stopped early. */
  ASSERT_LT(atomic_load(&a.chunks), 100000);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* A kernel can fail its job; the first code wins. */
static void failing_fn(penny_worker_t *w, void *arg) {
  (void) arg;
  penny_fail(w, PENNY_EKERNEL);
  penny_fail(w, PENNY_ERANGE);
}

TEST_IMPL(kernel_failure_reaches_done) {
  penny_pool_t *pool = make_pool(2, 0);
  ASSERT_EQ(run_on_pool(pool, failing_fn, NULL), PENNY_EKERNEL);
  /* The pool keeps working. */
  fib_arg_t a = { 20, -1 };
  ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
  ASSERT_EQ(a.result, fib_serial(20));
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* ---- An idle pool sleeps. ---- */

static double cpu_seconds(void) {
  struct rusage ru;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

TEST_IMPL(idle_pool_uses_no_cpu) {
  penny_pool_t *pool = make_pool(8, 0);
  /* Wake everyone once, then let the spin phase run out. */
  fib_arg_t a = { 22, -1 };
  ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
  usleep(100000);
  double before = cpu_seconds();
  usleep(500000);
  double used = cpu_seconds() - before;
  fprintf(stderr, "  8 idle workers used %.4f s of CPU in 0.5 s\n", used);
  /* Spinning workers would burn 2 CPUs (1.0 s); sleeping ones ~0. */
  ASSERT(used < 0.02);
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_GE(st.sleeps, 8);
  /* And it still wakes up for new work. */
  ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
  ASSERT_EQ(a.result, fib_serial(22));
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* ---- Options, memory and errors. ---- */

TEST_IMPL(caller_supplied_memory) {
  penny_pool_options_t o;
  size_t size = 0;
  memset(&o, 0, sizeof(o));
  o.threads = 3;
  o.deque_capacity = 256;
  o.injector_capacity = 64;
  ASSERT_EQ(penny_pool_mem_size(&o, &size), 0);
  ASSERT_GT(size, 0);
  char *mem = aligned_alloc(64, size + 64);
  ASSERT(mem != NULL);
  memset(mem, 0xAB, size + 64);
  penny_pool_t *pool;
  o.mem = mem;
  o.mem_size = size - 1;
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL); /* Too small. */
  o.mem = mem + 8;
  o.mem_size = size;
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL); /* Misaligned. */
  o.mem = mem;
  ASSERT_EQ(penny_pool_create(&pool, &o), 0);
  for (int n = 0; n < 22; n++) {
    fib_arg_t a = { n, -1 };
    ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
    ASSERT_EQ(a.result, fib_serial(n));
  }
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  /* The pool stayed inside the region it was given. */
  for (size_t i = size; i < size + 64; i++)
    ASSERT_EQ((unsigned char) mem[i], 0xAB);
  free(mem);
  return 0;
}

TEST_IMPL(errors_and_bad_arguments) {
#define CHECK_NAME_(name, value, msg)                                        \
  ASSERT_STR_EQ(penny_err_name(PENNY_##name), #name);                       \
  ASSERT_STR_EQ(penny_strerror(PENNY_##name), msg);
  PENNY_ERRNO_MAP(CHECK_NAME_)
#undef CHECK_NAME_
  ASSERT_STR_EQ(penny_err_name(12345), "UNKNOWN");
  ASSERT_STR_EQ(penny_strerror(-12345), "unknown error");

  penny_pool_options_t o;
  penny_pool_t *pool = NULL;
  size_t size;
  memset(&o, 0, sizeof(o));
  o.deque_capacity = 1000; /* Not a power of two. */
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL);
  ASSERT_PTR_EQ(pool, NULL);
  o.deque_capacity = 0;
  o.injector_capacity = 3;
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL);
  o.injector_capacity = 1; /* A power of two, but too small. */
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL);
  o.injector_capacity = 0;
  o.flags = 0x100;
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL);
  o.flags = 0;
  o.threads = 100000; /* More than the pool supports. */
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL);
  ASSERT_EQ(penny_pool_create(NULL, NULL), PENNY_EINVAL);
  ASSERT_EQ(penny_pool_mem_size(NULL, NULL), PENNY_EINVAL);
  ASSERT_EQ(penny_pool_mem_size(NULL, &size), 0);
  ASSERT_EQ(penny_pool_destroy(NULL, 0), PENNY_EINVAL);

  pool = make_pool(0, 0); /* 0: one per CPU. */
  ASSERT_GE(penny_pool_threads(pool), 1);
  penny_job_t job;
  memset(&job, 0, sizeof(job));
  ASSERT_EQ(penny_pool_submit(pool, &job), PENNY_EINVAL); /* No fn. */
  ASSERT_EQ(penny_pool_submit(pool, NULL), PENNY_EINVAL);
  ASSERT_EQ(penny_job_cancel(NULL), PENNY_EINVAL);
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, penny_pool_threads(pool), &st),
            PENNY_EINVAL);
  ASSERT_EQ(penny_pool_stats(pool, 0, &st), 0);
  ASSERT_EQ(penny_pool_destroy(pool, 0x80), PENNY_EINVAL);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* An out-of-order sync is a broken invariant: the process aborts with a
 * message instead of corrupting the deque. */
static void noop_fn(penny_worker_t *w, void *arg) {
  (void) w;
  (void) arg;
}

static void bad_order_fn(penny_worker_t *w, void *arg) {
  penny_task_t a, b;
  (void) arg;
  penny_spawn(w, &a, noop_fn, NULL);
  penny_spawn(w, &b, noop_fn, NULL);
  penny_sync(w, &a); /* Must be b first. */
  penny_sync(w, &b);
}

TEST_IMPL(out_of_order_sync_aborts) {
  fflush(stderr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    /* One worker: nothing is stolen, so the pop finds b, not a. */
    penny_pool_t *pool = make_pool(1, 0);
    run_on_pool(pool, bad_order_fn, NULL);
    _exit(0); /* Not reached. */
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  return 0;
}

/* ---- No lost wake-ups. ----
 * With a 1 us spin the workers fall asleep between almost every job, so
 * each submission races a worker on its way to sleep. A lost wake-up
 * leaves a job queued forever and the test hits its timeout. */
static void sleepy_round(penny_pool_t *pool, int64_t rounds, int batch) {
  for (int64_t r = 0; r < rounds; r++) {
    counted_job_t jobs[8];
    counter_t c;
    counter_init(&c, batch);
    for (int i = 0; i < batch; i++) {
      init_counted(&jobs[i], &c, counted_fn);
      ASSERT_EQ(penny_pool_submit(pool, &jobs[i].job), 0);
    }
    latch_wait(&c.all_done);
    for (int i = 0; i < batch; i++)
      ASSERT_EQ(atomic_load(&jobs[i].runs), 1);
    latch_destroy(&c.all_done);
    if (r % 64 == 0)
      usleep(20); /* Let everyone reach the futex now and then. */
  }
}

TEST_IMPL(no_lost_wakeups) {
  for (unsigned t = 1; t <= 8; t++) {
    penny_pool_options_t o;
    penny_pool_t *pool;
    memset(&o, 0, sizeof(o));
    o.threads = (t + 1) / 2;
    o.spin_us = 1;
    /* Odd rounds with symmetric fences: the pop check pairs with a
     * different barrier in each mode. */
    o.flags = t % 2 ? PENNY_POOL_SYMMETRIC_FENCES : 0;
    ASSERT_EQ(penny_pool_create(&pool, &o), 0);
    sleepy_round(pool, test_scale(5000), 1);
    sleepy_round(pool, test_scale(2000), 8);
    penny_stats_t st;
    ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
    ASSERT_GT(st.sleeps, 0);
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  return 0;
}

/* A lone job submitted to a sleeping pool wakes only the worker that the
 * submit woke: that worker, the last searcher with all others asleep,
 * sees no more work and passes no baton (SLEEP.md). The stats count only
 * wake-ups a worker sent, so they stay at zero. */
TEST_IMPL(lone_job_wakes_one_worker) {
  penny_pool_options_t o;
  penny_pool_t *pool;
  penny_stats_t st;
  memset(&o, 0, sizeof(o));
  o.threads = 4;
  o.spin_us = 1;
  ASSERT_EQ(penny_pool_create(&pool, &o), 0);
  for (uint64_t r = 0; r < 50; r++) {
    /* Every worker has slept once, and the one each job woke again: all
     * four are asleep (a spurious return from the futex only makes this
     * wait shorter, never the test wrong). */
    do {
      usleep(200);
      ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
    } while (st.sleeps < 4 + r);
    sleepy_round(pool, 1, 1);
  }
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_EQ(st.wakeups, 0);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* Two jobs submitted together to a sleeping pool of two run at the same
 * time: each waits until both have started, so the worker that takes the
 * first must pass the baton (or the second submit wake a worker), or the
 * test hangs. */
typedef struct {
  penny_job_t job;
  _Atomic int *started;
  latch_t *done;
} pair_job_t;

static void pair_fn(penny_worker_t *w, void *arg) {
  pair_job_t *j = arg;
  (void) w;
  atomic_fetch_add(j->started, 1);
  while (atomic_load(j->started) < 2)
    penny__cpu_relax();
}

static void pair_done(penny_job_t *job, int status) {
  pair_job_t *j = (pair_job_t *) job;
  ASSERT_EQ(status, 0);
  latch_count(j->done);
}

TEST_IMPL(two_jobs_wake_two_workers) {
  for (unsigned flags = 0; flags < 2; flags++) {
    penny_pool_options_t o;
    penny_pool_t *pool;
    memset(&o, 0, sizeof(o));
    o.threads = 2;
    o.spin_us = 1;
    o.flags = flags ? PENNY_POOL_SYMMETRIC_FENCES : 0;
    ASSERT_EQ(penny_pool_create(&pool, &o), 0);
    for (int r = 0; r < test_scale(200); r++) {
      if (r % 8 == 0)
        usleep(1000); /* both asleep now and then */
      _Atomic int started = 0;
      latch_t done;
      pair_job_t jobs[2];
      latch_init(&done, 2);
      for (int i = 0; i < 2; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].job.fn = pair_fn;
        jobs[i].job.arg = &jobs[i];
        jobs[i].job.done = pair_done;
        jobs[i].started = &started;
        jobs[i].done = &done;
        ASSERT_EQ(penny_pool_submit(pool, &jobs[i].job), 0);
      }
      latch_wait(&done);
      latch_destroy(&done);
    }
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  }
  return 0;
}

/* ---- Shutdown races. ---- */

/* Chains of jobs whose done() submits the next link, racing destroy: the
 * pool's own workers keep submitting while it drains. Every accepted link
 * settles exactly once before destroy returns, and each chain ends with
 * exactly one PENNY_ECLOSED. */
#define CHAINS 4

typedef struct chain_s chain_t;

typedef struct {
  penny_job_t job;
  chain_t *chain;
  _Atomic int runs;
  _Atomic int dones;
} link_t;

struct chain_s {
  penny_pool_t *pool;
  link_t *links;
  int64_t max;
  _Atomic int64_t accepted;
  _Atomic int closed_seen;
};

static void link_fn(penny_worker_t *w, void *arg) {
  link_t *l = arg;
  (void) w;
  atomic_fetch_add(&l->runs, 1);
}

static void link_done(penny_job_t *job, int status) {
  link_t *l = (link_t *) job;
  chain_t *c = l->chain;
  ASSERT_EQ(status, 0);
  atomic_fetch_add(&l->dones, 1);
  /* Claim the next index before submitting: the next link's done() can
   * run before our submit returns. One link is in flight at a time, so
   * nobody else touches the count while we do. */
  int64_t next = atomic_fetch_add(&c->accepted, 1);
  if (next >= c->max) {
    atomic_fetch_sub(&c->accepted, 1);
    return;
  }
  int rc = penny_pool_submit(c->pool, &c->links[next].job);
  if (rc != 0) {
    ASSERT_EQ(rc, PENNY_ECLOSED);
    atomic_fetch_sub(&c->accepted, 1);
    atomic_fetch_add(&c->closed_seen, 1);
  }
}

TEST_IMPL(submit_racing_destroy) {
  const int64_t max = test_scale(1000000);
  for (int round = 0; round < 5; round++) {
    chain_t chains[CHAINS];
    penny_pool_t *pool = make_pool(2, PENNY_POOL_DEBUG_RACE);
    for (int k = 0; k < CHAINS; k++) {
      chain_t *c = &chains[k];
      c->pool = pool;
      c->max = max;
      c->links = calloc((size_t) max, sizeof(link_t));
      ASSERT(c->links != NULL);
      for (int64_t i = 0; i < max; i++) {
        c->links[i].job.fn = link_fn;
        c->links[i].job.arg = &c->links[i];
        c->links[i].job.done = link_done;
        c->links[i].chain = c;
      }
      atomic_init(&c->accepted, 1);
      atomic_init(&c->closed_seen, 0);
      ASSERT_EQ(penny_pool_submit(pool, &c->links[0].job), 0);
    }
    usleep(2000 * (round + 1));
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
    for (int k = 0; k < CHAINS; k++) {
      chain_t *c = &chains[k];
      int64_t accepted = atomic_load(&c->accepted);
      ASSERT_LT(accepted, max); /* Destroy cut the chain short. */
      ASSERT_EQ(atomic_load(&c->closed_seen), 1);
      for (int64_t i = 0; i < accepted; i++) {
        ASSERT_EQ(atomic_load(&c->links[i].runs), 1);
        ASSERT_EQ(atomic_load(&c->links[i].dones), 1);
      }
      ASSERT_EQ(atomic_load(&c->links[accepted].dones), 0);
      free(c->links);
    }
  }
  return 0;
}

/* The natural pattern: wait for every done(), then destroy at once, while
 * the submitting thread may still be inside its last submit call. */
TEST_IMPL(destroy_right_after_last_done) {
  const int64_t n = 64;
  for (int round = 0; round < test_scale(500); round++) {
    counted_job_t jobs[64];
    counter_t c;
    counter_init(&c, n);
    for (int64_t i = 0; i < n; i++)
      init_counted(&jobs[i], &c, counted_fn);
    penny_pool_t *pool = make_pool(2, PENNY_POOL_DEBUG_RACE);
    submitter_t s = { pool, jobs, n };
    penny__thread_t tid;
    ASSERT_EQ(penny__thread_create(&tid, 0, submitter_main, &s), 0);
    latch_wait(&c.all_done);
    ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
    penny__thread_join(&tid);
    latch_destroy(&c.all_done);
  }
  return 0;
}

static void destroy_from_inside(penny_worker_t *w, void *arg) {
  (void) w;
  *(int *) ((void **) arg)[1] = penny_pool_destroy(((void **) arg)[0], 0);
}

TEST_IMPL(destroy_from_a_worker_is_refused) {
  penny_pool_t *pool = make_pool(2, 0);
  int rc = 0;
  void *args[2] = { pool, &rc };
  ASSERT_EQ(run_on_pool(pool, destroy_from_inside, args), 0);
  ASSERT_EQ(rc, PENNY_EDEADLK);
  fib_arg_t a = { 18, -1 }; /* Still working. */
  ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
  ASSERT_EQ(a.result, fib_serial(18));
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* A job still running when destroy begins keeps all the workers: the
 * others must still be there to steal its chunks. */
typedef struct {
  _Atomic int destroying;
  _Atomic int started;
  _Atomic uint32_t worker_mask;
} keep_arg_t;

static void keep_body(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  keep_arg_t *a = arg;
  (void) lo; (void) hi;
  atomic_fetch_or(&a->worker_mask, 1u << penny_worker_index(w));
  usleep(100);
}

static void keep_job(penny_worker_t *w, void *arg) {
  keep_arg_t *a = arg;
  atomic_store(&a->started, 1);
  while (!atomic_load(&a->destroying))
    usleep(100);
  usleep(20000); /* Let destroy get going. */
  penny_for(w, 2000, 1, keep_body, a);
}

TEST_IMPL(destroy_keeps_workers_for_running_jobs) {
  keep_arg_t a;
  atomic_init(&a.destroying, 0);
  atomic_init(&a.started, 0);
  atomic_init(&a.worker_mask, 0);
  penny_pool_t *pool = make_pool(4, 0);
  sync_job_t s;
  sync_job_submit(pool, &s, keep_job, &a);
  while (!atomic_load(&a.started))
    usleep(100);
  atomic_store(&a.destroying, 1);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  ASSERT_EQ(sync_job_wait(&s), 0);
  /* More than one worker ran chunks after destroy had begun. */
  uint32_t m = atomic_load(&a.worker_mask);
  ASSERT_GT(__builtin_popcount(m), 1);
  return 0;
}

/* A stolen task acts for its own root job: a failure reported from a
 * chunk that a thief ran reaches that job, and only that job. */
typedef struct {
  unsigned home;
  _Atomic int stolen_chunks;
} home_t;

static void fail_if_stolen(penny_worker_t *w, int64_t lo, int64_t hi,
                           void *arg) {
  home_t *h = arg;
  (void) lo; (void) hi;
  if (penny_worker_index(w) != h->home) {
    atomic_fetch_add(&h->stolen_chunks, 1);
    penny_fail(w, PENNY_ERANGE);
  } else {
    usleep(100); /* Slow at home, so the others steal. */
  }
}

static void home_job(penny_worker_t *w, void *arg) {
  home_t *h = arg;
  h->home = penny_worker_index(w);
  penny_for(w, 2000, 1, fail_if_stolen, h);
}

TEST_IMPL(stolen_tasks_act_for_their_job) {
  penny_pool_t *pool = make_pool(4, 0);
  home_t h;
  atomic_init(&h.stolen_chunks, 0);
  ASSERT_EQ(run_on_pool(pool, home_job, &h), PENNY_ERANGE);
  ASSERT_GT(atomic_load(&h.stolen_chunks), 0);
  /* A job running at the same time as nothing else is unaffected. */
  fib_arg_t a = { 20, -1 };
  ASSERT_EQ(run_on_pool(pool, fib_task, &a), 0);
  ASSERT_EQ(a.result, fib_serial(20));
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

/* penny_worker_job names the root job of whatever the worker runs, also
 * in stolen chunks and while two jobs share the workers. */
typedef struct {
  penny_job_t *job;
  _Atomic int chunks;
  _Atomic int wrong;
} whose_t;

static void check_whose(penny_worker_t *w, int64_t lo, int64_t hi,
                        void *arg) {
  whose_t *o = arg;
  (void) lo; (void) hi;
  if (penny_worker_job(w) != o->job)
    atomic_fetch_add(&o->wrong, 1);
  atomic_fetch_add(&o->chunks, 1);
  usleep(50); /* long enough that thieves take chunks */
}

static void whose_job(penny_worker_t *w, void *arg) {
  whose_t *o = arg;
  penny_for(w, 2000, 1, check_whose, o);
}

TEST_IMPL(worker_job_names_the_running_job) {
  penny_pool_t *pool = make_pool(4, 0);
  sync_job_t s[2];
  whose_t o[2];
  for (int i = 0; i < 2; i++) {
    o[i].job = &s[i].job; /* known before the job can start */
    atomic_init(&o[i].chunks, 0);
    atomic_init(&o[i].wrong, 0);
  }
  for (int i = 0; i < 2; i++)
    sync_job_submit(pool, &s[i], whose_job, &o[i]);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(sync_job_wait(&s[i]), 0);
    ASSERT_EQ(atomic_load(&o[i].chunks), 2000);
    ASSERT_EQ(atomic_load(&o[i].wrong), 0);
  }
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_GT(st.steals, 0);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}
