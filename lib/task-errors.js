'use strict';

// What a task threw, as a plain record that clones (lib/task-codec.js
// carries it as a payload of kind ERROR): an error's name, message, stack
// and own properties, errors among them as records in turn, or any other
// thrown value as it is; and the error rebuilt from its record on the
// other thread.

const { isNativeError, isProxy } = require('node:util').types;

// The standard error classes by name; an error of another class comes
// back as an Error with that name.
const ERROR_CLASSES = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError,
  URIError, AggregateError,
};

// Marks an error record (below) among the values it travels with.
const RECORD = '\u0000penny.error';
const MAX_DEPTH = 8; // errors nested in errors (cause, errors) kept

function isError(v) {
  try {
    return isNativeError(v) || v instanceof Error;
  } catch {
    return false; // a revoked Proxy, or a getPrototypeOf trap that throws
  }
}

// What a task threw, as a plain record that clones: an error's name,
// message, stack and own properties (errors among them, such as `cause`,
// as records in turn), or any other thrown value as it is. It reads the
// error once; a getter that throws makes that property missing, and an
// error that cannot be read at all becomes one that says so.
function errorRecord(thrown, depth = 0, seen = new Set()) {
  if (!isError(thrown)) return { [RECORD]: true, isError: false, thrown };
  try {
    seen.add(thrown);
    const read = (key) => {
      try {
        return thrown[key];
      } catch {
        return undefined;
      }
    };
    const text = (v, fallback) => {
      try {
        return v === undefined ? fallback : String(v);
      } catch {
        return fallback;
      }
    };
    const props = {};
    let keys = [];
    try {
      keys = Reflect.ownKeys(thrown);
    } catch { /* a Proxy: no extra properties */ }
    for (const key of keys) {
      if (typeof key !== 'string' || key === 'stack' || key === 'message') {
        continue;
      }
      let value = read(key);
      if (isError(value)) {
        if (seen.has(value) || depth >= MAX_DEPTH) continue;
        value = errorRecord(value, depth + 1, seen);
      } else if (key === 'errors' && !isProxy(value) && Array.isArray(value)) {
        value = value.map((e) => (isError(e) && !seen.has(e) &&
          depth < MAX_DEPTH ? errorRecord(e, depth + 1, seen) : boxed(e)));
      } else {
        value = boxed(value);
      }
      props[key] = value;
    }
    const stack = read('stack');
    return {
      [RECORD]: true,
      isError: true,
      name: text(read('name'), 'Error'),
      message: text(read('message'), ''),
      stack: typeof stack === 'string' ? stack : undefined,
      props,
    };
  } catch {
    return {
      [RECORD]: true, isError: true, name: 'Error', stack: undefined,
      message: 'the task threw an error that cannot be read', props: {},
    };
  }
}

// A record of ours: never a Proxy, whose traps could throw or lie.
const isRecord = (v) => v !== null && typeof v === 'object' && !isProxy(v) &&
  v[RECORD] === true;

// A value of the user's as a record's property holds it: as it is, or,
// if it could pass for a record (it carries the marker key), boxed in a
// record of its own, which fromRecord opens.
function boxed(v) {
  let looks = false;
  try {
    looks = isRecord(v);
  } catch { /* a getter on the marker that throws: no record of ours */ }
  return looks ? { [RECORD]: true, isError: false, thrown: v } : v;
}

// The error (or value) a record stands for, rebuilt on this thread.
function fromRecord(rec) {
  if (!isRecord(rec)) return rec;
  if (!rec.isError) return rec.thrown;
  const Class = Object.hasOwn(ERROR_CLASSES, rec.name)
    ? ERROR_CLASSES[rec.name] : Error;
  const props = rec.props ?? {};
  const errors = Array.isArray(props.errors)
    ? props.errors.map(fromRecord) : [];
  const err = Class === AggregateError
    ? new AggregateError(errors, rec.message)
    : new Class(rec.message);
  for (const [key, value] of Object.entries(props)) {
    Object.defineProperty(err, key, {
      value: key === 'errors' ? errors : fromRecord(value),
      writable: true, configurable: true,
      enumerable: key !== 'cause' && key !== 'errors' && key !== 'name',
    });
  }
  if (err.name !== rec.name) {
    Object.defineProperty(err, 'name', {
      value: rec.name, writable: true, configurable: true, enumerable: false,
    });
  }
  if (typeof rec.stack === 'string') {
    Object.defineProperty(err, 'stack', {
      value: rec.stack, writable: true, configurable: true, enumerable: false,
    });
  }
  return err;
}

// Leaves out of an error record what cannot be cloned (clones(v) says),
// property by property and at every depth: a `cause` or an entry of
// `errors` keeps what of it clones, as structuredClone keeps an error's
// cause (an entry of `errors` that does not clone becomes undefined, in
// its place).
function prune(rec, clones) {
  const { props } = rec;
  for (const key of Object.keys(props)) {
    const value = props[key];
    if (isRecord(value) && value.isError) {
      prune(value, clones);
    } else if (key === 'errors' && !isProxy(value) && Array.isArray(value)) {
      props.errors = value.map((e) => {
        if (!isRecord(e) || !e.isError) return clones(e) ? e : undefined;
        prune(e, clones);
        return e;
      });
    } else if (!clones(value)) {
      delete props[key];
    }
  }
  if (typeof rec.stack !== 'string') rec.stack = undefined;
}

module.exports = { errorRecord, fromRecord, prune };
