'use strict';

// The native addon: build/Release (or build/Debug) when one was compiled
// here (`npx penny-build`, or `npm install` in a checkout), else the
// prebuilt binary for this platform in prebuilds/, as node-gyp-build
// would pick it.
// PENNY_ADDON names another build of it: the sanitizer run
// (`make test-addon-asan`) loads an ASan+UBSan build that way.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

// The addon's file where it usually is, in the order node-gyp-build looks
// (build/Release, build/Debug, then this platform's prebuild), found
// without loading node-gyp-build: that costs a process about 4 MiB of RSS
// (pages of the node binary that its code brings in) and some
// milliseconds. Null when an environment variable steers node-gyp-build,
// or the file is not where expected: node-gyp-build then looks.
function usualFile() {
  const env = process.env;
  if (env.PREBUILDS_ONLY || env.PENNY_PREBUILD || env.LIBC ||
      env.npm_config_arch || env.npm_config_platform) return null;
  const { platform, arch } = process;
  // node-gyp-build's own test for musl.
  const tag = platform !== 'linux' ? ''
    : fs.existsSync('/etc/alpine-release') ? '.musl' : '.glibc';
  const files = [
    path.join(ROOT, 'build', 'Release', 'penny.node'),
    path.join(ROOT, 'build', 'Debug', 'penny.node'),
    path.join(ROOT, 'prebuilds', `${platform}-${arch}`, `penny${tag}.node`),
  ];
  return files.find((f) => fs.existsSync(f)) ?? null;
}

function load() {
  if (process.env.PENNY_ADDON) return require(process.env.PENNY_ADDON);
  try {
    const file = usualFile();
    return file !== null ? require(file) : require('node-gyp-build')(ROOT);
  } catch (err) {
    err.message += '\nPenny found no native addon that loads on this ' +
      'platform. Build it from source once, with a C compiler, make and ' +
      'Python on PATH: `npx penny-build` in your project.';
    throw err;
  }
}

// The version of the binding's contract (src/addon/contract.h,
// PENNY_CONTRACT_VERSION) that this lib/ was written against.
const CONTRACT_VERSION = 1;

// lib/ reads the binding's constants (binding.contract) when it loads: an
// addon built from other sources than this lib/ is refused here, with what
// to do, rather than failing later on a missing or changed constant.
function checked(binding) {
  const contract = binding !== null && typeof binding === 'object'
    ? binding.contract : undefined;
  const version = contract !== null && typeof contract === 'object'
    ? contract.version : undefined;
  if (version !== CONTRACT_VERSION) {
    throw new Error('Penny\'s native addon does not match its JavaScript ' +
      `(its contract is ${typeof version === 'number' ? `version ${version}`
        : 'unversioned'}, this JavaScript needs version ${
        CONTRACT_VERSION}): it was built from other sources. Rebuild it: ` +
      '`npx penny-build` in your project, or `npm run build` in a checkout.');
  }
  return binding;
}

module.exports = checked(load());
