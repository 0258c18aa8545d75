'use strict';

// What Penny reads from a user's typed array, through the engine's own
// getters only. A typed array's `constructor`, `buffer`, `byteOffset` or
// `length` can be own properties (or getters that run user code); the
// intrinsic getters of %TypedArray%.prototype read the internal slots
// instead, and run no user code. They are taken once, when this module
// loads.

const { isSharedArrayBuffer, isDataView } = require('node:util').types;

const TypedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype);
const getter = (name) =>
  Object.getOwnPropertyDescriptor(TypedArrayPrototype, name).get;
const taTag = getter(Symbol.toStringTag);
const taBuffer = getter('buffer');
const taByteOffset = getter('byteOffset');
const taLength = getter('length');
const taSet = TypedArrayPrototype.set;

// The element types a kernel can take, by the engine's name for a typed
// array, with the binding's element-type codes (PENNY_I8 .. PENNY_F64 in
// include/penny.h). Subclasses (Node's Buffer among them) carry the name
// of the built-in class they extend.
const TYPES = new Map([
  ['Int8Array', [Int8Array, 1]], ['Uint8Array', [Uint8Array, 2]],
  ['Int16Array', [Int16Array, 3]], ['Uint16Array', [Uint16Array, 4]],
  ['Int32Array', [Int32Array, 5]], ['Uint32Array', [Uint32Array, 6]],
  ['BigInt64Array', [BigInt64Array, 7]],
  ['BigUint64Array', [BigUint64Array, 8]],
  ['Float32Array', [Float32Array, 9]], ['Float64Array', [Float64Array, 10]],
]);
const TYPE_CLASSES = new Set([...TYPES.values()].map(([Type]) => Type));

// A snapshot of one typed array, or null for anything else (a DataView, a
// Uint8ClampedArray, an object that only pretends). Reading it runs no
// user code.
class ViewInfo {
  constructor(view, Type, code) {
    this.view = view;
    this.Type = Type;          // the built-in class of its elements
    this.code = code;          // the binding's element-type code
    this.buffer = taBuffer.call(view);
    this.byteOffset = taByteOffset.call(view);
    this.length = taLength.call(view);
    this.shared = isSharedArrayBuffer(this.buffer);
  }
}

function viewInfo(value) {
  const name = taTag.call(value); // undefined unless a real typed array
  if (name === undefined) return null;
  const entry = TYPES.get(name);
  return entry === undefined ? null : new ViewInfo(value, entry[0], entry[1]);
}

// The engine's name for a view, for messages: never a user's getter.
function viewName(value) {
  const name = taTag.call(value);
  if (name !== undefined) return name;
  return isDataView(value) ? 'DataView' : undefined;
}

module.exports = { viewInfo, viewName, TYPE_CLASSES, taLength, taSet };
