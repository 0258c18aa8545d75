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
// And for JS tasks (a pool with a task module, 2 threads, against piscina
// with 2 threads running the same functions; piscina is measured with its
// default atomics mode and with atomics disabled, and the better of the
// two is the baseline):
//   (d) 20,000 tiny JS tasks, (a, b) => a + b, submitted at once;
//   (e) the same task awaited one at a time: median round trip;
//   (f) a JS task summing a 10^7-element Float64Array over a
//       SharedArrayBuffer: Penny's overhead over the loop as timed inside
//       the task (no copy), against piscina's for the same task on the
//       same buffer; and, for scale, the overhead of a C kernel that spins
//       about as long, which is what waking an idle JS thread costs here;
//   (g) a fresh process: time from creating the pool to its first
//       result, and RSS growth once idle (bench/addon/first-result.js).
// Prints medians and ratios, writes JSON (default build/bench/addon.json).
//
//   node bench/addon.js [--reps N] [--quick] [--json FILE]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
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
const TASK_THREADS = 2;
const TASKS = path.join(__dirname, 'addon', 'tasks.js');

// (g): one fresh process per sample.
function firstResult(which) {
  const out = execFileSync(process.execPath,
    [path.join(__dirname, 'addon', 'first-result.js'), which],
    { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

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

  const taskPool = new penny.Pool({ threads: TASK_THREADS, tasks: TASKS });
  const piscinas = [
    new Piscina({ filename: path.join(__dirname, 'addon', 'piscina-add.js'),
      minThreads: TASK_THREADS, maxThreads: TASK_THREADS }),
    new Piscina({ filename: path.join(__dirname, 'addon', 'piscina-add.js'),
      minThreads: TASK_THREADS, maxThreads: TASK_THREADS,
      atomics: 'disabled' }),
  ];
  let k = 0;
  const pennyAdd = () => taskPool.run('add', [k++, 1]);
  const piscinaAdds = piscinas.map((p) => () => p.run({ a: k++, b: 1 }));
  const piscinaSum = new Piscina({
    filename: path.join(__dirname, 'addon', 'piscina-sum.js'),
    minThreads: TASK_THREADS, maxThreads: TASK_THREADS });
  const shared = new Float64Array(new SharedArrayBuffer(SUM_N * 8));
  for (let i = 0; i < SUM_N; i++) shared[i] = (i % 1000) * 0.5;

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
  await burst(pennyAdd);
  for (const run of piscinaAdds) await burst(run);
  for (let i = 0; i < 200; i++) await pennyAdd();
  for (const run of piscinaAdds) for (let i = 0; i < 200; i++) await run();
  for (let i = 0; i < 3; i++) {
    await taskPool.run('sumTimed', [shared]);
    await piscinaSum.run({ x: shared });
  }

  const r = {
    burst: { penny: [], piscina: [] },
    oneByOne: { penny: [], piscina: [] },
    sum: { penny: [], js: [] },
    taskBurst: { penny: [], piscina: [], piscinaNoAtomics: [] },
    taskOneByOne: { penny: [], piscina: [], piscinaNoAtomics: [] },
    taskSumOverhead: { penny: [], piscina: [] },
    kernelWaitOverhead: { penny: [] },
    firstResult: { penny: [], piscina: [] },
    idleRss: { penny: [], piscina: [] },
  };
  const gReps = Math.max(3, Math.ceil(reps / 3));
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

    r.taskBurst.penny.push(await burst(pennyAdd));
    r.taskBurst.piscina.push(await burst(piscinaAdds[0]));
    r.taskBurst.piscinaNoAtomics.push(await burst(piscinaAdds[1]));
    r.taskOneByOne.penny.push(await oneByOne(pennyAdd));
    r.taskOneByOne.piscina.push(await oneByOne(piscinaAdds[0]));
    r.taskOneByOne.piscinaNoAtomics.push(await oneByOne(piscinaAdds[1]));
    t0 = now();
    const [s, loopUs] = await taskPool.run('sumTimed', [shared]);
    r.taskSumOverhead.penny.push(us(t0, now()) - loopUs);
    if (s !== expected) throw new Error(`task sum mismatch: ${s}`);
    t0 = now();
    const [ps, pLoopUs] = await piscinaSum.run({ x: shared });
    r.taskSumOverhead.piscina.push(us(t0, now()) - pLoopUs);
    if (ps !== expected) throw new Error(`piscina sum mismatch: ${ps}`);
    const spinUs = Math.round(loopUs);
    t0 = now();
    await pool.run('spin', [spinUs]);
    r.kernelWaitOverhead.penny.push(us(t0, now()) - spinUs);
  }
  await pool.close();
  await piscina.destroy();
  await taskPool.close();
  for (const p of piscinas) await p.destroy();
  await piscinaSum.destroy();
  // (g) last, apart from the rest: a spawn forks this process, which
  // write-protects its pages, and each page written afterwards faults
  // once. Interleaved, that made the next rep's bursts (a) and (d) about
  // 5x slower here (some 5,000 more page faults per burst of 20,000).
  for (let rep = 0; rep < gReps; rep++) {
    for (const which of rep % 2 ? ['piscina', 'penny']
      : ['penny', 'piscina']) {
      const g = firstResult(which);
      r.firstResult[which].push(g.firstMs);
      r.idleRss[which].push(g.rssMB);
    }
  }

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
  const bestBurst = Math.max(m(r.taskBurst.piscina),
    m(r.taskBurst.piscinaNoAtomics));
  const bestTrip = Math.min(m(r.taskOneByOne.piscina),
    m(r.taskOneByOne.piscinaNoAtomics));
  rows.push(
    ['(d) 20,000 JS tasks (a, b) => a + b at once', 'tasks/s',
      m(r.taskBurst.penny), bestBurst, m(r.taskBurst.penny) / bestBurst,
      '>= 1,000,000 tasks/s and >= 40x'],
    ['(e) one JS task round trip', 'us',
      m(r.taskOneByOne.penny), bestTrip, bestTrip / m(r.taskOneByOne.penny),
      '<= 10 us and >= 8x'],
    ['(f) JS task summing 1e7 shared doubles: overhead', 'us',
      m(r.taskSumOverhead.penny), m(r.taskSumOverhead.piscina),
      m(r.taskSumOverhead.piscina) / m(r.taskSumOverhead.penny), '<= 50 us'],
    ['(f) for scale: a C kernel spinning as long, overhead', 'us',
      m(r.kernelWaitOverhead.penny), NaN, NaN, '-'],
    ['(g) fresh task pool to first result', 'ms',
      m(r.firstResult.penny), m(r.firstResult.piscina),
      m(r.firstResult.piscina) / m(r.firstResult.penny), 'no worse (>= 1x)'],
    ['(g) idle RSS growth of a task pool', 'MiB',
      m(r.idleRss.penny), m(r.idleRss.piscina),
      m(r.idleRss.piscina) / m(r.idleRss.penny), 'no worse (>= 1x)'],
  );
  const fmt = (v) => (Number.isNaN(v) ? '-'
    : v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
  console.log(`penny ${require('../package.json').version}, ` +
    `${threads} threads, node ${process.version}, ${reps} reps (medians)`);
  console.log('');
  console.log('| workload | unit | penny | baseline | penny advantage | ' +
    'target |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, unit, p, b, ratio, target] of rows) {
    console.log(`| ${name} | ${unit} | ${fmt(p)} | ${fmt(b)} ` +
      `| ${Number.isNaN(ratio) ? '-' : `${ratio.toFixed(2)}x`} | ${
        target} |`);
  }
  console.log('');
  console.log('baseline: piscina for (a) and (b), a single-thread JS loop ' +
    'for (c), the better of piscina\'s default and atomics: \'disabled\' ' +
    'for (d) and (e), piscina for (f) and (g)');

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
