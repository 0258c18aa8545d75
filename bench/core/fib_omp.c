/* The OpenMP baseline: fib with a task at every level, as Penny's fib
 * spawns at every level. Built with -fopenmp (libgomp ships with gcc). */
#include "bench.h"

#include <omp.h>

static int64_t fib_task(int n) {
  int64_t x, y;
  if (n < 2)
    return n;
#pragma omp task shared(x)
  x = fib_task(n - 1);
  y = fib_task(n - 2);
#pragma omp taskwait
  return x + y;
}

int64_t bench_fib_omp(int n, int threads) {
  int64_t r = 0;
#pragma omp parallel num_threads(threads) shared(r)
  {
#pragma omp single
    r = fib_task(n);
  }
  return r;
}
