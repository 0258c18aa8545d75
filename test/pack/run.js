'use strict';

// The package as a user gets it: `npm pack` (which builds the prebuild for
// this platform), then the tarball installed into an empty project the way
// a new user would, and the README's first example run from there.
//
//   1. prebuilt: PATH holds node, npm and sh only (no compiler, make or
//      Python, checked), HOME is empty (no npmrc) and no npm_config_*
//      variable is set. The install runs no script (npm has none to warn
//      about) and the example loads the prebuild.
//   2. from source, as on a platform without a prebuild: the same install
//      with prebuilds/ then removed; loading Penny must fail with an error
//      that names `npx penny-build`; that command, on the full PATH and
//      still with an empty HOME, must build against this Node's own
//      headers, without a nodedir setting and without downloading any;
//      then the example runs on that build.
//
// Prints the seconds each step took; the install fetches node-gyp-build
// from the npm registry.
//
//   node test/pack/run.js [--keep]

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { programs, check } = require('../js/fixtures/docs');

const ROOT = path.join(__dirname, '..', '..');
const keep = process.argv.includes('--keep');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'penny-pack-'));

// The npm this Node runs with: the real file behind `npm` on PATH.
function npmCli() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const f = path.join(dir, 'npm');
    if (fs.existsSync(f)) return fs.realpathSync(f);
  }
  throw new Error('npm not found on PATH');
}

// An environment with no npm settings, a fresh HOME, and `PATH`.
function cleanEnv(home, PATH) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_|^NODE_|^PENNY_/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, HOME: home, PATH };
}

function run(cmd, args, opts) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n` +
      `${r.stdout}\n${r.stderr}`);
  }
  return { s, out: r.stdout };
}

function pack() {
  const { s, out } = run(process.execPath,
    [npmCli(), 'pack', '--json', '--pack-destination', work],
    { cwd: ROOT, env: { ...process.env } });
  // npm prints the prepack step's output first, then the JSON.
  const info = JSON.parse(out.slice(out.search(/^\[$/m)));
  const files = info[0].files.map((f) => f.path);
  const prebuild = `prebuilds/${process.platform}-${process.arch}/`;
  assert.ok(files.some((f) => f.startsWith(prebuild)),
    `the tarball has no ${prebuild}`);
  assert.ok(!files.some((f) => f.startsWith('build/')), 'build/ was packed');
  for (const f of ['README.md', 'docs/plugins.md', 'examples/mandelbrot.js',
    'include/penny.h', 'binding.gyp', 'scripts/build.js', 'dist/penny.wasm',
    'lib/browser/index.mjs', 'browser.d.ts']) {
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  }
  console.log(`packed ${info[0].filename}: ${files.length} files, ` +
    `${(info[0].size / 1024).toFixed(0)} KiB (${s.toFixed(1)} s with the prebuild)`);
  return path.join(work, info[0].filename);
}

// A directory of links to the given programs, to serve as all of PATH.
function binDir(name, programs) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  for (const [link, target] of Object.entries(programs)) {
    fs.symlinkSync(target, path.join(dir, link));
  }
  return dir;
}

function onPath(PATH, prog) {
  return PATH.split(path.delimiter)
    .some((d) => fs.existsSync(path.join(d, prog)));
}

function install(name, tarball, PATH) {
  const app = path.join(work, name);
  const home = path.join(work, name + '-home');
  fs.mkdirSync(app);
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true }));
  const env = cleanEnv(home, PATH);
  const npm = [npmCli(), 'install', '--no-audit', '--no-fund', tarball];
  const { s, out } = run(process.execPath, npm, { cwd: app, env });
  assert.doesNotMatch(out, /install.?script/i, 'npm warned:\n' + out);
  const pkg = path.join(app, 'node_modules', 'penny');
  assert.ok(!fs.existsSync(path.join(pkg, 'build')),
    'the install compiled something');
  return { app, home, env, pkg, s };
}

// The addon file node-gyp-build picks for the package in `pkg`.
function addonPath(pkg) {
  return spawnSync(process.execPath, ['-p',
    'require("node-gyp-build").path(process.argv[1])', pkg],
  { cwd: pkg, encoding: 'utf8' }).stdout.trim();
}

function quickStart(app, env) {
  const t0 = process.hrtime.bigint();
  const first = programs(path.join(app, 'node_modules', 'penny', 'README.md'));
  assert.ok(first.length >= 2, 'the installed README has its examples');
  for (const p of first.slice(0, 2)) check(p, app, { env });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// penny/browser from the installed package, with no compiler: the shipped
// wasm build, here under Node's worker_threads.
function browserBuild(app, env) {
  const code = `import { Pool } from 'penny/browser';
    const pool = new Pool({ threads: 2 });
    console.log(await pool.run('fib', [25]));
    await pool.close();`;
  const { s, out } = run(process.execPath, ['--input-type=module', '-e', code],
    { cwd: app, env });
  assert.equal(out.trim(), '75025');
  console.log(`penny/browser's shipped wasm build ran a kernel: ${
    s.toFixed(1)} s`);
}

function main() {
  const tarball = pack();

  const bare = binDir('bin', {
    node: process.execPath, npm: npmCli(), sh: '/bin/sh',
  });
  for (const tool of ['cc', 'gcc', 'clang', 'make', 'python3', 'python',
    'node-gyp']) {
    assert.ok(!onPath(bare, tool), `${tool} is on the bare PATH`);
  }
  const a = install('prebuilt', tarball, bare);
  assert.match(addonPath(a.pkg), /prebuilds/);
  const runA = quickStart(a.app, a.env);
  console.log(`prebuilt, no compiler on PATH: install ${a.s.toFixed(1)} s, ` +
    `README's first example (CommonJS, ES module) ${runA.toFixed(1)} s, ` +
    `total ${(a.s + runA).toFixed(1)} s`);
  browserBuild(a.app, a.env);

  const b = install('source', tarball, bare);
  fs.rmSync(path.join(b.pkg, 'prebuilds'), { recursive: true });
  const missing = spawnSync(process.execPath, ['-e', 'require("penny")'],
    { cwd: b.app, encoding: 'utf8', env: b.env });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /npx penny-build/);
  const full = { ...b.env, PATH: process.env.PATH };
  const build = run(process.execPath, [npmCli(), 'exec', 'penny-build'],
    { cwd: b.app, env: full });
  const built = path.join(b.pkg, 'build', 'Release', 'penny.node');
  assert.equal(addonPath(b.pkg), built);
  assert.ok(!fs.existsSync(path.join(b.home, '.cache', 'node-gyp')),
    'node-gyp downloaded headers');
  const runB = quickStart(b.app, full);
  console.log(`from source: npx penny-build ${build.s.toFixed(1)} s, ` +
    `README's first example ${runB.toFixed(1)} s`);
}

try {
  main();
  console.log('package test passed');
} finally {
  if (keep) console.log('kept ' + work);
  else fs.rmSync(work, { recursive: true, force: true });
}
