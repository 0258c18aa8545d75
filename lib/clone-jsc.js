'use strict';

// JS tasks' values where `node:v8` has no Serializer class (Bun): the
// engine's own structured clone (`bun:jsc` serialize/deserialize) with the
// same rule as lib/task-codec.js, that a view over a SharedArrayBuffer
// travels as (buffer, offset, length) and is rebuilt over the same memory.
//
// The value is first walked into a mirror in which each such view is a
// placeholder object; the clone carries [mirror, marks], marks listing
// each placeholder with its view's class, buffer index, offset and length.
// A clone keeps object identity, so on the other side the placeholders in
// the marks are the very objects to swap for the rebuilt views: nothing a
// user writes can pass for one. The walk reads each property once, as the
// clone would (getters and Proxy traps run once); containers it does not
// look into (Date, RegExp, errors, boxed primitives, buffers) go to the
// clone as they are, and what the clone refuses (functions, WeakMaps,
// promises) is left for it to refuse.

const types = require('node:util').types;

// The structured clone: { serialize, deserialize }, bun:jsc's by default
// (loaded on first use: only Bun has it, and only Bun takes this path).
// The tests give node:v8's, which keeps identity the same way.
let engine = null;
const clone = () => (engine ??= require('bun:jsc'));
function useEngine(e) {
  engine = e;
}

// Objects whose contents the walk leaves to the clone.
function opaque(v) {
  return types.isDate(v) || types.isRegExp(v) || types.isBoxedPrimitive(v) ||
    types.isNativeError(v) || types.isArrayBuffer(v) || types.isWeakMap(v) ||
    types.isWeakSet(v) || types.isPromise(v);
}

// o[k] = x, for an own data property even when k is '__proto__'.
function put(o, k, x) {
  if (k === '__proto__') {
    Object.defineProperty(o, k, {
      value: x, writable: true, enumerable: true, configurable: true,
    });
  } else {
    o[k] = x;
  }
}

// The clone's bytes for `value`. viewParts(view) gives [code, buffer,
// offset, bytes]; index(sab) names a SharedArrayBuffer; bareShared() is
// called for a bare one, which the clone leaves out (its caller then
// gives up on these bytes, once the rest has been read and checked).
function encodeBody(value, viewParts, index, bareShared) {
  const marks = [];
  const seen = new Map();
  const walk = (v) => {
    if (typeof v !== 'object' || v === null) return v;
    const done = seen.get(v);
    if (done !== undefined) return done;
    if (ArrayBuffer.isView(v)) {
      const [code, buffer, offset, bytes] = viewParts(v);
      if (!types.isSharedArrayBuffer(buffer)) return v;
      const mark = {};
      seen.set(v, mark);
      marks.push([mark, code, index(buffer), offset, bytes]);
      return mark;
    }
    if (types.isSharedArrayBuffer(v)) {
      bareShared();
      return null;
    }
    // A Proxy goes to the clone as it is, which refuses it, as
    // structuredClone does; a mirror would pass for a plain object.
    if (opaque(v) || types.isProxy(v)) return v;
    if (types.isMap(v)) {
      const out = new Map();
      seen.set(v, out);
      for (const [k, x] of v) out.set(walk(k), walk(x));
      return out;
    }
    if (types.isSet(v)) {
      const out = new Set();
      seen.set(v, out);
      for (const x of v) out.add(walk(x));
      return out;
    }
    const out = Array.isArray(v) ? new Array(v.length) : {};
    seen.set(v, out);
    for (const k of Object.keys(v)) put(out, k, walk(v[k]));
    return out;
  };
  const mirror = walk(value);
  return new Uint8Array(clone().serialize([mirror, marks]));
}

// The value from encodeBody's bytes; viewOf(code, buffer index, offset,
// bytes) rebuilds a view.
function decodeBody(bytes, viewOf) {
  const [mirror, marks] = clone().deserialize(bytes);
  if (marks.length === 0) return mirror;
  const views = new Map();
  for (const [mark, code, i, offset, size] of marks) {
    views.set(mark, viewOf(code, i, offset, size));
  }
  // The mirror is this thread's own fresh copy: the swap is in place.
  const seen = new Set();
  const swap = (v) => {
    if (typeof v !== 'object' || v === null) return v;
    const view = views.get(v);
    if (view !== undefined) return view;
    if (seen.has(v) || ArrayBuffer.isView(v) || opaque(v)) return v;
    seen.add(v);
    if (types.isMap(v)) {
      const entries = [...v];
      v.clear();
      for (const [k, x] of entries) v.set(swap(k), swap(x));
    } else if (types.isSet(v)) {
      const items = [...v];
      v.clear();
      for (const x of items) v.add(swap(x));
    } else {
      for (const k of Object.keys(v)) put(v, k, swap(v[k]));
    }
    return v;
  };
  return swap(mirror);
}

module.exports = { encodeBody, decodeBody, useEngine };
