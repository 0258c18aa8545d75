/* The worker: the search for work (steal, then the injector, then the
 * source), running what it finds, the loop each worker thread runs, and
 * the wait inside a sync whose child was stolen, which keeps the worker
 * busy the same way. Sleeping is sleep.c's. */
#include "worker.h"
#include "deque.h"
#include "injector.h"
#include "sleep.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- Finding and running work. ---- */

uint64_t penny__rand(penny_worker_t *w) {
  /* xorshift64: cheap, per worker, good enough to pick victims. */
  uint64_t x = w->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  w->rng = x;
  return x;
}

void penny__run_stolen(penny_worker_t *w, penny__task_t *t,
                       penny_job_t *job) {
  penny_job_t *saved = penny__job_of(w);
  /* Relaxed: the thief index is only a hint for the owner's leapfrogging. */
  atomic_store_explicit(&t->word, TASK_WORD(TASK_PUSHED, w->index),
                        memory_order_relaxed);
  PENNY_COUNT(w, steals);
  penny__set_job(w, job);
  t->fn(w, t->arg);
  penny__set_job(w, saved);
  /* Release: the child's effects happen before the owner, which acquires
   * this word in penny__sync_slow, continues past its sync. The frame may
   * be gone right after this store. */
  atomic_store_explicit(&t->word, TASK_WORD(TASK_DONE, w->index),
                        memory_order_release);
}

void penny__run_job(penny_worker_t *w, penny_job_t *job) {
  penny__job_priv_t *jp = penny__job_priv(job);
  penny_done_fn done = job->done;
  uint32_t expected = PENNY_JOB_QUEUED;
  /* Relaxed: the job's fields reached us through the injector cell
   * (release/acquire); the state word carries no other data. cancel_all
   * is a plain flag that destroy sets before it wakes anyone. */
  if (atomic_load_explicit(&w->pool->cancel_all, memory_order_relaxed) ||
      !atomic_compare_exchange_strong_explicit(&jp->state, &expected,
                                               PENNY_JOB_RUNNING,
                                               memory_order_relaxed,
                                               memory_order_relaxed)) {
    /* Cancelled while queued (by the user, or by destroy). */
    atomic_store_explicit(&jp->state, PENNY_JOB_CANCELLED,
                          memory_order_release);
    done(job, PENNY_ECANCELED);
    return;
  }
  penny_job_t *saved = penny__job_of(w);
  /* Relaxed: only the exit decision reads it, with the SeqCst decrement
   * below as its pair. */
  atomic_fetch_add_explicit(&w->pool->jobs_running, 1, memory_order_relaxed);
  penny__set_job(w, job);
  PENNY_COUNT(w, jobs);
  job->fn(w, job->arg);
  penny__set_job(w, saved);
  /* Relaxed: every child of the job was synced before fn returned, and
   * penny_fail's stores are ordered before those syncs. Read before the
   * state turns DONE, after which the caller may reuse the job. */
  int status = atomic_load_explicit(&jp->status, memory_order_relaxed);
  /* AcqRel: release publishes the kernel's effects to a thread that reads
   * the state; acquire sees a cancel request made while it ran. */
  uint32_t old = atomic_exchange_explicit(&jp->state, PENNY_JOB_DONE,
                                          memory_order_acq_rel);
  /* SeqCst: pairs with the loads in penny__may_exit. The last job to finish
   * after destroy has begun wakes the workers that slept through it. */
  if (atomic_fetch_sub_explicit(&w->pool->jobs_running, 1,
                                memory_order_seq_cst) == 1 &&
      atomic_load_explicit(&w->pool->exiting, memory_order_seq_cst))
    penny__wake_all(w->pool);
  if (status == 0 &&
      ((old & JOB_CANCEL_REQ) ||
       atomic_load_explicit(&w->pool->cancel_all, memory_order_relaxed)))
    status = PENNY_ECANCELED;
  done(job, status);
}

/* A root job from the injector or the pool's source, or NULL. */
static penny_job_t *find_job(penny_pool_t *pool) {
  penny_job_t *job = penny__injector_pop(&pool->injector);
  if (job == NULL && pool->source.take != NULL)
    job = pool->source.take(pool->source.ctx);
  return job;
}

/* One pass over the other workers' deques from a random start, then (if
 * `jobs`) the injector. Fills *task or *job and returns true if it found
 * something. */
