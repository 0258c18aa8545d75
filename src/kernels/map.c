/* Element-wise kernels: scale, axpy, add, sub, mul, div, sqrt, exp, log
 * and abs. Each element ends up as what a JavaScript loop over the same
 * typed arrays would store:
 *
 * - Float arrays: the operation on doubles, rounded to the element type.
 *   For Float32Array that is float arithmetic for + - * / and sqrt, since
 *   a double holds more than twice a float's precision.
 * - 8- to 32-bit integer arrays: the operation on the values as doubles,
 *   then ToInt8 .. ToUint32 (truncate toward zero, wrap; NaN and the
 *   infinities, from a division by zero say, store 0).
 * - BigInt64Array and BigUint64Array: BigInt arithmetic wrapped to 64
 *   bits. Division truncates toward zero; dividing by zero fails the task,
 *   where JavaScript throws. A scalar factor must be an integer.
 *
 * Chunks of MAP_GRAIN elements go through penny_for, which stops handing
 * them out once the task is cancelled. */
#include "kernels.h"

#include <math.h>
#include <stdint.h>

#define MAP_GRAIN 8192

typedef enum {
  OP_SCALE, OP_AXPY, OP_ADD, OP_SUB, OP_MUL, OP_DIV,
  OP_SQRT, OP_EXP, OP_LOG, OP_ABS
} op_t;

/* c[i] = op(a[i], b[i]); unary operations ignore b. scale: a = c = x.
 * axpy: a = x, b = c = y. */
typedef struct {
  op_t op;
  int type;
  const void *a;
  const void *b;
  void *c;
  double s;      /* the scalar of scale and axpy */
  uint64_t s64;  /* the same, for BigInt arrays: an integer mod 2^64 */
} map_t;

/* The value JavaScript computes for one element, in doubles. The switch
 * is the same for a whole chunk; the compiler unswitches it. */
static inline double op_double(op_t op, double a, double b, double s) {
  switch (op) {
  case OP_SCALE: return a * s;
  case OP_AXPY: return b + s * a;
  case OP_ADD: return a + b;
  case OP_SUB: return a - b;
  case OP_MUL: return a * b;
  case OP_DIV: return a / b;
  case OP_SQRT: return sqrt(a);
  case OP_EXP: return exp(a);
  case OP_LOG: return log(a);
  case OP_ABS: return fabs(a);
  }
  return 0;
}

/* BigInt arithmetic on two's-complement bits. Returns false for a
 * division by zero. */
static inline int op_u64(op_t op, uint64_t a, uint64_t b, uint64_t s,
                         int is_signed, uint64_t *out) {
  switch (op) {
  case OP_SCALE: *out = a * s; return 1;
  case OP_AXPY: *out = b + s * a; return 1;
  case OP_ADD: *out = a + b; return 1;
  case OP_SUB: *out = a - b; return 1;
  case OP_MUL: *out = a * b; return 1;
  case OP_DIV:
    if (b == 0)
      return 0;
    if (!is_signed)
      *out = a / b;
    else if (a == (uint64_t) INT64_MIN && b == (uint64_t) -1)
      *out = a; /* 2^63 wraps back to -2^63 */
    else
      *out = (uint64_t) ((int64_t) a / (int64_t) b);
    return 1;
  case OP_ABS:
    *out = (int64_t) a < 0 ? (uint64_t) 0 - a : a;
    return 1;
  default: /* sqrt, exp, log: refused by the checks */
    *out = 0;
    return 1;
  }
}

/* 8- to 32-bit integers: T is the element type, U its unsigned twin,
 * through which the wrapped bits are stored. */
#define SMALL_INT(TYPE, T, U)                                                 \
  case TYPE: {                                                                \
    const T *a = m->a;                                                        \
    const T *b = m->b;                                                        \
    U *c = m->c;                                                              \
    for (int64_t i = lo; i < hi; i++)                                         \
      c[i] = (U) penny__js_to_uint64(                                         \
        op_double(m->op, (double) a[i], b ? (double) b[i] : 0, m->s));        \
    break;                                                                    \
  }

#define FLOAT(TYPE, T)                                                        \
  case TYPE: {                                                                \
    const T *a = m->a;                                                        \
    const T *b = m->b;                                                        \
    T *c = m->c;                                                              \
    for (int64_t i = lo; i < hi; i++)                                         \
      c[i] = (T) op_double(m->op, (double) a[i], b ? (double) b[i] : 0,       \
                           m->s);                                             \
    break;                                                                    \
  }

#define BIG_INT(TYPE, IS_SIGNED)                                              \
  case TYPE: {                                                                \
    const uint64_t *a = m->a;                                                 \
    const uint64_t *b = m->b;                                                 \
    uint64_t *c = m->c;                                                       \
    for (int64_t i = lo; i < hi; i++) {                                       \
      uint64_t r;                                                             \
      if (!op_u64(m->op, a[i], b ? b[i] : 0, m->s64, IS_SIGNED, &r)) {        \
        penny_fail(w, PENNY_ERANGE); /* a BigInt division by zero */          \
        return;                                                               \
      }                                                                       \
      c[i] = r;                                                               \
    }                                                                         \
    break;                                                                    \
  }

