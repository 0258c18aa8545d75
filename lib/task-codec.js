'use strict';

// How JS tasks' arguments and outcomes cross between threads: as bytes,
// with structured-clone semantics (V8's serializer), except that views
// over a SharedArrayBuffer travel as (buffer id, offset, length) and are
// rebuilt over the same memory on the other side. One or two numbers, or
// one shared view, skip all this: lib/pool.js puts them in the ring cell
// itself (viewCell, below, for the view); and so does a result of a few
// numbers, which lib/task-worker.js hands over in its mailbox.
//
// A payload: [kind u8, 0, 0, 0, n u32, n buffer ids as f64, V8 bytes].
// Buffer id 0 is the pool's arena; the others are the ids lib/task-pool.js
// gives SharedArrayBuffers as it hands them to the threads.

const {
  isSharedArrayBuffer, isArrayBuffer,
} = require('node:util').types;
const { taskError } = require('./errors');

// Loaded at first use, since a thread pays for every file it loads as it
// starts: error records (lib/task-errors.js) at the first error, and
// Bun's structured clone (lib/clone-jsc.js) only under Bun.
let records = null;
const errorRecords = () => (records ??= require('./task-errors'));
const errorRecord = (thrown) => errorRecords().errorRecord(thrown);
const fromRecord = (rec) => errorRecords().fromRecord(rec);
let jscModule = null;
const jscClone = () => (jscModule ??= require('./clone-jsc'));

const KIND = Object.freeze({
  VALUE: 1,     // a value (an argument list, or a result)
  // A thrown value, errors as an error record (below); the binding counts
  // such a task as failed.
  ERROR: require('./binding').contract.jsTasks.errorKind,
  // An outcome sent on the thread's port instead (as a value, or as a
  // payload with the buffers it names): [3, gen, id].
  POSTED: 3,
  FAST: 4,      // a list of simple values in our own format (below)
});
const HEADER = 8;
// A payload's buffer ids from here up name the buffers posted with it (a
// POSTED result's), by their place in that list.
const POSTED_BUFFER = 2 ** 52;

// Typed-array classes by a code of our own (host objects).
// Float16Array last, where the runtime has it (Bun, Deno; Node from 24).
const VIEW_CLASSES = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
  Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array,
  BigUint64Array, DataView,
];
if (typeof globalThis.Float16Array === 'function') {
  VIEW_CLASSES.push(globalThis.Float16Array);
}
// By class name, as the engine's own getter tells it (a global a user
// replaced does not change it).
const VIEW_CODES = new Map(VIEW_CLASSES.map((C, i) => [C.name, i]));
const SHARED = 0x80; // the code's flag: a view over a SharedArrayBuffer

const TypedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype);
const taTag = Object.getOwnPropertyDescriptor(TypedArrayPrototype,
  Symbol.toStringTag).get;
const taBuffer = Object.getOwnPropertyDescriptor(TypedArrayPrototype,
  'buffer').get;
const taOffset = Object.getOwnPropertyDescriptor(TypedArrayPrototype,
  'byteOffset').get;
const taByteLength = Object.getOwnPropertyDescriptor(TypedArrayPrototype,
  'byteLength').get;
const dvBuffer = Object.getOwnPropertyDescriptor(DataView.prototype,
  'buffer').get;
const dvOffset = Object.getOwnPropertyDescriptor(DataView.prototype,
  'byteOffset').get;
const dvByteLength = Object.getOwnPropertyDescriptor(DataView.prototype,
  'byteLength').get;

// The view's class code, buffer, offset and byte length, read through the
// engine's own getters (never properties a user can define). The code is
// undefined for a class that has none here.
function viewParts(view) {
  const tag = taTag.call(view);
  if (tag === undefined) {
    return [VIEW_CODES.get('DataView'), dvBuffer.call(view),
      dvOffset.call(view), dvByteLength.call(view)];
  }
  return [VIEW_CODES.get(tag), taBuffer.call(view), taOffset.call(view),
    taByteLength.call(view)];
}

