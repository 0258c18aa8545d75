'use strict';

// piscina's side of (f): the same sum, on the same shared buffer.
const { sumTimed } = require('./tasks');

module.exports = ({ x }) => sumTimed(x);
