# The C core: a static library, the C test runner, sanitizer variants and
# the core benchmark. The Node addon is built by binding.gyp instead.
#
#   make                 library and test runner (build/c/release)
#   make test            run the C core tests
#   make test-sanitize   the same under ThreadSanitizer, then ASan+UBSan
#   make bench           build and run the core benchmark
#   make bench-scale     scaling from 1 worker to many, kernels included
#   make bench-wake      what waking a sleeping thread costs this machine
#
# WERROR=1 turns warnings into errors; CI=true (set by CI) implies it.

CC ?= gcc
SAN ?=
BUILD ?= build/c/$(if $(SAN),$(SAN),release)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(CI),true)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif
CPPFLAGS := -Iinclude -D_GNU_SOURCE
CFLAGS_STD := -std=c11 -pthread
LDLIBS := -lpthread

# Intel's "jump conditional code" erratum (Skylake through Cascade Lake):
# a branch that crosses or ends on a 32-byte boundary is not cached in the
# decoded-uop cache, and the spawn/sync fast path, inlined into a kernel,
# runs 15-20% slower or faster depending on where its branches land. The
# assembler can pad branches away from those boundaries (GNU as >= 2.34);
# on other CPUs the padding costs a few bytes of code. Only on x86-64.
JCC_FLAG := -Wa,-mbranches-within-32B-boundaries
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
ifeq ($(shell echo 'int x;' | $(CC) $(JCC_FLAG) -x c -c - -o /dev/null \
        2>/dev/null && echo ok),ok)
ARCH_FLAGS := $(JCC_FLAG)
endif
endif

OPT := -O2 -g $(ARCH_FLAGS)

ifeq ($(SAN),tsan)
# GCC warns that TSan does not model atomic_thread_fence. The deque's
# happens-before edges all come from acquire/release operations (see the
# comment above the deque in src/core/deque.h); its SeqCst fences only
# order a store before a later load, which TSan does not check either way.
OPT := -O1 -g -fsanitize=thread -Wno-tsan
endif
ifeq ($(SAN),asan)
# float-cast-overflow is not in gcc's "undefined": a double out of an
# integer type's range (NaN included) converted to it.
OPT := -O1 -g -fsanitize=address,undefined,float-cast-overflow \
       -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

ALL_CFLAGS = $(CFLAGS_STD) $(OPT) $(WARN) $(CFLAGS)

