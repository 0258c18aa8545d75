/* The WebAssembly libc's test module (src/wasm/libc). The JavaScript side,
 * test/wasm/libc.test.js, instantiates it once on the main thread and
 * once in each of several Workers over one shared memory, gives each
 * instance a stack of its own, then calls the exports below. A failed
 * check logs what it saw through stderr (the host's log) and makes the
 * export return non-zero. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT(name) __attribute__((export_name(#name)))

#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__,        \
              #cond);                                                         \
      fprintf(stderr, __VA_ARGS__);                                           \
      fprintf(stderr, "\n");                                                  \
      failures++;                                                             \
    }                                                                         \
  } while (0)

/* ---- Each instance's thread-local block. ---- */

extern void __wasm_init_tls(void *block);

/* The host calls this once per instance, right after setting the stack
 * pointer, as Penny's penny_wasm_instance_init does. */
EXPORT(test_thread_init)
int test_thread_init(void) {
  void *tls = aligned_alloc(__builtin_wasm_tls_align(),
                            __builtin_wasm_tls_size() + 1);
  if (tls == NULL)
    return 1;
  __wasm_init_tls(tls);
  errno = 0;
  return 0;
}

/* The address of this thread's errno: distinct per instance. */
EXPORT(test_errno_addr)
uintptr_t test_errno_addr(void) {
  return (uintptr_t) &errno;
}

/* ---- The allocator under load. ---- */

typedef struct {
  unsigned char *p;
  size_t n;
  uint32_t seed;
} slot_t;

static uint64_t next_random(uint64_t *s) {
  /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545f4914f6cdd1dull;
}

/* A pattern that differs from block to block (seed) and from word to
 * word, so that an overlap, a short copy or a shifted one shows. Byte i
 * is byte i % 4 of word i / 4 (little-endian), whatever the block's
 * length, so that a prefix can be checked after a realloc. */
static uint32_t pattern_word(uint32_t seed, size_t i) {
  return seed + (uint32_t) i * 0x9e3779b9u;
}

static void fill(unsigned char *p, size_t n, uint32_t seed) {
  size_t words = n / 4;
  uint32_t *w = (uint32_t *) (void *) p; /* payloads are 16-aligned */
  for (size_t i = 0; i < words; i++)
    w[i] = pattern_word(seed, i);
  for (size_t i = words * 4; i < n; i++)
    p[i] = (unsigned char) (pattern_word(seed, i / 4) >> 8 * (i & 3));
}

/* The first byte in [0, n) that does not hold the pattern, or n. */
static size_t first_bad(const unsigned char *p, size_t n, uint32_t seed) {
  size_t words = n / 4;
  const uint32_t *w = (const uint32_t *) (const void *) p;
  for (size_t i = 0; i < words; i++)
    if (w[i] != pattern_word(seed, i))
      return i * 4;
  for (size_t i = words * 4; i < n; i++)
    if (p[i] != (unsigned char) (pattern_word(seed, i / 4) >> 8 * (i & 3)))
      return i;
  return n;
}

static size_t random_size(uint64_t *rng) {
  uint64_t r = next_random(rng);
  unsigned pick = (unsigned) (r % 100);
  r >>= 8;
  if (pick < 55)
    return (size_t) (r % 2100); /* small classes, and just past them */
  if (pick < 85)
    return 2048 + (size_t) (r % (128 * 1024));
  if (pick < 98)
    return 128 * 1024 + (size_t) (r % (1024 * 1024));
  return 1024 * 1024 + (size_t) (r % (3 * 1024 * 1024)); /* up to 4 MiB */
}

#define SLOTS 64

/* Random malloc/calloc/realloc/aligned_alloc/free from one thread,
 * several at once. Every live block holds its own pattern, checked
 * whole before it is freed or reallocated: another thread's block that
 * overlapped it would have written its own pattern over ours. Returns the
 * number of failed checks (0), or -1 when out of memory. */
