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
  let pool;
  try {
    pool = getDefaultPool();
  } catch (err) {
    return Promise.reject(err); // like pool.run, never throws
  }
  return pool.run(kernel, args, options);
}

const penny = { Pool, run, defaultPool: getDefaultPool };
// For TypeScript's `import penny from 'penny'` compiled to CommonJS.
penny.default = penny;
module.exports = penny;
