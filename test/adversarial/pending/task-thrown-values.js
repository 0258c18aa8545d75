'use strict';

// pending (not in the suite until Penny is fixed): values a task throws
// that Penny does not carry over as README "Your own JavaScript" says ("a
// thrown non-error is rejected as it is"; an error arrives with its class,
// message and cloneable own properties; a getter that throws makes that
// property missing, not the task lost).
//
//   node test/adversarial/pending/task-thrown-values.js
//
// Today: `throw undefined` rejects with ERR_PENNY_KERNEL "kernel failed:
// unknown error"; a thrown revoked Proxy, or an Error whose name or
// message throws when converted to a string, rejects with ERR_PENNY_TASK
// "the thread running the task stopped before it finished (process.exit,
// terminate, or a fatal error)" -- codec.encodeError throws inside the
// runner, which is not supposed to throw -- and when an async task rejects
// with such a value the throw escapes into task-worker.js's main loop and
// the thread dies ("exited before its promise settled"; a new thread
// replaces it); an Error whose cause is itself rejects with a plain Error
// "Unable to deserialize cloned data." (the main thread cannot read back
// what the task's thread wrote).
// Once fixed, move the checks into scenarios/task-values.js (its cases
// 'undefined thrown', 'revoked Proxy thrown', 'name that throws when
// converted', 'message that throws when converted', 'error whose cause is
// itself' accept any rejection for now).

const path = require('node:path');
const { main, penny, within, show } = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');

main(async (s) => {
  const pool = new (penny().Pool)({ threads: 1, tasks: TASKS });
  const id0 = await pool.run('threadId');

  s.phase = 'throw undefined';
  for (const name of ['throwUndefined']) {
    const r = await within(pool.run(name), 5000);
    s.check(r.status === 'rejected' && r.value === undefined, () =>
      `${name}: ${r.status} with ${show(r.value)}, expected undefined`);
  }

  s.phase = 'thrown values that cannot be read';
  for (const name of ['throwRevokedProxy', 'throwNameObject',
    'throwMessageObject', 'rejectWithRevokedProxy',
    'rejectWithNameObject']) {
    const r = await within(pool.run(name), 5000);
    s.check(r.status === 'rejected', `${name}: ${r.status}`);
    s.check(!/thread running the task (stopped|exited)/.test(
      r.value?.message), () => `${name}: rejected as if its thread ` +
      `stopped: ${show(r.value)}`);
    const id = await pool.run('threadId');
    s.check(id === id0, `${name}: the pool's thread was replaced ` +
      `(thread ${id0} -> ${id})`);
  }

  s.phase = 'cyclic error';
  const r = await within(pool.run('throwCyclicError'), 5000);
  s.check(r.status === 'rejected' && r.value instanceof TypeError &&
    r.value.message === 'cyclic', () => `throwCyclicError: ${r.status} ` +
    `with ${show(r.value)}, expected TypeError: cyclic`);

  await pool.close();
});
