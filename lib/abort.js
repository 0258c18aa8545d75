'use strict';

// AbortSignals as run() takes them: read once, checked by brand, and
// watched with one listener per signal and pool. Everything is read
// through AbortSignal's and EventTarget's own getters and methods, immune
// to own properties and patched methods on a user's signal.

const { isProxy } = require('node:util').types;
const { argError, describe, thrownMessage } = require('./errors');

const signalGetter = (name) =>
  Object.getOwnPropertyDescriptor(AbortSignal.prototype, name).get;
const signalAborted = signalGetter('aborted');
const signalReason = signalGetter('reason');
const { addEventListener, removeEventListener } = EventTarget.prototype;

// A real AbortSignal, checked by its brand (the getter throws for anything
// else) and never a Proxy, whose traps would run user code each time the
// signal is read.
function isAbortSignal(value) {
  if (value === null || typeof value !== 'object' || isProxy(value)) {
    return false;
  }
  try {
    signalAborted.call(value);
    return true;
  } catch {
    return false;
  }
}

// Reads options.signal once: a getter may run user code here, which may
// call run, close or free on the pool; nothing has changed yet when it
// does.
function readSignal(options) {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') {
    throw argError(`options must be an object, got ${describe(options)}`);
  }
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw argError(`options.signal must be an AbortSignal, got ${
      describe(signal)}`);
  }
  return signal;
}

const isAborted = (signal) => signalAborted.call(signal);
const reasonOf = (signal) => signalReason.call(signal);

// The tasks in flight under one AbortSignal, with the one listener that
// cancels them all: a signal shared by many tasks carries one listener
// per pool, not one per task. The listener keeps the signal's reason, so
// that settling a cancelled task reads nothing from the signal.
class SignalTasks {
  constructor(signal) {
    this.signal = signal;
    this.tasks = new Set();
    this.aborted = false;
    this.reason = undefined;
    this.listener = null;
  }
}

// Signals Penny is adding a listener to, in any pool. Node's EventTarget
// calls hooks on the signal (which a user can replace) before it stores a
// signal's first listener, and a listener added from such a hook is lost:
// a run made from one with the same signal is refused instead.
const adding = new WeakSet();

// One pool's signals in use: signal -> SignalTasks. `cancel(task)` is
// called for each task in flight under a signal when it aborts.
class Signals {
  #entries = new Map();
  #cancel;

  constructor(cancel) {
    this.#cancel = cancel;
  }

  // Adds `task` under `signal` (adding the listener on first use);
  // returns the SignalTasks, which the task keeps to be unwatched. Node's
  // addEventListener reads the signal's own properties: it may run user
  // code, or throw, and then nothing is recorded.
  watch(signal, task) {
    if (adding.has(signal)) {
      throw argError('options.signal is in use by a run that is still ' +
        'adding its abort listener (a run made from inside ' +
        'addEventListener)');
    }
    let entry = this.#entries.get(signal);
    if (entry === undefined) {
      const e = entry = new SignalTasks(signal);
      const cancel = this.#cancel;
      e.listener = () => {
        e.aborted = true;
        e.reason = signalReason.call(signal);
        for (const t of e.tasks) cancel(t);
      };
      adding.add(signal);
      try {
        addEventListener.call(signal, 'abort', e.listener, { once: true });
      } catch (err) {
        throw argError('options.signal does not take an abort listener: ' +
          `${thrownMessage(err)}`, { cause: err });
      } finally {
        adding.delete(signal);
      }
      this.#entries.set(signal, e);
    }
    entry.tasks.add(task);
    return entry;
  }

  // Removes a task that settled or was never queued; the last one takes
  // the listener away. Node's removeEventListener reads the signal's own
  // properties, so it may throw or run user code; the listener left
  // behind then finds no task of this pool to cancel, so nothing depends
  // on its being gone and a throw is ignored.
  forget(entry, task) {
    entry.tasks.delete(task);
    if (entry.tasks.size === 0 && this.#entries.get(entry.signal) === entry) {
      this.#entries.delete(entry.signal);
      try {
        removeEventListener.call(entry.signal, 'abort', entry.listener);
      } catch {
        // See above.
      }
    }
  }
}

module.exports = { readSignal, isAborted, reasonOf, Signals };
