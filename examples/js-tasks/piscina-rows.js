'use strict';

// piscina's task for examples/js-tasks/fork.js (and bench/fork.js): rows
// [lo, hi) of the mandelbrot image, with the same function Penny runs.
const { mandelRows } = require('./fork-tasks');

module.exports = ({ lo, hi, out, win }) => {
  mandelRows(lo, hi, out, ...win);
};