EXPORT(test_stress)
int test_stress(uint32_t thread, uint32_t seed, uint32_t ops) {
  int failures = 0;
  uint64_t rng = ((uint64_t) seed << 32 | thread) * 0x9e3779b97f4a7c15ull + 1;
  slot_t slot[SLOTS];
  memset(slot, 0, sizeof(slot));
  uint32_t serial = thread << 24;
  for (uint32_t op = 0; op < ops && failures == 0; op++) {
    slot_t *s = &slot[next_random(&rng) % SLOTS];
    unsigned kind = (unsigned) (next_random(&rng) % 100);
    if (s->p != NULL) {
      size_t bad = first_bad(s->p, s->n, s->seed);
      CHECK(bad == s->n, "thread %u: block %p (%zu bytes) overwritten at %zu",
            thread, (void *) s->p, s->n, bad);
      if (kind < 60) {
        free(s->p);
        s->p = NULL;
        continue;
      }
      /* realloc keeps the common prefix. */
      size_t n = random_size(&rng);
      unsigned char *q = realloc(s->p, n);
      if (q == NULL)
        return -1;
      CHECK(((uintptr_t) q & 15) == 0, "realloc: %p not 16-aligned",
            (void *) q);
      size_t keep = n < s->n ? n : s->n;
      bad = first_bad(q, keep, s->seed);
      CHECK(bad == keep, "realloc %zu -> %zu: prefix lost at %zu", s->n, n,
            bad);
      s->p = q;
      s->n = n;
    } else {
      size_t n = random_size(&rng);
      size_t align = 16;
      if (kind < 40) {
        s->p = malloc(n);
      } else if (kind < 60) {
        s->p = calloc(1, n);
        if (s->p != NULL) {
          size_t bad = 0;
          while (bad < n && s->p[bad] == 0)
            bad++;
          CHECK(bad == n, "calloc(%zu) not zero at %zu", n, bad);
        }
      } else if (kind < 90) {
        align = (size_t) 1 << (4 + next_random(&rng) % 13); /* to 64 KiB */
        s->p = aligned_alloc(align, n);
      } else {
        s->p = realloc(NULL, n);
      }
      if (s->p == NULL)
        return -1;
      CHECK(((uintptr_t) s->p & (align - 1)) == 0,
            "%p not aligned to %zu", (void *) s->p, align);
      s->n = n;
    }
    s->seed = ++serial;
    fill(s->p, s->n, s->seed);
  }
  for (int i = 0; i < SLOTS; i++) {
    if (slot[i].p == NULL)
      continue;
    size_t bad = first_bad(slot[i].p, slot[i].n, slot[i].seed);
    CHECK(bad == slot[i].n, "at the end: block of %zu overwritten at %zu",
          slot[i].n, bad);
    free(slot[i].p);
  }
  return failures;
}

/* ---- Allocator edge cases, on one thread. ---- */

/* clang knows malloc and free (no -fno-builtin), and may delete an
 * allocation whose result is only compared with NULL, or freed unused.
 * Results pass through this volatile, so every call really happens. */
static void *volatile sink;

static void *kept(void *p) {
  sink = p;
  return sink;
}

