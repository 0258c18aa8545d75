'use strict';

// The JS tasks of bench/addon.js, for Penny's task pool and for piscina
// alike: the same functions, the same work.

// (d), (e): the tiniest task.
function add(a, b) {
  return a + b;
}

// (f): sums a Float64Array over a SharedArrayBuffer and reports how long
// the loop itself took, so the caller can tell its own overhead apart.
function sumTimed(x) {
  const t0 = process.hrtime.bigint();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const loopUs = Number(process.hrtime.bigint() - t0) / 1e3;
  return [s, loopUs];
}

// bench/addon/f-paths.js: the same sum, reporting when its loop began and
// ended (microseconds on process.hrtime's clock, which every thread
// shares); and a tiny task with the same kinds of values.
function sumSpan(x) {
  const t0 = Number(process.hrtime.bigint()) / 1e3;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return [s, t0, Number(process.hrtime.bigint()) / 1e3];
}

function spanOf(x) {
  return [x.length, 0, 1];
}

module.exports = { add, sumTimed, sumSpan, spanOf };
