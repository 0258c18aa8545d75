'use strict';

// Penny: a Cilk-style work-stealing runtime for Node.js. See README.md.

const path = require('node:path');
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

// The directory of penny.h, for building plugins against this copy of
// Penny (as node-addon-api exposes its own headers): in a Makefile,
// $(shell node -p "require('penny').include").
const include = path.join(__dirname, 'include');

const penny = { Pool, run, defaultPool: getDefaultPool, include };
// For TypeScript's `import penny from 'penny'` compiled to CommonJS.
penny.default = penny;
module.exports = penny;
