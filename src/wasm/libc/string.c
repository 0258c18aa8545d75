/* Penny's WebAssembly libc: memory and string functions.
 *
 * memcpy, memmove and memset are memory.copy and memory.fill (built with
 * -mbulk-memory, clang lowers these builtins to the instructions, never to
 * a call, so they cannot recurse into themselves). The engine's copy is
 * faster than any loop written here, and memory.copy handles overlap, so
 * memcpy and memmove are the same instruction. */
#include <string.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  return __builtin_memcpy(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n) {
  return __builtin_memmove(dst, src, n);
}

void *memset(void *dst, int c, size_t n) {
  return __builtin_memset(dst, c, n);
}

/* The rest compare bytes as unsigned char, as C requires. Byte loops: the
 * core never calls these on a hot path. */

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a;
  const unsigned char *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i])
      return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char *s) {
  const char *p = s;
  while (*p != '\0')
    p++;
  return (size_t) (p - s);
}

int strcmp(const char *a, const char *b) {
  const unsigned char *x = (const unsigned char *) a;
  const unsigned char *y = (const unsigned char *) b;
  while (*x != '\0' && *x == *y) {
    x++;
    y++;
  }
  return *x < *y ? -1 : *x > *y;
}

int strncmp(const char *a, const char *b, size_t n) {
  const unsigned char *x = (const unsigned char *) a;
  const unsigned char *y = (const unsigned char *) b;
  for (; n > 0; n--, x++, y++) {
    if (*x != *y)
      return *x < *y ? -1 : 1;
    if (*x == '\0')
      break;
  }
  return 0;
}
