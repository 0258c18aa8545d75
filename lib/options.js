'use strict';

// The options of `new Pool(options)`, read once and checked. User code may
// run while they are read (getters, a Proxy): it runs before the pool
// exists.

const os = require('node:os');
const { MAX_LENGTH } = require('node:buffer').constants;
const { limits } = require('./binding').contract;
const { argError, checkInteger, describe } = require('./errors');

const DEFAULT_ARENA_BYTES = 64 * 1024 * 1024;
const OPTIONS = new Set(['threads', 'arenaBytes', 'tasks']);

// Returns { threads, arenaBytes, tasks } with the defaults filled in (tasks
// as given: lib/task-pool.js reads it); throws
// ERR_PENNY_ARG or ERR_PENNY_RANGE naming a bad or unknown option.
function readOptions(options) {
  if (options === null || typeof options !== 'object') {
    throw argError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.has(key)) {
      throw argError(`unknown option '${key}' (known: ${
        [...OPTIONS].join(', ')})`);
    }
  }
  const threads = options.threads ??
    Math.min(os.availableParallelism(), limits.maxThreads);
  checkInteger('threads', threads, 1, limits.maxThreads);
  const arenaBytes = options.arenaBytes ?? DEFAULT_ARENA_BYTES;
  checkInteger('arenaBytes', arenaBytes, 0, MAX_LENGTH);
  return { threads, arenaBytes, tasks: options.tasks };
}

module.exports = { readOptions };
