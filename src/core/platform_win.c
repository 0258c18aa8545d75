/* The platform layer on Windows: Win32 threads, slim reader/writer locks
 * and condition variables (which also serve for parking), VirtualAlloc
 * for pages. platform_posix.c is the other side; each compiles to nothing on
 * the other. Built and tested on Linux only through a cross compiler
 * (mingw-w64); see the Makefile's cross-win target. */
#ifdef _WIN32

#include "platform.h"
#include "penny.h"

#include <malloc.h>
#include <process.h>
#include <stdlib.h>

void *penny__aligned_alloc(size_t align, size_t size) {
  return _aligned_malloc(size, align);
}

void penny__aligned_free(void *p) {
  _aligned_free(p);
}

void penny__advise_huge(void *data, size_t bytes) {
  (void) data; /* large pages need a privilege on Windows */
  (void) bytes;
}

typedef struct {
  void (*fn)(void *);
  void *arg;
} start_t;

static unsigned __stdcall thread_start(void *p) {
  start_t s = *(start_t *) p;
  free(p);
  s.fn(s.arg);
  return 0;
}

int penny__thread_create(penny__thread_t *t, size_t stack_size,
                         void (*fn)(void *), void *arg) {
  start_t *s = malloc(sizeof(*s));
  if (s == NULL)
    return PENNY_ETHREAD;
  s->fn = fn;
  s->arg = arg;
  /* _beginthreadex, not CreateThread: the C runtime sets up the thread. */
  uintptr_t h = _beginthreadex(NULL, (unsigned) stack_size, thread_start, s,
                               STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
  if (h == 0) {
    free(s);
    return PENNY_ETHREAD;
  }
  *t = (HANDLE) h;
  return 0;
}

void penny__thread_join(penny__thread_t *t) {
  if (WaitForSingleObject(*t, INFINITE) != WAIT_OBJECT_0)
    abort(); /* Joining our own, live thread cannot fail. */
  CloseHandle(*t);
}

int penny__thread_is_self(const penny__thread_t *t) {
  return GetThreadId(*t) == GetCurrentThreadId();
}

void penny__thread_set_name(const char *name) {
  (void) name; /* SetThreadDescription wants Windows 10; cosmetic only */
}

void penny__thread_yield(void) {
  SwitchToThread();
}

void penny__sleep_ms(unsigned ms) {
  Sleep(ms);
}

unsigned penny__cpu_count(void) {
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  return n > 0 ? (unsigned) n : 1;
}

uint64_t penny__hrtime(void) {
  static LARGE_INTEGER freq; /* constant for the life of the system */
  LARGE_INTEGER now;
  if (freq.QuadPart == 0)
    QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&now);
  /* Seconds and remainder apart, so that the product cannot overflow. */
  uint64_t f = (uint64_t) freq.QuadPart, c = (uint64_t) now.QuadPart;
  return c / f * 1000000000u + c % f * 1000000000u / f;
}

int penny__mutex_init(penny__mutex_t *m) {
  InitializeSRWLock(m);
  return 0;
}

void penny__mutex_destroy(penny__mutex_t *m) {
  (void) m; /* SRW locks hold no resources */
}

void penny__mutex_lock(penny__mutex_t *m) {
  AcquireSRWLockExclusive(m);
}

void penny__mutex_unlock(penny__mutex_t *m) {
  ReleaseSRWLockExclusive(m);
}

int penny__cond_init(penny__cond_t *c) {
  InitializeConditionVariable(c);
  return 0;
}

void penny__cond_destroy(penny__cond_t *c) {
  (void) c; /* condition variables hold no resources */
}

void penny__cond_wait(penny__cond_t *c, penny__mutex_t *m) {
  if (!SleepConditionVariableSRW(c, m, INFINITE, 0))
    abort(); /* fails only on a timeout, and there is none */
}

void penny__cond_signal(penny__cond_t *c) {
  WakeConditionVariable(c);
}

void penny__cond_broadcast(penny__cond_t *c) {
  WakeAllConditionVariable(c);
}

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

int penny__heavy_barrier_init(void) {
  return 0; /* the textbook fences on Windows */
}

int penny__heavy_barrier_known(void) {
  return 1;
}

void penny__heavy_barrier(void) {
  abort(); /* Never called when init returned 0. */
}

/* Parking: park_cond.c. */

#endif /* _WIN32 */
