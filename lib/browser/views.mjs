// A typed array's facts as the engine knows them: its class, buffer,
// offset and length through %TypedArray%.prototype's own getters, never
// through properties that user code can define on the view or its
// prototype chain (an own `length` or `byteOffset`, a Symbol.toStringTag)
// and that would send a kernel or a task outside the array it was given.

const TypedArrayProto = Object.getPrototypeOf(Int8Array.prototype);
const getter = (name) =>
  Object.getOwnPropertyDescriptor(TypedArrayProto, name).get;
const tagOf = getter(Symbol.toStringTag);
const bufferOf = getter('buffer');
const byteOffsetOf = getter('byteOffset');
const byteLengthOf = getter('byteLength');
const lengthOf = getter('length');

// { name, buffer, byteOffset, byteLength, length } of a typed array (not a
// DataView), or undefined for anything else. Never runs user code.
export function viewInfo(v) {
  const name = ArrayBuffer.isView(v) ? tagOf.call(v) : undefined;
  if (name === undefined) return undefined; // not a typed array
  return {
    name,
    buffer: bufferOf.call(v),
    byteOffset: byteOffsetOf.call(v),
    byteLength: byteLengthOf.call(v),
    length: lengthOf.call(v),
  };
}

const arrayBufferBytes = Object.getOwnPropertyDescriptor(
  ArrayBuffer.prototype, 'byteLength').get;
const sharedBufferBytes = typeof SharedArrayBuffer === 'function'
  ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype,
    'byteLength').get : null;

// A buffer's length in bytes now (0 once detached), by the engine's own
// getter.
export function bufferBytes(buffer) {
  try {
    return arrayBufferBytes.call(buffer);
  } catch {
    return sharedBufferBytes.call(buffer);
  }
}
