/* Jobs from a penny_source_t: a single-producer ring polled by the
 * workers, with the ready()/notify handshake of penny.h, as the Node
 * binding uses it. Every job runs exactly once, and a job published while
 * every worker goes to sleep is not stranded. */
#include "helpers.h"

#include <stdlib.h>
#include <unistd.h>

#define RING 64 /* small, so that the producer laps it constantly */

typedef struct {
  penny_job_t job;
  _Atomic int runs;
  _Atomic int dones;
  latch_t *latch;
} src_job_t;

typedef struct {
  _Atomic uint64_t seq[RING];   /* Vyukov: whose turn each cell is */
  src_job_t *cell[RING];
  _Atomic uint64_t head;        /* consumers */
  uint64_t tail;                /* the producer only */
  _Atomic int sleepy;           /* set by ready(), cleared by the producer */
  penny_pool_t *pool;
  _Atomic int64_t notifies;
} ring_t;

static penny_job_t *ring_take(void *ctx) {
  ring_t *r = ctx;
  uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
  for (;;) {
    uint64_t seq = atomic_load_explicit(&r->seq[pos % RING],
                                        memory_order_acquire);
    int64_t dif = (int64_t) (seq - (pos + 1));
    if (dif < 0)
      return NULL;
    if (dif > 0) {
      pos = atomic_load_explicit(&r->head, memory_order_relaxed);
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      break;
  }
  src_job_t *j = r->cell[pos % RING];
  atomic_store_explicit(&r->seq[pos % RING], pos + RING,
                        memory_order_release);
  penny_job_reset(&j->job);
  return &j->job;
}

static int ring_ready(void *ctx) {
  ring_t *r = ctx;
  atomic_store_explicit(&r->sleepy, 1, memory_order_seq_cst);
  uint64_t pos = atomic_load_explicit(&r->head, memory_order_seq_cst);
  return atomic_load_explicit(&r->seq[pos % RING], memory_order_seq_cst) ==
         pos + 1;
}

/* Returns 0 when the ring is full. */
static int ring_put(ring_t *r, src_job_t *j) {
  uint64_t pos = r->tail;
  if (atomic_load_explicit(&r->seq[pos % RING], memory_order_acquire) != pos)
    return 0;
  r->cell[pos % RING] = j;
  atomic_store_explicit(&r->seq[pos % RING], pos + 1, memory_order_seq_cst);
  r->tail = pos + 1;
  if (atomic_load_explicit(&r->sleepy, memory_order_seq_cst)) {
    atomic_store_explicit(&r->sleepy, 0, memory_order_relaxed);
    atomic_fetch_add(&r->notifies, 1);
    penny_pool_notify(r->pool);
  }
  return 1;
}

static void src_fn(penny_worker_t *w, void *arg) {
  (void) w;
  src_job_t *j = arg;
  atomic_fetch_add(&j->runs, 1);
}

static void src_done(penny_job_t *job, int status) {
  src_job_t *j = job->data;
  ASSERT_EQ(status, 0);
  atomic_fetch_add(&j->dones, 1);
  latch_count(j->latch);
}

static void source_rounds(unsigned threads, unsigned flags, int64_t rounds,
                          int batch) {
  ring_t *r = calloc(1, sizeof(*r));
  ASSERT(r != NULL);
  for (uint64_t i = 0; i < RING; i++)
    atomic_init(&r->seq[i], i);
  penny_source_t src = { ring_take, ring_ready, r };
  penny_pool_options_t o;
  memset(&o, 0, sizeof(o));
  o.threads = threads;
  o.spin_us = 1;
  o.flags = flags;
  o.source = &src;
  ASSERT_EQ(penny_pool_create(&r->pool, &o), 0);

  src_job_t *jobs = calloc((size_t) batch, sizeof(*jobs));
  ASSERT(jobs != NULL);
  for (int64_t round = 0; round < rounds; round++) {
    latch_t latch;
    latch_init(&latch, batch);
    for (int i = 0; i < batch; i++) {
      memset(&jobs[i], 0, sizeof(jobs[i]));
      jobs[i].job.fn = src_fn;
      jobs[i].job.arg = &jobs[i];
      jobs[i].job.done = src_done;
      jobs[i].job.data = &jobs[i];
      jobs[i].latch = &latch;
      while (!ring_put(r, &jobs[i]))
        usleep(1); /* full: the workers are behind */
    }
    latch_wait(&latch);
    for (int i = 0; i < batch; i++) {
      ASSERT_EQ(atomic_load(&jobs[i].runs), 1);
      ASSERT_EQ(atomic_load(&jobs[i].dones), 1);
    }
    latch_destroy(&latch);
    if (round % 64 == 0)
      usleep(20); /* let everyone reach the futex now and then */
  }
  penny_stats_t st;
  ASSERT_EQ(penny_pool_stats(r->pool, PENNY_ALL_WORKERS, &st), 0);
  ASSERT_GT(st.sleeps, 0);
  ASSERT_GT(atomic_load(&r->notifies), 0);
  ASSERT_EQ(penny_pool_destroy(r->pool, 0), 0);
  free(jobs);
  free(r);
}

TEST_IMPL(source_jobs_run_once_without_lost_wakeups) {
  for (unsigned t = 1; t <= 4; t++) {
    unsigned flags = t % 2 ? PENNY_POOL_SYMMETRIC_FENCES : 0;
    source_rounds(t, flags, test_scale(3000), 1);
    source_rounds(t, flags, test_scale(500), 200);
  }
  return 0;
}
