'use strict';

// The compiled addon, built by `npm install` (node-gyp, binding.gyp).
let binding;
try {
  binding = require('../build/Release/penny.node');
} catch (err) {
  try {
    binding = require('../build/Debug/penny.node');
  } catch {
    err.message += '\nPenny\'s native addon is not built: run `npm install` ' +
      '(or `npx node-gyp rebuild`) in the package directory.';
    throw err;
  }
}

module.exports = binding;
