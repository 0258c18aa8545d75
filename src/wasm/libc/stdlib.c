/* Penny's WebAssembly libc: abort. The allocator is in malloc.c. */
#include <stdlib.h>

_Noreturn void abort(void) {
  /* `unreachable`: the instance's host sees a RuntimeError, which ends
   * this thread's call into the module, not the host's process. */
  __builtin_trap();
}