CORE_SRC := $(wildcard src/core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libpenny_core.a
TEST_SRC := $(wildcard test/core/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
RUNNER := $(BUILD)/run-tests
HEADERS := include/penny.h $(wildcard src/core/*.h) $(wildcard test/core/*.h)

.PHONY: all lib test test-tsan test-asan test-addon-asan test-sanitize bench \
        wasm-test wasm \
        bench-scale bench-wake cross-win clean

all: $(CORE_LIB) $(RUNNER)

lib: $(CORE_LIB)

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(RUNNER): $(TEST_OBJ) $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(CORE_LIB) $(LDLIBS)

test: $(RUNNER)
	./$(RUNNER)

# Sanitized runs use smaller counts and longer timeouts.
SAN_ENV := PENNY_TEST_SCALE=10 PENNY_TEST_TIMEOUT_MULT=4
test-tsan:
	$(MAKE) SAN=tsan all
	$(SAN_ENV) TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ./build/c/tsan/run-tests

test-asan:
	$(MAKE) SAN=asan all
	$(SAN_ENV) ASAN_OPTIONS="detect_leaks=1 abort_on_error=1" \
	  UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" \
	  ./build/c/asan/run-tests

# The Node addon under ASan+UBSan: the same sources as binding.gyp, built
# against Node's headers (its uv_* and napi_* symbols resolve in the node
# binary at load time), then the mocha suite with the sanitizer runtimes
# preloaded into node (NAPI_MODULE_INIT defines its entry points without
# prototypes, hence the filter). A test asks for an impossible arena,
# which V8 expects calloc to refuse with NULL rather than abort. Leak checking is off: Node itself does not free
# everything at exit. ThreadSanitizer is not used here: node and V8 are not
# built with it, so it would report their own threads.
NODE_INCLUDE ?= $(or $(shell npm config get nodedir 2>/dev/null),/usr)/include/node
ADDON_SRC := $(CORE_SRC) $(wildcard src/kernels/*.c) $(wildcard src/addon/*.c)
ADDON_HDR := $(HEADERS) $(wildcard src/kernels/*.h) $(wildcard src/addon/*.h)
ASAN_ADDON := build/c/asan/penny.node

$(ASAN_ADDON): $(ADDON_SRC) $(ADDON_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(NODE_INCLUDE) -DNAPI_VERSION=9 \
	  $(filter-out -Wmissing-prototypes,$(ALL_CFLAGS)) \
	  -shared -fPIC -o $@ $(ADDON_SRC) -lm

ASAN_ADDON_ENV = PENNY_ADDON=$(abspath $(ASAN_ADDON)) \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so):$$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS="detect_leaks=0 abort_on_error=1 allocator_may_return_null=1" \
	  UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1"

# The mocha suite, then the adversarial suite at a fifth of its counts
# (ASan and UBSan slow everything down several times); ADV_SEED picks
# its seed, random by default.
test-addon-asan:
	$(MAKE) SAN=asan $(ASAN_ADDON)
	$(ASAN_ADDON_ENV) npx mocha
	$(ASAN_ADDON_ENV) node test/adversarial/run.js --scale 0.2 \
	  $(if $(ADV_SEED),--seed $(ADV_SEED))

test-sanitize: test-tsan test-asan test-addon-asan

# The benchmark: always optimized, never sanitized. The OpenMP baseline
# is compiled with -fopenmp in its own object.
BENCH := build/c/bench/core-bench
BENCH_FLAGS := -std=c11 -pthread -O3 -g $(ARCH_FLAGS) $(WARN) $(CPPFLAGS)

build/c/bench/%.o: bench/core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FLAGS) $(if $(findstring omp,$*),-fopenmp) -c $< -o $@

$(BENCH): build/c/bench/bench.o build/c/bench/fib_omp.o \
          build/c/bench/common.o $(CORE_LIB)
	$(CC) -O3 -pthread -fopenmp -o $@ $^ $(LDLIBS) -lm

# Scaling from 1 worker to many, kernels included. STATIC=1 links
# everything statically, for a machine with another C library.
SCALE := build/c/bench/core-scale
KERNEL_SRC := $(wildcard src/kernels/*.c)
KERNEL_OBJ := $(KERNEL_SRC:src/kernels/%.c=build/c/bench/kernels/%.o)

build/c/bench/kernels/%.o: src/kernels/%.c $(HEADERS) src/kernels/kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FLAGS) -fno-math-errno -c $< -o $@

$(SCALE): build/c/bench/scale.o build/c/bench/common.o $(KERNEL_OBJ) \
          $(CORE_LIB)
	$(CC) -O3 -pthread $(if $(STATIC),-static) -o $@ $^ $(LDLIBS) -lm

# The machine's wake-up floor, with no pool at all (bench/core/wake.c).
WAKE := build/c/bench/core-wake

$(WAKE): build/c/bench/wake.o build/c/bench/common.o $(CORE_LIB)
	$(CC) -O3 -pthread -o $@ $^ $(LDLIBS)

ifneq ($(SAN),)
bench bench-scale bench-wake:
	@echo "the benchmark is never built with a sanitizer" && false
else
bench: $(BENCH)
	./$(BENCH) $(BENCH_ARGS)
bench-scale: $(SCALE)
	./$(SCALE) $(SCALE_ARGS)
bench-wake: $(WAKE)
	./$(WAKE) $(WAKE_ARGS)
endif

# The core and the kernels compiled for Windows with a cross compiler
# (Debian's gcc-mingw-w64-x86-64), so that the Win32 platform layer at
# least builds warning-free; nothing here can run it. The addon and a
# Windows test run need a Windows machine.
WIN_CC ?= x86_64-w64-mingw32-gcc
WIN_BUILD := build/c/win
WIN_OBJ := $(CORE_SRC:%.c=$(WIN_BUILD)/%.o) $(KERNEL_SRC:%.c=$(WIN_BUILD)/%.o)

$(WIN_BUILD)/%.o: %.c $(HEADERS) src/kernels/kernels.h
	@mkdir -p $(dir $@)
	$(WIN_CC) -Iinclude -std=c11 -O2 -fno-math-errno $(WARN) -c $< -o $@

cross-win: $(WIN_OBJ)
	$(WIN_CC:gcc=ar) rcs $(WIN_BUILD)/libpenny.a $(WIN_OBJ)

# The core and the kernels compiled to wasm32 with shared memory and
# atomics (clang's freestanding target, Penny's own libc in src/wasm/libc;
# flags and why in src/wasm/libc/flags.mk), linked with a test module of
# exports that test/wasm/core.test.js drives from Node worker_threads.
include src/wasm/libc/flags.mk
WASM_BUILD := build/wasm/obj
WASM_CORE_SRC := $(CORE_SRC) $(KERNEL_SRC) $(WASM_LIBC_SRC)
WASM_CORE_OBJ := $(WASM_CORE_SRC:%.c=$(WASM_BUILD)/%.o)
WASM_CORE_TEST := build/wasm/core-test.wasm
# The linker's stack is the controlling instance's; helpers get their own.
WASM_CORE_LDFLAGS := $(WASM_LDFLAGS) -z stack-size=1048576 \
                     --export=malloc --export=free --export=__stack_pointer

$(WASM_BUILD)/%.o: %.c $(HEADERS) src/kernels/kernels.h $(WASM_LIBC_HEADERS) \
                   src/wasm/libc/flags.mk
	@mkdir -p $(dir $@)
	$(WASM_CC) $(WASM_CFLAGS) -Iinclude $(WASM_TEST_INC) -c $< -o $@

# The test module waits as the core does (src/core/platform.h).
$(WASM_BUILD)/test/wasm/%.o: WASM_TEST_INC := -Isrc/core

$(WASM_CORE_TEST): $(WASM_CORE_OBJ) $(WASM_BUILD)/test/wasm/core-test.o
	$(WASM_LD) $(WASM_CORE_LDFLAGS) -o $@ $^

wasm-test: $(WASM_CORE_TEST)

# The browser build (lib/browser/): the core, the kernels, the argument
# checks the Node addon uses and the binding for lib/browser/runtime.mjs.
# In dist/, which the npm tarball ships (node-gyp owns build/).
WASM_BROWSER := dist/penny.wasm
WASM_BROWSER_OBJ := $(WASM_CORE_OBJ) \
                    $(WASM_BUILD)/src/addon/signature.o \
                    $(WASM_BUILD)/src/addon/checks.o \
                    $(WASM_BUILD)/src/wasm/binding.o

$(WASM_BUILD)/src/addon/%.o $(WASM_BUILD)/src/wasm/%.o: \
    WASM_TEST_INC := -Isrc/core

$(WASM_BROWSER): $(WASM_BROWSER_OBJ)
	@mkdir -p $(dir $@)
	$(WASM_LD) $(WASM_CORE_LDFLAGS) --export=aligned_alloc -o $@ $^

wasm: $(WASM_BROWSER)

clean:
	rm -rf build/c build/wasm dist
