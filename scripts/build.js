#!/usr/bin/env node
'use strict';

// Builds Penny's addon from source into build/Release, for a platform with
// no prebuilt binary or after changing the C code. Needs a C compiler,
// make and Python (node-gyp's requirements); downloads nothing when this
// Node's installation has its headers (see node-gyp.js).
//
//   npx penny-build          in a project that depends on Penny
//   npm run build            in a checkout (npm install runs it: prepare)

const path = require('node:path');
const { spawnSync } = require('node:child_process');
const gyp = require('./node-gyp');

function main() {
  // `npm pack` runs prepack (the prebuild, which compiles build/Release
  // too) and then prepare: once is enough.
  const cmd = process.env.npm_command;
  if (process.env.npm_lifecycle_event === 'prepare' &&
      (cmd === 'pack' || cmd === 'publish')) return 0;
  const [exe, args] = gyp.command(['rebuild']);
  const r = spawnSync(exe, args, {
    cwd: path.join(__dirname, '..'),
    stdio: 'inherit',
    shell: process.platform === 'win32' && exe !== process.execPath,
  });
  if (r.error) {
    console.error(`penny-build: could not run node-gyp (${r.error.message}); ` +
      'it comes with npm, or: npm install -g node-gyp');
    return 1;
  }
  return r.status === null ? 1 : r.status;
}

process.exitCode = main();