// A DataCloneError for a view whose class has no code here.
function unknownView(view) {
  return new DOMException(`${taTag.call(view)} could not be cloned by ` +
    'Penny', 'DataCloneError');
}

// Thrown when a value holds a SharedArrayBuffer that `sabId` cannot name:
// the caller sends it another way (postMessage).
// True for a typed array or DataView over a SharedArrayBuffer: what a
// copy would share anyway. Reads only the engine's getters.
function isSharedView(v) {
  if (!ArrayBuffer.isView(v)) return false;
  try {
    return isSharedArrayBuffer(viewParts(v)[1]);
  } catch {
    return false;
  }
}

const needsPosts = new WeakSet();
class NeedsPost extends Error {
  constructor() {
    super('a SharedArrayBuffer that only postMessage can share');
    needsPosts.add(this);
  }
}
// `err instanceof NeedsPost`, for anything a getter may have thrown
// (instanceof would call a revoked Proxy's trap, and throw).
const isNeedsPost = (err) => needsPosts.has(err);


// sab -> its index in `ids` (the payload's buffer ids), adding its id
// from sabId (SharedArrayBuffer -> id) on first use. A buffer sabId cannot
// name (-1) calls `missing` and takes index 0: the encoding goes on, so
// that whatever else does not clone is found in the same single read of
// the value, and then gives up with NeedsPost.
function indexer(sabId, ids, missing) {
  return (sab) => {
    const id = sabId(sab);
    if (id < 0) {
      missing();
      return 0;
    }
    let i = ids.indexOf(id);
    if (i < 0) i = ids.push(id) - 1;
    return i;
  };
}

// V8's serializer as Encoder and Decoder, made at first use: loading
// node:v8 costs each thread a millisecond or more as it starts, and the
// values of the fast path (below) never need it. Null where node:v8 has
// no Serializer class (Bun's constructor throws): there the body is Bun's
// own structured clone (lib/clone-jsc.js).
let serializer;
function serializerClasses() {
  if (serializer !== undefined) return serializer;
  const v8 = require('node:v8');
  try {
    new v8.Serializer(); // eslint-disable-line no-new
  } catch {
    serializer = null;
    return serializer;
  }

  class Encoder extends v8.Serializer {
    constructor(sabId) {
      super();
      this.ids = [];        // the payload's buffer ids, by index
      this.needsPost = false; // met a SharedArrayBuffer it cannot name
      this.index = indexer(sabId, this.ids, () => { this.needsPost = true; });
      this._setTreatArrayBufferViewsAsHostObjects(true);
    }

    _writeHostObject(view) {
      if (!ArrayBuffer.isView(view)) {
        throw new DOMException(`${Object.prototype.toString.call(view)
        } could not be cloned.`, 'DataCloneError');
      }
      const [code, buffer, offset, bytes] = viewParts(view);
      if (code === undefined) throw unknownView(view);
      if (isSharedArrayBuffer(buffer)) {
        this.writeUint32(code | SHARED);
        this.writeUint32(this.index(buffer));
      } else {
        // The whole buffer, as a value of the clone: views over one buffer
        // (and the buffer itself, if the value holds it) come out over one
        // copy of it, at their offsets, as a structured clone has them.
        this.writeUint32(code);
        this.writeValue(buffer);
      }
      this.writeDouble(offset);
      this.writeDouble(bytes);
    }

    // A bare SharedArrayBuffer (not a view): V8 would write an id that
    // Node's deserializer cannot read back. The id is never read: encode()
    // gives up with NeedsPost once the rest is written.
    _getSharedArrayBufferId() {
      this.needsPost = true;
      return 0;
    }
  }

  class Decoder extends v8.Deserializer {
    constructor(bytes, buffers) {
      super(bytes);
      this.buffers = buffers; // index -> SharedArrayBuffer
    }

    _readHostObject() {
      const code = this.readUint32();
      const Class = VIEW_CLASSES[code & ~SHARED];
      if (Class === undefined) throw new Error('corrupt task payload');
      const size = Class === DataView ? 1 : Class.BYTES_PER_ELEMENT;
      let buffer;
      if (code & SHARED) {
        buffer = this.buffers[this.readUint32()];
      } else {
        buffer = this.readValue();
        if (!isArrayBuffer(buffer)) throw new Error('corrupt task payload');
      }
      const offset = this.readDouble();
      return new Class(buffer, offset, this.readDouble() / size);
    }
  }

  serializer = { Encoder, Decoder };
  return serializer;
}

