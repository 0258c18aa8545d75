# The Node addon: the core, the built-in kernels and the binding in one
# shared object. The standalone core, its tests and sanitizer builds are the
# Makefile's job.
{
  "targets": [{
    "target_name": "penny",
    "sources": [
      "src/core/platform_posix.c",
      "src/core/platform_win.c",
      "src/core/park_cond.c",
      "src/core/injector.c",
      "src/core/deque.c",
      "src/core/sleep.c",
      "src/core/worker.c",
      "src/core/job.c",
      "src/core/fork.c",
      "src/core/pool.c",
      "src/core/lend.c",
      "src/core/error.c",
      "src/kernels/builtin.c",
      "src/kernels/map.c",
      "src/kernels/reduce.c",
      "src/kernels/scan.c",
      "src/kernels/mandelbrot.c",
      "src/kernels/gemm.c",
      "src/kernels/sort.c",
      "src/addon/binding.c",
      "src/addon/checks.c",
      "src/addon/completion.c",
      "src/addon/contract.c",
      "src/addon/convert.c",
      "src/addon/lifecycle.c",
      "src/addon/napi_util.c",
      "src/addon/plugin.c",
      "src/addon/ring.c",
      "src/addon/signature.c",
      "src/addon/tasks.c",
      "src/addon/jstask.c",
      "src/addon/jsfork.c"
    ],
    "include_dirs": ["include"],
    "defines": ["_GNU_SOURCE", "NAPI_VERSION=9"],
    # Nothing in Penny reads errno after a math function, and without it
    # sqrt is one instruction that vectorizes.
    "cflags_c": ["-std=c11", "-O3", "-fno-math-errno", "-Wall", "-Wextra"],
    "conditions": [
      # See the Makefile: pads branches off 32-byte boundaries (Intel's JCC
      # erratum), which keeps the spawn/sync fast path's speed stable.
      # dlopen for pool.load(); in libc itself from glibc 2.34 on.
      ["OS=='linux'", { "libraries": ["-ldl"] }],
      ["OS=='linux' and target_arch=='x64'", {
        "cflags_c": ["-Wa,-mbranches-within-32B-boundaries"]
      }],
      ["OS=='mac'", {
        "xcode_settings": {
          "OTHER_CFLAGS": ["-std=c11", "-O3", "-fno-math-errno", "-Wall",
                           "-Wextra"]
        }
      }]
    ]
  }]
}
