/* Penny's WebAssembly libc: clock_gettime on the host's clock. */
#include <errno.h>
#include <time.h>

/* performance.now(), in milliseconds: monotonic, and shared with Penny's
 * platform layer (src/core/platform_wasm.c imports the same function), so
 * the host provides one clock. */
__attribute__((import_module("env"), import_name("penny_host_now")))
double penny_host_now(void);

int clock_gettime(clockid_t clock, struct timespec *ts) {
  if (clock != CLOCK_MONOTONIC) {
    errno = EINVAL;
    return -1;
  }
  double ms = penny_host_now();
  /* ms is never negative (time since the Worker's time origin), so the
   * truncation is a floor. ms / 1e3 may round up to the next second when
   * ms is just below one; the clamps keep tv_nsec in [0, 1e9) then. */
  time_t sec = (time_t) (ms / 1e3);
  long ns = (long) ((ms - (double) sec * 1e3) * 1e6);
  if (ns < 0)
    ns = 0;
  if (ns > 999999999)
    ns = 999999999;
  ts->tv_sec = sec;
  ts->tv_nsec = ns;
  return 0;
}
