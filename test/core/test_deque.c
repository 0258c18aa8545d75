/* The Chase-Lev deque on its own: one owner against several thieves. */
#include "../../src/core/deque.h"
#include "helpers.h"

#include <stdlib.h>

#define THIEVES 3

typedef struct {
  penny_worker_t *victim;
  _Atomic int *stop;
  _Atomic uint8_t *seen;       /* per item: times taken */
  int64_t taken;
  int64_t retries;
  int fifo_ok;
} thief_t;

static int64_t item_of(penny__task_t *t) {
  return (int64_t) (uintptr_t) t - 1;
}

static penny__task_t *task_of(int64_t i) {
  return (penny__task_t *) (uintptr_t) (i + 1);
}

static void thief_main(void *arg) {
  thief_t *th = arg;
  int64_t last = -1;
  penny_job_t *job;
  th->fifo_ok = 1;
  for (;;) {
    /* Read stop before the steal: an empty deque seen after the owner
     * finished is empty for good. */
    int stopping = atomic_load_explicit(th->stop, memory_order_acquire);
    penny__task_t *t;
    penny__steal_t r = penny__deque_steal(th->victim, &t, &job);
    if (r == STEAL_SUCCESS) {
      int64_t i = item_of(t);
      /* Thieves take from the top: items come out in push order. */
      if (i <= last)
        th->fifo_ok = 0;
      last = i;
      atomic_fetch_add_explicit(&th->seen[i], 1, memory_order_relaxed);
      th->taken++;
    } else if (r == STEAL_RETRY) {
      th->retries++;
    } else if (stopping) {
      return;
    }
  }
}

static int deque_stress(int64_t capacity, int racy, int asym) {
  const int64_t n = test_scale(1000000);
  penny_worker_t *w = aligned_alloc(PENNY_CACHE_LINE, sizeof(*w));
  _Atomic(penny__task_t *) *ring = calloc((size_t) capacity, sizeof(*ring));
  _Atomic uint8_t *seen = calloc((size_t) n, 1);
  int64_t *stack = malloc(sizeof(int64_t) * (size_t) n); /* owner view */
  _Atomic int stop = 0;
  thief_t th[THIEVES];
  penny__thread_t tid[THIEVES];
  ASSERT(w && ring && seen && stack);
  memset(w, 0, sizeof(*w));
  w->ring = ring;
  w->mask = capacity - 1;
  w->cap_limit = capacity;
  w->push_limit = capacity;
  w->debug_race = racy;
  w->asym = asym;
  w->count = THIEVES + 1;

  for (int i = 0; i < THIEVES; i++) {
    th[i] = (thief_t) { w, &stop, seen, 0, 0, 1 };
    ASSERT_EQ(penny__thread_create(&tid[i], 0, thief_main, &th[i]), 0);
  }

  /* The owner pushes bursts and pops some back. `stack` mirrors what the
   * owner pushed and has not popped: a pop must return its top (LIFO), or
   * nothing at all when thieves took every frame. */
  int64_t depth = 0, next = 0, owner_taken = 0, fulls = 0, at;
  uint64_t rng = 88172645463325252ull;
  while (next < n) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    int64_t burst = (int64_t) (rng % 8) + 1;
    for (int64_t k = 0; k < burst && next < n; k++) {
      if (!penny__deque_push(w, task_of(next), &at)) {
        fulls++;
        break;
      }
      stack[depth++] = next++;
    }
    int64_t pops = (int64_t) ((rng >> 8) % 8);
    for (int64_t k = 0; k < pops; k++) {
      int64_t left;
      penny__task_t *t = penny__deque_pop(w, &left);
      if (t == NULL) {
        depth = 0; /* Everything was stolen. */
        break;
      }
      ASSERT(depth > 0);
      ASSERT_EQ(item_of(t), stack[depth - 1]);
      depth--;
      atomic_fetch_add_explicit(&seen[item_of(t)], 1, memory_order_relaxed);
      owner_taken++;
    }
  }
  atomic_store_explicit(&stop, 1, memory_order_release);
  for (int i = 0; i < THIEVES; i++)
    penny__thread_join(&tid[i]);

  int64_t stolen = 0, retries = 0;
  for (int i = 0; i < THIEVES; i++) {
    ASSERT_EQ(th[i].fifo_ok, 1);
    stolen += th[i].taken;
    retries += th[i].retries;
  }
  ASSERT_EQ(owner_taken + stolen, n);
  for (int64_t i = 0; i < n; i++)
    if (atomic_load(&seen[i]) != 1) {
      fprintf(stderr, "item %" PRId64 " taken %d times\n", i,
              (int) atomic_load(&seen[i]));
      ASSERT_EQ(atomic_load(&seen[i]), 1);
    }
  fprintf(stderr, "  %s fences, capacity %" PRId64 ": owner %" PRId64 ", thieves %"
          PRId64 ", retries %" PRId64 ", full %" PRId64 "\n",
          asym ? "asymmetric" : "symmetric", capacity,
          owner_taken, stolen, retries, fulls);
  free(stack);
  free(seen);
  free(ring);
  free(w);
  return 0;
}

