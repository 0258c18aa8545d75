'use strict';

const { viewName } = require('./views');
const { isProxy } = require('node:util').types;

// Penny's errors are the built-in classes with a stable `code`, so that
// `err instanceof TypeError` and `err.code === 'ERR_PENNY_ARG'` both work.
// The binding throws the same shapes (napi_throw_type_error with a code).

function withCode(ErrorClass, code, message, options) {
  const err = new ErrorClass(message, options);
  err.code = code;
  return err;
}

const argError = (message, options) =>
  withCode(TypeError, 'ERR_PENNY_ARG', message, options);
const rangeError = (message) =>
  withCode(RangeError, 'ERR_PENNY_RANGE', message);
const closedError = () =>
  withCode(Error, 'ERR_PENNY_CLOSED', 'the pool is closed');
const kernelError = (message) =>
  withCode(Error, 'ERR_PENNY_KERNEL', message);
const taskError = (message) => withCode(Error, 'ERR_PENNY_TASK', message);
const terminatedError = () =>
  withCode(Error, 'ERR_PENNY_CLOSED', 'the pool was terminated');

// What a cancelled task rejects with when no signal supplied a reason
// (the pool was torn down under it).
function abortError() {
  return new DOMException('The operation was aborted', 'AbortError');
}

// Names a value for a message without running user code: no getter, no
// Proxy trap (a view's own `constructor` could be either).
function describe(value) {
  if (value === null) return 'null';
  const t = typeof value;
  if (t === 'object') {
    const name = viewName(value);
    if (name !== undefined) return `a ${name}`;
    return isArray(value) ? 'an array' : 'an object';
  }
  if (t === 'string') return 'a string';
  if (t === 'number') return `the number ${value}`;
  return t === 'undefined' ? 'undefined' : `a ${t}`;
}

// What a thrown value says, for a message of Penny's, without running
// user code: an error's own `message` (a data property that is a string),
// a DOMException's (the engine's getter), a primitive as a string, else
// what it is. A value thrown by a getter or a Proxy may be anything.
function thrownMessage(thrown) {
  if (thrown === null || (typeof thrown !== 'object' &&
      typeof thrown !== 'function')) {
    return typeof thrown === 'symbol' ? 'a symbol' : String(thrown);
  }
  if (isProxy(thrown)) return 'a Proxy';
  const own = Object.getOwnPropertyDescriptor(thrown, 'message');
  if (typeof own?.value === 'string') return own.value;
  if (own === undefined) {
    const message = domMessage(thrown);
    if (message !== undefined) return message;
  }
  return describe(thrown);
}

// A DOMException's message through the engine's own getter, or undefined
// for anything else. (Where DOMException has no such getter, its message
// is an own data property.) The getter is looked up at first use.
let domMessageGet;
function domMessage(v) {
  domMessageGet ??= Object.getOwnPropertyDescriptor(DOMException.prototype,
    'message')?.get ?? null;
  if (domMessageGet === null) return undefined;
  try {
    return domMessageGet.call(v);
  } catch {
    return undefined; // not a DOMException
  }
}

// Throws unless `value` is an integer from min to max: a TypeError when it
// is not a number, a RangeError otherwise. `name` names it in the message.
function checkInteger(name, value, min, max) {
  if (typeof value !== 'number') {
    throw argError(`${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer from ${min} to ${max}, ` +
      `got ${value}`);
  }
}

// Array.isArray, except that it calls no Proxy trap (and so never throws
// for a revoked one): a Proxy is not an array here.
const isArray = (value) => !isProxy(value) && Array.isArray(value);

module.exports = {
  isArray, checkInteger,
  argError, rangeError, closedError, kernelError, abortError, describe,
  taskError, terminatedError, thrownMessage,
};