bool penny__find_work(penny_worker_t *w, penny__task_t **task,
                      penny_job_t **job, bool jobs) {
  penny_pool_t *pool = w->pool;
  unsigned n = pool->threads;
  if (n > 1) {
    unsigned start = (unsigned) (penny__rand(w) % n);
    for (unsigned i = 0; i < n; i++) {
      unsigned v = start + i < n ? start + i : start + i - n;
      if (v == w->index)
        continue;
      if (penny__deque_steal(&pool->workers[v], task, job) ==
          STEAL_SUCCESS)
        return true;
      PENNY_COUNT(w, failed_steals);
    }
  }
  *task = NULL;
  *job = jobs ? find_job(pool) : NULL;
  return *job != NULL;
}

/* ---- The worker thread's loop: find work, run it, spin, sleep. ---- */

/* The loop; returns 0 when the pool is being destroyed and the worker may
 * go. On a lent thread (park != NULL) it also returns PENNY_WORKER_PARK
 * with *park set when the thread should park outside the core, and
 * PENNY_WORKER_LEFT, still counted as searching, after a job asked it to
 * leave (lend.c). */
/* While spinning (see below): pauses between two looks for work, and
 * how many of those looks go through the other workers' deques too. */
#define SPIN_PAUSES 8
#define SPIN_STEAL_EVERY 8

int penny__worker_loop(penny_worker_t *w, uint32_t *park) {
  penny_pool_t *pool = w->pool;
  uint64_t spin_start = 0;
  unsigned rounds = 0;

  penny__fences_ready(pool);
  for (;;) {
    penny__task_t *task = NULL;
    penny_job_t *job;
    bool found = spin_start != 0 && rounds % SPIN_STEAL_EVERY != 0
                     ? (job = find_job(pool)) != NULL
                     : penny__find_work(w, &task, &job, true);
    if (found) {
      if (task) {
        penny__stop_searching(w);
        penny__run_stolen(w, task, job);
      } else {
        penny__stop_searching_job(w);
        penny__run_job(w, job);
      }
      /* Work that is already there is taken before counting ourselves as
       * searching again: a stream of root jobs then costs no RMW on the
       * shared idle word per job. Taking work while not counted strands
       * nothing (a submitter that sees nobody searching wakes a sleeper
       * itself); a stolen frame passes the baton as a worker in a sync
       * does (SLEEP.md). */
      while (PENNY_LIKELY(!w->leave) &&
             penny__find_work(w, &task, &job, true)) {
        if (task) {
          penny__notify(pool, w);
          penny__run_stolen(w, task, job);
        } else {
          penny__run_job(w, job);
        }
      }
      penny__start_searching(w);
      if (PENNY_UNLIKELY(w->leave)) {
        w->leave = 0;
        return PENNY_WORKER_LEFT;
      }
      spin_start = 0;
      rounds = 0;
      continue;
    }
    /* After `exiting` no job can be submitted, so an empty injector stays
     * empty; with no job running, nothing can be spawned either. */
    if (penny__may_exit(pool) && penny__injector_empty(&pool->injector))
      break;
    /* Spin briefly before sleeping: a wake-up costs far more than a few
     * microseconds of pauses when work comes back soon. Between looks
     * for work the spinner pauses, and the work that comes meanwhile
     * waits half a batch of pauses on average. A pause takes from a few
     * to 140 cycles (about 10 ns on the Xeon of bench/README.md, where
     * looking once per 64 pauses added 300 ns to each round trip of a
     * task awaited at a time), so it looks for root jobs every
     * SPIN_PAUSES pauses: the injector's and the source's lines change
     * only when jobs come. The other workers' deques change at every
     * spawn and sync of theirs, and reading them as often would take
     * those lines from their owners: they are looked at every
     * SPIN_STEAL_EVERY looks, as often as before. */
    if (++rounds < 16) {
      penny__cpu_relax();
      continue;
    }
    uint64_t now = penny__hrtime();
    if (spin_start == 0)
      spin_start = now;
    if (now - spin_start < pool->spin_ns) {
      for (int i = 0; i < SPIN_PAUSES; i++)
        penny__cpu_relax();
      continue;
    }
    if (park != NULL) {
      if (penny__worker_sleep_begin(w, park))
        return PENNY_WORKER_PARK; /* the caller parks, then sleep_end */
      penny__worker_sleep_end(w);
    } else {
      penny__worker_sleep(w);
    }
    spin_start = 0;
    rounds = 0;
  }
  /* Relaxed: nobody waits on this count any more. */
  atomic_fetch_sub_explicit(&pool->idle, IDLE_SEARCHING_ONE,
                            memory_order_relaxed);
  return 0;
}

