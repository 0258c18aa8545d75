'use strict';

// The mocha suite under Bun and Deno (`npm run test:bun`, `test:deno`):
// a root hook that skips, by full title, each test that cannot apply to
// that runtime, and says why. Node skips nothing. Every entry must still
// name a test: with PENNY_SKIPS_STRICT=1 (a run of the whole suite) an
// entry that matched none fails the run, so the list cannot go stale.

const path = require('node:path');
const { programs } = require('../js/fixtures/docs');

// The README's first ES-module example, as the docs test names it (by its
// line, which moves as the README is edited).
const README_ESM = programs(path.join(__dirname, '..', '..', 'README.md'))
  .find((p) => p.esm).name;

const RUNTIME = process.versions.bun !== undefined ? 'bun'
  : process.versions.deno !== undefined ? 'deno' : null;

const BUN_LISTENER = 'Bun\'s addEventListener does not read the ' +
  'signal\'s own properties (Node\'s reads `constructor`), so the user ' +
  'code this test plants never runs there';

const NODE_ONLY = 'it runs a Node child process (mocha on Node with ' +
  'PENNY_COMPLETIONS=tsfn): the path it checks is the one this runtime ' +
  'takes anyway';
const STACK = (name) => `${name} ignores resourceLimits.stackSizeMb: a ` +
  'Worker\'s JavaScript stack overflows (RangeError) a few thousand ' +
  'nested syncs deep';
const OWN_THREADS = (name) => `${name} keeps threads of its own after ` +
  'Workers exit, so the process\'s thread count cannot show that the ' +
  'pool\'s threads stopped';
const DENO_TERMINATE = 'Deno\'s Worker.terminate() does not stop a ' +
  'Worker that is running JavaScript (its thread runs on): terminate() ' +
  'rejects the tasks at once, but resolves only once the running ones ' +
  'return, which an endless task never does';
const DENO_CLI = 'it spawns process.execPath with Node\'s command line ' +
  '(`-e`), which Deno\'s does not take';

const SKIPS = {
  bun: {
    'completions through a thread-safe function passes the delivery, abort, close, exit and Worker suites':
      NODE_ONLY,
    'JS tasks lifetime terminating a Worker that owns a busy task pool leaves the process well':
      'Bun runs a terminated Worker\'s cleanup hooks before it stops the ' +
      'Workers that Worker started, so a JS task that never returns ' +
      'keeps the pool\'s teardown waiting for its thread (Node stops ' +
      'those Workers first, which ends the task)',
    'JS tasks lifetime a task pool dropped without close() stops its threads':
      OWN_THREADS('Bun'),
    'JS tasks threads that die terminate() during close() resolves, and lets close() resolve, only once the threads are gone':
      OWN_THREADS('Bun'),
    'fork-join in JS tasks a chain of 10,000 nested syncs on stolen children completes, with the stack bounded':
      STACK('Bun'),
    'JS tasks modules loads an ES module that exports a function named then':
      'Bun\'s import() takes a namespace with a `then` export for a ' +
      'thenable and never settles, and its data: modules, through which ' +
      'Penny imports ES modules elsewhere, cannot import files',
    'trust: user code that re-enters the pool a signal whose own constructor lies to EventTarget: refused before anything runs, and its later aborts still cancel':
      BUN_LISTENER,
    'trust: user code that re-enters the pool a signal aborted by user code while its listener is added: the call rejects with the reason and never runs':
      BUN_LISTENER,
  },
  deno: {
    'completions through a thread-safe function passes the delivery, abort, close, exit and Worker suites':
      NODE_ONLY,
    'fork-join in JS tasks a chain of 10,000 nested syncs on stolen children completes, with the stack bounded':
      STACK('Deno'),
    'JS tasks lifetime a task pool dropped without close() stops its threads':
      OWN_THREADS('Deno'),
    'JS tasks threads that die terminate() during close() resolves, and lets close() resolve, only once the threads are gone':
      OWN_THREADS('Deno'),
    'fork-join in JS tasks close() during deep recursion lets it finish; terminate() stops it':
      DENO_TERMINATE,
    'JS tasks abort, close and terminate terminate() stops an endless task and rejects the rest':
      DENO_TERMINATE,
    'module exports refuses an addon built from other sources, saying how to rebuild':
      DENO_CLI,
    'module exports loads the addon file node-gyp-build would pick, and not the module':
      DENO_CLI,
    'pool.alloc / pool.free alloc\'s own buffer gets huge pages, as the arena does (Linux)':
      DENO_CLI,
    [`the docs run ${README_ESM} (ES module) runs as written`]:
      'Deno resolves the bare specifier \'penny\' only for a package ' +
      'that depends on it (`deno add npm:penny`), not from inside its ' +
      'own checkout',
    'trust: teardown terminate() at any moment of new Pool() never aborts':
      'Deno\'s Worker.terminate() leaves a Worker that is running ' +
      'JavaScript running, so forty rounds of terminating Workers as they ' +
      'build pools pile up threads until pthread_create fails (and Deno ' +
      'itself may then abort); it passed 2 of 3 runs here',
    'trust: user code that re-enters the pool a signal whose own constructor lies to EventTarget: refused before anything runs, and its later aborts still cancel':
      'Deno\'s addEventListener does not read the signal\'s own ' +
      'properties either (see Bun)',
    'trust: user code that re-enters the pool a signal aborted by user code while its listener is added: the call rejects with the reason and never runs':
      'as above',
  },
};

const table = new Map(Object.entries(SKIPS[RUNTIME] ?? {}));
const matched = new Set();

exports.mochaHooks = {
  beforeEach() {
    const title = this.currentTest.fullTitle();
    const reason = table.get(title);
    if (reason === undefined) return;
    matched.add(title);
    console.log(`      skipped under ${RUNTIME}: ${reason}`);
    this.skip();
  },
  afterAll() {
    if (process.env.PENNY_SKIPS_STRICT !== '1') return;
    const stale = [...table.keys()].filter((t) => !matched.has(t));
    if (stale.length > 0) {
      throw new Error(`skip entries that named no test under ${RUNTIME}:\n  ${
        stale.join('\n  ')}`);
    }
  },
};
