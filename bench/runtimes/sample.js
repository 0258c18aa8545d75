'use strict';

// One sample of bench/runtimes.js, run by Node, Bun or Deno: a kernel
// pool and a JS-task pool of 2 threads, each measured with the burst and
// one-by-one workloads of bench/addon/workloads.js after a warm-up. Prints
// one JSON line: tasks per second and median round trips in µs.

const path = require('node:path');
const penny = require('../..');
const { burst, oneByOne } = require('../addon/workloads');

const TASKS = path.join(__dirname, '..', 'addon', 'tasks.js');

(async () => {
  const kernels = new penny.Pool({ threads: 2 });
  const tasks = new penny.Pool({ threads: 2, tasks: TASKS });
  const noop = () => kernels.run('noop', []);
  const add = () => tasks.run('add', [1, 2]);
  await burst(noop); // warm-up: threads started, code compiled
  await burst(add);
  const out = {
    kernelBurst: await burst(noop),
    kernelRoundTrip: await oneByOne(noop),
    taskBurst: await burst(add),
    taskRoundTrip: await oneByOne(add),
  };
  await kernels.close();
  await tasks.close();
  console.log(JSON.stringify(out));
})();
