'use strict';

// binding.contract: the one definition of what lib/ and the binding share
// (src/addon/contract.h). These tests check that it is whole, frozen and
// consistent, and that the docs state the limits it defines.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { contract } = require('../../lib/binding');
const { ROOT } = require('./fixtures/common');

function assertDeepFrozen(obj, where) {
  assert.ok(Object.isFrozen(obj), `${where} is frozen`);
  for (const [key, value] of Object.entries(obj)) {
    if (typeof value === 'object') assertDeepFrozen(value, `${where}.${key}`);
    else assert.equal(typeof value, 'number', `${where}.${key} is a number`);
  }
}

describe('binding.contract', () => {
  it('is a frozen object of numbers', () => {
    assertDeepFrozen(contract, 'contract');
    assert.deepEqual(Object.keys(contract).sort(),
      ['activity', 'completions', 'errors', 'jsTasks', 'limits', 'ring',
        'status', 'types', 'version']);
    assert.throws(() => { contract.ring.maxCells = 1; }, TypeError);
  });

  it('has a version that changes with contract.h and contract.c', () => {
    // Edited one of them? Add one to PENNY_CONTRACT_VERSION (contract.h)
    // and CONTRACT_VERSION (lib/binding.js), and record both here.
    const pinned = { version: 1, sha256:
      'f41593210b9e750dbd9d912201573a4dd735724f919098f881cd5ba87ace4ac9' };
    const hash = createHash('sha256');
    for (const file of ['contract.h', 'contract.c']) {
      hash.update(fs.readFileSync(path.join(ROOT, 'src', 'addon', file),
        'utf8').replace(/\r\n/g, '\n'));
    }
    assert.equal(contract.version, pinned.version);
    assert.equal(hash.digest('hex'), pinned.sha256,
      'the contract changed: bump its version (see above)');
  });

  it('refuses an addon built for another version, saying what to do', () => {
    const fake = path.join(os.tmpdir(), `penny-fake-addon-${process.pid}.js`);
    fs.writeFileSync(fake, 'module.exports = { contract: { version: 0 } };');
    try {
      const cases = [
        [fake, /version 0, this JavaScript needs version 1/],
        [path.join(ROOT, 'package.json'), /unversioned/],
      ];
      for (const [addon, says] of cases) {
        let out = '';
        try {
          execFileSync(process.execPath, ['-e', 'require(".")'], {
            cwd: ROOT, env: { ...process.env, PENNY_ADDON: addon },
            stdio: 'pipe',
          });
        } catch (err) {
          out = String(err.stderr);
        }
        assert.match(out, /does not match its JavaScript/);
        assert.match(out, says);
        assert.match(out, /npx penny-build/);
      }
    } finally {
      fs.rmSync(fake, { force: true });
    }
  });

  it('lays out a ring cell that holds its fields and arguments', () => {
    const r = contract.ring;
    const ints = [r.seqOffset, r.kernelOffset, r.slotOffset, r.metaOffset];
    assert.equal(new Set(ints).size, 4, 'four distinct int32 fields');
    for (const at of ints) {
      assert.ok(at % 4 === 0 && at + 4 <= r.argsOffset, `int32 at ${at}`);
    }
    assert.equal(r.argsOffset % 8, 0);
    assert.equal(r.argBytes, 16, 'two doubles per argument');
    assert.ok(r.argsOffset + r.argSlots * r.argBytes <= r.cellBytes);
    assert.ok(r.sleepyOffset % 4 === 0 && r.sleepyOffset < r.headerBytes);
    assert.equal(r.headerBytes % 8, 0);
    assert.equal(r.cellBytes % 8, 0);
    for (const n of [r.minCells, r.maxCells]) {
      assert.ok(n > 0 && (n & (n - 1)) === 0, `${n} is a power of two`);
    }
    assert.ok(r.minCells <= r.maxCells);
    assert.ok((r.argSlots + 1) * r.metaBits <= 32, 'meta fits an int32');
    assert.ok(r.argSlots <= contract.limits.maxArgs);
  });

  it('names every completion status once', () => {
    const values = Object.values(contract.status);
    assert.equal(new Set(values).size, values.length);
    assert.equal(contract.status.CANCELLED, contract.errors.ECANCELED);
    const c = contract.completions;
    assert.deepEqual([c.slot, c.status, c.value].sort(), [0, 1, 2]);
    assert.equal(c.fields, 3);
    assert.ok(c.batch > 0 && c.limbs === 4);
  });

  it('lays out the activity words and names three states', () => {
    const a = contract.activity;
    assert.deepEqual([a.state, a.lazy].sort(), [0, 1]);
    assert.deepEqual([a.inactive, a.active, a.idle].sort(), [0, 1, 2]);
    assert.equal(a.inactive, 0, 'a zeroed word reads inactive');
  });

  it('has an element type code for every typed array but ' +
     'Uint8ClampedArray', () => {
    assert.deepEqual(Object.keys(contract.types).sort(), [
      'BigInt64Array', 'BigUint64Array', 'Float32Array', 'Float64Array',
      'Int16Array', 'Int32Array', 'Int8Array', 'Uint16Array', 'Uint32Array',
      'Uint8Array',
    ]);
    const codes = Object.values(contract.types);
    assert.equal(new Set(codes).size, codes.length);
    assert.ok(codes.every((c) => c > 0 && c < 2 ** contract.ring.metaBits));
  });

  it('defines the thread limit that the README and index.d.ts state', () => {
    const max = contract.limits.maxThreads;
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.match(readme, new RegExp(`\\(1 to ${max}; default\\s+` +
      `\`os.availableParallelism\\(\\)\`, capped at ${max}\\)`));
    const dts = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8');
    assert.match(dts, new RegExp(`1\\.\\.${max}\\. \\*/`));
  });
});
