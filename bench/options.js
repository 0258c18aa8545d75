'use strict';

// Command-line options shared by the benchmarks: `option('--reps', 5)` is
// the word after --reps, or the default.

const args = process.argv.slice(2);

function option(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}

module.exports = { args, option };
