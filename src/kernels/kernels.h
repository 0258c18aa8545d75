/* The built-in function table. Kernels are written on the public
 * fork-join API only (include/penny.h), exactly as a plugin's would be. */
#ifndef PENNY_KERNELS_H
#define PENNY_KERNELS_H

#include "penny.h"

extern const penny_kernel_t penny__builtin_kernels[];
extern const size_t penny__builtin_kernel_count;

#endif /* PENNY_KERNELS_H */
