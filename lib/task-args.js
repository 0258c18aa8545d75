'use strict';

// A JS task's arguments as the submission ring's cell carries them, read
// and copied when the task is submitted (lib/pool.js): one or two
// numbers, or one view over a SharedArrayBuffer, ride in the cell itself;
// anything else is a payload (lib/task-codec.js) in an arena block, or in
// a SharedArrayBuffer of its own when the arena has no room.

const { taskError, thrownMessage } = require('./errors');
const { jsTasks } = require('./binding').contract;

let codecModule = null;
const codec = () => (codecModule ??= require('./task-codec'));

// The cell's tags besides a count of numbers (0 to 2): the view, and a
// payload at `a` in the arena or in the buffer with id `a`; `b` is the
// payload's length. lib/task-worker.js reads them back.
const TAG_VIEW = jsTasks.viewTag;
const TAG_ARENA = 3;
const TAG_OWN = 4;

const VIEW_CELL = [0, 0]; // a view's two numbers (codec.viewCell), reused

// A task's cell, and what it holds on to until the task ends.
class Cell {
  constructor(tag, a, b, keep, block) {
    this.tag = tag;
    this.a = a;
    this.b = b;
    this.keep = keep;   // SharedArrayBuffers its values name, or null
    this.block = block; // its arena block, or -1
  }
}

// True if `list` is zero to two numbers, which ride in the cell as they
// are.
function numbersOnly(list) {
  const n = list.length;
  return n <= 2 && (n < 1 || typeof list[0] === 'number') &&
    (n < 2 || typeof list[1] === 'number');
}

// The Cell of `list` (any arguments) for the task `name` (for messages)
// in a pool { heap, arena, arenaBuf, threads }. Reading the values runs
// user code (getters), once. Throws ERR_PENNY_TASK for values that cannot
// be cloned.
function encodeCell(name, list, pool) {
  const n = list.length;
  if (numbersOnly(list)) {
    return new Cell(n, n >= 1 ? list[0] : 0, n === 2 ? list[1] : 0, null, -1);
  }
  const keep = [];
  // How the values name SharedArrayBuffers: the arena is 0, any other gets
  // the threads' id for it and stays in `keep`.
  const sabId = (sab) => {
    if (sab === pool.arena) return 0;
    keep.push(sab);
    return pool.threads.sabId(sab);
  };
  const c = codec();
  if (n === 1 && ArrayBuffer.isView(list[0]) &&
      c.viewCell(list[0], sabId, VIEW_CELL)) {
    return new Cell(TAG_VIEW, VIEW_CELL[0], VIEW_CELL[1],
      keep.length > 0 ? keep : null, -1);
  }
  // Simple values straight into an arena block; the rest through V8's
  // serializer, the only one to run user code (getters).
  const plan = c.fastPlan(list);
  const planned = c.planBytes(plan);
  let bytes = null;
  if (planned < 0) {
    try {
      bytes = c.encode(c.KIND.VALUE, plan.values, sabId);
    } catch (err) {
      throw taskError(`the arguments of '${name}' cannot be cloned: ${
        c.isNeedsPost(err)
          ? 'a SharedArrayBuffer must be passed as a view over it'
          : thrownMessage(err)}`);
    }
  }
  const size = bytes === null ? planned : bytes.length;
  const block = pool.heap.alloc(size);
  let tag = TAG_ARENA;
  let a = block;
  let buf = pool.arenaBuf;
  let at = block;
  if (block < 0) {
    const own = new SharedArrayBuffer(size);
    keep.push(own);
    tag = TAG_OWN;
    a = pool.threads.sabId(own);
    buf = Buffer.from(own);
    at = 0;
  }
  let b;
  if (bytes === null) {
    b = c.fastWrite(plan, buf, at, sabId);
  } else {
    buf.set(bytes, at);
    b = bytes.length;
  }
  return new Cell(tag, a, b, keep.length > 0 ? keep : null, block);
}

module.exports = { encodeCell, numbersOnly };
