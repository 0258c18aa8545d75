/* Reductions: sum, min, max, argmin, argmax and dot. Each splits its
 * range in halves with penny_join down to leaves of LEAF elements and
 * combines the halves' partial results on the way back up.
 *
 * - Float sums (and dots) are pairwise: in blocks of 128 elements with
 *   eight accumulators, and pairwise over blocks, so the rounding error
 *   grows with log2(n) rather than with n as in a left-to-right loop. A
 *   Float32Array is summed in doubles, as a JavaScript loop does.
 * - Integer sums and dots are exact: 128-bit within a leaf, 256-bit across
 *   leaves. For BigInt arrays the result is that exact BigInt; for 8- to
 *   32-bit types it is a number, the exact value rounded once.
 * - min and max follow Math.min and Math.max: any NaN gives NaN, -0 is
 *   smaller than +0, and an empty array gives +Infinity and -Infinity.
 *   argmin and argmax give the index of the first element that min or max
 *   returns (NaN counting as the extreme), or -1 for an empty array.
 *
 * Leaves poll penny_cancelled, so a cancelled reduction stops within one
 * leaf per worker. */
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define LEAF 8192
#define BLOCK 128

typedef enum { K_SUM, K_MIN, K_MAX, K_ARGMIN, K_ARGMAX, K_DOT } kind_t;

/* ---- A 256-bit two's-complement integer, enough for any exact sum or
 * dot of 2^64 products of 64-bit values. ---- */

typedef struct {
  uint64_t w[4];
} i256_t;

static void i256_add(i256_t *a, const i256_t *b) {
  unsigned __int128 carry = 0;
  for (int k = 0; k < 4; k++) {
    carry += (unsigned __int128) a->w[k] + b->w[k];
    a->w[k] = (uint64_t) carry;
    carry >>= 64;
  }
}

static i256_t i256_from_i128(__int128 v) {
  i256_t r;
  uint64_t ext = v < 0 ? UINT64_MAX : 0;
  r.w[0] = (uint64_t) v;
  r.w[1] = (uint64_t) ((unsigned __int128) v >> 64);
  r.w[2] = ext;
  r.w[3] = ext;
  return r;
}

static i256_t i256_from_u128(unsigned __int128 v) {
  i256_t r = { { (uint64_t) v, (uint64_t) (v >> 64), 0, 0 } };
  return r;
}

/* The value rounded once to a double: sign and magnitude, then the top
 * bits with a sticky bit for everything below them. */
static double i256_to_double(const i256_t *a) {
  i256_t m = *a;
  int neg = (int64_t) m.w[3] < 0;
  if (neg) { /* negate */
    for (int k = 0; k < 4; k++)
      m.w[k] = ~m.w[k];
    i256_t one = { { 1, 0, 0, 0 } };
    i256_add(&m, &one);
  }
  int top = 3;
  while (top > 0 && m.w[top] == 0)
    top--;
  double r;
  if (top <= 1) {
    r = (double) (((unsigned __int128) m.w[1] << 64) | m.w[0]);
  } else {
    /* Keep 128 bits from the highest non-zero limb down; fold the rest
     * into the lowest bit so that rounding sees them. */
    unsigned __int128 hi = ((unsigned __int128) m.w[top] << 64) |
                           m.w[top - 1];
    int sticky = 0;
    for (int k = top - 2; k >= 0; k--)
      sticky |= m.w[k] != 0;
    hi |= (unsigned __int128) sticky;
    r = ldexp((double) hi, 64 * (top - 1));
  }
  return neg ? -r : r;
}

/* ---- Partial results. ---- */

typedef struct {
  double f;      /* float sum or dot; float extreme */
  i256_t i;      /* integer sum or dot */
  uint64_t v;    /* integer extreme, as 64-bit bits */
  int64_t idx;   /* index of the extreme; -1: none yet */
} part_t;

typedef struct {
  kind_t kind;
  int type;
  const void *x;
  const void *y;
} red_t;

static int is_min(kind_t k) {
  return k == K_MIN || k == K_ARGMIN;
}

/* Does value a (at an earlier index) lose to b, for min or max? NaN is
 * the extreme either way, then -0 is below +0. Ties keep the earlier. */
static int float_better(kind_t k, double a, double b) {
  if (a != a)
    return 0;
  if (b != b)
    return 1;
  if (a == b)
    return a == 0 && (is_min(k) ? signbit(b) && !signbit(a)
                                : signbit(a) && !signbit(b));
  return is_min(k) ? b < a : b > a;
}

static int int_better(kind_t k, int is_signed, uint64_t a, uint64_t b) {
  if (is_signed)
    return is_min(k) ? (int64_t) b < (int64_t) a : (int64_t) b > (int64_t) a;
  return is_min(k) ? b < a : b > a;
}

