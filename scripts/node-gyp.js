'use strict';

// How Penny's scripts find node-gyp and the headers it builds against.

const fs = require('node:fs');
const path = require('node:path');

// The prefix of this Node's installation when it holds the headers
// node-gyp needs (<prefix>/include/node with common.gypi and node_api.h, as
// official Node tarballs and Debian's nodejs ship them), else null. With
// it node-gyp downloads nothing, so a source build works offline. Windows
// builds also need node.lib, which an installation lacks: node-gyp fetches
// it there. A nodedir the user configured (npmrc or environment) wins.
function nodedir() {
  if (process.env.npm_config_nodedir) return null;
  if (process.platform === 'win32') return null;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const inc = path.join(prefix, 'include', 'node');
  const has = (f) => fs.existsSync(path.join(inc, f));
  return has('common.gypi') && has('node_api.h') ? prefix : null;
}

// node-gyp's script: the copy npm runs scripts with (npm names it in
// npm_config_node_gyp), else the one inside the npm on PATH, else null
// (then `node-gyp` on PATH).
function script() {
  const named = process.env.npm_config_node_gyp;
  if (named && fs.existsSync(named)) return named;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const npm = path.join(dir, 'npm');
    if (!dir || !fs.existsSync(npm)) continue;
    const cli = fs.realpathSync(npm); // <npm>/bin/npm-cli.js
    const js = path.join(path.dirname(cli), '..', 'node_modules', 'node-gyp',
      'bin', 'node-gyp.js');
    return fs.existsSync(js) ? js : null;
  }
  return null;
}

// [command, args] that run node-gyp with `args`.
function command(args) {
  const dir = nodedir();
  const all = dir === null ? args : [...args, '--nodedir=' + dir];
  const js = script();
  if (js !== null) return [process.execPath, [js, ...all]];
  return [process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', all];
}

module.exports = { nodedir, script, command };
