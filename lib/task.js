'use strict';

// penny/task: what a task module's functions can call while they run on a
// pool's thread (see README, "Your own JavaScript").

const binding = require('./binding');

// True once the task running on this thread was asked to stop: its
// signal aborted, or its pool is being terminated. A long task should
// poll it and return (or throw) early. False outside a task.
function cancelled() {
  return binding.cancelled();
}

const {
  join, spawn, sync, parallelFor,
} = require('./task-fork');

module.exports = {
  join, spawn, sync, parallelFor, cancelled,
};
