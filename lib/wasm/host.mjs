// The JavaScript side of Penny's WebAssembly platform layer
// (src/core/platform_wasm.c), the same in browsers and in Node: the
// imports every instance of the module gets, and the helper Workers that
// C threads run on.
//
// C creates a thread with penny_host_spawn(rec): the record, in the shared
// memory, holds the function, its stack and its thread-local block. The
// host hands it to an idle helper through the control words: helper i
// parks on word i while it is 0, and spawn stores the record's address
// there (claiming the helper with a compare-exchange from 0). The helper
// points its instance's stack pointer at the record's stack, calls
// penny_wasm_thread_main, then stores 1 in the record's `done` word and
// notifies (what penny__thread_join waits on), and parks again. A spawn
// with no idle helper fails, and C sees PENNY_ETHREAD: the host starts as
// many helpers as the pools it makes have threads.

// The thread record's layout (wasm32), as platform_wasm.c declares it.
export const REC_DONE = 0;
export const REC_STACK = 12;
export const REC_STACK_SIZE = 16;

// Each helper's word in the control buffer: 0 idle, else a record's
// address (busy), or -1: stop.
export const STOP = -1;

const now = typeof performance !== 'undefined'
  ? () => performance.now() : () => Date.now();

function cpuCount() {
  if (typeof navigator !== 'undefined' && navigator.hardwareConcurrency > 0) {
    return navigator.hardwareConcurrency;
  }
  return 1;
}

// Hands a thread record to the first idle helper of `control`: 0, or -1
// when every helper is busy.
function spawnOnIdle(control, rec) {
  for (let i = 0; i < control.length; i++) {
    if (Atomics.compareExchange(control, i, 0, rec) === 0) {
      Atomics.notify(control, i, 1);
      return 0;
    }
  }
  return -1;
}

// The imports of one instance. `control` is the Int32Array of the helpers'
// words; `memory` the shared WebAssembly.Memory. `spawn(rec)`, if given,
// starts threads instead of the helpers of `control` (lib/browser starts
// a Worker per thread); `task(w, rec)` runs a task module's function
// (src/wasm/binding.c).
export function imports(memory, control, {
  log = console.error, cpus, spawn, task,
} = {}) {
  const decoder = new TextDecoder();
  const env = {
    memory,
    penny_host_spawn: spawn ?? ((rec) => spawnOnIdle(control, rec)),
    penny_host_task: task ?? (() => {
      throw new Error('penny: this instance runs no task module');
    }),
    penny_host_now: now,
    penny_host_cpu_count: () => cpus ?? cpuCount(),
    penny_host_log(ptr, len) {
      // TextDecoder refuses views over shared memory: copy the bytes out.
      const bytes = new Uint8Array(memory.buffer, ptr, len).slice();
      log(decoder.decode(bytes));
    },
    exp: Math.exp,
    log: Math.log,
  };
  return { env };
}

// Prepares an instance on a thread of its own: a stack of its own (top
// at `stackTop`) for the calls it makes outside C threads, a thread-local
// block, and leave to block in wait32.
export function initInstance(instance, stackTop) {
  const ex = instance.exports;
  ex.__stack_pointer.value = stackTop;
  if (ex.penny_wasm_instance_init() === 0) {
    throw new Error('penny: out of memory for a thread-local block');
  }
  ex.penny_wasm_set_can_block(1);
}

// Runs the C thread of record `rec` on this instance: on the record's
// stack, then back on `stackTop`; then calls beforeDone(), stores 1 in
// the record's `done` word and notifies (what penny__thread_join waits
// on): once the join returns, what beforeDone did is done.
export function runThread(instance, memory, rec, stackTop,
  beforeDone = () => {}) {
  const ex = instance.exports;
  const u32 = new Uint32Array(memory.buffer);
  ex.__stack_pointer.value = u32[(rec + REC_STACK) >>> 2] +
    u32[(rec + REC_STACK_SIZE) >>> 2];
  try {
    ex.penny_wasm_thread_main(rec);
  } finally {
    ex.__stack_pointer.value = stackTop;
    beforeDone();
    // The memory may have grown while the thread ran: a fresh view.
    const done = new Int32Array(memory.buffer);
    Atomics.store(done, (rec + REC_DONE) >>> 2, 1);
    Atomics.notify(done, (rec + REC_DONE) >>> 2);
  }
}

// A helper's loop, on its own Worker: parks on its control word, runs
// the records it is handed, until STOP. `stackTop` is the top of a small
// stack of its own for the calls it makes between threads.
export function helperLoop(instance, memory, control, index, stackTop) {
  initInstance(instance, stackTop);
  for (;;) {
    Atomics.wait(control, index, 0);
    const rec = Atomics.load(control, index);
    if (rec === STOP) return;
    if (rec === 0) continue;
    // Idle again before the joiner returns, unless the host asked this
    // helper to stop meanwhile.
    runThread(instance, memory, rec, stackTop,
      () => Atomics.compareExchange(control, index, rec, 0));
  }
}
