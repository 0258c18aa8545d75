'use strict';

// Penny under Bun and Deno against Penny under Node, on the same machine
// in the same run: each rep runs bench/runtimes/sample.js once in each
// runtime, in turn (node, bun, deno, node, …), so that all see the same
// noise. Reports, per runtime, the median of the reps for
//   tiny tasks/s     20,000 no-op kernel tasks submitted at once;
//   JS tasks/s       20,000 tiny JS tasks, (a, b) => a + b, at once;
//   round trips      one task awaited at a time (µs), kernel and JS;
// and each median's ratio to Node's. Bun and Deno are the devDependencies'
// binaries (node_modules/.bin); a runtime that is missing is left out.
//
//   node bench/runtimes.js [--reps N] [--quick] [--json FILE]

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { median } = require('./addon/workloads');
const { args, option } = require('./options');

const quick = args.includes('--quick');
const reps = Number(option('--reps', quick ? 3 : 9));
const jsonPath = option('--json', path.join(__dirname, '..', 'build', 'bench',
  'runtimes.json'));
const SAMPLE = path.join(__dirname, 'runtimes', 'sample.js');
const BIN = path.join(__dirname, '..', 'node_modules', '.bin');

const runtimes = [['node', process.execPath, []]];
for (const [name, extra] of [['bun', []], ['deno', ['run', '-A']]]) {
  const exe = path.join(BIN, name);
  if (fs.existsSync(exe)) runtimes.push([name, exe, extra]);
  else console.log(`${name}: not installed (npm install), left out`);
}

const FIELDS = [
  ['kernelBurst', 'tiny kernel tasks/s', true],
  ['taskBurst', 'tiny JS tasks/s', true],
  ['kernelRoundTrip', 'kernel round trip µs', false],
  ['taskRoundTrip', 'JS task round trip µs', false],
];

const samples = Object.fromEntries(runtimes.map(([name]) => [name, []]));
for (let r = 0; r < reps; r++) {
  for (const [name, exe, extra] of runtimes) {
    const out = execFileSync(exe, [...extra, SAMPLE], { encoding: 'utf8' });
    samples[name].push(JSON.parse(out.trim().split('\n').pop()));
  }
  process.stdout.write(`rep ${r + 1}/${reps}\r`);
}

const result = { reps, runtimes: {} };
const fmt = (v, rate) => (rate ? Math.round(v).toLocaleString('en-US')
  : v.toFixed(2));
console.log(`\nmedians of ${reps} reps; ratio to Node's (for rates, the ` +
  'runtime\'s over Node\'s; for round trips, Node\'s over the runtime\'s: ' +
  'below 1 is slower than Node)');
for (const [key, label, rate] of FIELDS) {
  const base = median(samples.node.map((s) => s[key]));
  const cells = runtimes.map(([name]) => {
    const m = median(samples[name].map((s) => s[key]));
    const ratio = rate ? m / base : base / m;
    result.runtimes[name] ??= {};
    result.runtimes[name][key] = { median: m, ratioToNode: ratio };
    return `${name} ${fmt(m, rate)} (${ratio.toFixed(2)}×)`;
  });
  console.log(`${label.padEnd(24)} ${cells.join('   ')}`);
}
fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
fs.writeFileSync(jsonPath, JSON.stringify(result, null, 2));
