'use strict';

// pending (not in the suite until Penny is fixed): task modules whose
// shape Penny mishandles.
//
//   node test/adversarial/pending/task-module-shapes.js
//
// Today:
// - `module.exports = null`: the main thread dies of an uncaught
//   TypeError ("Cannot read properties of undefined (reading 'isError')",
//   codec.fromRecord from TaskThreads#onMessage): lib/task-worker.js posts
//   { names: null, error: undefined } when the module loaded but its
//   exports are null, and the pool reads that as a load failure with no
//   record. A program that merely makes such a pool crashes.
// - A module that no thread ever finishes loading (process.exit while
//   loading, a top-level await that never settles, an export getter that
//   throws when the names are read): a kernel run by index never settles,
//   and close() then never resolves (README: "kernels still run by
//   index").
// - A CommonJS module that exports a function named `then` never loads:
//   task-worker.js's `async load()` returns the exports object, which the
//   async function's promise takes for a thenable, calling exports.then
//   with resolve and reject; every run by name rejects with "failed to
//   load: its thread exited with code 0 while loading it". (An ES module
//   with a `then` export has the same fate inside import() itself.)
// Once fixed, add these to scenarios/task-modules.js (null-export.js,
// byIndex: true for exits-at-load.js / never-loads.mjs /
// getter-throws.js, loads: true for then-export.js).

const path = require('node:path');
const {
  main, penny, within, show, runNode, exitProblems, ROOT,
} = require('../lib');

const DIR = path.join(__dirname, '..', 'fixtures', 'modules');
const PENDING = __dirname;

main(async (s) => {
  s.phase = 'module.exports = null';
  const script = `
    const { Pool } = require(${JSON.stringify(ROOT)});
    const pool = new Pool({ threads: 1,
      tasks: ${JSON.stringify(path.join(PENDING, 'null-export.js'))} });
    pool.run('add', [1, 2]).then(
      (v) => console.log('resolved', v),
      (e) => console.log('rejected', e.code))
      .then(() => pool.close());`;
  const r = await runNode(['-e', script], { timeoutMs: 10000 });
  const problems = exitProblems(r, 0);
  s.check(problems.length === 0 && /rejected|resolved/.test(r.stdout),
    () => `a pool over a module whose exports are null: ${
      problems.join('; ') || 'no outcome'}: ${r.stderr.split('\n')
      .find((l) => /Error/.test(l)) || r.stdout.trim()}`);

  const { Pool } = penny();
  for (const file of ['exits-at-load.js', 'never-loads.mjs',
    'getter-throws.js']) {
    s.phase = `a kernel by index, module ${file}`;
    const pool = new Pool({ threads: 1, tasks: path.join(DIR, file) });
    const k = await within(pool.run(pool.kernels.fib.index, [10]), 4000);
    s.check(k.status !== 'timeout', () => `${file}: fib(10) by index ` +
      'never settled (no thread ever loads the module)');
    const c = await within(pool.close(), 3000);
    s.check(c.status === 'resolved', () => `${file}: close() never ` +
      'resolved');
    await pool.terminate();
  }

  s.phase = 'a CommonJS module that exports then';
  const pool = new Pool({ threads: 1,
    tasks: path.join(DIR, 'then-export.js') });
  const a = await within(pool.run('add', [1, 2]), 5000);
  s.check(a.status === 'resolved' && a.value === 3, () => 'then-export.js: ' +
    `add(1, 2) ${a.status} with ${show(a.value)}, expected 3`);
  await pool.terminate();
});