/* Pairwise sum of f(i) over [lo, hi): blocks of BLOCK with eight
 * accumulators, halved recursively above that. */
#define PAIRWISE(NAME, EXPR)                                                  \
  static double NAME(const void *xv, const void *yv, int64_t lo,             \
                     int64_t hi) {                                            \
    const TYPE *x = xv;                                                       \
    const TYPE *y = yv;                                                       \
    (void) y;                                                                 \
    if (hi - lo > BLOCK) {                                                    \
      int64_t mid = lo + ((hi - lo) / 2 / 8) * 8;                             \
      return NAME(xv, yv, lo, mid) + NAME(xv, yv, mid, hi);                   \
    }                                                                         \
    double s[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };                                 \
    int64_t i = lo;                                                           \
    for (; i + 8 <= hi; i += 8)                                               \
      for (int k = 0; k < 8; k++)                                             \
        s[k] += EXPR(i + k);                                                  \
    for (; i < hi; i++)                                                       \
      s[0] += EXPR(i);                                                        \
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
  }

#define SUM_EXPR(i) (double) x[i]
#define DOT_EXPR(i) ((double) x[i] * (double) y[i])

#define TYPE float
PAIRWISE(sum_f32, SUM_EXPR)
PAIRWISE(dot_f32, DOT_EXPR)
#undef TYPE
#define TYPE double
PAIRWISE(sum_f64, SUM_EXPR)
PAIRWISE(dot_f64, DOT_EXPR)
#undef TYPE

/* Integer leaves: exact in 128 bits over at most LEAF elements (LEAF
 * products of 64-bit values would not fit, so 64-bit dots go through
 * 256 bits per element). */
#define INT_LEAF(TYPE, T, SGN)                                                \
  case TYPE: {                                                                \
    const T *x = r->x;                                                        \
    const T *y = r->y;                                                        \
    if (r->kind == K_SUM) {                                                   \
      __int128 s = 0;                                                         \
      for (int64_t i = lo; i < hi; i++)                                       \
        s += x[i];                                                            \
      out->i = i256_from_i128(s);                                             \
    } else if (r->kind == K_DOT && sizeof(T) < 8) {                           \
      __int128 s = 0;                                                         \
      for (int64_t i = lo; i < hi; i++)                                       \
        s += (__int128) x[i] * y[i];                                          \
      out->i = i256_from_i128(s);                                             \
    } else if (r->kind == K_DOT) {                                            \
      for (int64_t i = lo; i < hi; i++) {                                     \
        i256_t p = SGN                                                        \
          ? i256_from_i128((__int128) x[i] * y[i])                            \
          : i256_from_u128((unsigned __int128) x[i] * y[i]);                  \
        i256_add(&out->i, &p);                                                \
      }                                                                       \
    } else {                                                                  \
      int sgn = SGN;                                                          \
      for (int64_t i = lo; i < hi; i++) {                                     \
        uint64_t v = (uint64_t) (int64_t) x[i];                               \
        if (!sgn)                                                             \
          v = (uint64_t) x[i];                                                \
        if (out->idx < 0 || int_better(r->kind, sgn, out->v, v)) {            \
          out->v = v;                                                         \
          out->idx = i;                                                       \
        }                                                                     \
      }                                                                       \
    }                                                                         \
    break;                                                                    \
  }

#define FLOAT_EXTREME(TYPE, T)                                                \
  case TYPE: {                                                                \
    const T *x = r->x;                                                        \
    for (int64_t i = lo; i < hi; i++) {                                       \
      double v = x[i];                                                        \
      if (out->idx < 0 || float_better(r->kind, out->f, v)) {                 \
        out->f = v;                                                           \
        out->idx = i;                                                         \
      }                                                                       \
    }                                                                         \
    break;                                                                    \
  }

static void leaf(const red_t *r, int64_t lo, int64_t hi, part_t *out) {
  int fl = penny__is_float(r->type);
  if (fl && (r->kind == K_SUM || r->kind == K_DOT)) {
    int f32 = r->type == PENNY_F32;
    out->f = r->kind == K_SUM
      ? (f32 ? sum_f32 : sum_f64)(r->x, r->y, lo, hi)
      : (f32 ? dot_f32 : dot_f64)(r->x, r->y, lo, hi);
    return;
  }
  switch (r->type) {
  FLOAT_EXTREME(PENNY_F32, float)
  FLOAT_EXTREME(PENNY_F64, double)
  INT_LEAF(PENNY_I8, int8_t, 1)
  INT_LEAF(PENNY_U8, uint8_t, 0)
  INT_LEAF(PENNY_I16, int16_t, 1)
  INT_LEAF(PENNY_U16, uint16_t, 0)
  INT_LEAF(PENNY_I32, int32_t, 1)
  INT_LEAF(PENNY_U32, uint32_t, 0)
  INT_LEAF(PENNY_I64, int64_t, 1)
  INT_LEAF(PENNY_U64, uint64_t, 0)
  }
}