EXPORT(test_alloc_edges)
int test_alloc_edges(void) {
  int failures = 0;
  /* malloc(0) is a unique pointer that free takes. */
  void *a = kept(malloc(0)), *b = kept(malloc(0));
  CHECK(a != NULL && b != NULL && a != b, "malloc(0): %p %p", a, b);
  free(a);
  free(b);
  free(NULL);
  /* Refusals. */
  CHECK(kept(calloc(0x10000, 0x10001)) == NULL, "calloc overflow");
  CHECK(kept(calloc((size_t) -1, 2)) == NULL, "calloc overflow");
  CHECK(kept(malloc((size_t) -1)) == NULL, "malloc(SIZE_MAX)");
  CHECK(kept(malloc(0xf0000000u)) == NULL, "malloc(3.75 GiB)");
  /* Through a variable: clang checks a constant alignment itself. */
  volatile size_t bad_align[] = { 3, 0, 48 };
  for (int i = 0; i < 3; i++)
    CHECK(kept(aligned_alloc(bad_align[i], 8)) == NULL, "alignment %zu",
          bad_align[i]);
  CHECK(kept(aligned_alloc(131072, 8)) == NULL, "alignment 128 KiB");
  /* A failed realloc leaves the block as it was. */
  unsigned char *p = kept(malloc(100));
  CHECK(p != NULL, "malloc(100)");
  if (p != NULL) {
    memset(p, 0xab, 100);
    CHECK(kept(realloc(p, 0xf0000000u)) == NULL, "realloc to 3.75 GiB");
    CHECK(p[0] == 0xab && p[99] == 0xab, "block changed");
    /* Within the class: the same block. */
    CHECK(kept(realloc(p, 110)) == p, "realloc within the class moved");
    free(p);
  }
  /* Every power-of-two alignment, small and large sizes. */
  for (size_t align = 1; align <= 65536; align *= 2) {
    for (size_t n = 1; n < 300000; n = n * 7 + 3) {
      void *q = kept(aligned_alloc(align, n));
      CHECK(q != NULL && ((uintptr_t) q & (align - 1)) == 0,
            "aligned_alloc(%zu, %zu) = %p", align, n, q);
      if (q != NULL)
        memset(q, 0x5a, n);
      free(q);
    }
  }
  /* calloc of reused memory is zero. */
  unsigned char *dirty = kept(malloc(5000));
  CHECK(dirty != NULL, "malloc(5000)");
  if (dirty != NULL) {
    memset(dirty, 0xff, 5000);
    free(dirty);
    unsigned char *z = kept(calloc(5000, 1));
    CHECK(z != NULL, "calloc(5000)");
    for (size_t i = 0; z != NULL && i < 5000; i++)
      if (z[i] != 0) {
        CHECK(z[i] == 0, "calloc not zero at %zu", i);
        break;
      }
    free(z);
  }
  /* A freed block is reused. */
  void *first = kept(malloc(3000));
  free(first);
  void *again = kept(malloc(3000));
  CHECK(first == again, "no reuse: %p then %p", first, again);
  free(again);
  return failures;
}

/* ---- Formatting. ---- */

static int check_format(const char *file, int line, const char *expect,
                        int expect_n, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));

static int check_format(const char *file, int line, const char *expect,
                        int expect_n, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n == expect_n && strcmp(buf, expect) == 0)
    return 0;
  fprintf(stderr, "%s:%d: snprintf(\"%s\"): got \"%s\" (%d), want \"%s\" "
          "(%d)\n", file, line, fmt, buf, n, expect, expect_n);
  return 1;
}

/* The expected strings are glibc's. */
#define FMT(expect, ...)                                                      \
  failures += check_format(__FILE__, __LINE__, expect,                        \
                           (int) sizeof(expect) - 1, __VA_ARGS__)

