/* Runs the tests of test-list.h, each in a child process of its own with a
 * timeout. `runner` runs them all; `runner NAME` runs one in this process
 * (handy under gdb). Output ends with "N passed, N failed". */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_DECLARE(name, timeout) int run_test_##name(void);
#include "test-list.h"
#undef TEST_DECLARE

typedef struct {
  const char *name;
  int (*fn)(void);
  int timeout_s;
} test_entry_t;

static const test_entry_t tests[] = {
#define TEST_DECLARE(name, timeout) { #name, run_test_##name, timeout },
#include "test-list.h"
#undef TEST_DECLARE
};

#define NTESTS ((int) (sizeof(tests) / sizeof(tests[0])))

int64_t test_scale(int64_t full) {
  const char *s = getenv("PENNY_TEST_SCALE");
  int64_t div = s ? strtoll(s, NULL, 10) : 1;
  if (div < 1)
    div = 1;
  int64_t n = full / div;
  return n > 0 ? n : 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Forks, runs the test in the child, and waits with a deadline. */
static int run_isolated(const test_entry_t *t, double *secs) {
  double start = now_s();
  int timeout = t->timeout_s;
  const char *m = getenv("PENNY_TEST_TIMEOUT_MULT");
  if (m && atoi(m) > 1)
    timeout *= atoi(m);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return -1;
  }
  if (pid == 0) {
    int rc = t->fn();
    fflush(stdout);
    fflush(stderr);
    _exit(rc == 0 ? 0 : 1);
  }
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      break;
    if (r < 0 && errno != EINTR) {
      perror("waitpid");
      return -1;
    }
    if (now_s() - start > timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fprintf(stderr, "  timed out after %d s\n", timeout);
      *secs = now_s() - start;
      return -1;
    }
    usleep(2000);
  }
  *secs = now_s() - start;
  if (WIFEXITED(status))
    return WEXITSTATUS(status) == 0 ? 0 : -1;
  if (WIFSIGNALED(status))
    fprintf(stderr, "  killed by signal %d\n", WTERMSIG(status));
  return -1;
}

int main(int argc, char **argv) {
  if (argc == 2) {
    for (int i = 0; i < NTESTS; i++)
      if (strcmp(argv[1], tests[i].name) == 0)
        return tests[i].fn() == 0 ? 0 : 1;
    fprintf(stderr, "no such test: %s\n", argv[1]);
    return 2;
  }
  int passed = 0, failed = 0;
  printf("1..%d\n", NTESTS);
  for (int i = 0; i < NTESTS; i++) {
    double secs = 0;
    int rc = run_isolated(&tests[i], &secs);
    if (rc == 0)
      passed++;
    else
      failed++;
    printf("%s %d - %s (%.2f s)\n", rc == 0 ? "ok" : "not ok", i + 1,
           tests[i].name, secs);
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
