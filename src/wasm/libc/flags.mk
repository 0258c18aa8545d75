# Flags for building C for WebAssembly with clang's freestanding wasm32
# target and Penny's own libc (this directory): shared memory and
# atomics, no emscripten, no wasi-libc. The main Makefile and test.mk
# include this; paths are relative to the repository root.
#
# -matomics           atomics, and thread-local storage that is really
#                     per thread; without it <stdatomic.h> silently
#                     compiles to plain loads and stores, and wasm-ld
#                     refuses the object for --shared-memory.
# -mbulk-memory       memory.copy/fill: memcpy, memmove and memset become
#                     one instruction (never a call, so string.c cannot
#                     recurse); wasm-ld needs it for --shared-memory too
#                     (passive data segments, initialised once).
# -mmutable-globals   so that __stack_pointer can be exported, and the host
#                     can point each instance at a stack of its own.
# -ftls-model=local-exec
#                     the only model clang 14 supports for _Thread_local on
#                     wasm32 outside emscripten; without it, it aborts in
#                     the backend ("only -ftls-model=local-exec is
#                     supported") on src/core/lend.c.
# -nostdlib           no C library or compiler-rt: there is none for this
#                     target here (libc is this directory; int128.c has the
#                     two compiler-rt routines the kernels need).
# No -fno-builtin (nor -ffreestanding, which implies it): with builtins,
# a constant-size memcpy is a load and a store, and any other memcpy or
# memset one bulk-memory instruction. math.h keeps exp and log from being
# folded by the build machine's libm (see there), and stdio.c has the
# fputs/fputc/fwrite that clang may turn an fprintf into.
WASM_CC ?= clang-14
WASM_LD ?= wasm-ld-14
WASM_LIBC_DIR := src/wasm/libc
WASM_CFLAGS := --target=wasm32 -matomics -mbulk-memory -mmutable-globals \
               -ftls-model=local-exec -nostdlib \
               -isystem $(WASM_LIBC_DIR)/include -O2 -std=c11 \
               -Wall -Wextra -Werror

# --shared-memory --import-memory: the host makes one shared memory and
#   hands it to every instance. --max-memory: the most a memory may be
#   (4 GiB, all of wasm32); the host picks its own maximum up to this.
# --stack-first: the first instance's stack (the linker's) goes below the
#   data, so that overflowing it traps instead of overwriting the data.
# --no-entry: a library of exports, no main. --export-dynamic: exports
#   whatever has default visibility (clang's wasm32 default is hidden);
#   the rest is exported by name (export_name, or --export=).
WASM_LDFLAGS := --shared-memory --import-memory --max-memory=4294967296 \
                --stack-first --no-entry --export-dynamic

WASM_LIBC_SRC := $(wildcard $(WASM_LIBC_DIR)/*.c)
WASM_LIBC_HEADERS := $(wildcard $(WASM_LIBC_DIR)/include/*.h) \
                     $(wildcard $(WASM_LIBC_DIR)/*.h)
