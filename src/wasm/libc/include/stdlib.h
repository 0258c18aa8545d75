/* Penny's WebAssembly libc: the allocator (malloc.c) and abort. There is
 * no exit(): a module inside a host never ends the host's process. */
#ifndef PENNY_WASM_STDLIB_H
#define PENNY_WASM_STDLIB_H

#include <stddef.h>

/* Traps (the `unreachable` instruction): the host sees a RuntimeError on
 * the thread that called it. */
_Noreturn void abort(void);

/* Thread-safe over shared memory, and never waits (memory.atomic.wait
 * traps on a browser's main thread). Out of memory is NULL; errno is not
 * set, since the allocator runs before a thread's errno exists (the
 * thread-local block is itself allocated with aligned_alloc). */
void *malloc(size_t size);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);
/* Any power-of-two alignment up to 64 KiB; any other is NULL. The size
 * need not be a multiple of the alignment. */
void *aligned_alloc(size_t align, size_t size);

#endif /* PENNY_WASM_STDLIB_H */
