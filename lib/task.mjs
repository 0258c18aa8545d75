// penny/task for ES modules: the same functions as lib/task.js.
import task from './task.js';

export const {
  join, spawn, sync, parallelFor, cancelled,
} = task;
export default task;
