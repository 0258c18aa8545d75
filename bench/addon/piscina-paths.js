'use strict';

// piscina's side of bench/addon/f-paths.js: the same functions.
const { add, sumSpan } = require('./tasks');

module.exports = {
  add: ({ a, b }) => add(a, b),
  sumSpan: ({ x }) => sumSpan(x),
};
