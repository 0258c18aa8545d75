/* Argument checks against a kernel's signature (see checks.h). Never
 * trust JS: a wrong length or pointer that passed here would be memory
 * corruption on a worker. */
#include "checks.h"
#include "../kernels/kernels.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

const char *const penny__array_names[PENNY_F64 + 1] = {
  "typed array", "Int8Array", "Uint8Array", "Int16Array", "Uint16Array",
  "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array",
  "Float32Array", "Float64Array"
};

/* Any thread. */
int penny__arg_error(char *msg, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, MSG_MAX, fmt, ap);
  va_end(ap);
  return code;
}

/* Any thread: a number as JavaScript prints it, for messages: NaN and Infinity
 * rather than C's nan and inf, and integers without an exponent. */
static const char *js_number(double d, char *buf, size_t size) {
  if (d != d)
    return "NaN";
  if (isinf(d))
    return d > 0 ? "Infinity" : "-Infinity";
  snprintf(buf, size, "%.17g", d);
  return buf;
}

/* Any thread. */
int penny__check_scalar(const entry_t *e, unsigned i, double d,
                        penny_arg_t *args, char *msg) {
  const penny__param_t *pa = &e->sig.params[i];
  static const double lo[] = { 0, -128, 0, -32768, 0, -2147483648.0, 0 };
  static const double hi[] = { 0, 127, 255, 32767, 65535, 2147483647.0,
                               4294967295.0 };
  if (pa->type <= PENNY_U32) {
    char num[32];
    if (!isfinite(d) || d != trunc(d)) /* as Number.isInteger */
      return penny__arg_error(msg, PENNY_EINVAL,
                              "%s: parameter '%s' must be an integer (%s), "
                              "got %s", e->sig.name, pa->name,
                              penny__type_name(pa->type),
                              js_number(d, num, sizeof(num)));
    if (d < lo[pa->type] || d > hi[pa->type])
      return penny__arg_error(msg, PENNY_ERANGE,
                              "%s: parameter '%s' is out of range for %s: %s",
                              e->sig.name, pa->name,
                              penny__type_name(pa->type),
                              js_number(d, num, sizeof(num)));
  }
  args[i].data = NULL;
  args[i].length = 0;
  args[i].num = d;
  args[i].type = pa->type;
  return 0;
}

/* Any thread. */
int penny__check_array(const uint8_t *arena, size_t arena_bytes,
                       const entry_t *e, unsigned i, int type, void *data,
                       size_t length, penny_arg_t *args, char *msg,
                       bool *in_arena) {
  const penny__param_t *pa = &e->sig.params[i];
  if (type == 0 || (pa->type != 0 && pa->type != type))
    return penny__arg_error(msg, PENNY_EINVAL,
                            "%s: parameter '%s' must be a %s (%s[]), got %s",
                            e->sig.name, pa->name,
                            penny__array_names[pa->type],
                            penny__type_name(pa->type),
                            type ? penny__array_names[type]
                                 : "Uint8ClampedArray");
  uint8_t *d = data;
  if (length > SIZE_MAX / penny__elem_size(type))
    return penny__arg_error(msg, PENNY_ERANGE,
                            "%s: parameter '%s' is too long", e->sig.name,
                            pa->name);
  size_t bytes = length * penny__elem_size(type);
  *in_arena = length > 0 && d >= arena && d < arena + arena_bytes;
  /* Views over the arena are pinned by the pool's own reference. One
   * that starts inside it ends inside it too: the engine's views always
   * do, a ring cell is checked against this. */
  if (*in_arena && bytes > (size_t) (arena + arena_bytes - d))
    return penny__arg_error(msg, PENNY_ERANGE,
                            "%s: parameter '%s' extends past the end of the "
                            "arena", e->sig.name, pa->name);
  /* Kernels tell an array from a scalar by a non-NULL data pointer (see
   * penny_f64 and its siblings), also for an empty array; one address per
   * parameter, so that two empty arrays never look like one. */
  static const uint64_t empty_arrays[PENNY_MAX_ARGS]; /* read-only */
  args[i].data = data != NULL ? data : (void *) &empty_arrays[i];
  args[i].length = length;
  args[i].num = 0;
  args[i].type = type;
  return 0;
}

/* Any thread. */
int penny__check_kernel(const entry_t *e, const penny_arg_t *args,
                        char *msg) {
  if (e->kernel->check == NULL)
    return 0;
  const char *why = "invalid argument";
  int rc = e->kernel->check(args, &why);
  if (rc != 0)
    return penny__arg_error(msg, rc == PENNY_EINVAL ? PENNY_EINVAL
                                                    : PENNY_ERANGE,
                            "%s: %s", e->sig.name, why);
  return 0;
}
