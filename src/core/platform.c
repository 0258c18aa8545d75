/* Threads through libuv (portable, and the same library Node embeds);
 * parking on a futex on Linux, on uv_cond elsewhere. */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE /* pthread_setname_np */
#endif
#include "platform.h"
#include "penny.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef _WIN32
# include <windows.h>
#else
# include <sys/mman.h>
# include <unistd.h>
#endif
#ifdef __linux__
# include <linux/futex.h>
# include <linux/membarrier.h>
# include <pthread.h>
# include <sched.h>
# include <sys/syscall.h>
#elif !defined(_WIN32)
# include <sched.h>
#endif

#ifdef _WIN32
void *penny__pages_alloc(size_t bytes) {
  return VirtualAlloc(NULL, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

void penny__pages_free(void *p, size_t bytes) {
  (void) bytes;
  if (p != NULL)
    VirtualFree(p, 0, MEM_RELEASE);
}

void penny__pages_discard(void *p, size_t bytes) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  uintptr_t page = si.dwPageSize;
  uintptr_t lo = ((uintptr_t) p + page - 1) & ~(page - 1);
  uintptr_t hi = ((uintptr_t) p + bytes) & ~(page - 1);
  if (hi > lo)
    (void) VirtualAlloc((void *) lo, hi - lo, MEM_RESET, PAGE_READWRITE);
}
#else
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
#endif

int penny__thread_create(penny__thread_t *t, size_t stack_size,
                         void (*fn)(void *), void *arg) {
  uv_thread_options_t opts;
  opts.flags = stack_size ? UV_THREAD_HAS_STACK_SIZE : UV_THREAD_NO_FLAGS;
  opts.stack_size = stack_size;
  return uv_thread_create_ex(t, &opts, fn, arg) == 0 ? 0 : PENNY_ETHREAD;
}

void penny__thread_join(penny__thread_t *t) {
  if (uv_thread_join(t) != 0)
    abort(); /* Joining our own, live, joinable thread cannot fail. */
}

void penny__thread_set_name(const char *name) {
#if defined(__linux__)
  (void) pthread_setname_np(pthread_self(), name); /* Cosmetic only. */
#else
  (void) name;
#endif
}

void penny__thread_yield(void) {
#ifdef _WIN32
  SwitchToThread();
#else
  sched_yield();
#endif
}

void penny__sleep_ms(unsigned ms) {
  uv_sleep(ms);
}

unsigned penny__cpu_count(void) {
  unsigned n = uv_available_parallelism();
  return n ? n : 1;
}

uint64_t penny__hrtime(void) {
  return uv_hrtime();
}

#ifdef __linux__

int penny__heavy_barrier_init(void) {
#if defined(__SANITIZE_THREAD__)
  /* ThreadSanitizer cannot see the ordering a membarrier gives. */
  return 0;
#else
  /* Registration is per process and idempotent. Kernels before 4.14, or
   * sandboxes that filter the call, make it fail: then fences stay
   * symmetric. */
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                 0, 0) == 0;
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

void penny__heavy_barrier(void) {
  abort(); /* Never called when init returned 0. */
}

int penny__park_init(penny__park_t *p) {
  atomic_init(&p->word, 0);
  if (uv_mutex_init(&p->mutex) != 0)
    return PENNY_ENOMEM;
  if (uv_cond_init(&p->cond) != 0) {
    uv_mutex_destroy(&p->mutex);
    return PENNY_ENOMEM;
  }
  return 0;
}

void penny__park_destroy(penny__park_t *p) {
  uv_cond_destroy(&p->cond);
  uv_mutex_destroy(&p->mutex);
}

void penny__park_wait(penny__park_t *p, uint32_t expected) {
  uv_mutex_lock(&p->mutex);
  /* Relaxed is enough: the mutex orders this load against the waker, which
   * changes the word before it takes the mutex to signal. */
  if (atomic_load_explicit(&p->word, memory_order_relaxed) == expected)
    uv_cond_wait(&p->cond, &p->mutex);
  uv_mutex_unlock(&p->mutex);
}

void penny__park_wake(penny__park_t *p, int all) {
  /* Taking the mutex means a waiter is either before its check (and sees
   * the new word) or inside uv_cond_wait (and gets the signal). */
  uv_mutex_lock(&p->mutex);
  if (all)
    uv_cond_broadcast(&p->cond);
  else
    uv_cond_signal(&p->cond);
  uv_mutex_unlock(&p->mutex);
}

#endif /* __linux__ */
