/* mandelbrot(out u32[] iters, i32 width, i32 height, f64 x0, f64 y0,
 *            f64 x1, f64 y1, i32 maxIter)
 *
 * A deliberately unbalanced workload: rows through the set take maxIter
 * steps a pixel, rows outside it a few. Rows are handed out by penny_for
 * one at a time at most, so the lazy splitting balances them, and
 * cancellation is polled before every pixel.
 *
 * Pixel (i, j) is the point cx = x0 + (x1 - x0) * i / width,
 * cy = y0 + (y1 - y0) * j / height, and iters[j * width + i] is the number
 * of steps of
 *   while (n < maxIter && zx * zx + zy * zy <= 4) {
 *     const t = zx * zx - zy * zy + cx; zy = 2 * zx * zy + cy; zx = t; n++;
 *   }
 * from z = 0: the same operations, in the same order, as that JavaScript,
 * so the counts are exactly equal. */
#include "kernels.h"

#include <stdint.h>

typedef struct {
  uint32_t *iters;
  int64_t width;
  double x0, dx; /* x1 - x0 */
  double y0, dy;
  int64_t height;
  uint32_t max_iter;
} mandel_t;

static void mandel_rows(penny_worker_t *w, int64_t lo, int64_t hi,
                        void *arg) {
  const mandel_t *m = arg;
  for (int64_t j = lo; j < hi; j++) {
    double cy = m->y0 + m->dy * (double) j / (double) m->height;
    uint32_t *row = m->iters + j * m->width;
    for (int64_t i = 0; i < m->width; i++) {
      /* A pixel in the set costs maxIter steps: poll per pixel, not per
       * row, or a deep zoom outlives its abort by seconds. */
      if (penny_cancelled(w))
        return;
      double cx = m->x0 + m->dx * (double) i / (double) m->width;
      double zx = 0, zy = 0;
      uint32_t n = 0;
      while (n < m->max_iter && zx * zx + zy * zy <= 4) {
        double t = zx * zx - zy * zy + cx;
        zy = 2 * zx * zy + cy;
        zx = t;
        n++;
      }
      row[i] = n;
    }
  }
}

void penny__mandelbrot_kernel(penny_worker_t *w, const penny_arg_t *args,
                              penny_result_t *result) {
  (void) result;
  mandel_t m = {
    args[0].data, (int64_t) args[1].num,
    args[3].num, args[5].num - args[3].num,
    args[4].num, args[6].num - args[4].num,
    (int64_t) args[2].num, (uint32_t) args[7].num
  };
  penny_for(w, m.height, 1, mandel_rows, &m);
}

int penny__mandelbrot_check(const penny_arg_t *args, const char **msg) {
  double width = args[1].num, height = args[2].num;
  if (width < 0 || height < 0 || args[7].num < 0) {
    *msg = "width, height and maxIter must not be negative";
    return PENNY_ERANGE;
  }
  if ((double) args[0].length != width * height) {
    *msg = "iters must have width * height elements";
    return PENNY_ERANGE;
  }
  for (int k = 3; k <= 6; k++)
    if (!isfinite(args[k].num)) {
      *msg = "x0, y0, x1 and y1 must be finite";
      return PENNY_ERANGE;
    }
  return 0;
}
