'use strict';

// Views over ordinary (non-shared) ArrayBuffers, copied into the arena (or
// into a fresh SharedArrayBuffer when the arena is full) before their task
// starts, so that no worker ever holds memory that JavaScript could detach
// or transfer; copied back after it for out and inout parameters.

const { argError, rangeError } = require('./errors');
const { viewInfo, taLength, taSet } = require('./views');

// ArrayBuffer.prototype.resizable, where the engine has it.
const abResizable =
  Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get;
const isResizable = (buffer) =>
  abResizable !== undefined && abResizable.call(buffer);

// The shared copy of the part of one ordinary buffer that a task's views
// cover: views that overlap there overlap in the copy too, so a kernel's
// overlap checks see what they would see on the originals.
class Region {
  constructor(buffer, start, end) {
    this.buffer = buffer;
    this.start = start;         // byte offsets in `buffer`
    this.end = end;
    this.offset = -1;           // of its block in the arena, or -1
    this.bytes = null;          // Uint8Array over the copy
  }
}

// One copied view.
class Copy {
  constructor(param, info, temp, region, copyBack) {
    this.param = param;         // the parameter's index
    this.original = info.view;
    this.length = info.length;  // the original's length at copy-in
    this.resizable = isResizable(info.buffer);
    this.temp = temp;           // the view the kernel gets, in `region`
    this.region = region;
    this.copyBack = copyBack;
  }
}

class Copier {
  #heap;
  #arena;

  constructor(heap, arena) {
    this.#heap = heap;
    this.#arena = arena;
  }

  // Copies the ordinary views among the array parameters `arrays`
  // ([[index, copyBack], ...]) of kernel `k`, replacing them in `list` and
  // `infos`. Returns the Copy records, or undefined when nothing needed a
  // copy. The same array in two parameters (c = a, say) is one array in
  // the copy too.
  copyIn(k, list, infos, arrays) {
    let regions; // buffer -> Region
    for (const [i] of arrays) {
      const info = infos[i];
      if (info === null || info.shared) {
        continue; // shared, or not an array at all: the binding decides
      }
      // Down to 8 bytes, so that every view keeps its alignment.
      const start = info.byteOffset - (info.byteOffset % 8);
      const end = info.byteOffset + info.length * info.Type.BYTES_PER_ELEMENT;
      regions ??= new Map();
      const r = regions.get(info.buffer);
      if (r === undefined) {
        regions.set(info.buffer, new Region(info.buffer, start, end));
      } else {
        r.start = Math.min(r.start, start);
        r.end = Math.max(r.end, end);
      }
    }
    if (regions === undefined) return undefined;
    try {
      for (const r of regions.values()) {
        const bytes = r.end - r.start;
        r.offset = this.#heap.alloc(bytes);
        r.bytes = r.offset >= 0 ? new Uint8Array(this.#arena, r.offset, bytes)
          : new Uint8Array(new SharedArrayBuffer(bytes));
        // Throws for a detached buffer: nothing to read or write back.
        r.bytes.set(new Uint8Array(r.buffer, r.start, bytes));
      }
    } catch (err) {
      this.#release(regions.values());
      throw argError(`${k.name}: an array parameter is a view over a ` +
        `detached ArrayBuffer (${err.message})`);
    }
    const copies = [];
    for (const [i, copyBack] of arrays) {
      const info = infos[i];
      if (info === null || info.shared) continue;
      const seen = copies.find((c) => c.original === info.view);
      if (seen !== undefined) {
        seen.copyBack = seen.copyBack || copyBack;
        list[i] = seen.temp;
        infos[i] = viewInfo(seen.temp);
        continue;
      }
      const r = regions.get(info.buffer);
      const temp = new info.Type(r.bytes.buffer,
        r.bytes.byteOffset + info.byteOffset - r.start, info.length);
      copies.push(new Copy(i, info, temp, r, copyBack));
      list[i] = temp;
      infos[i] = viewInfo(temp);
    }
    return copies;
  }

  // Copies the outputs back (when the task succeeded: `ok`) and frees the
  // copies. Returns the error the task must reject with instead, if any:
  // an array whose length changed while the task ran (its buffer
  // detached, or resized) cannot take its output back.
  finish(k, copies, ok) {
    let error;
    try {
      for (const c of copies) {
        if (!ok || !c.copyBack || c.length === 0) continue;
        // The intrinsics keep own properties of the user's array out of
        // it. set() throws for a buffer detached since the length check
        // (it cannot be, here) or one that went out of bounds.
        let copied = false;
        if (taLength.call(c.original) === c.length) {
          try {
            taSet.call(c.original, c.temp);
            copied = true;
          } catch {
            // As a changed length, below.
          }
        }
        if (!copied && error === undefined) {
          const name = `${k.name}: parameter '${k.params[c.param].name}'`;
          error = c.resizable
            ? rangeError(`${name} was resized while the task ran; its ` +
              'output was not copied back')
            : argError(`${name} was detached (transferred) while the ` +
              'task ran; its output was not copied back');
        }
      }
    } finally {
      this.free(copies);
    }
    return error;
  }

  free(copies) {
    this.#release(copies.map((c) => c.region));
  }

  #release(regions) {
    for (const r of regions) {
      if (r.offset >= 0) this.#heap.release(r.offset);
      r.offset = -1;
    }
  }
}

module.exports = { Copier };
