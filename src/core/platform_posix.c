/* The platform layer on POSIX: pthreads for threads, locks and condition
 * variables; on Linux a futex for parking and membarrier for asymmetric
 * fences. platform_win.c is the Windows side; each compiles to nothing on
 * the other. */
#if !defined(_WIN32) && !defined(__wasm__)

#ifndef _GNU_SOURCE
# define _GNU_SOURCE /* pthread_setname_np, CPU_COUNT */
#endif
#include "platform.h"
#include "penny.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
# include <linux/futex.h>
# include <linux/membarrier.h>
# include <sys/syscall.h>
#endif

void *penny__pages_alloc(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void penny__pages_free(void *p, size_t bytes) {
  if (p != NULL)
    (void) munmap(p, bytes); /* fails only for a range we never mapped */
}

void penny__pages_discard(void *p, size_t bytes) {
  uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
  uintptr_t lo = ((uintptr_t) p + page - 1) & ~(page - 1);
  uintptr_t hi = ((uintptr_t) p + bytes) & ~(page - 1);
  if (hi <= lo)
    return;
#ifdef __linux__
  (void) madvise((void *) lo, hi - lo, MADV_DONTNEED); /* advice only */
#else
  (void) posix_madvise((void *) lo, hi - lo, POSIX_MADV_DONTNEED);
#endif
}

void *penny__aligned_alloc(size_t align, size_t size) {
  /* C11 wants a size that is a multiple of the alignment. */
  return aligned_alloc(align, (size + align - 1) & ~(align - 1));
}

void penny__aligned_free(void *p) {
  free(p);
}

void penny__advise_huge(void *data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  uintptr_t lo = ((uintptr_t) data + PENNY_HUGE_PAGE - 1) &
                 ~(PENNY_HUGE_PAGE - 1);
  uintptr_t hi = ((uintptr_t) data + bytes) & ~(PENNY_HUGE_PAGE - 1);
  if (hi > lo)
    (void) madvise((void *) lo, hi - lo, MADV_HUGEPAGE); /* advice only */
#else
  (void) data;
  (void) bytes;
#endif
}

typedef struct {
  void (*fn)(void *);
  void *arg;
} start_t;

static void *thread_start(void *p) {
  start_t s = *(start_t *) p;
  free(p);
  s.fn(s.arg);
  return NULL;
}

int penny__thread_create(penny__thread_t *t, size_t stack_size,
                         void (*fn)(void *), void *arg) {
  pthread_attr_t attr;
  start_t *s = malloc(sizeof(*s));
  if (s == NULL)
    return PENNY_ETHREAD;
  s->fn = fn;
  s->arg = arg;
  if (pthread_attr_init(&attr) != 0) {
    free(s);
    return PENNY_ETHREAD;
  }
  if (stack_size != 0) {
    /* Whole pages, and at least what the system requires. */
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    stack_size = (stack_size + page - 1) / page * page;
    if (stack_size < (size_t) PTHREAD_STACK_MIN)
      stack_size = (size_t) PTHREAD_STACK_MIN;
    if (pthread_attr_setstacksize(&attr, stack_size) != 0) {
      pthread_attr_destroy(&attr);
      free(s);
      return PENNY_ETHREAD;
    }
  }
  int rc = pthread_create(t, &attr, thread_start, s);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    free(s);
    return PENNY_ETHREAD;
  }
  return 0;
}

void penny__thread_join(penny__thread_t *t) {
  if (pthread_join(*t, NULL) != 0)
    abort(); /* Joining our own, live, joinable thread cannot fail. */
}

int penny__thread_is_self(const penny__thread_t *t) {
  return pthread_equal(*t, pthread_self());
}

void penny__thread_set_name(const char *name) {
#if defined(__linux__)
  (void) pthread_setname_np(pthread_self(), name); /* Cosmetic only. */
#elif defined(__APPLE__)
  (void) pthread_setname_np(name);
#else
  (void) name;
#endif
}

void penny__thread_yield(void) {
  sched_yield();
}

void penny__sleep_ms(unsigned ms) {
  struct timespec ts = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

unsigned penny__cpu_count(void) {
#if defined(__linux__) && defined(CPU_COUNT)
  /* The CPUs this process may use (taskset, cgroups' cpusets), not all
   * that the machine has. */
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return (unsigned) CPU_COUNT(&set);
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned) n : 1;
}