EXPORT(test_snprintf)
int test_snprintf(void) {
  int failures = 0;
  FMT("penny-w3", "penny-w%u", 3u);
  FMT("a 42 -7 4294967295 %", "a %d %i %u %%", 42, -7, 4294967295u);
  FMT("-2147483648 2147483647", "%d %d", (int) -2147483647 - 1, 2147483647);
  FMT("-9223372036854775808 18446744073709551615", "%lld %llu",
      (long long) INT64_MIN, (unsigned long long) UINT64_MAX);
  FMT("-5 4000000000", "%ld %lu", -5L, 4000000000ul);
  FMT("123456 ff FF 0xff 777 0777", "%zu %x %X %#x %o %#o", (size_t) 123456,
      255u, 255u, 255u, 0777u, 0777u);
  FMT("[   42] [42   ] [00042] [  042] [+42] [ 42]",
      "[%5d] [%-5d] [%05d] [%5.3d] [%+d] [% d]", 42, 42, 42, 42, 42, 42);
  FMT("[-0042] [ -42] [] [1] [0]", "[%05d] [%4d] [%.0d] [%.0d] [%#.0o]", -42,
      -42, 0, 1, 0u);
  FMT("[abc] [  abc] [abc  ] [ab] [(null)]", "[%s] [%5s] [%-5s] [%.2s] [%s]",
      "abc", "abc", "abc", "abcdef", (char *) NULL);
  FMT("[x] [  y] [z  ]", "[%c] [%3c] [%-3c]", 'x', 'y', 'z');
  FMT("[0x1234] [(nil)] [    0xab]", "[%p] [%p] [%8p]", (void *) 0x1234,
      (void *) 0, (void *) 0xab);
  FMT("[   42] [42   ] [3.14]", "[%*d] [%-*d] [%.*f]", 5, 42, 5, 42, 2,
      3.14159);
  FMT("[42   ] [007]", "[%*d] [%.*d]", -5, 42, 3, 7);
  /* Out of range for hh and h on purpose: the conversion narrows. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat"
  FMT("-7 65535 -1 255", "%hhd %hu %hd %hhu", 249, 65535, 65535, 511);
#pragma clang diagnostic pop
  /* %g, %e, %f: exact, rounded half to even. */
  FMT("1 0.5 100000 1e+06 1.23457e+06 0.0001 1e-05",
      "%g %g %g %g %g %g %g", 1.0, 0.5, 100000.0, 1e6, 1234567.0, 0.0001,
      1e-5);
  FMT("3.14159 3.1 3 -0 0", "%g %.2g %.0g %g %g", 3.14159265, 3.14159265,
      3.14159265, -0.0, 0.0);
  FMT("nan -nan inf -inf NAN INF", "%g %g %g %g %G %G",
      (double) NAN, (double) -NAN, (double) INFINITY, (double) -INFINITY,
      (double) NAN, (double) INFINITY);
  FMT("[  nan] [-inf ] [  inf]", "[%5g] [%-5g] [%05g]", (double) NAN,
      (double) -INFINITY, (double) INFINITY);
  FMT("1.79769e+308 4.94066e-324 2.22507e-308", "%g %g %g",
      1.7976931348623157e308, 4.9406564584124654e-324,
      2.2250738585072014e-308);
  FMT("0.1000000000000000055511151231257827021181583404541015625",
      "%.55f", 0.1);
  FMT("0.10000000000000001 1.7976931348623157e+308", "%.17g %.17g", 0.1,
      1.7976931348623157e308);
  FMT("4.940656458412465441765687928682213723651e-324", "%.39e",
      4.9406564584124654e-324);
  FMT("0 2 2 4 0.12 0.38", "%.0f %.0f %.0f %.0f %.2f %.2f", 0.5, 1.5, 2.5,
      3.5, 0.125, 0.375);
  FMT("1.00 1.01", "%.2f %.2f", 1.005, 1.015); /* 1.00499.., 1.01499.. */
  FMT("123456789.000000 1.234568e+08 1.23457E+08", "%f %e %G", 123456789.0,
      123456789.0, 123456789.0);
  FMT("[  1.50] [1.50  ] [001.50] [+1.50] [ 1.50] [1.]",
      "[%6.2f] [%-6.2f] [%06.2f] [%+.2f] [% .2f] [%#.0f]", 1.5, 1.5, 1.5,
      1.5, 1.5, 1.0);
  FMT("1.00000 1.e+02 100.000", "%#g %#.0e %#g", 1.0, 100.0, 100.0);
  FMT("1e+100 1.000000e+100", "%g %e", 1e100, 1e100);
  FMT("999999 1e+06 9.9e-05 0.0001", "%g %g %.2g %g", 999999.0, 999999.5,
      0.000099, 0.000099999999);
  FMT("-0.00 -0", "%.2f %.0f", -0.001, -0.4);
  /* Truncation: the return is what the whole would have been. */
  char small[5];
  int n = snprintf(small, sizeof(small), "%s", "hello world");
  CHECK(n == 11 && strcmp(small, "hell") == 0, "truncated: %d \"%s\"", n,
        small);
  n = snprintf(NULL, 0, "%d-%s", 12345, "ab");
  CHECK(n == 8, "sizing call: %d", n);
  small[0] = 'x';
  n = snprintf(small, 1, "abc");
  CHECK(n == 3 && small[0] == '\0', "size 1: %d", n);
  char wide[4000];
  n = snprintf(wide, sizeof(wide), "%.500f", 1e300);
  CHECK(n == 301 + 1 + 500 && wide[0] == '1' && wide[n - 1] == '0',
        "%%.500f of 1e300: %d", n);
  return failures;
}

