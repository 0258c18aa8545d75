// How the browser build carries a task's arguments and results between
// threads: JSON text in the module's shared memory, with tags for what
// JSON cannot say. The page's main thread and every Worker read and write
// the same bytes (the engines' structured clone cannot reach a Worker that
// is busy inside a task).
//
// Carried: numbers (NaN, the infinities and -0 included), strings,
// booleans, null, undefined, BigInts, arrays, plain objects, and typed
// arrays. A typed array over the pool's memory (what pool.alloc returns)
// is shared, as in Node; any other typed array is copied. An Error keeps
// its name, message and stack. Functions, symbols, Maps, Sets and class
// instances (beyond their own enumerable data) are not carried.
//
// A tag is an object with one key that user data cannot spell: "$penny:"
// and a random nonce of the encoding thread, which the bytes carry on
// their first line. So no value can forge a tag, such as a view at an
// address of its choosing.

import { viewInfo } from './views.mjs';

const VIEWS = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
  Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array,
  BigUint64Array,
};

const UNDEFINED = Symbol('undefined');

// Replaces UNDEFINED in a parsed value, in place, with undefined.
function fill(v) {
  if (v === UNDEFINED) return undefined;
  if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
    for (const k of Object.keys(v)) v[k] = fill(v[k]);
  }
  return v;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The buffer objects of one thread's view of a shared memory: each growth
// gives memory.buffer a new SharedArrayBuffer over the same bytes, and a
// view over any of them has its address in the memory as its byteOffset.
export function memoryBuffers(memory) {
  const seen = new WeakSet();
  return {
    // memory.buffer, remembered.
    current() {
      const b = memory.buffer;
      seen.add(b);
      return b;
    },
    has(b) {
      return seen.has(b) || b === this.current();
    },
  };
}

// A codec over one thread's view of the shared memory: `buffers` from
// memoryBuffers(memory); `malloc` the module's.
export function makeCodec(memory, buffers, malloc) {
  const isShared = (b) => buffers.has(b);
  const nonce = Array.from(crypto.getRandomValues(new Uint32Array(4)),
    (x) => x.toString(36)).join('');
  const TAG = `$penny:${nonce}`;
  function replacer(key, value) {
    switch (typeof value) {
      case 'undefined': return { [TAG]: 'u' };
      case 'bigint': return { [TAG]: 'big', v: value.toString() };
      case 'number':
        if (!Number.isFinite(value) || Object.is(value, -0)) {
          return { [TAG]: 'n',
            v: Object.is(value, -0) ? '-0' : String(value) };
        }
        return value;
      case 'function': case 'symbol':
        throw new TypeError(`penny: a task value cannot hold a ${
          typeof value} (at '${key}')`);
      case 'object': {
        if (value === null) return value;
        const info = viewInfo(value);
        if (info !== undefined) {
          if (isShared(info.buffer)) {
            return { [TAG]: 'view', t: info.name, o: info.byteOffset,
              n: info.length };
          }
          const copy = new VIEWS[info.name](info.buffer, info.byteOffset,
            info.length);
          return { [TAG]: 'copy', t: info.name,
            d: info.name.startsWith('Big') ? Array.from(copy, String)
              : Array.from(copy) };
        }
        if (value instanceof Error) {
          return { [TAG]: 'err', name: String(value.name),
            message: String(value.message), stack: String(value.stack ?? ''),
            code: value.code === undefined ? undefined : String(value.code) };
        }
        return value;
      }
      default: return value;
    }
  }

  // Revives the tags of the bytes' own nonce (`tag`).
  function reviver(tag, value) {
    if (value === null || typeof value !== 'object' ||
        !Object.hasOwn(value, tag)) {
      return value;
    }
    switch (value[tag]) {
      case 'u': return UNDEFINED;
      case 'big': return BigInt(value.v);
      case 'n': return Number(value.v);
      case 'view':
        return new VIEWS[value.t](buffers.current(), value.o, value.n);
      case 'copy':
        return value.t.startsWith('Big')
          ? VIEWS[value.t].from(value.d, BigInt) : VIEWS[value.t].from(value.d);
      case 'err': {
        const Class = { TypeError, RangeError, SyntaxError, ReferenceError }[
          value.name] ?? Error;
        const err = new Class(value.message);
        if (err.name !== value.name) err.name = value.name;
        err.stack = value.stack;
        if (value.code !== undefined) err.code = value.code;
        return err;
      }
      default: return value;
    }
  }

  // A reviver that returns undefined deletes the property (and leaves a
  // hole in an array): undefined comes back as UNDEFINED, and a second
  // pass, only when there was one, puts undefined in its place.
  function parse(text) {
    const eol = text.indexOf('\n');
    const tag = `$penny:${text.slice(0, eol)}`;
    let holes = false;
    const v = JSON.parse(text.slice(eol + 1), (k, val) => {
      const r = reviver(tag, val);
      if (r !== UNDEFINED) return r;
      holes = true;
      return r;
    });
    return holes ? fill(v) : v;
  }

  return {
    // The bytes of `value` in a block from malloc: [address, length].
    // Throws a TypeError for what cannot be carried; a RangeError when
    // the memory is full.
    encode(value) {
      const bytes = encoder.encode(`${nonce}\n${
        JSON.stringify(value, replacer)}`);
      const at = malloc(bytes.length || 1);
      if (at === 0) {
        throw new RangeError(`penny: out of memory for ${bytes.length} ` +
          'bytes of task data');
      }
      new Uint8Array(memory.buffer, at, bytes.length).set(bytes);
      return [at, bytes.length];
    },
    decode(at, length) {
      // TextDecoder refuses views over shared memory: copy the bytes out.
      const bytes = new Uint8Array(memory.buffer, at, length).slice();
      return parse(decoder.decode(bytes));
    },
  };
}