/* b covers the indices after a's. */
static void combine(const red_t *r, part_t *a, const part_t *b) {
  int fl = penny__is_float(r->type);
  switch (r->kind) {
  case K_SUM:
  case K_DOT:
    if (fl)
      a->f += b->f;
    else
      i256_add(&a->i, &b->i);
    break;
  default:
    if (b->idx < 0)
      break;
    if (a->idx < 0 ||
        (fl ? float_better(r->kind, a->f, b->f)
            : int_better(r->kind, penny__is_signed_int(r->type), a->v, b->v)))
      *a = *b;
  }
}

typedef struct {
  const red_t *r;
  int64_t lo;
  int64_t hi;
  part_t out;
} frame_t;

static void red_task(penny_worker_t *w, void *arg) {
  frame_t *f = arg;
  memset(&f->out, 0, sizeof(f->out));
  f->out.idx = -1;
  if (f->hi - f->lo <= LEAF) {
    if (!penny_cancelled(w))
      leaf(f->r, f->lo, f->hi, &f->out);
    return;
  }
  /* Halves on a multiple of 8, so that every leaf but the last starts its
   * blocks where a serial pairwise sum would. */
  int64_t mid = f->lo + ((f->hi - f->lo) / 2 / 8) * 8;
  frame_t a = { .r = f->r, .lo = f->lo, .hi = mid };
  frame_t b = { .r = f->r, .lo = mid, .hi = f->hi };
  penny_join(w, red_task, &a, red_task, &b);
  f->out = a.out;
  combine(f->r, &f->out, &b.out);
}

static void set_big(penny_result_t *res, const i256_t *v) {
  res->big = 1;
  memcpy(res->limbs, v->w, sizeof(res->limbs));
}

static void reduce(penny_worker_t *w, kind_t kind, const penny_arg_t *x,
                   const penny_arg_t *y, penny_result_t *res) {
  red_t r = { kind, x->type, x->data, y ? y->data : NULL };
  frame_t f = { .r = &r, .lo = 0, .hi = (int64_t) x->length };
  red_task(w, &f);
  if (penny_cancelled(w))
    return;
  int fl = penny__is_float(x->type);
  switch (kind) {
  case K_SUM:
  case K_DOT:
    if (fl)
      res->num = f.out.f;
    else if (penny__is_big(x->type))
      set_big(res, &f.out.i);
    else
      res->num = i256_to_double(&f.out.i);
    break;
  case K_ARGMIN:
  case K_ARGMAX:
    res->num = (double) f.out.idx;
    break;
  default: /* min, max */
    if (f.out.idx < 0) {
      res->num = kind == K_MIN ? INFINITY : -INFINITY;
    } else if (fl) {
      res->num = f.out.f;
    } else if (penny__is_big(x->type)) {
      i256_t v = x->type == PENNY_I64
        ? i256_from_i128((int64_t) f.out.v)
        : i256_from_u128(f.out.v);
      set_big(res, &v);
    } else if (penny__is_signed_int(x->type)) {
      res->num = (double) (int64_t) f.out.v;
    } else {
      res->num = (double) f.out.v;
    }
  }
}

#define REDUCTION(name, KIND)                                                 \
  void penny__##name##_kernel(penny_worker_t *w, const penny_arg_t *args,    \
                              penny_result_t *result) {                       \
    reduce(w, KIND, &args[0], NULL, result);                                  \
  }                                                                           \
  int penny__##name##_check(const penny_arg_t *args, const char **msg) {      \
    (void) args;                                                              \
    (void) msg;                                                               \
    return 0;                                                                 \
  }

REDUCTION(sum, K_SUM)
REDUCTION(min, K_MIN)
REDUCTION(max, K_MAX)
REDUCTION(argmin, K_ARGMIN)
REDUCTION(argmax, K_ARGMAX)

void penny__dot_kernel(penny_worker_t *w, const penny_arg_t *args,
                       penny_result_t *result) {
  reduce(w, K_DOT, &args[0], &args[1], result);
}

int penny__dot_check(const penny_arg_t *args, const char **msg) {
  if (args[0].type != args[1].type || args[0].length != args[1].length) {
    *msg = "a and b must have the same element type and length";
    return PENNY_EINVAL;
  }
  return 0;
}
