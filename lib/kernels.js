'use strict';

// A pool's kernel table as lib/ reads it: what pool.kernels shows, and
// what run() looks up per call (the index of a name, which parameters are
// arrays and which of those are written). Tables are immutable: a plugin
// load makes a new one, so the built-in table is built once per
// environment and shared by every pool (a pool then costs no per-kernel
// objects until it loads a plugin).

const { rangeError, argError, describe } = require('./errors');
const { ring } = require('./binding').contract;

const RING_ARGS = ring.argSlots; // arguments a submission ring cell holds

// Describes one kernel as pool.kernels shows it.
function describeKernel(index, k) {
  const params = k.params.map((p) => Object.freeze({ ...p }));
  return Object.freeze({
    index,
    name: k.name,
    signature: k.signature,
    params: Object.freeze(params),
    result: k.result,
  });
}

class KernelTable {
  constructor(base, added) {
    this.list = base ? base.list.slice() : []; // index -> description
    this.byName = new Map(base ? base.byName : undefined);
    this.arrayParams = base ? base.arrayParams.slice() : []; // see below
    this.ringArrays = base ? base.ringArrays.slice() : [];
    const byName = Object.create(null);
    for (const info of this.list) byName[info.name] = info;
    for (const k of added) {
      const index = this.list.length;
      const info = describeKernel(index, k);
      this.list.push(info);
      this.byName.set(info.name, index);
      // [[paramIndex, copyBack], ...] for array parameters, or null.
      const arrays = [];
      k.params.forEach((p, i) => {
        if (p.array) arrays.push([i, p.dir !== 'in']);
      });
      this.arrayParams.push(arrays.length ? arrays : null);
      // [isArray per param], or null when a ring cell cannot hold it.
      this.ringArrays.push(k.params.length <= RING_ARGS
        ? k.params.map((p) => p.array) : null);
      byName[info.name] = info;
    }
    this.kernels = Object.freeze(byName); // pool.kernels
    Object.freeze(this);
  }

  // The index of a kernel given by name or index; throws for others.
  indexOf(kernel) {
    if (typeof kernel === 'string') {
      const index = this.byName.get(kernel);
      if (index === undefined) {
        throw rangeError(`unknown kernel '${kernel}'`);
      }
      return index;
    }
    if (typeof kernel === 'number') {
      if (!Number.isInteger(kernel) || kernel < 0 ||
          kernel >= this.list.length) {
        throw rangeError(`unknown kernel index ${kernel}`);
      }
      return kernel;
    }
    throw argError(`kernel must be a name or an index, got ${
      describe(kernel)}`);
  }

  // This table with the binding's kernels from index `first` on added.
  extend(binding, handle, first) {
    return new KernelTable(this, binding.kernels(handle).slice(first));
  }
}

// The built-in kernels, read from the first pool's binding: the same in
// every pool of this environment.
let builtins = null;
function builtinTable(binding, handle) {
  if (builtins === null) {
    builtins = new KernelTable(null, binding.kernels(handle));
  }
  return builtins;
}

module.exports = { KernelTable, builtinTable };
