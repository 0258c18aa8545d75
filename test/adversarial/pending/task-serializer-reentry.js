'use strict';

// pending (not in the suite until Penny is fixed): user code that runs
// while run() serializes a JS task's arguments -- a getter nested in an
// argument, which only V8's serializer reaches -- and closes the pool,
// terminates it, or aborts the call's own signal. README "Arguments":
// user code that runs during run() runs before the pool changes anything;
// a pool it closed refuses the call (a kernel's run rechecks the pool and
// the signal after all user code; Pool#submitTask does not recheck after
// codec.encode).
//
//   node test/adversarial/pending/task-serializer-reentry.js
//
// Today: after close() in the getter the call is queued anyway and
// resolves; after terminate() it is queued into the terminated pool and
// rejects with an AbortError or ERR_PENNY_TASK ("the thread running the
// task stopped") instead of ERR_PENNY_CLOSED; after its own signal
// aborted it resolves instead of rejecting with the signal's reason.
// Once fixed, drop the "known bug" allowances for hooks with
// `serializer: true` in scenarios/task-reentrancy.js.

const path = require('node:path');
const { main, penny, within, show, isPennyError } = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');

main(async (s) => {
  const { Pool } = penny();
  const fresh = async () => {
    const pool = new Pool({ threads: 1, tasks: TASKS });
    await pool.run('add', [0, 0]); // the module's names are known
    return pool;
  };

  s.phase = 'close() in a nested getter';
  let pool = await fresh();
  let r = await within(pool.run('echo', [{
    get a() { pool.close(); return 1; },
  }]), 5000);
  s.check(r.status === 'rejected' && isPennyError(r.value,
    ['ERR_PENNY_CLOSED']), () => `close() in a nested getter: the call ${
    r.status} with ${show(r.value)}, expected ERR_PENNY_CLOSED`);
  await within(pool.close(), 5000);

  s.phase = 'terminate() in a nested getter';
  pool = await fresh();
  r = await within(pool.run('echo', [{
    get a() { pool.terminate(); return 1; },
  }]), 5000);
  s.check(r.status === 'rejected' && isPennyError(r.value,
    ['ERR_PENNY_CLOSED']), () => `terminate() in a nested getter: the ` +
    `call ${r.status} with ${show(r.value)}, expected ERR_PENNY_CLOSED`);
  await within(pool.terminate(), 5000);

  s.phase = 'abort in a nested getter';
  pool = await fresh();
  const ac = new AbortController();
  const reason = new Error('mine');
  r = await within(pool.run('echo', [{
    get a() { ac.abort(reason); return 1; },
  }], { signal: ac.signal }), 5000);
  s.check(r.status === 'rejected' && r.value === reason, () => 'abort in ' +
    `a nested getter: the call ${r.status} with ${show(r.value)}, ` +
    'expected the signal\'s reason');
  await within(pool.close(), 5000);
});
