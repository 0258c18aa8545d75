'use strict';

// lib/clone-jsc.js, the codec body Bun uses (it has no v8.Serializer),
// checked here under Node with node:v8's structured clone in place of
// bun:jsc's: both keep object identity within one clone, which is what
// the codec relies on. Under Bun the JS-task suites run it for real.

const assert = require('node:assert/strict');
const v8 = require('node:v8');
const jsc = require('../../lib/clone-jsc');

const VIEWS = [Int8Array, Uint8Array, Float64Array, DataView];
const parts = (v) => [VIEWS.indexOf(v.constructor), v.buffer, v.byteOffset,
  v.byteLength];

describe('the codec body for runtimes without v8.Serializer (Bun)', () => {
  before(() => jsc.useEngine({ serialize: v8.serialize,
    deserialize: v8.deserialize }));
  after(() => jsc.useEngine(null));

  // Round trip with a table of SharedArrayBuffers standing for the ids;
  // `bare` counts the bare SharedArrayBuffers met, which the body leaves
  // out (encode() then gives up on it).
  const bare = { count: 0 };
  function roundTrip(value) {
    const sabs = [];
    const index = (sab) => {
      let i = sabs.indexOf(sab);
      if (i < 0) i = sabs.push(sab) - 1;
      return i;
    };
    const bytes = jsc.encodeBody(value, parts, index, () => { bare.count++; });
    return jsc.decodeBody(bytes, (code, i, offset, size) => {
      const C = VIEWS[code];
      return new C(sabs[i], offset, C === DataView ? size
        : size / C.BYTES_PER_ELEMENT);
    });
  }

  it('shares views over SharedArrayBuffers wherever they sit, and copies the rest', () => {
    const sab = new SharedArrayBuffer(64);
    const shared = new Float64Array(sab, 8, 4);
    const own = new Float64Array([1, 2, 3]);
    const got = roundTrip({
      shared, own, list: [shared, 1], map: new Map([[shared, 'k'], ['v', shared]]),
      set: new Set([shared]), dv: new DataView(sab, 4, 8), nested: { deep: [[shared]] },
    });
    got.shared[0] = 42;
    assert.equal(shared[0], 42, 'the same memory');
    assert.equal(got.shared.byteOffset, 8);
    assert.equal(got.shared.length, 4);
    assert.equal(got.list[0], got.shared, 'one view, one identity');
    assert.equal([...got.map.keys()][0], got.shared);
    assert.equal(got.map.get('v'), got.shared);
    assert.ok(got.set.has(got.shared));
    assert.equal(got.nested.deep[0][0], got.shared);
    assert.ok(got.dv instanceof DataView);
    assert.equal(got.dv.byteOffset, 4);
    got.own[0] = 9;
    assert.equal(own[0], 1, 'a view over an ArrayBuffer is copied');
    assert.deepEqual([...got.own], [9, 2, 3]);
  });

  it('a root that is itself a shared view', () => {
    const v = new Int8Array(new SharedArrayBuffer(4));
    const got = roundTrip(v);
    got[1] = 5;
    assert.equal(v[1], 5);
  });

  it('keeps cycles, holes, __proto__ keys, dates, errors and bigints', () => {
    const o = { n: 1n, d: new Date(5), e: new RangeError('x'), re: /a/g };
    o.self = o;
    const holes = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const proto = JSON.parse('{"__proto__": {"polluted": true}}');
    const got = roundTrip({ o, holes, proto });
    assert.equal(got.o.self, got.o);
    assert.equal(got.o.n, 1n);
    assert.equal(got.o.d.getTime(), 5);
    assert.ok(got.o.e instanceof RangeError);
    assert.equal(got.o.re.flags, 'g');
    assert.equal(got.holes.length, 3);
    assert.ok(!(1 in got.holes));
    assert.ok(Object.hasOwn(got.proto, '__proto__'));
    assert.equal(({}).polluted, undefined);
    assert.equal(Object.getPrototypeOf(got.proto), Object.prototype);
  });

  it('reads each getter once, and a placeholder-like object stays an object', () => {
    let reads = 0;
    const got = roundTrip({ get x() { reads++; return 7; }, fake: {} });
    assert.equal(reads, 1);
    assert.equal(got.x, 7);
    assert.deepEqual(got.fake, {});
  });

  it('refuses what the clone refuses, also after a bare SharedArrayBuffer, ' +
     'which it reports', () => {
    assert.throws(() => roundTrip({ f() {} }), /cloned/);
    assert.throws(() => roundTrip([new WeakMap()]), /cloned/);
    // A Proxy, even of a plain array, at the root or inside.
    assert.throws(() => roundTrip(new Proxy([1, 2], {})), /cloned/);
    assert.throws(() => roundTrip({ p: new Proxy({}, {}) }), /cloned/);
    bare.count = 0;
    roundTrip({ b: new SharedArrayBuffer(8) });
    assert.equal(bare.count, 1);
    assert.throws(() => roundTrip([new SharedArrayBuffer(8), () => 1]),
      /cloned/);
    assert.equal(bare.count, 2);
  });
});