/* One double through "%.<prec><conv>", for the host to compare with its
 * own toExponential and toFixed. */
EXPORT(test_format_double)
int test_format_double(char *buf, size_t size, int conv, int prec,
                       double x) {
  char fmt[16];
  snprintf(fmt, sizeof(fmt), "%%.%d%c", prec, conv);
  return snprintf(buf, size, fmt, x);
}

/* ---- Strings. ---- */

/* Through pointers, so that the calls reach string.c rather than the
 * builtins clang would inline. */
static void *(*volatile call_memcpy)(void *restrict, const void *restrict,
                                     size_t) = memcpy;
static void *(*volatile call_memmove)(void *, const void *, size_t) = memmove;
static void *(*volatile call_memset)(void *, int, size_t) = memset;
static int (*volatile call_memcmp)(const void *, const void *,
                                   size_t) = memcmp;
static size_t (*volatile call_strlen)(const char *) = strlen;
static int (*volatile call_strcmp)(const char *, const char *) = strcmp;
static int (*volatile call_strncmp)(const char *, const char *,
                                    size_t) = strncmp;

EXPORT(test_strings)
int test_strings(void) {
  int failures = 0;
  char a[64];
  char b[64];
  call_memset(a, 'x', sizeof(a));
  CHECK(a[0] == 'x' && a[63] == 'x', "memset");
  call_memset(a, 0x1ff, 4); /* converted to unsigned char */
  CHECK((unsigned char) a[3] == 0xff, "memset's value");
  for (int i = 0; i < 64; i++)
    a[i] = (char) i;
  CHECK(call_memcpy(b, a, 64) == b && memcmp(a, b, 64) == 0, "memcpy");
  call_memmove(a + 8, a, 32); /* overlap, forward */
  CHECK(a[8] == 0 && a[39] == 31 && a[40] == 40, "memmove forward");
  call_memmove(a, a + 8, 32); /* overlap, backward */
  CHECK(a[0] == 0 && a[31] == 31 && a[32] == 24, "memmove backward");
  CHECK(call_memcmp("abc", "abd", 3) < 0, "memcmp <");
  CHECK(call_memcmp("abd", "abc", 3) > 0, "memcmp >");
  CHECK(call_memcmp("ab\x80", "ab\x01", 3) > 0, "memcmp unsigned");
  CHECK(call_memcmp("abc", "abd", 2) == 0, "memcmp prefix");
  CHECK(call_memcmp("", "", 0) == 0, "memcmp empty");
  CHECK(call_strlen("") == 0 && call_strlen("hello") == 5, "strlen");
  CHECK(call_strcmp("abc", "abc") == 0, "strcmp =");
  CHECK(call_strcmp("abc", "abd") < 0, "strcmp <");
  CHECK(call_strcmp("abc", "ab") > 0, "strcmp longer");
  CHECK(call_strcmp("ab", "abc") < 0, "strcmp shorter");
  CHECK(call_strcmp("\xff", "a") > 0, "strcmp unsigned");
  CHECK(call_strncmp("abcx", "abcy", 3) == 0, "strncmp prefix");
  CHECK(call_strncmp("abcx", "abcy", 4) < 0, "strncmp <");
  CHECK(call_strncmp("ab", "ab\0z", 4) == 0, "strncmp stops at NUL");
  CHECK(call_strncmp("a", "b", 0) == 0, "strncmp 0");
  return failures;
}

/* ---- Math: the host compares with Math.* and its own arithmetic. ---- */

