/* Penny's WebAssembly libc: errno, one per thread (see errno.h for who
 * may set it). */
#include <errno.h>

_Thread_local int __penny_errno;
