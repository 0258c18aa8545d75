#ifndef PENNY_BENCH_H
#define PENNY_BENCH_H

#include <stdint.h>

int64_t bench_fib_omp(int n, int threads);

#endif
