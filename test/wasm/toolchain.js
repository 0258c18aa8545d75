'use strict';

// What the wasm tests need to build their modules: clang-14 and
// wasm-ld-14. They skip, saying so, where either is missing.

const { spawnSync } = require('node:child_process');

// The tools of the two that are not on PATH.
function missingTools() {
  return ['clang-14', 'wasm-ld-14'].filter(
    (tool) => spawnSync(tool, ['--version']).error !== undefined);
}

module.exports = { missingTools };
