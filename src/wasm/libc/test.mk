# Builds the libc's test module, build/wasm/libc-test.wasm, which
# test/wasm/libc.test.js runs in Node worker_threads over one shared
# memory:
#
#   make -f src/wasm/libc/test.mk
#
# Standalone: needs clang-14 and wasm-ld-14 and nothing else of the build.

include src/wasm/libc/flags.mk

WASM_TEST_DIR := build/wasm
WASM_TEST_OBJ_DIR := $(WASM_TEST_DIR)/libc-test-obj
WASM_TEST := $(WASM_TEST_DIR)/libc-test.wasm
WASM_TEST_SRC := test/wasm/libc-test.c $(WASM_LIBC_SRC)
WASM_TEST_OBJ := $(patsubst %.c,$(WASM_TEST_OBJ_DIR)/%.o,$(WASM_TEST_SRC))

# What the JavaScript side calls: the allocator, the test's entry points
# (export_name in libc-test.c), the heap check, and __stack_pointer, which
# the host sets on each Worker's instance before anything else runs.
WASM_TEST_EXPORTS := malloc calloc realloc free aligned_alloc \
                     penny__malloc_check __stack_pointer __heap_base

.PHONY: all clean
all: $(WASM_TEST)

$(WASM_TEST_OBJ_DIR)/%.o: %.c $(WASM_LIBC_HEADERS) src/wasm/libc/flags.mk
	@mkdir -p $(dir $@)
	$(WASM_CC) $(WASM_CFLAGS) -c $< -o $@

$(WASM_TEST): $(WASM_TEST_OBJ)
	$(WASM_LD) $(WASM_LDFLAGS) $(WASM_TEST_EXPORTS:%=--export=%) -o $@ $^

clean:
	rm -rf $(WASM_TEST_OBJ_DIR) $(WASM_TEST)
