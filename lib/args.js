'use strict';

// How run() reads a call's arguments: once, into a fresh array, before
// the pool changes anything. A getter or a Proxy trap may run user code
// here, which may call run, close or free on the very pool; a pool it
// closed refuses the call afterwards.

const { argError, describe } = require('./errors');

// Array.isArray, which a Proxy as `args` answers for its target, except
// that a revoked one is no array rather than a TypeError.
function isArgsArray(args) {
  try {
    return Array.isArray(args);
  } catch {
    return false;
  }
}

// At most this many arguments to a JS task (or a kernel run by name in a
// task pool, which takes far fewer): the function is called with them
// spread, and a list much longer is a mistake, not a call.
const MAX_TASK_ARGS = 65536;

// A JS task's arguments, read once into a fresh array.
function readTaskArgs(args) {
  if (!isArgsArray(args)) {
    throw argError(`args must be an array, got ${describe(args)}`);
  }
  const n = args.length; // a Proxy's trap may say anything
  if (!Number.isInteger(n) || n < 0 || n > MAX_TASK_ARGS) {
    throw argError(`at most ${MAX_TASK_ARGS} arguments, got ${
      typeof n === 'number' ? n : describe(n)}`);
  }
  const list = new Array(n);
  for (let i = 0; i < n; i++) list[i] = args[i];
  return list;
}

// Reads the arguments of a call once, into a fresh array: a getter or a
// Proxy trap may run user code here, which may call run, close or free
// on this very pool; nothing of the pool has changed yet when it does.
function readArgs(args, k) {
  if (!isArgsArray(args)) {
    throw argError(`args must be an array, got ${describe(args)}`);
  }
  const n = args.length;
  const want = k.params.length;
  if (n !== want) {
    throw argError(`${k.name} expects ${want} argument${
      want === 1 ? '' : 's'}, got ${typeof n === 'number' ? n : describe(n)}`);
  }
  const list = new Array(n);
  for (let i = 0; i < n; i++) list[i] = args[i];
  return list;
}

module.exports = { readArgs, readTaskArgs };
