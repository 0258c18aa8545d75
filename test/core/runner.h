/* A small test harness in the manner of libuv's test/runner: every test
 * runs in its own process with a timeout, and assertions print both
 * sides. */
#ifndef PENNY_TEST_RUNNER_H
#define PENNY_TEST_RUNNER_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define TEST_IMPL(name)                                                     \
  int run_test_##name(void);                                                \
  int run_test_##name(void)

#define ASSERT_BASE_(expr, a, op, b, fmt, type)                             \
  do {                                                                      \
    type eval_a_ = (type) (a);                                              \
    type eval_b_ = (type) (b);                                              \
    if (!(eval_a_ op eval_b_)) {                                            \
      fprintf(stderr,                                                       \
              "Assertion failed in %s on line %d: `%s %s %s` "              \
              "(" fmt " " #op " " fmt ")\n",                                \
              __FILE__, __LINE__, #a, #op, #b, eval_a_, eval_b_);           \
      abort();                                                              \
    }                                                                       \
  } while (0)

#define ASSERT(expr)                                                        \
  do {                                                                      \
    if (!(expr)) {                                                          \
      fprintf(stderr, "Assertion failed in %s on line %d: %s\n",            \
              __FILE__, __LINE__, #expr);                                   \
      abort();                                                              \
    }                                                                       \
  } while (0)

#define ASSERT_EQ(a, b) ASSERT_BASE_(, a, ==, b, "%" PRId64, int64_t)
#define ASSERT_NE(a, b) ASSERT_BASE_(, a, !=, b, "%" PRId64, int64_t)
#define ASSERT_LT(a, b) ASSERT_BASE_(, a, <, b, "%" PRId64, int64_t)
#define ASSERT_LE(a, b) ASSERT_BASE_(, a, <=, b, "%" PRId64, int64_t)
#define ASSERT_GT(a, b) ASSERT_BASE_(, a, >, b, "%" PRId64, int64_t)
#define ASSERT_GE(a, b) ASSERT_BASE_(, a, >=, b, "%" PRId64, int64_t)
#define ASSERT_UEQ(a, b) ASSERT_BASE_(, a, ==, b, "%" PRIu64, uint64_t)
#define ASSERT_DEQ(a, b) ASSERT_BASE_(, a, ==, b, "%.17g", double)
#define ASSERT_PTR_EQ(a, b) ASSERT_BASE_(, a, ==, b, "%p", const void *)
#define ASSERT_STR_EQ(a, b)                                                 \
  do {                                                                      \
    const char *sa_ = (a), *sb_ = (b);                                      \
    if (strcmp(sa_, sb_) != 0) {                                            \
      fprintf(stderr, "Assertion failed in %s on line %d: `%s == %s` "      \
              "(\"%s\" == \"%s\")\n", __FILE__, __LINE__, #a, #b, sa_,      \
              sb_);                                                         \
      abort();                                                              \
    }                                                                       \
  } while (0)

/* Iteration counts shrink under sanitizers (which slow code down 5-20x):
 * tests multiply their sizes by test_scale(), which is 1 normally and
 * smaller when PENNY_TEST_SCALE says so (a divisor). */
int64_t test_scale(int64_t full);

#endif /* PENNY_TEST_RUNNER_H */
