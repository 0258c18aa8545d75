/* Parking on a mutex and a condition variable, where there is no futex
 * (every platform but Linux, whose futex is in platform_posix.c). */
#if !defined(__linux__) && !defined(__wasm__)

#include "platform.h"
#include "penny.h"

int penny__park_init(penny__park_t *p) {
  atomic_init(&p->word, 0);
  if (penny__mutex_init(&p->mutex) != 0)
    return PENNY_ENOMEM;
  if (penny__cond_init(&p->cond) != 0) {
    penny__mutex_destroy(&p->mutex);
    return PENNY_ENOMEM;
  }
  return 0;
}

void penny__park_destroy(penny__park_t *p) {
  penny__cond_destroy(&p->cond);
  penny__mutex_destroy(&p->mutex);
}

void penny__park_wait(penny__park_t *p, uint32_t expected) {
  penny__mutex_lock(&p->mutex);
  /* Relaxed is enough: the mutex orders this load against the waker, which
   * changes the word before it takes the mutex to signal. */
  if (atomic_load_explicit(&p->word, memory_order_relaxed) == expected)
    penny__cond_wait(&p->cond, &p->mutex);
  penny__mutex_unlock(&p->mutex);
}

void penny__park_wake(penny__park_t *p, int all) {
  /* Taking the mutex means a waiter is either before its check (and sees
   * the new word) or inside the wait (and gets the signal). */
  penny__mutex_lock(&p->mutex);
  if (all)
    penny__cond_broadcast(&p->cond);
  else
    penny__cond_signal(&p->cond);
  penny__mutex_unlock(&p->mutex);
}

#endif /* !__linux__ */
