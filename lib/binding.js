'use strict';

// The compiled addon, built by `npm install` (node-gyp, binding.gyp).
// PENNY_ADDON names another build of it: the sanitizer run
// (`make test-addon-asan`) loads an ASan+UBSan build that way.
function load() {
  if (process.env.PENNY_ADDON) return require(process.env.PENNY_ADDON);
  try {
    return require('../build/Release/penny.node');
  } catch (err) {
    try {
      return require('../build/Debug/penny.node');
    } catch {
      err.message += '\nPenny\'s native addon is not built: run ' +
        '`npm install` (or `npx node-gyp rebuild`) in the package directory.';
      throw err;
    }
  }
}

module.exports = load();
