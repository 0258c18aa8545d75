/* The platform layer: threads, locks, parking, pages and the clock, on
 * the operating system's own primitives (pthreads and futex on Linux,
 * pthreads elsewhere on POSIX, Win32 on Windows; platform_posix.c,
 * platform_win.c, and park_cond.c where there is no futex), or, on
 * WebAssembly, on Workers that the JavaScript host starts and on
 * memory.atomic.wait32/notify (platform_wasm.c). Everything
 * operating-system specific in the core sits behind these few functions,
 * so the core needs no library but libc. */
#ifndef PENNY_PLATFORM_H
#define PENNY_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
# ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
# endif
# include <windows.h>
typedef HANDLE penny__thread_t;
typedef SRWLOCK penny__mutex_t;
typedef CONDITION_VARIABLE penny__cond_t;
/* A mutex with static storage, ready without penny__mutex_init. */
# define PENNY__MUTEX_INITIALIZER SRWLOCK_INIT
#elif defined(__wasm__)
/* A thread is a Worker's instance of the module running fn(arg) on a
 * stack and thread-local block of its own (platform_wasm.c). */
typedef struct penny__wasm_thread_s *penny__thread_t;
/* 0 free, 1 held, 2 held with waiters (a futex mutex on wait32). */
typedef struct { _Atomic uint32_t state; } penny__mutex_t;
typedef struct { _Atomic uint32_t seq; } penny__cond_t;
# define PENNY__MUTEX_INITIALIZER { 0 }
/* memory.atomic.wait32 (0 woken, 1 not equal, 2 timed out; timeout_ns -1:
 * none). Every wait goes through it: see platform_wasm.c for why. */
int penny__wasm_wait32(_Atomic uint32_t *word, uint32_t expected,
                       int64_t timeout_ns);
#else
# include <pthread.h>
typedef pthread_t penny__thread_t;
typedef pthread_mutex_t penny__mutex_t;
typedef pthread_cond_t penny__cond_t;
# define PENNY__MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#endif

/* Starts fn(arg) on a new thread with at least `stack_size` bytes of stack
 * (0: the platform default). Returns 0 or PENNY_ETHREAD. */
int penny__thread_create(penny__thread_t *t, size_t stack_size,
                         void (*fn)(void *), void *arg);
void penny__thread_join(penny__thread_t *t);
/* True if `t` is the calling thread. */
int penny__thread_is_self(const penny__thread_t *t);
/* Names the calling thread where the OS supports it (at most 15 chars). */
void penny__thread_set_name(const char *name);
/* Gives up the CPU to another runnable thread. */
void penny__thread_yield(void);
/* Sleeps for about `ms` milliseconds (debug switches only). */
void penny__sleep_ms(unsigned ms);
/* The CPUs this process may run on (at least 1). */
unsigned penny__cpu_count(void);
/* A monotonic clock in nanoseconds. */
uint64_t penny__hrtime(void);

/* A mutex. Init returns 0 or PENNY_ENOMEM; the others cannot fail on a
 * mutex that was initialized (a failure there aborts). */
int penny__mutex_init(penny__mutex_t *m);
void penny__mutex_destroy(penny__mutex_t *m);
void penny__mutex_lock(penny__mutex_t *m);
void penny__mutex_unlock(penny__mutex_t *m);

/* A condition variable, with the same rules. */
int penny__cond_init(penny__cond_t *c);
void penny__cond_destroy(penny__cond_t *c);
void penny__cond_wait(penny__cond_t *c, penny__mutex_t *m);
void penny__cond_signal(penny__cond_t *c);
void penny__cond_broadcast(penny__cond_t *c);

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

/* Memory aligned to `align` (a power of two), freed only with
 * penny__aligned_free. NULL on failure. */
void *penny__aligned_alloc(size_t align, size_t size);
void penny__aligned_free(void *p);
/* Asks for transparent huge pages over the whole 2 MiB pages inside
 * [data, data + bytes), before they are first touched (Linux; elsewhere
 * nothing). A kernel that scatters writes over a large array (a sort's
 * passes) then takes far fewer TLB misses. */
void penny__advise_huge(void *data, size_t bytes);
#ifdef __wasm__
/* No huge pages; a wasm page, within what the wasm libc's aligned_alloc
 * takes (64 KiB at most). */
# define PENNY_HUGE_PAGE ((size_t) 64 << 10)
#else
# define PENNY_HUGE_PAGE ((size_t) 2 << 20)
#endif

/* A parking spot: threads sleep while `word` holds the value they saw, and
 * a waker changes `word` before waking them. On Linux this is a futex on
 * the word itself, on WebAssembly wait32/notify on it; elsewhere a mutex
 * and condition variable. */
typedef struct {
  _Atomic uint32_t word;
#if !defined(__linux__) && !defined(__wasm__)
  penny__mutex_t mutex;
  penny__cond_t cond;
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
/* Nonzero once penny__heavy_barrier_init returns at once. */
int penny__heavy_barrier_known(void);

static inline void penny__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

#endif /* PENNY_PLATFORM_H */
