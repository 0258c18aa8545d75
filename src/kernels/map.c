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

/* c[i] = op(a[i], b[i]) for i < n, on the element type's own pointers
 * (b may be NULL). Returns 0 once the task has failed. */

/* 8- to 32-bit integers: T is the element type, U its unsigned twin,
 * through which the wrapped bits are stored. */
#define SMALL_INT(TYPE, T, U)                                                 \
  case TYPE: {                                                                \
    const T *a = av;                                                          \
    const T *b = bv;                                                          \
    U *c = cv;                                                                \
    for (int64_t i = 0; i < n; i++)                                           \
      c[i] = (U) penny__js_to_uint64(                                         \
        op_double(m->op, (double) a[i], b ? (double) b[i] : 0, m->s));        \
    return 1;                                                                 \
  }

/* Floats get one loop per operation, each of which vectorizes (with
 * -fno-math-errno, sqrt is one instruction). Non-temporal stores, which
 * skip reading the output's lines before writing them, were tried for
 * large outputs and were slower than these loops on the development
 * machine, one thread or two. */
#define FLOAT_LOOP(OP, EXPR)                                                  \
  case OP:                                                                    \
    for (int64_t i = 0; i < n; i++)                                           \
      c[i] = (EXPR);                                                          \
    return 1;

#define FLOAT(TYPE, T)                                                        \
  case TYPE: {                                                                \
    const T *a = av;                                                          \
    const T *b = bv;                                                          \
    T *c = cv;                                                                \
    const double s = m->s;                                                    \
    switch (m->op) {                                                          \
    FLOAT_LOOP(OP_SCALE, (T) (a[i] * s))                                      \
    FLOAT_LOOP(OP_AXPY, (T) (b[i] + s * a[i]))                                \
    FLOAT_LOOP(OP_ADD, (T) ((double) a[i] + (double) b[i]))                   \
    FLOAT_LOOP(OP_SUB, (T) ((double) a[i] - (double) b[i]))                   \
    FLOAT_LOOP(OP_MUL, (T) ((double) a[i] * (double) b[i]))                   \
    FLOAT_LOOP(OP_DIV, (T) ((double) a[i] / (double) b[i]))                   \
    FLOAT_LOOP(OP_SQRT, (T) sqrt((double) a[i]))                              \
    FLOAT_LOOP(OP_EXP, (T) exp((double) a[i]))                                \
    FLOAT_LOOP(OP_LOG, (T) log((double) a[i]))                                \
    FLOAT_LOOP(OP_ABS, (T) fabs((double) a[i]))                               \
    }                                                                         \
    return 1;                                                                 \
  }

#define BIG_INT(TYPE, IS_SIGNED)                                              \
  case TYPE: {                                                                \
    const uint64_t *a = av;                                                   \
    const uint64_t *b = bv;                                                   \
    uint64_t *c = cv;                                                         \
    for (int64_t i = 0; i < n; i++) {                                         \
      uint64_t r;                                                             \
      if (!op_u64(m->op, a[i], b ? b[i] : 0, m->s64, IS_SIGNED, &r)) {        \
        penny_fail(w, PENNY_ERANGE); /* a BigInt division by zero */          \
        return 0;                                                             \
      }                                                                       \
      c[i] = r;                                                               \
    }                                                                         \
    return 1;                                                                 \
  }

PENNY_CLONES
static int map_run(penny_worker_t *w, const map_t *m, const void *av,
                   const void *bv, void *cv, int64_t n) {
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
  return 1;
}

static void map_body(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  const map_t *m = arg;
  const size_t size = penny__elem_size(m->type);
  const char *a = (const char *) m->a + lo * size;
  const char *b = m->b ? (const char *) m->b + lo * size : NULL;
  char *c = (char *) m->c + lo * size;
  const int64_t n = hi - lo;
  map_run(w, m, a, b, c, n);
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
