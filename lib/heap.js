'use strict';

// The arena's data heap: a first-fit allocator over byte offsets
// [start, end) of the pool's SharedArrayBuffer, with blocks rounded to
// 64 bytes (a cache line, and enough alignment for every element type) and
// free neighbours merged. Its bookkeeping is plain JS: nothing on a worker
// depends on it, because the binding re-checks every view it is given.

const ALIGN = 64;

class Heap {
  constructor(start, end) {
    this.end = end;
    this.free = start < end ? [{ offset: start, size: end - start }] : [];
    this.live = new Map(); // offset -> size
    this.used = 0;
    this.size = Math.max(0, end - start);
  }

  // Returns the offset of a block of at least `bytes`, or -1.
  alloc(bytes) {
    const rounded = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    const blocks = this.free;
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i];
      let size = rounded;
      // The last block may end off a 64-byte boundary: it still serves a
      // request that fits, whole.
      if (b.size < size) {
        if (b.offset + b.size !== this.end || b.size < bytes) continue;
        size = b.size;
      }
      const offset = b.offset;
      if (b.size === size) blocks.splice(i, 1);
      else { b.offset += size; b.size -= size; }
      this.live.set(offset, size);
      this.used += size;
      return offset;
    }
    return -1;
  }

  // Frees the block at `offset`; false if there is none.
  release(offset) {
    const size = this.live.get(offset);
    if (size === undefined) return false;
    this.live.delete(offset);
    this.used -= size;
    const blocks = this.free;
    let lo = 0;
    let hi = blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (blocks[mid].offset < offset) lo = mid + 1;
      else hi = mid;
    }
    const prev = blocks[lo - 1];
    const next = blocks[lo];
    if (prev && prev.offset + prev.size === offset) {
      prev.size += size;
      if (next && prev.offset + prev.size === next.offset) {
        prev.size += next.size;
        blocks.splice(lo, 1);
      }
    } else if (next && offset + size === next.offset) {
      next.offset = offset;
      next.size += size;
    } else {
      blocks.splice(lo, 0, { offset, size });
    }
    return true;
  }
}

module.exports = { Heap };