uint64_t penny__hrtime(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    abort(); /* CLOCK_MONOTONIC is required by POSIX */
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

int penny__mutex_init(penny__mutex_t *m) {
  return pthread_mutex_init(m, NULL) == 0 ? 0 : PENNY_ENOMEM;
}

void penny__mutex_destroy(penny__mutex_t *m) {
  (void) pthread_mutex_destroy(m); /* fails only for a locked mutex */
}

void penny__mutex_lock(penny__mutex_t *m) {
  if (pthread_mutex_lock(m) != 0)
    abort(); /* only for a mutex that was never initialized */
}

void penny__mutex_unlock(penny__mutex_t *m) {
  if (pthread_mutex_unlock(m) != 0)
    abort(); /* only for a mutex this thread does not hold */
}

int penny__cond_init(penny__cond_t *c) {
  return pthread_cond_init(c, NULL) == 0 ? 0 : PENNY_ENOMEM;
}

void penny__cond_destroy(penny__cond_t *c) {
  (void) pthread_cond_destroy(c); /* fails only with waiters */
}

void penny__cond_wait(penny__cond_t *c, penny__mutex_t *m) {
  if (pthread_cond_wait(c, m) != 0)
    abort(); /* only for a mutex this thread does not hold */
}

void penny__cond_signal(penny__cond_t *c) {
  (void) pthread_cond_signal(c); /* cannot fail on an initialized cond */
}

void penny__cond_broadcast(penny__cond_t *c) {
  (void) pthread_cond_broadcast(c); /* as above */
}

#ifdef __linux__

#if !defined(__SANITIZE_THREAD__)
/* The registration's outcome: 0 not known yet, 1 registered, -1 not
 * available. Registration belongs to the address space, so a forked
 * child inherits it with this copy (exec resets both). */
static _Atomic int heavy_state;
#endif

int penny__heavy_barrier_init(void) {
#if defined(__SANITIZE_THREAD__)
  /* ThreadSanitizer cannot see the ordering a membarrier gives. */
  return 0;
#else
  /* Acquire: pairs with the release below, so a thread that reads 1 calls
   * membarrier after the registration returned. */
  int state = atomic_load_explicit(&heavy_state, memory_order_acquire);
  if (state != 0)
    return state > 0;
  /* Registration is per process and idempotent (racing callers each
   * register), and the first costs an RCU grace period: milliseconds.
   * Kernels before 4.14, or sandboxes that filter the call, make it fail:
   * then fences stay symmetric. */
  int ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                   0, 0) == 0;
  /* Release: see the acquire above. */
  atomic_store_explicit(&heavy_state, ok ? 1 : -1, memory_order_release);
  return ok;
#endif
}

int penny__heavy_barrier_known(void) {
#if defined(__SANITIZE_THREAD__)
  return 1;
#else
  /* Acquire: as in penny__heavy_barrier_init. */
  return atomic_load_explicit(&heavy_state, memory_order_acquire) != 0;
#endif
}

void penny__heavy_barrier(void) {
  /* After a successful registration the call fails only transiently
   * (ENOMEM where the kernel allocates its CPU mask), and a thief cannot
   * proceed without the barrier: retry, and give up only on a broken
   * kernel. */
  for (int tries = 0; tries < 100000; tries++) {
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
      return;
    sched_yield();
  }
  fprintf(stderr, "penny: membarrier keeps failing after registration\n");
  abort();
}

int penny__park_init(penny__park_t *p) {
  atomic_init(&p->word, 0);
  return 0;
}

void penny__park_destroy(penny__park_t *p) {
  (void) p;
}

void penny__park_wait(penny__park_t *p, uint32_t expected) {
  /* The kernel compares the word with `expected` under its own lock, so a
   * change made before this call returns at once (EAGAIN). EINTR and
   * spurious returns are fine: callers re-check their condition. */
  (void) syscall(SYS_futex, &p->word, FUTEX_WAIT_PRIVATE, expected,
                 NULL, NULL, 0);
}

void penny__park_wake(penny__park_t *p, int all) {
  (void) syscall(SYS_futex, &p->word, FUTEX_WAKE_PRIVATE,
                 all ? INT_MAX : 1, NULL, NULL, 0);
}

#else /* !__linux__ */

int penny__heavy_barrier_init(void) {
  return 0;
}

int penny__heavy_barrier_known(void) {
  return 1;
}

void penny__heavy_barrier(void) {
  abort(); /* Never called when init returned 0. */
}

/* Parking elsewhere: park_cond.c. */

#endif /* __linux__ */

#endif /* !_WIN32 */