// The payload of `value` as a Uint8Array, reading the value once. Throws
// the engine's DataCloneError for what cannot be cloned, or else NeedsPost
// if the value holds a SharedArrayBuffer that sabId cannot name.
function encode(kind, value, sabId) {
  let body;
  let ids;
  const classes = serializerClasses();
  if (classes !== null) {
    const enc = new classes.Encoder(sabId);
    enc.writeHeader();
    enc.writeValue(value);
    if (enc.needsPost) throw new NeedsPost();
    body = enc.releaseBuffer();
    ids = enc.ids;
  } else {
    ids = [];
    let needsPost = false;
    const missing = () => { needsPost = true; };
    const parts = (v) => {
      const p = viewParts(v);
      if (p[0] === undefined) throw unknownView(v);
      return p;
    };
    body = jscClone().encodeBody(value, parts, indexer(sabId, ids, missing),
      missing);
    if (needsPost) throw new NeedsPost();
  }
  const n = ids.length;
  const out = new Uint8Array(HEADER + 8 * n + body.length);
  const dv = new DataView(out.buffer);
  out[0] = kind;
  dv.setUint32(4, n, true);
  for (let i = 0; i < n; i++) dv.setFloat64(HEADER + 8 * i, ids[i], true);
  out.set(body, HEADER + 8 * n);
  return out;
}

// A view rebuilt from its class code over buffers[i] (a shared one).
function sharedView(buffers, code, i, offset, bytes) {
  const Class = VIEW_CLASSES[code];
  if (Class === undefined) throw new Error('corrupt task payload');
  const size = Class === DataView ? 1 : Class.BYTES_PER_ELEMENT;
  return new Class(buffers[i], offset, bytes / size);
}

// [kind, value] from a payload (a Uint8Array). `sabOf(id)` returns the
// SharedArrayBuffer with that id.
function decode(bytes, sabOf) {
  const kind = bytes[0];
  if (kind === KIND.FAST) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return [kind, fastRead(buf, 0, sabOf)];
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === KIND.POSTED) {
    return [kind, [dv.getFloat64(HEADER, true), dv.getFloat64(HEADER + 8,
      true)]];
  }
  const n = dv.getUint32(4, true);
  const buffers = new Array(n);
  for (let i = 0; i < n; i++) {
    buffers[i] = sabOf(dv.getFloat64(HEADER + 8 * i, true));
  }
  const body = bytes.subarray(HEADER + 8 * n);
  const classes = serializerClasses();
  if (classes === null) {
    return [kind, jscClone().decodeBody(body, (code, i, offset, size) =>
      sharedView(buffers, code, i, offset, size))];
  }
  const dec = new classes.Decoder(body, buffers);
  dec.readHeader();
  return [kind, dec.readValue()];
}

// The payload for a POSTED result: the thread's generation and the
// message's id on that thread's port.
function posted(gen, id) {
  const out = new Uint8Array(HEADER + 16);
  const dv = new DataView(out.buffer);
  out[0] = KIND.POSTED;
  dv.setFloat64(HEADER, gen, true);
  dv.setFloat64(HEADER + 8, id, true);
  return out;
}

