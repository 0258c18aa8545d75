'use strict';

// The task module of examples/js-tasks/fork.js (and of bench/fork.js):
// plain JavaScript that splits its own work with penny/task's join and
// parallelFor. Every exported function can be a task or a child; a child
// is named by the function itself (or its export name).

const { join, parallelFor, cancelled } = require('penny/task');

// ---- fib: a join at every level above `cut`. ----

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// With a join at every level (cut 1): what a join costs.
function jfib(n) {
  if (n < 2) return n;
  const [a, b] = join(jfib, [n - 1], jfib, [n - 2]);
  return a + b;
}

// Joins above `cut`, plain recursion below: the usual way to write it.
function jfibCut(n, cut) {
  if (n <= cut) return fib(n);
  const [a, b] = join(jfibCut, [n - 1, cut], jfibCut, [n - 2, cut]);
  return a + b;
}

// ---- Mandelbrot: rows of very different cost. ----

// Fills rows [lo, hi) of `out` (width * height iteration counts) for the
// window [x0, x1] x [y0, y1], at most maxIter iterations a pixel.
function mandelRows(lo, hi, out, width, height, maxIter, x0, x1, y0, y1) {
  const dx = (x1 - x0) / width;
  const dy = (y1 - y0) / height;
  for (let row = lo; row < hi; row++) {
    if (cancelled()) return;
    const ci = y0 + row * dy;
    for (let col = 0; col < width; col++) {
      const cr = x0 + col * dx;
      let zr = 0;
      let zi = 0;
      let k = 0;
      while (k < maxIter && zr * zr + zi * zi <= 4) {
        const t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        k++;
      }
      out[row * width + col] = k;
    }
  }
}

// The whole image, one row at a time where a thread is free.
function mandelbrot(out, width, height, maxIter, x0, x1, y0, y1) {
  parallelFor(mandelRows, 0, height, 1,
    [out, width, height, maxIter, x0, x1, y0, y1]);
}

// ---- Merge sort of a Float64Array over a SharedArrayBuffer. ----

// Below these sizes a range is sorted (or merged) on one thread.
const SORT_CUT = 1 << 14;
const MERGE_CUT = 1 << 15;

// Sorts src[lo, hi); the result ends in dst if `toDst`, else in src. The
// two halves are sorted into the other array, then merged back.
function msort(src, dst, lo, hi, toDst) {
  if (hi - lo <= SORT_CUT) {
    const run = src.subarray(lo, hi).sort();
    if (toDst) dst.set(run, lo);
    return;
  }
  const mid = lo + Math.floor((hi - lo) / 2);
  join(msort, [src, dst, lo, mid, !toDst], msort, [src, dst, mid, hi, !toDst]);
  if (toDst) merge(src, dst, lo, mid, mid, hi, lo);
  else merge(dst, src, lo, mid, mid, hi, lo);
}

// The first index in [lo, hi) of sorted `a` whose value is >= x.
function lowerBound(a, lo, hi, x) {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Merges the sorted runs src[a0, a1) and src[b0, b1) into dst from `out`:
// splits at the middle of the longer run and the matching place in the
// other, so both halves merge in parallel.
function merge(src, dst, a0, a1, b0, b1, out) {
  if (a1 - a0 < b1 - b0) {
    [a0, a1, b0, b1] = [b0, b1, a0, a1];
  }
  const n = (a1 - a0) + (b1 - b0);
  if (n <= MERGE_CUT) {
    let i = a0;
    let j = b0;
    let k = out;
    while (i < a1 && j < b1) dst[k++] = src[j] < src[i] ? src[j++] : src[i++];
    while (i < a1) dst[k++] = src[i++];
    while (j < b1) dst[k++] = src[j++];
    return;
  }
  const m1 = (a0 + a1) >>> 1;
  const m2 = lowerBound(src, b0, b1, src[m1]);
  const at = out + (m1 - a0) + (m2 - b0);
  dst[at] = src[m1];
  join(merge, [src, dst, a0, m1, b0, m2, out],
    merge, [src, dst, m1 + 1, a1, m2, b1, at + 1]);
}

// Sorts x (a Float64Array over a SharedArrayBuffer) in place, using tmp
// (as long, also shared) as scratch. For values without NaN.
function sort(x, tmp) {
  msort(x, tmp, 0, x.length, false);
}

module.exports = {
  fib, jfib, jfibCut, mandelRows, mandelbrot, msort, merge, sort,
};
