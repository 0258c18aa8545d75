/* The platform layer: threads, parking and small CPU helpers. Everything
 * operating-system specific in the core sits behind these few functions. */
#ifndef PENNY_PLATFORM_H
#define PENNY_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef uv_thread_t penny__thread_t;

/* Starts fn(arg) on a new thread with at least `stack_size` bytes of stack
 * (0: the platform default). Returns 0 or PENNY_ETHREAD. */
int penny__thread_create(penny__thread_t *t, size_t stack_size,
                         void (*fn)(void *), void *arg);
void penny__thread_join(penny__thread_t *t);
/* Names the calling thread where the OS supports it (at most 15 chars). */
void penny__thread_set_name(const char *name);
/* Gives up the CPU to another runnable thread. */
void penny__thread_yield(void);
/* Sleeps for about `ms` milliseconds (debug switches only). */
void penny__sleep_ms(unsigned ms);
unsigned penny__cpu_count(void);
uint64_t penny__hrtime(void);

/* Whole pages straight from the OS, zeroed, for large buffers that live
 * as long as a pool: unlike malloc's, they go back to the OS the moment
 * they are freed (and freeing them does not raise glibc's mmap threshold,
 * which would make later large callocs come from a heap that is never
 * returned). NULL on failure; free with the same size. */
void *penny__pages_alloc(size_t bytes);
void penny__pages_free(void *p, size_t bytes);
/* Gives the whole pages inside [p, p + bytes) back to the OS while the
 * range stays mapped; they read as zero (or, off Linux, unspecified)
 * afterwards. For memory nothing will read again but that is freed only
 * later, by someone else (a garbage collector). */
void penny__pages_discard(void *p, size_t bytes);

/* A parking spot: threads sleep while `word` holds the value they saw, and
 * a waker changes `word` before waking them. On Linux this is a futex on
 * the word itself; elsewhere a mutex and condition variable. */
typedef struct {
  _Atomic uint32_t word;
#ifndef __linux__
  uv_mutex_t mutex;
  uv_cond_t cond;
#endif
} penny__park_t;

int penny__park_init(penny__park_t *p);
void penny__park_destroy(penny__park_t *p);
/* Sleeps while p->word == expected; may return spuriously. */
void penny__park_wait(penny__park_t *p, uint32_t expected);
/* Wakes one (all != 0: every) thread parked on p. */
void penny__park_wake(penny__park_t *p, int all);

/* Asymmetric fences. penny__heavy_barrier_init returns 1 if this process
 * can use them: then penny__heavy_barrier() makes every thread of the
 * process execute a full memory barrier before it returns (Linux
 * membarrier, private expedited), so the threads on the other side of a
 * Dekker-style handshake may use a compiler-only fence. */
int penny__heavy_barrier_init(void);
void penny__heavy_barrier(void);

static inline void penny__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

#endif /* PENNY_PLATFORM_H */
