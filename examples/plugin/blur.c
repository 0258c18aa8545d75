/* An example Penny plugin: a separable box blur over a grayscale image,
 * and a normalisation that can fail with a message.
 *
 *   blur(in f32[] src, out f32[] dst, i32 width, i32 height, i32 radius,
 *        i32 passes) -> void
 *     Each pass blurs the rows, then the columns, with a box of 2*radius+1
 *     pixels; pixels beyond the border repeat the border. Three passes
 *     approximate a Gaussian. Every output pixel is the sum of its box,
 *     taken in order in double precision, divided by the box's size and
 *     rounded to float: exactly what the JavaScript reference in run.js
 *     computes.
 *
 *   normalize(inout f32[] x) -> f64
 *     Divides x by its sum and returns the sum; fails, with a message,
 *     when the sum is zero or not finite.
 *
 * The fork-join calls are the same as in Penny's built-in kernels:
 * penny_for splits the rows across the workers, and normalize's sum is a
 * divide-and-conquer spawn/sync. The plugin links against nothing: with
 * PENNY_PLUGIN defined, penny.h routes those calls through the table
 * Penny passes to the entry point that PENNY_PLUGIN_DEFINE writes. */
#define PENNY_PLUGIN
#include "penny.h"

#include <math.h>
#include <stdlib.h>

/* ---- blur ---- */

typedef struct {
  const float *src;
  float *dst;
  int64_t width, height, radius;
} pass_t;

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Rows [lo, hi): each pixel averages its row neighbours. */
static void blur_rows(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  const pass_t *p = arg;
  if (penny_cancelled(w))
    return;
  const double box = (double) (2 * p->radius + 1);
  for (int64_t y = lo; y < hi; y++) {
    const float *in = p->src + y * p->width;
    float *out = p->dst + y * p->width;
    for (int64_t x = 0; x < p->width; x++) {
      double s = 0;
      for (int64_t k = -p->radius; k <= p->radius; k++)
        s += in[clamp(x + k, 0, p->width - 1)];
      out[x] = (float) (s / box);
    }
  }
}

/* Rows [lo, hi): each pixel averages its column neighbours. */
static void blur_columns(penny_worker_t *w, int64_t lo, int64_t hi,
                         void *arg) {
  const pass_t *p = arg;
  if (penny_cancelled(w))
    return;
  const double box = (double) (2 * p->radius + 1);
  for (int64_t y = lo; y < hi; y++) {
    float *out = p->dst + y * p->width;
    for (int64_t x = 0; x < p->width; x++) {
      double s = 0;
      for (int64_t k = -p->radius; k <= p->radius; k++)
        s += p->src[clamp(y + k, 0, p->height - 1) * p->width + x];
      out[x] = (float) (s / box);
    }
  }
}

static void blur(penny_worker_t *w, const penny_arg_t *args,
                 penny_result_t *result) {
  (void) result;
  const float *src = penny_f32(&args[0]);
  float *dst = penny_f32(&args[1]);
  int64_t width = (int64_t) args[2].num, height = (int64_t) args[3].num;
  int64_t radius = (int64_t) args[4].num, passes = (int64_t) args[5].num;
  if (width * height == 0)
    return;
  float *tmp = malloc((size_t) (width * height) * sizeof(float));
  if (tmp == NULL) {
    penny_fail_message(w, "blur: out of memory for the intermediate image");
    return;
  }
  /* About 16K pixel-box products a chunk: a chunk is worth a steal. */
  int64_t grain = 16384 / (width * (2 * radius + 1)) + 1;
  const float *in = src;
  for (int64_t i = 0; i < passes && !penny_cancelled(w); i++) {
    pass_t rows = { in, tmp, width, height, radius };
    penny_for(w, height, grain, blur_rows, &rows);
    pass_t cols = { tmp, dst, width, height, radius };
    penny_for(w, height, grain, blur_columns, &cols);
    in = dst;
  }
  free(tmp);
}

/* Runs before the task is queued, on the thread that called pool.run. */
static int blur_check(const penny_arg_t *args, const char **msg) {
  double width = args[2].num, height = args[3].num;
  if (args[0].data == args[1].data) {
    *msg = "dst must be another array than src";
    return PENNY_EINVAL;
  }
  if (width < 0 || height < 0 || args[4].num < 0 || args[5].num < 0) {
    *msg = "width, height, radius and passes must not be negative";
    return PENNY_ERANGE;
  }
  if ((double) args[0].length != width * height ||
      args[1].length != args[0].length) {
    *msg = "src and dst must hold width * height pixels";
    return PENNY_ERANGE;
  }
  return 0;
}

/* ---- normalize ---- */

typedef struct {
  const float *x;
  size_t lo, hi;
  double sum;
} sum_t;

/* Pairwise: halves are summed in parallel while they are large. */
static void sum_task(penny_worker_t *w, void *arg) {
  sum_t *s = arg;
  if (s->hi - s->lo <= 4096) {
    double acc = 0;
    for (size_t i = s->lo; i < s->hi; i++)
      acc += s->x[i];
    s->sum = acc;
    return;
  }
  size_t mid = s->lo + (s->hi - s->lo) / 2;
  sum_t left = { s->x, s->lo, mid, 0 }, right = { s->x, mid, s->hi, 0 };
  penny_task_t child;
  penny_spawn(w, &child, sum_task, &right);
  sum_task(w, &left);
  penny_sync(w, &child);
  s->sum = left.sum + right.sum;
}

typedef struct {
  float *x;
  double sum;
} scale_t;

static void divide(penny_worker_t *w, int64_t lo, int64_t hi, void *arg) {
  (void) w;
  const scale_t *s = arg;
  for (int64_t i = lo; i < hi; i++)
    s->x[i] = (float) (s->x[i] / s->sum);
}

static void normalize(penny_worker_t *w, const penny_arg_t *args,
                      penny_result_t *result) {
  float *x = penny_f32(&args[0]);
  sum_t s = { x, 0, args[0].length, 0 };
  sum_task(w, &s);
  if (s.sum == 0 || !isfinite(s.sum)) {
    penny_fail_message(w, s.sum == 0 ? "normalize: the values sum to 0"
                                     : "normalize: the sum is not finite");
    return;
  }
  scale_t sc = { x, s.sum };
  penny_for(w, (int64_t) args[0].length, 0, divide, &sc);
  result->num = s.sum;
}

/* ---- The plugin's table. ---- */

static const penny_kernel_t kernels[] = {
  { "blur(in f32[] src, out f32[] dst, i32 width, i32 height, i32 radius, "
    "i32 passes) -> void", blur, blur_check },
  { "normalize(inout f32[] x) -> f64", normalize, NULL },
};

PENNY_PLUGIN_DEFINE(kernels)
