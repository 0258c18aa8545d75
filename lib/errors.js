'use strict';

// Penny's errors are the built-in classes with a stable `code`, so that
// `err instanceof TypeError` and `err.code === 'ERR_PENNY_ARG'` both work.
// The binding throws the same shapes (napi_throw_type_error with a code).

function withCode(ErrorClass, code, message) {
  const err = new ErrorClass(message);
  err.code = code;
  return err;
}

const argError = (message) => withCode(TypeError, 'ERR_PENNY_ARG', message);
const rangeError = (message) =>
  withCode(RangeError, 'ERR_PENNY_RANGE', message);
const closedError = () =>
  withCode(Error, 'ERR_PENNY_CLOSED', 'the pool is closed');
const kernelError = (message) =>
  withCode(Error, 'ERR_PENNY_KERNEL', message);

// What a cancelled task rejects with when no signal supplied a reason
// (the pool was torn down under it).
function abortError() {
  return new DOMException('The operation was aborted', 'AbortError');
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  const t = typeof value;
  if (t === 'object') return 'an object';
  if (t === 'string') return 'a string';
  if (t === 'number') return `the number ${value}`;
  return t === 'undefined' ? 'undefined' : `a ${t}`;
}

module.exports = {
  argError, rangeError, closedError, kernelError, abortError, describe,
};
