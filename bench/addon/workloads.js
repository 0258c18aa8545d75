'use strict';

// The task workloads that bench/addon.js and bench/compare.js share:
//   burst     20,000 tasks submitted at once, awaited with Promise.all:
//             the per-task cost of submitting, completing and settling;
//   oneByOne  2,000 tasks awaited one by one: the round-trip latency of
//             a single task through an idle pool.
// `run` submits one task and returns its promise.

const BURST = 20000;
const ONE_BY_ONE = 2000;

const now = () => process.hrtime.bigint();
const us = (t0, t1) => Number(t1 - t0) / 1e3;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function burst(run) {
  const t0 = now();
  const ps = new Array(BURST);
  for (let i = 0; i < BURST; i++) ps[i] = run();
  await Promise.all(ps);
  return BURST / (us(t0, now()) / 1e6); // tasks per second
}

async function oneByOne(run) {
  const rt = new Array(ONE_BY_ONE);
  for (let i = 0; i < ONE_BY_ONE; i++) {
    const t0 = now();
    await run();
    rt[i] = us(t0, now());
  }
  return median(rt); // microseconds
}

module.exports = { BURST, ONE_BY_ONE, now, us, median, burst, oneByOne };