void penny__worker_main(void *arg) {
  penny_worker_t *w = arg;
  char name[16];
  snprintf(name, sizeof(name), "penny-w%u", w->index);
  penny__thread_set_name(name);
  /* The worker starts counted as searching (see penny_pool_create). */
  (void) penny__worker_loop(w, NULL);
}

/* ---- The wait inside sync. ---- */

/* Root jobs a waiting worker may start on top of its stack, one inside
 * the other: each delays the continuation below it and takes stack, so
 * past this depth a waiting worker only steals. */
#define MAX_NESTED_JOBS 8

/* The pop in penny__sync did not return t (it returned p). Either t ran
 * inline at its spawn (full deque), or it was stolen (p == NULL) and this
 * worker must keep busy until the thief finishes it: any other p means
 * the children were synced out of order. Leapfrogging: the thief's deque
 * holds t's own descendants, so steal from it first, then from anyone,
 * then take new jobs. Our deque is empty here: t was the newest frame and
 * a thief took it from the top, so every older frame was taken before. A
 * waiting worker is not counted as searching, so after it finds work it
 * passes the baton as a searcher would (SLEEP.md): there may be more. */
void penny__sync_slow(penny_worker_t *w, penny__task_t *t,
                      penny__task_t *p) {
  /* Relaxed: TASK_INLINE was stored by this thread. */
  if (TASK_STATE(atomic_load_explicit(&t->word, memory_order_relaxed)) ==
      TASK_INLINE) {
    /* The deque was full at the spawn, so t already ran there, and our
     * pop took a frame of an enclosing sync (or found none): put it back
     * where it was. There is room, since we just took it. While it was
     * off the deque a worker may have looked, found nothing and gone to
     * sleep, so the push calls for help like a spawn's. */
    if (p != NULL) {
      if (PENNY_UNLIKELY(w->debug_race))
        penny__sleep_ms(5); /* Let the other workers fall asleep now. */
      if (!penny__deque_push_notify(w, p))
        abort(); /* Broken invariant: no room right after a pop. */
    }
    return;
  }
  if (p != NULL) {
    fprintf(stderr, "penny: penny_sync called out of order; children must "
                    "be synced in the reverse order of their spawns\n");
    abort();
  }
  penny__wait_stolen(w, t, WAIT_HELP_FRAMES | WAIT_HELP_JOBS);
}

void penny__wait_stolen(penny_worker_t *w, penny__task_t *t, int help) {
  /* Root jobs on a lent thread could leave the core (a JS task awaiting
   * its promise) with this frame still on the thread's stack. */
  bool jobs = (help & WAIT_HELP_JOBS) && !w->pool->external;
  unsigned idle_rounds = 0;
  for (;;) {
    /* Acquire pairs with the thief's release store of TASK_DONE. A stale
     * or missing thief index only costs a random pick. */
    uint64_t word = atomic_load_explicit(&t->word, memory_order_acquire);
    if (TASK_STATE(word) == TASK_DONE)
      break;
    penny__task_t *task = NULL;
    penny_job_t *job = NULL;
    uint32_t thief = TASK_THIEF(word);
    if ((help & WAIT_HELP_FRAMES) && thief < w->count &&
        thief != w->index &&
        penny__deque_steal(&w->pool->workers[thief], &task, &job) ==
            STEAL_SUCCESS) {
      penny__notify(w->pool, w);
      penny__run_stolen(w, task, job);
      idle_rounds = 0;
      continue;
    }
    if ((help & WAIT_HELP_FRAMES) &&
        penny__find_work(w, &task, &job,
                         jobs && w->nested_jobs < MAX_NESTED_JOBS)) {
      penny__notify(w->pool, w);
      if (task) {
        penny__run_stolen(w, task, job);
      } else {
        w->nested_jobs++;
        penny__run_job(w, job);
        w->nested_jobs--;
      }
      idle_rounds = 0;
      continue;
    }
    /* Nothing to do but wait for the thief. With more threads than cores
     * the thief may need our CPU, so yield now and then. */
    if (++idle_rounds < 64)
      penny__cpu_relax();
    else
      penny__thread_yield();
  }
}
