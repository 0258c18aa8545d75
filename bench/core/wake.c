/* What the machine itself charges a task that finds its worker asleep:
 * the floor under (f) in bench/addon.js, with no Penny and no JavaScript.
 *
 *   core-wake [--reps N] [--idle-ms M] [--work-ms W]
 *
 * A caller thread and a worker thread, as the loop thread and one pool
 * thread. Each rep the caller idles M ms (both threads asleep, as between
 * two calls of an idle pool), then hands the worker a job that busy-waits
 * W ms, and waits for it to finish. The overhead is the caller's round
 * trip less the job's own time, split into the leg before the job began
 * and the leg after it ended. Two ways of waiting, reps interleaved:
 *   blocking  both threads sleep on a condition variable (a futex on
 *             Linux): each leg wakes a sleeping thread, as any pool that
 *             does not spin while idle must;
 *   spinning  both threads spin on a flag the whole time, idle included:
 *             what the hand-over costs when no thread ever sleeps. */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/core/platform.h"

enum { BLOCKING, SPINNING, MODES };
static const char *const mode_name[MODES] = { "blocking", "spinning" };

typedef struct {
  penny__mutex_t mutex;
  penny__cond_t cond;
  /* Rep numbers: `go` the job the caller handed over, `done` the last
   * one the worker finished; -1 in `go` stops the worker. */
  _Atomic int go;
  _Atomic int done;
  double work_s;
  double began, ended; /* the job's own clock, written before `done` */
} shared_t;

/* How rep `rep` (from 1) waits: the modes alternate which goes first from
 * one pair of reps to the next. Both threads know it from the number. */
static int mode_of(int rep) {
  return ((rep - 1) / MODES + (rep - 1) % MODES) % MODES;
}

/* Waits until *word != seen: on the condition variable, or spinning. */
static int wait_change(shared_t *s, int mode, _Atomic int *word, int seen) {
  int v;
  if (mode == SPINNING) {
    /* Acquire: the other side's writes before its store become visible. */
    while ((v = atomic_load_explicit(word, memory_order_acquire)) == seen)
      penny__cpu_relax();
    return v;
  }
  penny__mutex_lock(&s->mutex);
  /* The mutex orders these loads after the other side's store. */
  while ((v = atomic_load_explicit(word, memory_order_relaxed)) == seen)
    penny__cond_wait(&s->cond, &s->mutex);
  penny__mutex_unlock(&s->mutex);
  return v;
}

/* Sets *word to v for a waiter in `mode`. */
static void publish(shared_t *s, int mode, _Atomic int *word, int v) {
  if (mode == SPINNING) {
    /* Release: pairs with the spinning side's acquire load. */
    atomic_store_explicit(word, v, memory_order_release);
    return;
  }
  penny__mutex_lock(&s->mutex);
  /* Under the mutex, which orders it for the waiter. */
  atomic_store_explicit(word, v, memory_order_relaxed);
  penny__cond_broadcast(&s->cond);
  penny__mutex_unlock(&s->mutex);
}

static void worker(void *arg) {
  shared_t *s = arg;
  int seen = 0;
  for (;;) {
    int rep = wait_change(s, mode_of(seen + 1), &s->go, seen);
    if (rep < 0) return;
    seen = rep;
    double t0 = bench_now(), t1;
    do t1 = bench_now(); while (t1 - t0 < s->work_s);
    s->began = t0;
    s->ended = t1;
    publish(s, mode_of(rep), &s->done, rep);
  }
}

/* The caller idles `idle_s` seconds in `mode`'s way of waiting. */
static void idle(int mode, double idle_s) {
  if (mode == BLOCKING) {
    penny__sleep_ms((unsigned) (idle_s * 1e3));
    return;
  }
  double t0 = bench_now();
  while (bench_now() - t0 < idle_s) penny__cpu_relax();
}

int main(int argc, char **argv) {
  int reps = 21;
  double idle_ms = 20, work_ms = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--idle-ms") == 0) idle_ms = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--work-ms") == 0) work_ms = atof(argv[i + 1]);
    else {
      fprintf(stderr, "usage: core-wake [--reps N] [--idle-ms M] "
              "[--work-ms W]\n");
      return 2;
    }
  }
  if (reps < 1 || idle_ms < 0 || work_ms < 0) {
    fprintf(stderr, "core-wake: reps must be >= 1, times >= 0\n");
    return 2;
  }
  shared_t s;
  memset(&s, 0, sizeof s);
  if (penny__mutex_init(&s.mutex) != 0 || penny__cond_init(&s.cond) != 0) {
    fprintf(stderr, "core-wake: cannot make a mutex\n");
    return 1;
  }
  s.work_s = work_ms * 1e-3;
  penny__thread_t thread;
  if (penny__thread_create(&thread, 0, worker, &s) != 0) {
    fprintf(stderr, "core-wake: cannot start a thread\n");
    return 1;
  }
  double *legs = malloc(sizeof(double) * 3 * MODES * (size_t) reps);
  if (legs == NULL) return 1;
  for (int rep = 1; rep <= MODES * reps; rep++) {
    int m = mode_of(rep);
    idle(m, idle_ms * 1e-3);
    double t = bench_now();
    publish(&s, m, &s.go, rep);
    wait_change(&s, m, &s.done, rep - 1);
    double e = bench_now();
    double *l = legs + 3 * ((size_t) m * reps + (rep - 1) / MODES);
    l[0] = (s.began - t) * 1e6;
    l[1] = (e - s.ended) * 1e6;
    l[2] = (e - t - (s.ended - s.began)) * 1e6;
  }
  /* The worker waits in the next rep's mode: a store under the mutex,
   * then a broadcast, reaches it either way. */
  penny__mutex_lock(&s.mutex);
  atomic_store_explicit(&s.go, -1, memory_order_release);
  penny__cond_broadcast(&s.cond);
  penny__mutex_unlock(&s.mutex);
  penny__thread_join(&thread);
  printf("the machine's wake-up floor, medians of %d reps (us); idle %.0f ms, "
         "job %.0f ms\n", reps, idle_ms, work_ms);
  double *col = malloc(sizeof(double) * (size_t) reps);
  if (col == NULL) return 1;
  for (int m = 0; m < MODES; m++) {
    double med[3];
    for (int c = 0; c < 3; c++) {
      for (int r = 0; r < reps; r++)
        col[r] = legs[3 * ((size_t) m * reps + r) + c];
      med[c] = bench_median(col, reps);
    }
    printf("%-9s before %7.1f  after %7.1f  overhead %7.1f\n", mode_name[m],
           med[0], med[1], med[2]);
  }
  free(col);
  free(legs);
  penny__cond_destroy(&s.cond);
  penny__mutex_destroy(&s.mutex);
  return 0;
}
