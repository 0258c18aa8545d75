'use strict';

// Penny: a Cilk-style work-stealing runtime for Node.js. See README.md.

const { Pool } = require('./lib/pool');

let defaultPool = null;

// The lazily created pool behind penny.run(). Like every pool it keeps the
// process alive only while one of its tasks is pending.
function getDefaultPool() {
  if (defaultPool === null || defaultPool.closed) defaultPool = new Pool();
  return defaultPool;
}

function run(kernel, args, options) {
  return getDefaultPool().run(kernel, args, options);
}

module.exports = { Pool, run, defaultPool: getDefaultPool };
