/* Lent threads (PENNY_POOL_EXTERNAL_THREADS): pools whose workers are
 * threads the test owns and lends with penny_worker_run, parking them on
 * its own word and condition variable. The tests count: every job's
 * `done` runs exactly once, with the status it should have; none of them
 * measures time.
 *
 * The lender below is what an embedder (a JS environment's threads, say)
 * would write: a park word, a mutex and a condition variable. A thread
 * that gets PENNY_WORKER_PARK waits while the word still holds the epoch
 * penny_worker_run gave it; the core bumps the word before it calls
 * park_wake, and park_wake broadcasts under the mutex, so no wake-up is
 * lost. In "targeted" mode a wake-up of one (all == 0) is handed to one
 * parked thread only, as a lender that keeps one waiter per thread would:
 * that is how a wake-up can be addressed to a thread that has died. */
#include "helpers.h"
#include "../../src/core/core.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- The lender. ---- */

#define MAX_LENT 1024

typedef struct lender_s lender_t;

typedef struct {
  lender_t *l;
  pthread_t tid;
  unsigned index;
  int die_when_parked;  /* return at the first PARK: a thread that dies */
  /* Under l->mu. */
  int parked;           /* got PARK and has not called again (or died) */
  int kicked;           /* targeted mode: this one was handed a wake-up */
  int gone;             /* the thread function has returned */
  uint32_t epoch;       /* the epoch it parked on */
  int first_rc;         /* what its first penny_worker_run returned */
  int rc;               /* what its last one returned */
  int64_t parks;
  int joined;           /* the test joined it already */
} lent_t;

struct lender_s {
  _Atomic uint32_t word;
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* parked threads wait here */
  pthread_cond_t state;   /* the test waits here for lent threads */
  penny_pool_t *pool;
  int targeted;
  int replace_on_leave;   /* a thread that left starts its successor */
  /* Under mu. */
  lent_t *lent[MAX_LENT];
  unsigned nlent;
  int running;            /* thread functions not yet returned */
  int64_t lefts;          /* PENNY_WORKER_LEFT returns */
  int destroying;
  pthread_t destroyer;
  _Atomic int64_t wakes, wake_alls;
};

static void *lent_main(void *arg);

static void lender_init(lender_t *l, int targeted) {
  memset(l, 0, sizeof(*l));
  atomic_init(&l->word, 0);
  atomic_init(&l->wakes, 0);
  atomic_init(&l->wake_alls, 0);
  ASSERT_EQ(pthread_mutex_init(&l->mu, NULL), 0);
  ASSERT_EQ(pthread_cond_init(&l->cv, NULL), 0);
  ASSERT_EQ(pthread_cond_init(&l->state, NULL), 0);
  l->targeted = targeted;
}

/* park_wake. Destroy wakes every sleeper once `exiting` is set, and from
 * then on a parked thread's next penny_worker_run returns 0, but destroy
 * waits only for the threads inside penny_worker_run: one that is
 * parked, or just leaving its park, could make that last call after the
 * pool is freed (penny_worker_enter exists for lenders that can lock the
 * pool's lifetime instead). So on destroy's own wake-up (the only
 * wake-all that runs on the destroying thread) this lender holds destroy
 * until every thread it lent has made its last call. */
