#!/usr/bin/env node
'use strict';

// Penny's adversarial suite (CONVENTIONS.md rule 18; the contract it holds
// Penny to is DESIGN.md sections 3 and 4): Worker churn, process exits,
// re-entrant user code, lying objects, racing writes into the arena,
// overlapping kernels, soaks that count every promise, close/memory and
// resizable buffers.
//
//   node test/adversarial/run.js [--seed N] [--only NAME[,NAME]]
//                                [--scale X] [--timeout SECONDS] [--list]
//
// Each scenario (scenarios/*.js) runs in its own process, `node FILE`, with
// PENNY_SEED (random unless --seed; printed, so that a failure reproduces),
// PENNY_ADV_SCALE (--scale, default 1; the sanitizer run shrinks counts
// with e.g. 0.2) and PENNY_ADV_DEADLINE_MS (when the scenario reports
// itself stuck) in an environment that is otherwise inherited: the ASan
// build runs the suite with the environment of `make test-addon-asan`
// (PENNY_ADDON=<abs path to build/c/asan/penny.node>, LD_PRELOAD of
// libasan and libubsan, ASAN_OPTIONS, UBSAN_OPTIONS) and --scale 0.2.
//
// A scenario prints one final JSON line {scenario, checked, broke,
// failures, ...}. It fails when it is killed at the timeout ("hang"), dies
// of a signal or exits non-zero, when its stderr shows a crash or a
// sanitizer report (FATAL ERROR, AddressSanitizer, runtime error:, double
// free, corruption), when the JSON line is missing, or when broke > 0.
// The last line printed is exactly `N passed, N failed`; the exit status
// is 1 when any scenario failed.
//
// A scenario also runs alone: `PENNY_SEED=N node test/adversarial/
// scenarios/NAME.js`. Other knobs (environment): PENNY_ADV_TIMEOUT (the
// default of --timeout), PENNY_ADV_BLOCK_MS (how long the event loop may
// be blocked, 500), PENNY_ADV_FAILURES (how many distinct failures the
// JSON line lists, 12), PENNY_ADV_VERBOSE (print each failure to stderr
// as it happens), PENNY_ADV_NO_RSS (report RSS without judging it; implied
// when a sanitizer runtime is preloaded).

const fs = require('node:fs');
const path = require('node:path');
const { runNode, lastJson, crashSign } = require('./lib');

// The order scenarios run in (others found in scenarios/ run after these).
const ORDER = [
  'worker-churn', 'process-exit', 'reentrancy', 'lying-objects',
  'arena-scribble', 'overlap', 'soak', 'close-memory', 'resizable',
];
const DIR = path.join(__dirname, 'scenarios');

function usage(message) {
  if (message) console.error(message);
  console.error('usage: node test/adversarial/run.js [--seed N] ' +
    '[--only NAME[,NAME]] [--scale X] [--timeout SECONDS] [--list]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    seed: process.env.PENNY_SEED,
    scale: process.env.PENNY_ADV_SCALE || '1',
    timeout: process.env.PENNY_ADV_TIMEOUT || '75',
    only: null,
    list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seed') opts.seed = value();
    else if (a === '--only') opts.only = value().split(',').filter(Boolean);
    else if (a === '--scale') opts.scale = value();
    else if (a === '--timeout') opts.timeout = value();
    else if (a === '--list') opts.list = true;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (opts.seed === undefined || opts.seed === '') {
    opts.seed = String(Math.floor(Math.random() * 2 ** 31));
  }
  const seed = Number(opts.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    usage(`--seed must be an integer in [0, 2^32), got ${opts.seed}`);
  }
  if (!(Number(opts.scale) > 0)) usage('--scale must be a positive number');
  if (!(Number(opts.timeout) > 0)) usage('--timeout must be positive');
  return opts;
}

function scenarioNames() {
  const found = fs.readdirSync(DIR).filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3));
  const known = ORDER.filter((n) => found.includes(n));
  return known.concat(found.filter((n) => !ORDER.includes(n)).sort());
}

const pad = (text, n) => String(text).padEnd(n);
const lpad = (text, n) => String(text).padStart(n);

function row(name, result, checked, broke, seconds, note) {
  return `${pad(name, 16)} ${pad(result, 6)} ${lpad(checked, 8)} ` +
    `${lpad(broke, 6)} ${lpad(seconds, 8)}  ${note}`;
}

