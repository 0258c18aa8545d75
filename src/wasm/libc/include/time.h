/* Penny's WebAssembly libc: the monotonic clock (time.c), from the
 * host's performance.now(). */
#ifndef PENNY_WASM_TIME_H
#define PENNY_WASM_TIME_H

#include <stddef.h>

typedef long long time_t;
typedef int clockid_t;

struct timespec {
  time_t tv_sec;
  long tv_nsec;
};

/* CLOCK_REALTIME is named so that code which mentions it compiles;
 * clock_gettime answers it -1 and EINVAL (no wall clock is imported). */
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1

int clock_gettime(clockid_t clock, struct timespec *ts);

#endif /* PENNY_WASM_TIME_H */
