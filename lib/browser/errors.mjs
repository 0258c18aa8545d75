// penny/browser's errors: the built-in classes with the same `code`s as
// in Node (lib/errors.js), so that code written for one runs on the other.

function withCode(ErrorClass, code, message) {
  const err = new ErrorClass(message);
  err.code = code;
  return err;
}

export const argError = (message) =>
  withCode(TypeError, 'ERR_PENNY_ARG', message);
export const rangeError = (message) =>
  withCode(RangeError, 'ERR_PENNY_RANGE', message);
export const closedError = () =>
  withCode(Error, 'ERR_PENNY_CLOSED', 'the pool is closed');

// The error for a failing status of the C core (include/penny.h).
export function statusError(status, message) {
  switch (status) {
    case -1: return argError(message);      // PENNY_EINVAL
    case -2: case -3: return rangeError(message); // ENOMEM, ERANGE
    case -4: return closedError();          // ECLOSED
    default: return withCode(Error, 'ERR_PENNY_KERNEL', message);
  }
}

// The task module failed to load on a pool's thread.
export function taskNamesError(url, cause) {
  const err = withCode(Error, 'ERR_PENNY_TASK', `the task module ${url} ` +
    `failed to load: ${cause.name}: ${cause.message}`);
  err.stack = `${err.stack}\nCaused by: ${cause.stack}`;
  return err;
}

// Names a value for a message without running user code.
export function describe(value) {
  if (value === null) return 'null';
  const t = typeof value;
  if (t === 'object') {
    if (ArrayBuffer.isView(value)) {
      return `a ${Object.prototype.toString.call(value).slice(8, -1)}`;
    }
    return Array.isArray(value) ? 'an array' : 'an object';
  }
  if (t === 'function') return 'a function';
  if (t === 'string') return 'a string';
  if (t === 'number') return `the number ${value}`;
  return t === 'undefined' ? 'undefined' : `a ${t}`;
}