/* Both fence disciplines: the textbook SeqCst fences, and the asymmetric
 * ones (owner compiler fence, thief membarrier) where the OS has them. */
static int deque_stress_both(int64_t capacity, int racy) {
  ASSERT_EQ(deque_stress(capacity, racy, 0), 0);
  if (penny__heavy_barrier_init())
    ASSERT_EQ(deque_stress(capacity, racy, 1), 0);
  else
    fprintf(stderr, "  asymmetric fences unavailable (no membarrier, or a "
                    "ThreadSanitizer build): not tested\n");
  return 0;
}

TEST_IMPL(deque_stress) {
  return deque_stress_both(1024, 0);
}

/* A ring of 4 wraps constantly and fills often. */
TEST_IMPL(deque_stress_small_ring) {
  return deque_stress_both(4, 0);
}

/* Thieves yield between reading a slot and claiming it. */
TEST_IMPL(deque_stress_racy) {
  return deque_stress_both(64, 1);
}

TEST_IMPL(deque_single_thread) {
  penny_worker_t *w = aligned_alloc(PENNY_CACHE_LINE, sizeof(*w));
  _Atomic(penny__task_t *) ring[8];
  int64_t left;
  penny__task_t *t;
  penny_job_t *job;
  ASSERT(w != NULL);
  memset(w, 0, sizeof(*w));
  w->ring = ring;
  w->mask = 7;
  w->cap_limit = 8;
  w->push_limit = 8;
  ASSERT_PTR_EQ(penny__deque_pop(w, &left), NULL);
  ASSERT_EQ(penny__deque_steal(w, &t, &job), STEAL_EMPTY);
  int64_t at;
  for (int64_t i = 0; i < 8; i++) {
    ASSERT(penny__deque_push(w, task_of(i), &at));
    ASSERT_EQ(at, i);
  }
  ASSERT(!penny__deque_push(w, task_of(8), &at)); /* Full. */
  ASSERT_EQ(penny__deque_size(w), 8);
  ASSERT_EQ(penny__deque_steal(w, &t, &job), STEAL_SUCCESS);
  ASSERT_EQ(item_of(t), 0); /* Thieves take the oldest. */
  ASSERT(penny__deque_push(w, task_of(8), &at)); /* Room again. */
  ASSERT_EQ(at, 8);
  t = penny__deque_pop(w, &left);
  ASSERT_EQ(item_of(t), 8); /* The owner takes the newest. */
  ASSERT_EQ(left, 7);
  for (int64_t i = 7; i >= 1; i--) {
    t = penny__deque_pop(w, &left);
    ASSERT_EQ(item_of(t), i);
  }
  ASSERT_EQ(left, 0);
  ASSERT_PTR_EQ(penny__deque_pop(w, &left), NULL);
  ASSERT_EQ(penny__deque_size(w), 0);
  free(w);
  return 0;
}