// ---- The fast path: simple values without V8's serializer. ----
//
// A list of numbers, strings, booleans, null, undefined, views over a
// SharedArrayBuffer and short arrays of numbers is written as
// [FAST, 0, 0, 0, count u32] and per value a tag and its bytes. These are
// the values whose structured clone is exactly this copy (or, for views,
// sharing), so the result is the same as the serializer's, at a fraction
// of its cost (V8's serializer object alone costs microseconds).

const { isProxy } = require('node:util').types;
const { byteLength: utf8Length } = Buffer;
// The engine's own, as this module found them: no method a user replaces
// later runs on the fast path.
const { apply } = Reflect;
const { isWellFormed } = String.prototype;
const NO_ARGS = Object.freeze([]);

const T = { UNDEFINED: 0, NULL: 1, TRUE: 2, FALSE: 3, NUMBER: 4, STRING: 5,
  VIEW: 6, NUMBERS: 7 };
// Longer arrays take the serializer, which is as fast by 32 elements, as
// their descriptors cost some 50 ns each.
const MAX_NUMBERS = 32;

// An array of numbers as the fast path carries it: a copy of its
// elements.
class Numbers {
  constructor(values) {
    this.values = values; // an Array of numbers
  }
}

// A view over a SharedArrayBuffer, as viewParts read it.
class SharedView {
  constructor(parts) {
    this.parts = parts; // [code, buffer, offset, bytes]
  }
}

// True for an array whose elements the fast path may read (through their
// descriptors): a plain Array, no Proxy, not too long, with nothing but
// its elements.
function plainArray(v) {
  return !isProxy(v) && Array.isArray(v) && v.length <= MAX_NUMBERS &&
    Object.getPrototypeOf(v) === Array.prototype && indexesOnly(v, v.length);
}

// True if an array's own enumerable string keys are its indexes 0 to n-1
// and nothing else: a structured clone copies those keys, so a
// non-enumerable element is a hole in the copy, and any other key comes
// along. (Indexes come first, in order, then the other keys: n keys of
// which the last is n-1 are the indexes.) Runs no user code on an array
// that is not a Proxy.
function indexesOnly(v, n) {
  const keys = Object.keys(v);
  return keys.length === n && (n === 0 || keys[n - 1] === String(n - 1));
}

// True if an object appears twice among `values` (where `objects` of them
// are objects): a structured clone keeps them one, which the fast path
// does not.
function repeats(values, objects) {
  if (objects < 2) return false;
  const seen = new Set();
  for (const v of values) {
    if (typeof v !== 'object' || v === null) continue;
    if (seen.has(v)) return true;
    seen.add(v);
  }
  return false;
}

// The fast path's plan for `list`: { bytes, items, values }, where
// `values` are list's values, each read once. It runs no user code: it
// reads only types, keys and property descriptors, of values that are no
// Proxy. If bytes >= 0, `items` are what fastWrite writes, within
// `bytes` (the arrays among the values as copies of their elements). If
// bytes is -1, the serializer takes `values` and is the only reader of
// what they hold, so each getter runs once, as in a structured clone.
function fastPlan(list) {
  const count = list.length;
  const values = new Array(count);
  const items = new Array(count);
  for (let i = 0; i < count; i++) values[i] = items[i] = list[i];
  const slow = { bytes: -1, items: null, values };
  let n = HEADER;
  let objects = 0;
  // Their kinds, which reads nothing a user wrote.
  for (let i = 0; i < count; i++) {
    const v = values[i];
    switch (typeof v) {
      case 'number': n += 9; break;
      case 'boolean': case 'undefined': n += 1; break;
      case 'string':
        // UTF-8 cannot hold a lone surrogate; the serializer keeps it.
        if (!apply(isWellFormed, v, NO_ARGS)) return slow;
        n += 5 + 3 * v.length;
        break;
      case 'object':
        if (v === null) {
          n += 1;
        } else if (ArrayBuffer.isView(v)) {
          const parts = viewParts(v);
          if (parts[0] === undefined || !isSharedArrayBuffer(parts[1])) {
            return slow;
          }
          items[i] = new SharedView(parts);
          objects++;
          n += 26;
        } else if (plainArray(v)) {
          objects++;
        } else {
          return slow;
        }
        break;
      default: return slow;
    }
  }
  if (repeats(values, objects)) return slow;
  // The arrays' elements, through their property descriptors: a getter
  // (whose descriptor has no value) is left to the serializer unrun.
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (!Array.isArray(v)) continue;
    const len = v.length;
    const copy = new Array(len);
    for (let j = 0; j < len; j++) {
      const x = Object.getOwnPropertyDescriptor(v, j)?.value;
      if (typeof x !== 'number') return slow;
      copy[j] = x;
    }
    items[i] = new Numbers(copy);
    n += 5 + 8 * len;
  }
  return { bytes: n, items, values };
}

