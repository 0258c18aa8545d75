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

// lib/ reads the binding's constants (binding.contract) when it loads: an
// addon built from other sources than this lib/ is refused here, with what
// to do, rather than failing later on a missing constant.
function checked(binding) {
  if (binding === null || typeof binding !== 'object' ||
      typeof binding.contract !== 'object' || binding.contract === null) {
    throw new Error('Penny\'s native addon does not match its JavaScript ' +
      '(it has no binding.contract): it was built from other sources. ' +
      'Rebuild it: `npx penny-build` in your project, or `npm run build` ' +
      'in a checkout.');
  }
  return binding;
}

module.exports = checked(load());
