'use strict';

// The native addon. node-gyp-build picks build/Release (or build/Debug)
// when one was compiled here (`npx penny-build`, or `npm install` in a
// checkout), else the prebuilt binary for this platform in prebuilds/.
// PENNY_ADDON names another build of it: the sanitizer run
// (`make test-addon-asan`) loads an ASan+UBSan build that way.
const path = require('node:path');

function load() {
  if (process.env.PENNY_ADDON) return require(process.env.PENNY_ADDON);
  try {
    return require('node-gyp-build')(path.join(__dirname, '..'));
  } catch (err) {
    err.message += '\nPenny found no native addon that loads on this ' +
      'platform. Build it from source once, with a C compiler, make and ' +
      'Python on PATH: `npx penny-build` in your project.';
    throw err;
  }
}

module.exports = load();
