/* Penny's WebAssembly libc: errno. Only clock_gettime sets it (to EINVAL
 * for a clock it does not know); the allocator and stdio never do, since
 * errno lives in the thread-local block, which a Worker's instance has
 * only once the host has set it up (penny_wasm_instance_init), and that
 * setup itself calls the allocator. */
#ifndef PENNY_WASM_ERRNO_H
#define PENNY_WASM_ERRNO_H

extern _Thread_local int __penny_errno;
#define errno __penny_errno

/* Linux's numbers, so that a value logged by the host reads the same. */
#define ENOMEM 12
#define EINVAL 22
#define EDOM 33
#define ERANGE 34
#define EOVERFLOW 75
#define EILSEQ 84

#endif /* PENNY_WASM_ERRNO_H */
