// penny/task: what a task module's functions can call while they run on
// a pool's thread.

/** True once the task running on this thread was asked to stop (its
 * signal aborted, or its pool is being terminated); false outside a
 * task. A long task polls it and returns early. */
export function cancelled(): boolean;

/** A task function of the pool's module, or its export name. */
export type TaskFn<A extends unknown[] = any[], R = unknown> =
  ((...args: A) => R) | string;

/** A spawned child, for sync(). */
export interface Handle<R = unknown> {
  readonly __pennyChild?: R;
}

/** Runs fnA(...argsA) and fnB(...argsB), in parallel when a thread is
 * free; returns both results once both finished. */
export function join<A extends unknown[], RA, B extends unknown[], RB>(
  fnA: ((...args: A) => RA) | string, argsA: A,
  fnB: ((...args: B) => RB) | string, argsB: B): [RA, RB];

/** Makes fn(...args) available to other threads; sync() its handle. */
export function spawn<A extends unknown[], R>(
  fn: ((...args: A) => R) | string, args?: A): Handle<R>;

/** The child's result, or throws its error. */
export function sync<R>(handle: Handle<R>): R;

/** Calls fn(l, h, ...args) on disjoint ranges covering [lo, hi), split
 * lazily; grain 0 lets Penny choose the smallest range. */
export function parallelFor<A extends unknown[]>(
  fn: ((lo: number, hi: number, ...args: A) => void) | string,
  lo: number, hi: number, grain?: number, args?: A): void;

declare const task: {
  cancelled: typeof cancelled;
  join: typeof join;
  spawn: typeof spawn;
  sync: typeof sync;
  parallelFor: typeof parallelFor;
};
export default task;
