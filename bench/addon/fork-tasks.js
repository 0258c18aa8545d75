'use strict';

// The fork-join tasks of bench/fork.js.
const { join } = require('penny/task');

// (h): the recursion without a join, and with one at every level.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function jfib(n) {
  if (n < 2) return n;
  const [a, b] = join(jfib, [n - 1], jfib, [n - 2]);
  return a + b;
}

// (i): joins above `cut`, plain recursion below.
function jfibCut(n, cut) {
  if (n <= cut) return fib(n);
  const [a, b] = join(jfibCut, [n - 1, cut], jfibCut, [n - 2, cut]);
  return a + b;
}

module.exports = { fib, jfib, jfibCut };
