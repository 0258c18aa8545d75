'use strict';

// piscina's side of (d) and (e): its tasks take one argument.
const { add } = require('./tasks');

module.exports = ({ a, b }) => add(a, b);
