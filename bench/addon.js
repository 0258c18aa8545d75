'use strict';

// Penny's Node face against piscina, the usual worker-thread pool, in the
// same process and run, interleaved rep by rep so that both see the same
// machine noise. What each workload stresses:
//   (a) 20,000 no-op tasks submitted at once, awaited with Promise.all:
//       the per-task cost of submitting, completing and settling.
//   (b) 2,000 no-op tasks awaited one by one: the round-trip latency of a
//       single task through an idle pool.
//   (c) the sum of a 10^7-element Float64Array in the arena, against a
//       single-thread JS loop: a parallel kernel on zero-copy data.
// Prints medians and ratios, writes JSON (default build/bench/addon.json).
//
//   node bench/addon.js [--reps N] [--quick] [--json FILE]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Piscina } = require('piscina');
const penny = require('..');
const {
  now, us, median, burst, oneByOne,
} = require('./addon/workloads');

const { args, option: opt } = require('./options');
const quick = args.includes('--quick');
const reps = Number(opt('--reps', quick ? 3 : 15));
const jsonPath = opt('--json', path.join(__dirname, '..', 'build', 'bench',
  'addon.json'));
const SUM_N = 1e7;

function jsSum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

async function main() {
  const threads = os.availableParallelism();
  const pool = new penny.Pool({ threads, arenaBytes: 128 * 1024 * 1024 });
  const piscina = new Piscina({
    filename: path.join(__dirname, 'addon', 'piscina-task.js'),
    minThreads: threads,
    maxThreads: threads,
  });
  const pennyNoop = () => pool.run('noop');
  const piscinaNoop = () => piscina.run(null);

  // Penny reads an arena view; the JS loop reads an ordinary
  // Float64Array with the same contents (V8 reads views over a
  // SharedArrayBuffer about 3x slower, which would flatter Penny).
  const x = pool.alloc(Float64Array, SUM_N);
  const plain = new Float64Array(SUM_N);
  for (let i = 0; i < SUM_N; i++) plain[i] = x[i] = (i % 1000) * 0.5;
  const expected = jsSum(plain);

  // Warm-up: JIT, thread start-up, page faults.
  await burst(pennyNoop);
  await burst(piscinaNoop);
  for (let i = 0; i < 200; i++) await pennyNoop();
  for (let i = 0; i < 200; i++) await piscinaNoop();
  for (let i = 0; i < 3; i++) {
    jsSum(plain);
    await pool.run('sum', [x]);
  }

  const r = {
    burst: { penny: [], piscina: [] },
    oneByOne: { penny: [], piscina: [] },
    sum: { penny: [], js: [] },
  };
  for (let rep = 0; rep < reps; rep++) {
    r.burst.penny.push(await burst(pennyNoop));
    r.burst.piscina.push(await burst(piscinaNoop));
    r.oneByOne.penny.push(await oneByOne(pennyNoop));
    r.oneByOne.piscina.push(await oneByOne(piscinaNoop));
    let t0 = now();
    const got = await pool.run('sum', [x]);
    r.sum.penny.push(us(t0, now()) / 1e3);
    t0 = now();
    const js = jsSum(plain);
    r.sum.js.push(us(t0, now()) / 1e3);
    if (Math.abs(got - expected) > 1e-9 * Math.abs(expected) ||
        js !== expected) {
      throw new Error(`sum mismatch: penny ${got}, js ${js}, ` +
        `expected ${expected}`);
    }
  }
  await pool.close();
  await piscina.destroy();

  const m = (xs) => median(xs);
  const rows = [
    ['(a) 20,000 no-ops at once', 'tasks/s',
      m(r.burst.penny), m(r.burst.piscina),
      m(r.burst.penny) / m(r.burst.piscina), '>= 1,000,000 tasks/s'],
    ['(b) one-by-one round trip', 'us',
      m(r.oneByOne.penny), m(r.oneByOne.piscina),
      m(r.oneByOne.piscina) / m(r.oneByOne.penny), '<= 10 us'],
    ['(c) sum of 1e7 doubles', 'ms',
      m(r.sum.penny), m(r.sum.js), m(r.sum.js) / m(r.sum.penny),
      '>= 3x the JS loop'],
  ];
  const fmt = (v) => (v >= 1000 ? Math.round(v).toLocaleString('en-US')
    : v.toFixed(2));
  console.log(`penny ${require('../package.json').version}, ` +
    `${threads} threads, node ${process.version}, ${reps} reps (medians)`);
  console.log('');
  console.log('| workload | unit | penny | baseline | penny advantage | ' +
    'target |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, unit, p, b, ratio, target] of rows) {
    console.log(`| ${name} | ${unit} | ${fmt(p)} | ${fmt(b)} ` +
      `| ${ratio.toFixed(2)}x | ${target} |`);
  }
  console.log('');
  console.log('baseline: piscina for (a) and (b), a single-thread JS loop ' +
    'for (c)');

  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    threads,
    reps,
    samples: r,
    medians: Object.fromEntries(rows.map(([name, unit, p, b, ratio]) =>
      [name, { unit, penny: p, baseline: b, ratio }])),
  }, null, 2));
  console.log(`JSON: ${path.relative(process.cwd(), jsonPath)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
