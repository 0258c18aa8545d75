/* Penny's WebAssembly libc: memory and string functions (string.c).
 * Without -fno-builtin, clang treats memcpy, memset and memmove as
 * builtins: a small constant size becomes loads and stores, any other
 * becomes memory.copy or memory.fill (-mbulk-memory), so these functions
 * are called only through a pointer or from a file built with
 * -fno-builtin. */
#ifndef PENNY_WASM_STRING_H
#define PENNY_WASM_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif /* PENNY_WASM_STRING_H */