// The verdict on one scenario's process.
function judge(r, timeoutS) {
  const reasons = [];
  const json = lastJson(r.stdout);
  if (r.timedOut) reasons.push(`hang: killed after ${timeoutS} s`);
  else if (r.signal) reasons.push(`killed by ${r.signal}`);
  else if (r.code === 134) reasons.push('exit 134 (abort)');
  else if (r.code !== 0 && !(r.code === 1 && json && json.broke > 0)) {
    reasons.push(`exit ${r.code}`);
  }
  const sign = crashSign(r.stderr);
  if (sign) reasons.push(`stderr: ${sign}`);
  if (json === null) reasons.push('no result line');
  else if (json.broke > 0) reasons.push(`${json.broke} broke`);
  return { json, reasons, ok: reasons.length === 0 };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const all = scenarioNames();
  if (opts.list) {
    console.log(all.join('\n'));
    return;
  }
  let names = all;
  if (opts.only !== null) {
    const unknown = opts.only.filter((n) => !all.includes(n));
    if (unknown.length) usage(`unknown scenario ${unknown.join(', ')}`);
    names = all.filter((n) => opts.only.includes(n));
  }
  const timeoutS = Number(opts.timeout);
  console.log(`penny adversarial suite: seed ${opts.seed}, scale ${
    opts.scale}, timeout ${timeoutS} s per scenario` +
    (process.env.PENNY_ADDON ? `, addon ${process.env.PENNY_ADDON}` : ''));
  console.log(`reproduce: node test/adversarial/run.js --seed ${opts.seed}` +
    (opts.scale !== '1' ? ` --scale ${opts.scale}` : ''));
  console.log(row('scenario', 'result', 'checked', 'broke', 'seconds',
    'note'));

  const results = [];
  for (const name of names) {
    const env = {
      ...process.env,
      PENNY_SEED: String(opts.seed),
      PENNY_ADV_SCALE: String(opts.scale),
      // The scenario reports where it is stuck a little before the kill.
      PENNY_ADV_DEADLINE_MS: String(Math.max(1000,
        Math.round(timeoutS * 1000 * 0.9))),
    };
    const r = await runNode([path.join(DIR, `${name}.js`)], {
      timeoutMs: timeoutS * 1000, env, maxBytes: 4 << 20, group: true,
    });
    const v = judge(r, timeoutS);
    const seconds = (r.ms / 1000).toFixed(1);
    results.push({ name, r, v, seconds });
    console.log(row(name, v.ok ? 'ok' : 'FAIL', v.json ? v.json.checked : '-',
      v.json ? v.json.broke : (r.timedOut ? 'hang' : '-'), seconds,
      v.reasons.join('; ')));
  }

  const failed = results.filter((x) => !x.v.ok);
  if (failed.length > 0) {
    console.log('');
    console.log('failures:');
    for (const { name, r, v } of failed) {
      console.log(`- ${name}: ${v.reasons.join('; ')}`);
      console.log(`  reproduce: node test/adversarial/run.js --seed ${
        opts.seed} --only ${name}` +
        (opts.scale !== '1' ? ` --scale ${opts.scale}` : ''));
      const phases = r.stdout.split('\n')
        .filter((l) => l.startsWith('# phase '));
      if (!v.json && phases.length > 0) {
        console.log(`  last phase: ${phases[phases.length - 1].slice(8)}`);
      }
      if (v.json) {
        for (const f of v.json.failures) console.log(`    ${f}`);
        if (v.json.distinctFailures > v.json.failures.length) {
          console.log(`    ... ${v.json.distinctFailures -
            v.json.failures.length} more distinct failures`);
        }
      }
      const stderr = r.stderr.trim().split('\n').filter(Boolean);
      if (stderr.length > 0) {
        console.log('  stderr (first lines):');
        for (const line of stderr.slice(0, 12)) {
          console.log(`    ${line.slice(0, 200)}`);
        }
      }
    }
    console.log('');
  }
  console.log(`${results.length - failed.length} passed, ${failed.length} ` +
    'failed');
  process.exitCode = failed.length > 0 ? 1 : 0;
}

// Interrupted: the scenario's process group goes too (lib.js kills live
// children on exit).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => process.exit(130));
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