// ---- A view in the ring cell: one view over a SharedArrayBuffer as the
// only argument travels as two numbers, with no payload. a holds the
// buffer's id, the class code and the offset in elements, b the length.

const CELL_IDS = 2 ** 20;     // buffer ids below this fit
const CELL_CODES = 16;        // class codes below this fit
const CELL_OFFSETS = 2 ** 29; // offsets (in elements) below this fit

// [a, b] for `v`, a view over a SharedArrayBuffer that `sabId` names (the
// arena is 0), written into `out`; false for anything else, or when the
// numbers would not fit (the payload then carries it). Reads only the
// engine's getters.
function viewCell(v, sabId, out) {
  if (!ArrayBuffer.isView(v)) return false;
  const [code, buffer, offset, bytes] = viewParts(v);
  if (code === undefined || !isSharedArrayBuffer(buffer)) return false;
  const size = VIEW_CLASSES[code] === DataView ? 1
    : VIEW_CLASSES[code].BYTES_PER_ELEMENT;
  const at = offset / size;
  if (at >= CELL_OFFSETS) return false;
  const id = sabId(buffer);
  if (id < 0 || id >= CELL_IDS) return false;
  out[0] = (at * CELL_CODES + code) * CELL_IDS + id;
  out[1] = bytes / size;
  return true;
}

// The view that viewCell's [a, b] describe; `sabOf(id)` returns the
// SharedArrayBuffer with that id.
function cellView(a, b, sabOf) {
  const id = a % CELL_IDS;
  const rest = (a - id) / CELL_IDS;
  const code = rest % CELL_CODES;
  const Class = VIEW_CLASSES[code];
  if (Class === undefined) throw new Error('corrupt task arguments');
  return new Class(sabOf(id), ((rest - code) / CELL_CODES) *
    (Class === DataView ? 1 : Class.BYTES_PER_ELEMENT), b);
}

// A plan's bytes (-1: the serializer's), read here: a load of a plan's
// field compiled into Pool's submit path without type feedback made V8
// deoptimize that path at every JS task with a payload.
const planBytes = (plan) => plan.bytes;

