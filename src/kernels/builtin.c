/* The first built-in kernels: enough to exercise every path of the binding
 * (no arguments, scalars, read-only and write-only arrays, nested
 * fork-join, cancellation). Each type-generic kernel dispatches once on the
 * element type and then runs a loop specialised for it. */
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

/* Leaves of the parallel loops: large enough that a fork point (about
 * 10 ns) is noise, small enough that two workers share 10^5 elements. */
#define GRAIN 4096

/* ---- noop() -> void: measures the cost of a task and nothing else. ---- */

static void noop_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) w;
  (void) args;
  (void) result;
}

/* ---- fib(i32 n) -> f64: a fork at every level, the classic stress of a
 * fork-join scheduler rather than a way to compute Fibonacci numbers. ---- */

typedef struct {
  int n;
  double r;
} fib_frame_t;

static void fib_task(penny_worker_t *w, void *arg) {
  fib_frame_t *f = arg;
  if (f->n < 2) {
    f->r = f->n;
    return;
  }
  /* Polling near the root only keeps the leaves free of it; a cancelled
   * fib(45) still stops within a few fib(20) subtrees. */
  if (f->n > 20 && penny_cancelled(w)) {
    f->r = 0;
    return;
  }
  fib_frame_t a = { f->n - 1, 0 };
  fib_frame_t b = { f->n - 2, 0 };
  penny_task_t child;
  penny_spawn(w, &child, fib_task, &a);
  fib_task(w, &b);
  penny_sync(w, &child);
  f->r = a.r + b.r;
}

static void fib_kernel(penny_worker_t *w, const penny_arg_t *args,
                       penny_result_t *result) {
  fib_frame_t f = { (int) args[0].num, 0 };
  fib_task(w, &f);
  result->num = f.r;
}

/* fib(1477) overflows a double; the bound also keeps the recursion depth
 * (one frame per level) far inside a worker's stack. */
#define FIB_MAX 1476

static int fib_check(const penny_arg_t *args, const char **msg) {
  if (args[0].num < 0 || args[0].num > FIB_MAX) {
    *msg = "n must be from 0 to 1476 (fib(1477) overflows f64)";
    return PENNY_ERANGE;
  }
  return 0;
}

/* ---- fill(out num[] x, f64 v) -> void ---- */

typedef struct {
  void *data;
  int type;
  double v;
  uint64_t bits; /* v converted as JS converts a number for an int array */
} fill_arg_t;

#define FILL_LOOP(ctype, value)                                               \
  do {                                                                        \
    ctype *x = (ctype *) a->data;                                             \
    ctype val = (value);                                                      \
    for (int64_t i = lo; i < hi; i++)                                         \
      x[i] = val;                                                             \
  } while (0)

static void fill_body(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  (void) w;
  const fill_arg_t *a = arg;
  switch (a->type) {
  case PENNY_F32: FILL_LOOP(float, (float) a->v); break;
  case PENNY_F64: FILL_LOOP(double, a->v); break;
  case PENNY_I8: case PENNY_U8: FILL_LOOP(uint8_t, (uint8_t) a->bits); break;
  case PENNY_I16: case PENNY_U16:
    FILL_LOOP(uint16_t, (uint16_t) a->bits);
    break;
  case PENNY_I32: case PENNY_U32:
    FILL_LOOP(uint32_t, (uint32_t) a->bits);
    break;
  case PENNY_I64: case PENNY_U64: FILL_LOOP(uint64_t, a->bits); break;
  }
}

static void fill_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  fill_arg_t a = { args[0].data, args[0].type, args[1].num,
                   penny__js_to_uint64(args[1].num) };
  penny_for(w, (int64_t) args[0].length, GRAIN, fill_body, &a);
}

/* ---- spin(f64 micros) -> void: busy work that polls cancellation. ---- */

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void spin_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  double end = now_us() + args[0].num;
  while (now_us() < end)
    if (penny_cancelled(w))
      return;
}

static int spin_check(const penny_arg_t *args, const char **msg) {
  if (!(args[0].num >= 0) || isinf(args[0].num)) {
    *msg = "micros must be a finite number, not negative";
    return PENNY_ERANGE;
  }
  return 0;
}

/* The order is the index JS sees in pool.kernels: append only. */
const penny_kernel_t penny__builtin_kernels[] = {
  { "noop() -> void", noop_kernel, NULL },
  { "fib(i32 n) -> f64", fib_kernel, fib_check },
  { "sum(in num[] x) -> f64", penny__sum_kernel, penny__sum_check },
  { "fill(out num[] x, f64 v) -> void", fill_kernel, NULL },
  { "spin(f64 micros) -> void", spin_kernel, spin_check },
#define PENNY_KERNEL_ENTRY_(name, sig)                                           \
  { sig, penny__##name##_kernel, penny__##name##_check },
  PENNY_MAP_KERNELS(PENNY_KERNEL_ENTRY_)
  PENNY_REDUCE_KERNELS(PENNY_KERNEL_ENTRY_)
  PENNY_SCAN_KERNELS(PENNY_KERNEL_ENTRY_)
  PENNY_OTHER_KERNELS(PENNY_KERNEL_ENTRY_)
#undef PENNY_KERNEL_ENTRY_
};

const size_t penny__builtin_kernel_count =
  sizeof(penny__builtin_kernels) / sizeof(penny__builtin_kernels[0]);
