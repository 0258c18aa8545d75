/* Penny's WebAssembly libc: assert. Not guarded, as C requires: each
 * inclusion defines assert anew for the NDEBUG in force at that point. */
#undef assert
#ifdef NDEBUG
# define assert(x) ((void) 0)
#else
/* Logs "file:line: function: Assertion `x' failed." (glibc's words) to
 * the host, then traps (stdio.c). */
_Noreturn void __penny_assert_fail(const char *expr, const char *file,
                                   int line, const char *func);
# define assert(x) \
  ((x) ? (void) 0 : __penny_assert_fail(#x, __FILE__, __LINE__, __func__))
#endif

#if !defined(__cplusplus) && !defined(static_assert)
# define static_assert _Static_assert
#endif
