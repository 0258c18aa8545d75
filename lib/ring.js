'use strict';

// The producer side of the submission ring: run() writes a task whose
// arguments are numbers and arena views into a cell of a SharedArrayBuffer
// that idle workers poll, and no native call is made. The buffer is the
// pool's own, private to it and this file (the binding holds the other
// end, src/addon/ring.c), so no view a user can make reaches it. Its
// layout is the binding's (binding.contract.ring), read once here.
//
// A cell's seq is Vyukov's turn counter less the cell's index, so that
// the zeroed buffer is an empty ring: for position pos, the cell at
// pos & (RING_CELLS - 1) is free for that lap when its seq reads
// pos - (pos & (RING_CELLS - 1)), and published at one more.

const binding = require('./binding');

const layout = binding.contract.ring;
// The largest ring the binding takes: a burst of tasks overflows into
// native calls only beyond this many queued tasks.
const RING_CELLS = layout.maxCells;
const RING_BYTES = layout.headerBytes + RING_CELLS * layout.cellBytes;
// The buffer to allocate: RING_BYTES and the slack from which the binding
// picks a cache-line start.
const RING_BUFFER_BYTES = RING_BYTES + layout.align;
// Int32Array and Float64Array indices.
const SLEEPY = layout.sleepyOffset / 4;
const HEADER_I32 = layout.headerBytes / 4;
const CELL_I32 = layout.cellBytes / 4;
const SEQ = layout.seqOffset / 4;
const KERNEL = layout.kernelOffset / 4;
const SLOT = layout.slotOffset / 4;
const META = layout.metaOffset / 4;
const ARGS_F64 = layout.argsOffset / 8;
const ARG_F64 = layout.argBytes / 8;
const META_BITS = layout.metaBits;

class Ring {
  #i32;
  #f64;
  #pos = 0;             // next cell to fill (a count; cells wrap)
  #arena;
  #handle;

  // `buffer` is a SharedArrayBuffer of RING_BUFFER_BYTES that create()
  // was given; the ring starts `start` bytes into it.
  constructor(handle, buffer, start, arena) {
    this.#handle = handle;
    this.#arena = arena;
    this.#i32 = new Int32Array(buffer, start, RING_BYTES / 4);
    this.#f64 = new Float64Array(buffer, start, RING_BYTES / 8);
  }

  // Writes the task into the ring and returns true; false when the ring
  // is full or an argument is not a number or an arena view, which the
  // slow path (a native call) handles. `kinds` says which parameters are
  // arrays (null: more than a cell holds). Workers check a cell as the
  // binding checks a call: nothing written here is trusted.
  push(kinds, index, slot, list, infos) {
    if (kinds === null) return false;
    const i32 = this.#i32;
    const pos = this.#pos;
    const at = pos & (RING_CELLS - 1);
    const lap = (pos - at) | 0;
    const cell = HEADER_I32 + at * CELL_I32;
    if (Atomics.load(i32, cell + SEQ) !== lap) return false; // full
    let meta = list.length;
    const f64 = this.#f64;
    const argBase = (cell >> 1) + ARGS_F64;
    for (let i = 0; i < list.length; i++) {
      const at64 = argBase + ARG_F64 * i;
      if (kinds[i]) {
        const info = infos[i];
        if (info === null || info.buffer !== this.#arena) return false;
        meta |= info.code << (META_BITS * (i + 1));
        f64[at64] = info.byteOffset;
        f64[at64 + 1] = info.length;
      } else {
        const a = list[i];
        if (typeof a !== 'number') return false;
        f64[at64] = a;
      }
    }
    i32[cell + KERNEL] = index;
    i32[cell + SLOT] = slot;
    i32[cell + META] = meta;
    // SeqCst store, then SeqCst load: a worker about to sleep sets SLEEPY
    // and then looks at the ring, so one of us sees the other.
    Atomics.store(i32, cell + SEQ, (lap + 1) | 0);
    this.#pos = pos + 1;
    if (Atomics.load(i32, SLEEPY) !== 0) binding.wake(this.#handle);
    return true;
  }

  // Drops the views once the pool is closed: nothing writes the ring
  // again.
  close() {
    this.#i32 = this.#f64 = null;
  }
}

module.exports = { Ring, RING_CELLS, RING_BUFFER_BYTES };
