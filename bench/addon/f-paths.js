'use strict';

// (f) leg by leg, and what a cold code path costs it. A 10^7-double sum
// over a SharedArrayBuffer, in Penny's task pool and in piscina (2
// threads each, the same process, alternating which goes first), each rep
// after both pools ran a burst of 20,000 tiny tasks, 2,000 one by one and
// 20 ms of idle, as in bench/addon.js. The task reports when its loop
// began and ended (process.hrtime, one clock for every thread), which
// splits the overhead into the leg before the loop and the leg after it.
// With --warm, 2,000 tasks that take a small shared view and return three
// numbers run one by one just before Penny's sum: the sum's own code paths
// (a view as the argument, an array as the result) are then hot, as the
// number paths of (d) and (e) are for the tiny tasks.
//
//   node bench/addon/f-paths.js [--warm] [--reps N]

const path = require('node:path');
const { Piscina } = require('piscina');
const { Pool } = require('../..');
const { burst, oneByOne, median } = require('./workloads');
const { args, option } = require('../options');

const warm = args.includes('--warm');
const reps = Number(option('--reps', 12));
const N = 1e7;
const TASKS = path.join(__dirname, 'tasks.js');

const nowUs = () => Number(process.hrtime.bigint()) / 1e3;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function main() {
  const pool = new Pool({ threads: 2, tasks: TASKS });
  const piscina = new Piscina({
    filename: path.join(__dirname, 'piscina-paths.js'),
    minThreads: 2, maxThreads: 2,
  });
  const x = new Float64Array(new SharedArrayBuffer(N * 8));
  for (let i = 0; i < N; i++) x[i] = (i % 1000) * 0.5;
  const tiny = new Float64Array(new SharedArrayBuffer(64));
  const run = {
    penny: () => pool.run('sumSpan', [x]),
    piscina: () => piscina.run({ x }, { name: 'sumSpan' }),
  };
  const add = () => pool.run('add', [1, 2]);
  const pAdd = () => piscina.run({ a: 1, b: 2 }, { name: 'add' });
  for (let i = 0; i < 3; i++) {
    await run.penny();
    await run.piscina();
  }
  const legs = {};
  for (const who of ['penny', 'piscina']) {
    legs[who] = { before: [], after: [], overhead: [] };
  }
  for (let rep = 0; rep < reps; rep++) {
    for (const who of rep % 2 ? ['piscina', 'penny'] : ['penny', 'piscina']) {
      await burst(add);
      await burst(pAdd);
      await oneByOne(add);
      await oneByOne(pAdd);
      if (warm && who === 'penny') {
        await oneByOne(() => pool.run('spanOf', [tiny]));
      }
      await sleep(20);
      const t = nowUs();
      const [, t0, t1] = await run[who]();
      const e = nowUs();
      legs[who].before.push(t0 - t);
      legs[who].after.push(e - t1);
      legs[who].overhead.push(e - t - (t1 - t0));
    }
  }
  console.log(`(f) legs, medians of ${reps} reps${warm ? ', --warm' : ''} (us)`);
  for (const who of ['penny', 'piscina']) {
    const l = legs[who];
    console.log(`${who.padEnd(8)} before ${median(l.before).toFixed(0)}  ` +
      `after ${median(l.after).toFixed(0)}  overhead ${
        median(l.overhead).toFixed(0)}`);
  }
  await pool.close();
  await piscina.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