// Writes a fast plan of fastPlan's (bytes >= 0) at `at` into `buf` (a
// Buffer, over shared memory or not, with the plan's bytes of room there);
// returns the bytes written.
function fastWrite(plan, buf, at, sabId) {
  const { items } = plan;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = at + HEADER;
  buf[at] = KIND.FAST;
  buf[at + 1] = buf[at + 2] = buf[at + 3] = 0;
  dv.setUint32(at + 4, items.length, true);
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (typeof v === 'number') {
      buf[p] = T.NUMBER;
      dv.setFloat64(p + 1, v, true);
      p += 9;
    } else if (typeof v === 'string') {
      buf[p] = T.STRING;
      const len = buf.write(v, p + 5, 3 * v.length, 'utf8');
      dv.setUint32(p + 1, len, true);
      p += 5 + len;
    } else if (v === undefined) {
      buf[p++] = T.UNDEFINED;
    } else if (v === null) {
      buf[p++] = T.NULL;
    } else if (v === true || v === false) {
      buf[p++] = v ? T.TRUE : T.FALSE;
    } else if (v instanceof Numbers) {
      const { values } = v;
      buf[p] = T.NUMBERS;
      dv.setUint32(p + 1, values.length, true);
      p += 5;
      for (let j = 0; j < values.length; j++, p += 8) {
        dv.setFloat64(p, values[j], true);
      }
    } else {
      const [code, buffer, offset, bytes] = v.parts;
      const id = sabId(buffer);
      if (id < 0) throw new NeedsPost();
      buf[p] = T.VIEW;
      buf[p + 1] = code;
      dv.setFloat64(p + 2, id, true);
      dv.setFloat64(p + 10, offset, true);
      dv.setFloat64(p + 18, bytes, true);
      p += 26;
    }
  }
  return p - at;
}

// The list written at `at` in `buf` (a Buffer); `sabOf(id)` returns the
// SharedArrayBuffer with that id.
function fastRead(buf, at, sabOf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = dv.getUint32(at + 4, true);
  const out = new Array(count);
  let p = at + HEADER;
  for (let i = 0; i < count; i++) {
    switch (buf[p]) {
      case T.NUMBER: out[i] = dv.getFloat64(p + 1, true); p += 9; break;
      case T.STRING: {
        const len = dv.getUint32(p + 1, true);
        out[i] = buf.toString('utf8', p + 5, p + 5 + len);
        p += 5 + len;
        break;
      }
      case T.UNDEFINED: out[i] = undefined; p++; break;
      case T.NULL: out[i] = null; p++; break;
      case T.TRUE: out[i] = true; p++; break;
      case T.FALSE: out[i] = false; p++; break;
      case T.NUMBERS: {
        const n = dv.getUint32(p + 1, true);
        const a = new Array(n);
        p += 5;
        for (let j = 0; j < n; j++, p += 8) a[j] = dv.getFloat64(p, true);
        out[i] = a;
        break;
      }
      case T.VIEW: {
        const Class = VIEW_CLASSES[buf[p + 1]];
        const size = Class === DataView ? 1 : Class.BYTES_PER_ELEMENT;
        out[i] = new Class(sabOf(dv.getFloat64(p + 2, true)),
          dv.getFloat64(p + 10, true), dv.getFloat64(p + 18, true) / size);
        p += 26;
        break;
      }
      default: throw new Error('corrupt task payload');
    }
  }
  return out;
}

// ---- Errors: records (lib/task-errors.js) as payloads. ----

// True if `v` clones, sharing only the SharedArrayBuffers sabId names.
function clones(v, sabId) {
  try {
    encode(KIND.VALUE, v, sabId);
    return true;
  } catch {
    return false;
  }
}

// A thrown value's payload. Properties that cannot be cloned are left out
// one by one; a thrown value that cannot be cloned at all becomes an
// Error that says so.
function encodeError(thrown, sabId) {
  const rec = errorRecord(thrown);
  try {
    return encode(KIND.ERROR, rec, sabId);
  } catch { /* see below */ }
  if (rec.isError) {
    errorRecords().prune(rec, (v) => clones(v, sabId));
    try {
      return encode(KIND.ERROR, rec, sabId);
    } catch { /* see below */ }
  }
  let type = 'a value';
  try {
    type = typeof thrown;
  } catch { /* a revoked Proxy */ }
  const err = taskError(
    `the task threw a value that cannot be cloned: ${type}`);
  return encode(KIND.ERROR, errorRecord(err), () => -1);
}

module.exports = {
  KIND, NeedsPost, isNeedsPost, POSTED_BUFFER, encode, decode, posted,
  encodeError, fromRecord, errorRecord, fastPlan, planBytes, fastWrite,
  fastRead, isSharedView, viewCell, cellView, indexesOnly,
};
