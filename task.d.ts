// penny/task: what a task module's functions can call while they run on
// a pool's thread.

/** True once the task running on this thread was asked to stop (its
 * signal aborted, or its pool is being terminated); false outside a
 * task. A long task polls it and returns early. */
export function cancelled(): boolean;

declare const task: { cancelled: typeof cancelled };
export default task;
