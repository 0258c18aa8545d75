'use strict';

// pending (not in the suite until Penny is fixed): a kernel run by name on
// a task pool whose module has not loaded yet waits for the module's names
// like a JS task (Pool#runNamed), and then goes through #submit, which
// finds the pool closed: a close() called in between rejects it with
// ERR_PENNY_CLOSED, although it was run before close(), which "lets every
// task finish" -- and a JS task run at the same moment does finish.
//
//   node test/adversarial/pending/task-fresh-kernel-close.js
//
// Once fixed, drop the known-bug allowance for 'bg fib' in
// scenarios/task-reentrancy.js (background()).

const path = require('node:path');
const { main, penny, within, show } = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');

main(async (s) => {
  const pool = new (penny().Pool)({ threads: 1, tasks: TASKS });
  const fib = pool.run('fib', [12]); // a kernel, by name, right away
  const add = pool.run('add', [1, 2]); // a JS task, the same moment
  const closing = pool.close();
  const [rf, ra] = await Promise.all([within(fib, 5000), within(add, 5000)]);
  s.check(rf.status === 'resolved' && rf.value === 144, () => `fib(12) ` +
    `run before close(): ${rf.status} with ${show(rf.value)}, expected 144`);
  s.check(ra.status === 'resolved' && ra.value === 3, () => `add(1, 2) ` +
    `run before close(): ${ra.status} with ${show(ra.value)}, expected 3`);
  const c = await within(closing, 5000);
  s.check(c.status === 'resolved', `close() ${c.status}`);
});
