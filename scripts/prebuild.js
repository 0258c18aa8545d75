'use strict';

// Builds prebuilds/<platform>-<arch>/ for this machine with prebuildify:
// one Node-API binary, which every Node >= 18 loads. `npm pack` runs it
// (prepack), so the tarball carries the prebuild for the platform it was
// packed on; .github/workflows/prebuild.yml builds the others.

const path = require('node:path');
const prebuildify = require('prebuildify');
const gyp = require('./node-gyp');

// prebuildify passes its environment on to node-gyp, which reads
// npm_config_nodedir from it.
const dir = gyp.nodedir();
if (dir !== null) process.env.npm_config_nodedir = dir;

prebuildify({
  cwd: path.join(__dirname, '..'),
  napi: true,
  strip: true,
  tagLibc: true,
  // npm's node-gyp.js is an executable script; without npm, PATH's.
  nodeGyp: gyp.script() || 'node-gyp',
}, (err) => {
  if (err) {
    console.error('penny: prebuild failed: ' + err.message);
    process.exitCode = 1;
  }
});