static void map_body(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  const map_t *m = arg;
  switch (m->type) {
  SMALL_INT(PENNY_I8, int8_t, uint8_t)
  SMALL_INT(PENNY_U8, uint8_t, uint8_t)
  SMALL_INT(PENNY_I16, int16_t, uint16_t)
  SMALL_INT(PENNY_U16, uint16_t, uint16_t)
  SMALL_INT(PENNY_I32, int32_t, uint32_t)
  SMALL_INT(PENNY_U32, uint32_t, uint32_t)
  FLOAT(PENNY_F32, float)
  FLOAT(PENNY_F64, double)
  BIG_INT(PENNY_I64, 1)
  BIG_INT(PENNY_U64, 0)
  }
}

static void run_map(penny_worker_t *w, op_t op, const penny_arg_t *a,
                    const penny_arg_t *b, const penny_arg_t *c, double s) {
  map_t m = { op, c->type, a->data, b ? b->data : NULL, c->data, s,
              penny__js_to_uint64(s) };
  penny_for(w, (int64_t) c->length, MAP_GRAIN, map_body, &m);
}

/* ---- Checks (on the submitting thread, before anything runs). ---- */

static int fail(const char **msg, const char *why) {
  *msg = why;
  return PENNY_EINVAL;
}

static int same_shape(const penny_arg_t *x, const penny_arg_t *y) {
  return x->type == y->type && x->length == y->length;
}

/* An output may be one of the inputs, element for element, but must not
 * overlap it otherwise: chunks run in parallel, not in a loop's order. */
static int overlaps_partly(const penny_arg_t *in, const penny_arg_t *out) {
  return in->data != out->data && penny__overlaps(in, out);
}

static int check_binary(const penny_arg_t *args, const char **msg) {
  if (!same_shape(&args[0], &args[1]) || !same_shape(&args[0], &args[2]))
    return fail(msg, "a, b and c must have the same element type and "
                     "length");
  if (overlaps_partly(&args[0], &args[2]) ||
      overlaps_partly(&args[1], &args[2]))
    return fail(msg, "c may be a or b, but must not overlap them otherwise");
  return 0;
}

static int check_unary(const penny_arg_t *args, const char **msg) {
  if (!same_shape(&args[0], &args[1]))
    return fail(msg, "x and y must have the same element type and length");
  if (overlaps_partly(&args[0], &args[1]))
    return fail(msg, "y may be x, but must not overlap it otherwise");
  return 0;
}

static int check_float_unary(const penny_arg_t *args, const char **msg) {
  if (!penny__is_float(args[0].type))
    return fail(msg, "x must be a Float32Array or a Float64Array");
  return check_unary(args, msg);
}

/* ---- The kernels. ---- */

int penny__scale_check(const penny_arg_t *args, const char **msg) {
  if (penny__is_big(args[0].type) && args[1].num != trunc(args[1].num))
    return fail(msg, "a must be an integer for a BigInt array");
  return 0;
}

void penny__scale_kernel(penny_worker_t *w, const penny_arg_t *args,
                         penny_result_t *result) {
  (void) result;
  run_map(w, OP_SCALE, &args[0], NULL, &args[0], args[1].num);
}

int penny__axpy_check(const penny_arg_t *args, const char **msg) {
  if (!same_shape(&args[1], &args[2]))
    return fail(msg, "x and y must have the same element type and length");
  if (overlaps_partly(&args[1], &args[2]))
    return fail(msg, "y may be x, but must not overlap it otherwise");
  if (penny__is_big(args[1].type) && args[0].num != trunc(args[0].num))
    return fail(msg, "a must be an integer for BigInt arrays");
  return 0;
}

void penny__axpy_kernel(penny_worker_t *w, const penny_arg_t *args,
                        penny_result_t *result) {
  (void) result;
  run_map(w, OP_AXPY, &args[1], &args[2], &args[2], args[0].num);
}

#define BINARY(name, OP)                                                      \
  int penny__##name##_check(const penny_arg_t *args, const char **msg) {      \
    return check_binary(args, msg);                                           \
  }                                                                           \
  void penny__##name##_kernel(penny_worker_t *w, const penny_arg_t *args,    \
                              penny_result_t *result) {                       \
    (void) result;                                                            \
    run_map(w, OP, &args[0], &args[1], &args[2], 0);                          \
  }

BINARY(add, OP_ADD)
BINARY(sub, OP_SUB)
BINARY(mul, OP_MUL)
BINARY(div, OP_DIV)

#define UNARY(name, OP, CHECK)                                                \
  int penny__##name##_check(const penny_arg_t *args, const char **msg) {      \
    return CHECK(args, msg);                                                  \
  }                                                                           \
  void penny__##name##_kernel(penny_worker_t *w, const penny_arg_t *args,    \
                              penny_result_t *result) {                       \
    (void) result;                                                            \
    run_map(w, OP, &args[0], NULL, &args[1], 0);                              \
  }

static int check_abs(const penny_arg_t *args, const char **msg) {
  int t = args[0].type;
  if (!penny__is_float(t) && !penny__is_signed_int(t))
    return fail(msg, "x must be a float or a signed integer array");
  return check_unary(args, msg);
}

UNARY(sqrt, OP_SQRT, check_float_unary)
UNARY(exp, OP_EXP, check_float_unary)
UNARY(log, OP_LOG, check_float_unary)
UNARY(abs, OP_ABS, check_abs)
