'use strict';

// What Penny reads from a user's typed array, through the engine's own
// getters only. A typed array's `constructor`, `buffer`, `byteOffset` or
// `length` can be own properties (or getters that run user code); the
// intrinsic getters of %TypedArray%.prototype read the internal slots
// instead, and run no user code. They are taken once, when this module
// loads.

const { isSharedArrayBuffer, isDataView } = require('node:util').types;
const { types } = require('./binding').contract;

const TypedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype);
const getter = (name) =>
  Object.getOwnPropertyDescriptor(TypedArrayPrototype, name).get;
const taTag = getter(Symbol.toStringTag);
const taBuffer = getter('buffer');
const taByteOffset = getter('byteOffset');
const taLength = getter('length');
const taSet = TypedArrayPrototype.set;

// The element types a kernel can take, by the engine's name for a typed
// array: its built-in class and the binding's element-type code
// (binding.contract.types, from PENNY_I8 .. PENNY_F64 in
// include/penny.h). Subclasses (Node's Buffer among them) carry the name
// of the built-in class they extend. Uint8ClampedArray has no code: its
// stores clamp, which no C type does.
const CLASSES = {
  Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array,
  BigInt64Array, BigUint64Array, Float32Array, Float64Array,
};
const TYPES = new Map(Object.entries(types).map(([name, code]) =>
  [name, [CLASSES[name], code]]));
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