static double (*volatile call_exp)(double) = exp;
static double (*volatile call_log)(double) = log;

EXPORT(test_math)
double test_math(int which, double x, double y) {
  switch (which) {
  case 0: return exp(x);
  case 1: return log(x);
  case 2: return call_exp(x); /* the real functions, not the macros */
  case 3: return call_log(x);
  case 4: return fabs(x);
  case 5: return floor(x);
  case 6: return trunc(x);
  case 7: return sqrt(x);
  case 8: return fmod(x, y);
  case 9: return ldexp(x, (int) y);
  default: return 0;
  }
}

/* isfinite, isinf, isnan, signbit of a double and of the same value as a
 * float, as bits 0-3 and 4-7. */
EXPORT(test_classify)
int test_classify(double x) {
  float f = (float) x;
  return (isfinite(x) ? 1 : 0) | (isinf(x) ? 2 : 0) | (isnan(x) ? 4 : 0) |
         (signbit(x) ? 8 : 0) | (isfinite(f) ? 16 : 0) |
         (isinf(f) ? 32 : 0) | (isnan(f) ? 64 : 0) | (signbit(f) ? 128 : 0);
}

/* exp(1) in a constant expression: the host's Math.exp(1), not the
 * build machine's. */
EXPORT(test_exp_constant)
double test_exp_constant(void) {
  return exp(1.0) + log(10.0) * 0;
}

/* ---- The compiler-rt routines. ---- */

EXPORT(test_mul128)
void test_mul128(uint64_t a_lo, uint64_t a_hi, uint64_t b_lo, uint64_t b_hi,
                 uint64_t *out) {
  unsigned __int128 a = (unsigned __int128) a_hi << 64 | a_lo;
  unsigned __int128 b = (unsigned __int128) b_hi << 64 | b_lo;
  unsigned __int128 r = a * b;
  out[0] = (uint64_t) r;
  out[1] = (uint64_t) (r >> 64);
}

EXPORT(test_u128_to_double)
double test_u128_to_double(uint64_t lo, uint64_t hi) {
  return (double) ((unsigned __int128) hi << 64 | lo);
}

/* ---- The clock and errno. ---- */

/* The monotonic clock in milliseconds, or -1. */
EXPORT(test_clock_ms)
double test_clock_ms(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return -1;
  if (ts.tv_nsec < 0 || ts.tv_nsec > 999999999)
    return -1;
  return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* CLOCK_REALTIME is refused with EINVAL in this thread's errno; the
 * value errno had before is returned through *before. */
EXPORT(test_clock_realtime)
int test_clock_realtime(int mark, int *before) {
  *before = errno;
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  int after = errno;
  errno = mark; /* a value of this thread's own, checked next time */
  return r == -1 && after == EINVAL ? 0 : 1;
}

/* ---- Output and traps. ---- */

EXPORT(test_fprintf)
int test_fprintf(int long_message) {
  if (!long_message)
    return fprintf(stderr, "hello %s %d\n", "stderr", 42);
  /* Past the 512-byte buffer on the stack: formatted on the heap. */
  char part[101];
  memset(part, 'z', 100);
  part[100] = '\0';
  return fprintf(stderr, "<%s%s%s%s%s%s%s%s%s%s>", part, part, part, part,
                 part, part, part, part, part, part);
}

EXPORT(test_fputs)
void test_fputs(void) {
  fputs("fputs\n", stderr);
  fputc('!', stderr);
  fwrite("fwrite", 1, 6, stderr);
  fflush(stderr);
}

EXPORT(test_assert)
int test_assert(int x) {
  assert(x == 1);
  return x;
}

EXPORT(test_abort)
void test_abort(void) {
  abort();
}

/* Frees a block twice (trap 0) or a pointer that malloc did not return
 * (trap 1). */
EXPORT(test_bad_free)
void test_bad_free(int how) {
  unsigned char *p = kept(malloc(40));
  if (how == 0) {
    free(p);
    free(p);
  } else {
    free(p + 16);
  }
}
