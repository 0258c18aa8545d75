'use strict';

// The piscina side of bench/addon.js: a task that does nothing, the
// same work as Penny's `noop` kernel.
module.exports = function noop() {
  return 0;
};