static void lender_wake(void *ctx, int all) {
  lender_t *l = ctx;
  atomic_fetch_add(all ? &l->wake_alls : &l->wakes, 1);
  pthread_mutex_lock(&l->mu);
  uint32_t word = atomic_load(&l->word);
  for (unsigned i = 0; i < l->nlent; i++) {
    lent_t *t = l->lent[i];
    if (all || !l->targeted) {
      if (t->parked)
        t->kicked = 1;
    } else if (t->parked && !t->kicked && t->epoch != word) {
      /* One thread, one that this bump is news to: the lowest index. */
      t->kicked = 1;
      break;
    }
  }
  pthread_cond_broadcast(&l->cv);
  if (all && l->destroying && pthread_equal(pthread_self(), l->destroyer))
    while (l->running > 0)
      pthread_cond_wait(&l->state, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

/* Under l->mu. */
static lent_t *lender_start_locked(lender_t *l, unsigned index, int die) {
  ASSERT_LT(l->nlent, MAX_LENT);
  lent_t *t = calloc(1, sizeof(*t));
  ASSERT(t != NULL);
  t->l = l;
  t->index = index;
  t->die_when_parked = die;
  t->first_rc = 1000;
  t->rc = 1000;
  l->lent[l->nlent++] = t;
  l->running++;
  ASSERT_EQ(pthread_create(&t->tid, NULL, lent_main, t), 0);
  return t;
}

static lent_t *lender_start(lender_t *l, unsigned index, int die) {
  pthread_mutex_lock(&l->mu);
  lent_t *t = lender_start_locked(l, index, die);
  pthread_mutex_unlock(&l->mu);
  return t;
}

static void *lent_main(void *arg) {
  lent_t *t = arg;
  lender_t *l = t->l;
  int resume = 0;
  int first = 1;
  for (;;) {
    uint32_t epoch = 0;
    int rc = penny_worker_run(l->pool, t->index, resume, &epoch);
    pthread_mutex_lock(&l->mu);
    t->rc = rc;
    if (first)
      t->first_rc = rc;
    first = 0;
    if (rc != PENNY_WORKER_PARK) {
      if (rc == PENNY_WORKER_LEFT) {
        l->lefts++;
        if (l->replace_on_leave)
          lender_start_locked(l, t->index, 0);
      }
      break;
    }
    t->parks++;
    t->parked = 1;
    t->kicked = 0;
    t->epoch = epoch;
    pthread_cond_broadcast(&l->state);
    if (t->die_when_parked)
      break; /* Stays "parked" for the lender until it learns otherwise. */
    /* A bump that came before we got here needs no hand-off. */
    int need_kick = l->targeted && atomic_load(&l->word) == epoch;
    while (atomic_load(&l->word) == epoch || (need_kick && !t->kicked))
      pthread_cond_wait(&l->cv, &l->mu);
    t->parked = 0;
    pthread_cond_broadcast(&l->state);
    pthread_mutex_unlock(&l->mu);
    resume = 1;
  }
  t->gone = 1;
  l->running--;
  pthread_cond_broadcast(&l->state);
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

static penny_pool_t *lender_pool(lender_t *l, unsigned threads,
                                 unsigned injector_capacity) {
  penny_pool_options_t o;
  memset(&o, 0, sizeof(o));
  o.threads = threads;
  o.injector_capacity = injector_capacity;
  o.flags = PENNY_POOL_EXTERNAL_THREADS;
  o.park_word = (uint32_t *) (void *) &l->word;
  o.park_wake = lender_wake;
  o.park_ctx = l;
  ASSERT_EQ(penny_pool_create(&l->pool, &o), 0);
  ASSERT(l->pool != NULL);
  ASSERT_EQ(penny_pool_threads(l->pool), threads);
  return l->pool;
}

/* Number of live threads parked now. Under l->mu. */
static unsigned parked_locked(lender_t *l) {
  unsigned n = 0;
  for (unsigned i = 0; i < l->nlent; i++)
    n += l->lent[i]->parked && !l->lent[i]->gone;
  return n;
}

/* Waits until `n` live lent threads are parked at once. */
static void lender_wait_parked(lender_t *l, unsigned n) {
  pthread_mutex_lock(&l->mu);
  while (parked_locked(l) < n)
    pthread_cond_wait(&l->state, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

/* Waits until thread t is parked (or, for a dying one, dead parked). */
static void lender_wait_thread_parked(lender_t *l, lent_t *t) {
  pthread_mutex_lock(&l->mu);
  while (!t->parked || (t->die_when_parked && !t->gone))
    pthread_cond_wait(&l->state, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

static void lender_wait_lefts(lender_t *l, int64_t n) {
  pthread_mutex_lock(&l->mu);
  while (l->lefts < n)
    pthread_cond_wait(&l->state, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

/* Destroys the pool (which waits for the lent threads, see lender_wake)
 * and joins every thread. Each live one's last call returned 0. */
static void lender_destroy(lender_t *l) {
  pthread_mutex_lock(&l->mu);
  l->destroying = 1;
  l->destroyer = pthread_self();
  pthread_mutex_unlock(&l->mu);
  ASSERT_EQ(penny_pool_destroy(l->pool, 0), 0);
  l->pool = NULL;
  pthread_mutex_lock(&l->mu);
  ASSERT_EQ(l->running, 0);
  unsigned n = l->nlent;
  pthread_mutex_unlock(&l->mu);
  for (unsigned i = 0; i < n; i++) {
    lent_t *t = l->lent[i];
    if (!t->joined)
      ASSERT_EQ(pthread_join(t->tid, NULL), 0);
    t->joined = 1;
    ASSERT(t->gone);
    /* Every thread ended on 0 from destroy, on LEFT, or on the PARK it
     * "died" in. */
    if (t->die_when_parked)
      ASSERT_EQ(t->rc, PENNY_WORKER_PARK);
    else if (t->rc != PENNY_WORKER_LEFT)
      ASSERT_EQ(t->rc, 0);
  }
  ASSERT_GE(atomic_load(&l->wake_alls), 1);
}

static void lender_free(lender_t *l) {
  for (unsigned i = 0; i < l->nlent; i++)
    free(l->lent[i]);
  pthread_cond_destroy(&l->state);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
}

/* ---- Counted jobs. ---- */

typedef struct {
  _Atomic int64_t done;
} tally_t;

typedef struct {
  penny_job_t job;
  _Atomic int runs;
  _Atomic int dones;
  _Atomic int status;
  _Atomic int worker;     /* index of the worker that ran it */
  int leave;              /* calls penny_worker_leave */
  _Atomic int *gate;      /* when set: spins until *gate != 0 */
} ljob_t;

static void ljob_fn(penny_worker_t *w, void *arg) {
  ljob_t *j = arg;
  atomic_store(&j->worker, (int) penny_worker_index(w));
  atomic_fetch_add(&j->runs, 1);
  if (j->gate != NULL)
    while (!atomic_load_explicit(j->gate, memory_order_acquire))
      usleep(100);
  if (j->leave)
    penny_worker_leave(w);
}

static void ljob_done(penny_job_t *job, int status) {
  ljob_t *j = (ljob_t *) job;
  tally_t *t = job->data;
  atomic_store(&j->status, status);
  atomic_fetch_add(&j->dones, 1);
  atomic_fetch_add(&t->done, 1);
}

static void ljob_init(ljob_t *j, tally_t *t, penny_task_fn fn) {
  memset(j, 0, sizeof(*j));
  atomic_init(&j->worker, -1);
  j->job.fn = fn ? fn : ljob_fn;
  j->job.arg = j;
  j->job.done = ljob_done;
  j->job.data = t;
}

static void ljob_submit(penny_pool_t *pool, ljob_t *j) {
  ASSERT_EQ(penny_pool_submit(pool, &j->job), 0);
}

static void tally_wait(tally_t *t, int64_t n) {
  while (atomic_load(&t->done) < n)
    usleep(100);
  ASSERT_EQ(atomic_load(&t->done), n);
}

static void ljob_check_ran(ljob_t *j) {
  ASSERT_EQ(atomic_load(&j->runs), 1);
  ASSERT_EQ(atomic_load(&j->dones), 1);
  ASSERT_EQ(atomic_load(&j->status), 0);
  ASSERT_EQ(penny_job_state(&j->job), PENNY_JOB_DONE);
}

/* Waits until a gated job runs, and returns its worker. */
static unsigned ljob_wait_running(ljob_t *j) {
  while (atomic_load(&j->runs) == 0)
    usleep(100);
  return (unsigned) atomic_load(&j->worker);
}

/* n counted jobs, initialised, none submitted. The caller frees them. */
static ljob_t *ljobs_new(int64_t n, tally_t *t) {
  ljob_t *jobs = malloc(sizeof(*jobs) * (size_t) n);
  ASSERT(jobs != NULL);
  for (int64_t i = 0; i < n; i++)
    ljob_init(&jobs[i], t, NULL);
  return jobs;
}

static void ljobs_check_ran(ljob_t *jobs, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    ljob_check_ran(&jobs[i]);
}

/* Each of the n jobs was cancelled by destroy without running: done once,
 * with PENNY_ECANCELED. */
static void ljobs_check_cancelled(ljob_t *jobs, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    ASSERT_EQ(atomic_load(&jobs[i].runs), 0);
    ASSERT_EQ(atomic_load(&jobs[i].dones), 1);
    ASSERT_EQ(atomic_load(&jobs[i].status), PENNY_ECANCELED);
    ASSERT_EQ(penny_job_state(&jobs[i].job), PENNY_JOB_CANCELLED);
  }
}

/* Submits a job that spins, on the worker it returns, until *open. */
static unsigned ljob_run_gated(penny_pool_t *pool, ljob_t *gate, tally_t *t,
                               _Atomic int *open) {
  ljob_init(gate, t, NULL);
  gate->gate = open;
  ljob_submit(pool, gate);
  return ljob_wait_running(gate);
}

/* Lets the gated job finish, as the `done`-th job of the tally. */
static void ljob_open_gate(ljob_t *gate, tally_t *t, _Atomic int *open,
                           int64_t done) {
  atomic_store_explicit(open, 1, memory_order_release);
  tally_wait(t, done);
  ljob_check_ran(gate);
}

/* Runs a job that calls penny_worker_leave, the first job of the tally
 * and the first to leave; returns once its thread's run returned LEFT. */
static void ljob_run_leaver(lender_t *l, ljob_t *leaver, tally_t *t) {
  ljob_init(leaver, t, NULL);
  leaver->leave = 1;
  ljob_submit(l->pool, leaver);
  lender_wait_lefts(l, 1);
  tally_wait(t, 1);
  ljob_check_ran(leaver);
}

/* A lender and an empty tally for its jobs. */
static void lender_setup(lender_t *l, tally_t *t, int targeted) {
  atomic_init(&t->done, 0);
  lender_init(l, targeted);
}

/* Destroys the pool (see lender_destroy), checks that `done` jobs were
 * done in all, and frees the lender. */
static void lender_finish(lender_t *l, tally_t *t, int64_t done) {
  lender_destroy(l);
  ASSERT_EQ(atomic_load(&t->done), done);
  lender_free(l);
}

/* ---- 1. Lent threads run every job once. ---- */

TEST_IMPL(lent_threads_run_every_job_once) {
  const unsigned nt = 4;
  const int64_t n = test_scale(200000);
  const int64_t burst = n / 200 > 0 ? n / 200 : 1;
  lender_t l;
  tally_t tally;
  lender_setup(&l, &tally, 0);
  penny_pool_t *pool = lender_pool(&l, nt, 0);
  ljob_t *jobs = ljobs_new(n, &tally);
  for (unsigned i = 0; i < nt; i++)
    lender_start(&l, i, 0);
  /* Before any work, every thread parks. */
  lender_wait_parked(&l, nt);

  int64_t b = 0;
  for (int64_t lo = 0; lo < n; lo += burst, b++) {
    int64_t hi = lo + burst < n ? lo + burst : n;
    for (int64_t i = lo; i < hi; i++)
      ljob_submit(pool, &jobs[i]);
    if (b % 2 == 0) {
      /* A pause: the burst finishes and every thread parks, so the next
       * burst has to wake them. */
      tally_wait(&tally, hi);
      lender_wait_parked(&l, nt);
    } else if (b % 4 == 1) {
      usleep(200); /* Submits racing threads on their way to park. */
    }
  }
  tally_wait(&tally, n);
  ljobs_check_ran(jobs, n);

  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_UEQ(st.jobs, (uint64_t) n);
  ASSERT_GE(st.sleeps, nt);
  ASSERT_GE(atomic_load(&l.wakes), 1);
  int64_t parks = 0;
  for (unsigned i = 0; i < l.nlent; i++) {
    pthread_mutex_lock(&l.mu);
    ASSERT_EQ(l.lent[i]->first_rc, PENNY_WORKER_PARK);
    parks += l.lent[i]->parks;
    pthread_mutex_unlock(&l.mu);
  }
  ASSERT_GE(parks, nt * 2);

  /* Nothing ran twice while the pool went away. */
  lender_finish(&l, &tally, n);
  for (int64_t i = 0; i < n; i++)
    ASSERT_EQ(atomic_load(&jobs[i].dones), 1);
  free(jobs);
  return 0;
}

/* ---- 2. More lent threads than cores, jobs that fork. ---- */

typedef struct {
  ljob_t base;
  sum_arg_t sum;
  fib_arg_t fib;
} fork_job_t;

static void fork_job_fn(penny_worker_t *w, void *arg) {
  fork_job_t *j = arg;
  atomic_fetch_add(&j->base.runs, 1);
  sum_task(w, &j->sum);
  fib_task(w, &j->fib);
}

/* A parent that does not sync until its child has run: the child can
 * only run on another worker, i.e. be stolen by another lent thread. */
typedef struct {
  _Atomic int ran_on;
} steal_child_t;

static void steal_child(penny_worker_t *w, void *arg) {
  steal_child_t *c = arg;
  atomic_store(&c->ran_on, (int) penny_worker_index(w));
}

typedef struct {
  ljob_t base;
  _Atomic int parent_on, child_on;
} steal_job_t;

static void steal_job_fn(penny_worker_t *w, void *arg) {
  steal_job_t *j = arg;
  steal_child_t c;
  penny_task_t t;
  atomic_fetch_add(&j->base.runs, 1);
  atomic_init(&c.ran_on, -1);
  penny_spawn(w, &t, steal_child, &c);
  while (atomic_load(&c.ran_on) < 0)
    sched_yield();
  penny_sync(w, &t);
  atomic_store(&j->parent_on, (int) penny_worker_index(w));
  atomic_store(&j->child_on, atomic_load(&c.ran_on));
}

TEST_IMPL(more_lent_threads_than_cores) {
  unsigned ncpu = penny__cpu_count();
  unsigned nt = 2 * ncpu + 1 < 64 ? 2 * ncpu + 1 : 64;
  if (nt < 3)
    nt = 3;
  const int64_t nfork = test_scale(2000);
  const int64_t nsteal = test_scale(300) < 20 ? 20 : test_scale(300);
  const int64_t len = 1 << 14;
  int64_t *x = random_values(len, 42, 24);

  lender_t l;
  tally_t tally;
  lender_setup(&l, &tally, 0);
  penny_pool_t *pool = lender_pool(&l, nt, 0);
  for (unsigned i = 0; i < nt; i++)
    lender_start(&l, i, 0);

  fork_job_t *fj = malloc(sizeof(*fj) * (size_t) nfork);
  steal_job_t *sj = malloc(sizeof(*sj) * (size_t) nsteal);
  ASSERT(fj != NULL && sj != NULL);
  for (int64_t i = 0; i < nfork; i++) {
    ljob_init(&fj[i].base, &tally, fork_job_fn);
    fj[i].base.job.arg = &fj[i];
    int64_t off = (i * 977) % len;
    int64_t cnt = 1 + (i * 7919) % (len - off);
    fj[i].sum = (sum_arg_t) { x + off, cnt, -1 };
    fj[i].fib = (fib_arg_t) { 8 + (int) (i % 10), -1 };
  }
  for (int64_t i = 0; i < nsteal; i++) {
    ljob_init(&sj[i].base, &tally, steal_job_fn);
    sj[i].base.job.arg = &sj[i];
    atomic_init(&sj[i].parent_on, -1);
    atomic_init(&sj[i].child_on, -1);
  }

  /* The forking jobs in bursts; between them, one forced steal at a
   * time (several parents waiting at once could hold every worker). */
  int64_t next_fork = 0;
  const int64_t fburst = nfork / nsteal > 0 ? nfork / nsteal : 1;
  for (int64_t s = 0; s < nsteal; s++) {
    for (int64_t k = 0; k < fburst && next_fork < nfork; k++)
      ljob_submit(pool, &fj[next_fork++].base);
    ljob_submit(pool, &sj[s].base);
    while (atomic_load(&sj[s].base.dones) == 0)
      usleep(50);
  }
  while (next_fork < nfork)
    ljob_submit(pool, &fj[next_fork++].base);
  tally_wait(&tally, nfork + nsteal);

  for (int64_t i = 0; i < nfork; i++) {
    ljob_check_ran(&fj[i].base);
    ASSERT_EQ(fj[i].sum.sum, sum_serial(fj[i].sum.x, fj[i].sum.n));
    ASSERT_EQ(fj[i].fib.result, fib_serial(fj[i].fib.n));
  }
  for (int64_t i = 0; i < nsteal; i++) {
    ljob_check_ran(&sj[i].base);
    ASSERT_GE(atomic_load(&sj[i].child_on), 0);
    ASSERT_NE(atomic_load(&sj[i].child_on), atomic_load(&sj[i].parent_on));
  }
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_UEQ(st.jobs, (uint64_t) (nfork + nsteal));
  ASSERT_GE(st.steals, (uint64_t) nsteal);

  lender_finish(&l, &tally, nfork + nsteal);
  free(sj);
  free(fj);
  free(x);
  return 0;
}

/* ---- 3. Leave hands the worker to another thread. ---- */

TEST_IMPL(leave_hands_the_worker_to_another_thread) {
  const int64_t n = test_scale(20000) < 400 ? 400 : test_scale(20000);
  const int64_t every = 97;
  uint32_t e;
  lender_t l;
  tally_t tally;
  lender_setup(&l, &tally, 0);
  penny_pool_t *pool = lender_pool(&l, 2, 0);
  lender_start(&l, 0, 0);
  lender_start(&l, 1, 0);
  lender_wait_parked(&l, 2);
  /* Both workers are held (parked): nobody else may take them. */
  ASSERT_EQ(penny_worker_run(pool, 0, 0, &e), PENNY_EBUSY);
  ASSERT_EQ(penny_worker_run(pool, 1, 0, &e), PENNY_EBUSY);

  /* A job leaves: its thread's run returns LEFT and the thread is done. */
  ljob_t leaver;
  ljob_run_leaver(&l, &leaver, &tally);
  unsigned k = (unsigned) atomic_load(&leaver.worker);
  ASSERT_LT(k, 2);
  pthread_mutex_lock(&l.mu);
  lent_t *gone = l.lent[k];
  ASSERT_EQ(gone->index, k);
  while (!gone->gone)
    pthread_cond_wait(&l.state, &l.mu);
  ASSERT_EQ(gone->rc, PENNY_WORKER_LEFT);
  ASSERT_EQ(l.lent[1 - k]->gone, 0);
  pthread_mutex_unlock(&l.mu);
  /* The other worker is still held. */
  ASSERT_EQ(penny_worker_run(pool, 1 - k, 0, &e), PENNY_EBUSY);

  /* With worker k vacant the other thread does all the work. */
  ljob_t *jobs = ljobs_new(n, &tally);
  const int64_t phase = 200;
  for (int64_t i = 0; i < phase; i++)
    ljob_submit(pool, &jobs[i]);
  tally_wait(&tally, 1 + phase);
  for (int64_t i = 0; i < phase; i++) {
    ljob_check_ran(&jobs[i]);
    ASSERT_EQ(atomic_load(&jobs[i].worker), 1 - k);
  }

  /* A new thread takes worker k. */
  lent_t *heir = lender_start(&l, k, 0);
  lender_wait_thread_parked(&l, heir);
  pthread_mutex_lock(&l.mu);
  ASSERT_EQ(heir->first_rc, PENNY_WORKER_PARK);
  pthread_mutex_unlock(&l.mu);
  ASSERT_EQ(penny_worker_run(pool, k, 0, &e), PENNY_EBUSY);

  /* Held while inside, too: a job that blocks until told. */
  _Atomic int open = 0;
  ljob_t gate;
  unsigned g = ljob_run_gated(pool, &gate, &tally, &open);
  ASSERT_LT(g, 2);
  ASSERT_EQ(penny_worker_run(pool, g, 0, &e), PENNY_EBUSY);
  ASSERT_EQ(penny_worker_run(pool, g, 1, &e), PENNY_EINVAL);
  ljob_open_gate(&gate, &tally, &open, 1 + phase + 1);

  /* Many leaves, each thread that leaves starting its successor. */
  pthread_mutex_lock(&l.mu);
  l.replace_on_leave = 1;
  pthread_mutex_unlock(&l.mu);
  int64_t leaves = 0;
  for (int64_t i = phase; i < n; i++) {
    if (i % every == 0) {
      jobs[i].leave = 1;
      leaves++;
    }
    ljob_submit(pool, &jobs[i]);
    if (i % 1000 == 999)
      tally_wait(&tally, 1 + 1 + i + 1);
  }
  tally_wait(&tally, 1 + 1 + n);
  ljobs_check_ran(jobs, n);
  lender_wait_lefts(&l, 1 + leaves);
  pthread_mutex_lock(&l.mu);
  ASSERT_EQ(l.lefts, 1 + leaves);
  pthread_mutex_unlock(&l.mu);
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_UEQ(st.jobs, (uint64_t) (n + 2));

  lender_finish(&l, &tally, n + 2);
  free(jobs);
  return 0;
}

/* ---- 4. Vacating a thread that died parked. ---- */

TEST_IMPL(vacate_a_thread_that_died_parked) {
  const int64_t n = 300;
  uint32_t e;
  lender_t l;
  tally_t tally;
  /* Targeted: a wake-up of one goes to one parked thread, the lowest
   * index first, so the first one goes to the dead thread. */
  lender_setup(&l, &tally, 1);
  penny_pool_t *pool = lender_pool(&l, 2, 0);
  lent_t *dead = lender_start(&l, 0, 1);
  lent_t *live = lender_start(&l, 1, 0);
  lender_wait_thread_parked(&l, dead);
  lender_wait_thread_parked(&l, live);
  ASSERT_EQ(pthread_join(dead->tid, NULL), 0);
  dead->joined = 1;
  ASSERT_EQ(dead->rc, PENNY_WORKER_PARK);

  /* Work arrives: the one wake-up it sends is handed to the dead thread
   * and the live one, parked as well, sleeps on. */
  ljob_t *jobs = ljobs_new(n, &tally);
  const int64_t first = 100;
  for (int64_t i = 0; i < first; i++)
    ljob_submit(pool, &jobs[i]);
  pthread_mutex_lock(&l.mu);
  ASSERT_EQ(dead->kicked, 1);
  pthread_mutex_unlock(&l.mu);
  usleep(20000);
  /* Nobody was free to take them (the live thread waits for its turn;
   * no other wake-up is sent while one is on its way). */
  ASSERT_EQ(atomic_load(&tally.done), 0);
  pthread_mutex_lock(&l.mu);
  ASSERT_EQ(live->parked, 1);
  ASSERT_EQ(live->kicked, 0);
  /* The lender learns of the death... */
  dead->parked = 0;
  pthread_mutex_unlock(&l.mu);
  /* ...and hands the worker back: the wake-up it owed is passed on. */
  ASSERT_EQ(penny_worker_vacate(pool, 0), 0);
  tally_wait(&tally, first);
  for (int64_t i = 0; i < first; i++) {
    ljob_check_ran(&jobs[i]);
    ASSERT_EQ(atomic_load(&jobs[i].worker), 1);
  }
  /* Vacant now: vacating again is harmless, resuming it is not allowed. */
  ASSERT_EQ(penny_worker_vacate(pool, 0), 0);
  ASSERT_EQ(penny_worker_run(pool, 0, 1, &e), PENNY_EINVAL);

  /* A worker a thread is inside cannot be vacated. */
  _Atomic int open = 0;
  ljob_t gate;
  ASSERT_EQ(ljob_run_gated(pool, &gate, &tally, &open), 1);
  ASSERT_EQ(penny_worker_vacate(pool, 1), PENNY_EBUSY);
  ASSERT_EQ(penny_worker_run(pool, 1, 0, &e), PENNY_EBUSY);
  ljob_open_gate(&gate, &tally, &open, first + 1);

  /* A new thread takes the dead one's worker; later jobs, in bursts
   * each of which finds both threads parked, all run. */
  lender_start(&l, 0, 0);
  for (int64_t lo = first; lo < n; lo += 50) {
    lender_wait_parked(&l, 2);
    for (int64_t i = lo; i < lo + 50 && i < n; i++)
      ljob_submit(pool, &jobs[i]);
    tally_wait(&tally, 1 + (lo + 50 < n ? lo + 50 : n));
  }
  ljobs_check_ran(jobs, n);

  lender_finish(&l, &tally, n + 1);
  free(jobs);
  return 0;
}

/* ---- 5. Destroy with no thread inside. ---- */

TEST_IMPL(destroy_with_no_thread_inside_cancels_queued_jobs) {
  const int64_t n = 1000;
  lender_t l;
  tally_t tally;
  lender_setup(&l, &tally, 0);
  /* A small injector: most of the jobs wait in its overflow list. */
  penny_pool_t *pool = lender_pool(&l, 2, 64);

  /* Worker 0 was lent once and given back (LEFT); worker 1 never was. */
  ljob_t leaver;
  lender_start(&l, 0, 0);
  ljob_run_leaver(&l, &leaver, &tally);

  ljob_t *jobs = ljobs_new(n, &tally);
  for (int64_t i = 0; i < n; i++) {
    ljob_submit(pool, &jobs[i]);
    ASSERT_EQ(penny_job_state(&jobs[i].job), PENNY_JOB_QUEUED);
  }
  ASSERT_EQ(atomic_load(&tally.done), 1);

  lender_finish(&l, &tally, n + 1);
  ljobs_check_cancelled(jobs, n);

  /* A pool no thread was ever lent to. */
  lender_t l2;
  tally_t t2;
  lender_setup(&l2, &t2, 0);
  pool = lender_pool(&l2, 3, 0);
  for (int64_t i = 0; i < n; i++) {
    ljob_init(&jobs[i], &t2, NULL);
    ljob_submit(pool, &jobs[i]);
  }
  ASSERT_EQ(atomic_load(&l2.wakes), 0); /* Nobody to wake. */
  lender_finish(&l2, &t2, n);
  ljobs_check_cancelled(jobs, n);
  free(jobs);
  return 0;
}

/* A lent pool's fences, in a process that has not registered for the
 * asymmetric ones yet: penny_pool_create leaves them to the first
 * penny_worker_run, which decides for every worker; a pool no thread was
 * ever lent to is destroyed undecided. Later pools decide at creation. */
TEST_IMPL(lent_pool_decides_fences_at_first_entry) {
  const unsigned nt = 3;
  lender_t l, l2;
  tally_t tally, t2;
  const int known = penny__heavy_barrier_known();
  lender_setup(&l2, &t2, 0);
  penny_pool_t *idle = lender_pool(&l2, nt, 0);
  lender_setup(&l, &tally, 0);
  penny_pool_t *pool = lender_pool(&l, nt, 0);
  if (!known) {
    ASSERT_EQ(atomic_load(&idle->fences), FENCES_UNDECIDED);
    ASSERT_EQ(atomic_load(&pool->fences), FENCES_UNDECIDED);
  }
  lender_start(&l, 1, 0);
  lender_wait_parked(&l, 1);
  ASSERT_EQ(atomic_load(&pool->fences), FENCES_DECIDED);
  const int can = penny__heavy_barrier_init();
  for (unsigned i = 0; i < nt; i++)
    ASSERT_EQ(pool->workers[i].asym, can);
  lender_finish(&l, &tally, 0);
  lender_finish(&l2, &t2, 0);

  lender_setup(&l, &tally, 0);
  pool = lender_pool(&l, nt, 0);
  ASSERT_EQ(atomic_load(&pool->fences), FENCES_DECIDED);
  for (unsigned i = 0; i < nt; i++)
    ASSERT_EQ(pool->workers[i].asym, can);
  lender_finish(&l, &tally, 0);
  return 0;
}

/* ---- 6. Options and arguments. ---- */

static void noop_wake(void *ctx, int all) {
  (void) ctx;
  (void) all;
}

TEST_IMPL(create_refuses_external_without_park_word) {
  uint32_t word = 0;
  penny_pool_options_t o;
  penny_pool_t *pool = (penny_pool_t *) &o;
  memset(&o, 0, sizeof(o));
  o.threads = 2;
  o.flags = PENNY_POOL_EXTERNAL_THREADS;
  o.park_wake = noop_wake;
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL);
  ASSERT_PTR_EQ(pool, NULL);
  o.park_word = &word;
  o.park_wake = NULL;
  ASSERT_EQ(penny_pool_create(&pool, &o), PENNY_EINVAL);
  ASSERT_PTR_EQ(pool, NULL);
  o.park_wake = noop_wake;
  ASSERT_EQ(penny_pool_create(&pool, &o), 0);
  ASSERT(pool != NULL);
  ASSERT_EQ(penny_pool_destroy(pool, 0), 0);
  return 0;
}

static void leave_fn(penny_worker_t *w, void *arg) {
  (void) arg;
  penny_worker_leave(w); /* On a pool with threads of its own: no-op. */
}

TEST_IMPL(lent_thread_bad_arguments) {
  uint32_t e;
  penny_pool_t *own = make_pool(2, 0);
  ASSERT_EQ(penny_worker_run(own, 0, 0, &e), PENNY_EINVAL);
  ASSERT_EQ(penny_worker_vacate(own, 0), PENNY_EINVAL);
  ASSERT_EQ(run_on_pool(own, leave_fn, NULL), 0);
  fib_arg_t a = { 18, -1 };
  ASSERT_EQ(run_on_pool(own, fib_task, &a), 0);
  ASSERT_EQ(a.result, fib_serial(18));
  ASSERT_EQ(penny_pool_destroy(own, 0), 0);

  lender_t l;
  lender_init(&l, 0);
  penny_pool_t *pool = lender_pool(&l, 2, 0);
  ASSERT_EQ(penny_worker_run(NULL, 0, 0, &e), PENNY_EINVAL);
  ASSERT_EQ(penny_worker_run(pool, 2, 0, &e), PENNY_EINVAL);
  ASSERT_EQ(penny_worker_run(pool, 0, 0, NULL), PENNY_EINVAL);
  ASSERT_EQ(penny_worker_run(pool, 0, 1, &e), PENNY_EINVAL); /* vacant */
  ASSERT_EQ(penny_worker_vacate(NULL, 0), PENNY_EINVAL);
  ASSERT_EQ(penny_worker_vacate(pool, 2), PENNY_EINVAL);
  ASSERT_EQ(penny_worker_vacate(pool, 1), 0); /* vacant already */
  penny_worker_leave(NULL);
  lender_destroy(&l);
  lender_free(&l);
  return 0;
}

/* ---- 7. Destroy from a job on a lent thread. ---- */

static _Atomic int destroy_from_job_rc = 1;
static penny_pool_t *destroy_from_job_pool;

static void destroy_job_fn(penny_worker_t *w, void *arg) {
  (void) w;
  ljob_t *j = arg;
  atomic_store(&destroy_from_job_rc,
               penny_pool_destroy(destroy_from_job_pool, 0));
  atomic_fetch_add(&j->runs, 1);
}

TEST_IMPL(destroy_from_a_lent_thread_is_refused) {
  lender_t l;
  tally_t tally;
  lender_setup(&l, &tally, 0);
  penny_pool_t *pool = lender_pool(&l, 2, 0);
  lender_start(&l, 0, 0);
  ljob_t j;
  ljob_init(&j, &tally, destroy_job_fn);
  destroy_from_job_pool = pool;
  ljob_submit(pool, &j);
  tally_wait(&tally, 1);
  ASSERT_EQ(atomic_load(&destroy_from_job_rc), PENNY_EDEADLK);
  ASSERT_EQ(atomic_load(&j.runs), 1);
  lender_finish(&l, &tally, 1);
  return 0;
}
