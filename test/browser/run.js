#!/usr/bin/env node
'use strict';

// `npm run test:browser`: the ES-module tests under test/browser/, run in
// headless Chromium on a cross-origin isolated page (index.html, served by
// server.js through page.js), printed the way mocha prints.
//
//   node test/browser/run.js [--skip-missing] [FILE.test.mjs ...]
//
// Without files it runs every test/browser/*.test.mjs. --skip-missing makes
// a machine without Chromium a skip (exit 0) rather than a failure.
// PENNY_CHROMIUM names the browser; PENNY_BROWSER_TIMEOUT (seconds, default
// 600) bounds the whole run. The exit status is 1 on any failure or timeout.

const fs = require('node:fs');
const path = require('node:path');
const { withPage, findChromium, describeSearch, ROOT } = require('./page');

// An error of the caller's making: its message is enough, without a stack.
function usage(message) {
  return Object.assign(new Error(message), { code: 'PENNY_USAGE' });
}

// The runner's and the page's own frames say nothing about a failure.
function trimStack(error) {
  return String(error).split('\n')
    .filter((l, i) => i === 0 || !/\/test\/browser\/(runner\.mjs|index\.html)|^\s*at new Promise \(<anonymous>\)$/.test(l))
    .join('\n     ');
}

// Mocha's summary: the counts, then each failure in full.
function summarize({ passed, failed, skipped }, took) {
  console.log(`\n  ${passed} passing, ${failed.length} failing, ${skipped} skipped (${took} s)\n`);
  failed.forEach(({ title, error }, i) => console.log(`  ${i + 1}) ${title}:\n     ${trimStack(error)}\n`));
}

function testFiles(args) {
  const named = args.length ? args : fs.readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.mjs')).sort();
  return named.map((f) => {
    // A path from the current directory (tab completion) or from this folder.
    const file = fs.existsSync(f) ? path.resolve(f) : path.resolve(__dirname, f);
    if (!fs.existsSync(file)) throw usage(`no such test file: ${f}`);
    if (!file.startsWith(ROOT + path.sep)) throw usage(`outside the repository: ${f}`);
    return path.relative(__dirname, file).split(path.sep).join('/');
  });
}

async function main(argv) {
  const skipMissing = argv.includes('--skip-missing');
  const files = testFiles(argv.filter((a) => !a.startsWith('--')));
  const seconds = Number(process.env.PENNY_BROWSER_TIMEOUT || 600);
  if (!(seconds > 0)) throw usage(`PENNY_BROWSER_TIMEOUT is not a number of seconds: ${process.env.PENNY_BROWSER_TIMEOUT}`);
  if (!findChromium()) {
    if (skipMissing) {
      console.log(`Browser tests skipped: Chromium not found (${describeSearch()}).`);
      return 0;
    }
    console.error(`Chromium not found: ${describeSearch()}.\n` +
      'Install it (Debian: apt-get install chromium) or set PENNY_CHROMIUM to its binary; ' +
      'pass --skip-missing to skip the browser tests instead.');
    return 1;
  }
  const t0 = Date.now();
  const deadline = t0 + seconds * 1000;
  // Should the browser itself hang (a wedged page does not answer the
  // DevTools protocol), nothing below returns; this still ends the run.
  setTimeout(() => {
    console.error(`\nBrowser tests: still not finished ${seconds + 30} s after the start; giving up.`);
    process.exit(1);
  }, seconds * 1000 + 30000).unref();

  return withPage(async (page, { url }) => {
    const took = () => ((Date.now() - t0) / 1000).toFixed(1);
    // The page withPage opened is the test page without tests: check first
    // that it is isolated, since nothing shared-memory works otherwise.
    if (!await page.evaluate(() => globalThis.crossOriginIsolated === true)) {
      summarize({ passed: 0, skipped: 0, failed: [{ title: 'the test page is cross-origin isolated',
        error: 'crossOriginIsolated is false: the page did not get COOP: same-origin and COEP: require-corp' }] }, took());
      return 1;
    }
    // What the page reported so far, for a summary if it never finishes.
    const sofar = { passed: 0, failed: [], skipped: 0 };
    let current = null;
    console.log('');
    await page.exposeFunction('__pennyReport', (entry) => {
      if (entry.state === 'started') return void (current = entry.title);
      current = null;
      if (entry.state === 'passed') {
        sofar.passed++;
        console.log(`  ✔ ${entry.title} (${Math.round(entry.ms)} ms)`);
      } else if (entry.state === 'skipped') {
        sofar.skipped++;
        console.log(`  - ${entry.title}${entry.reason ? ` (skipped: ${entry.reason})` : ''}`);
      } else {
        sofar.failed.push(entry);
        console.log(`  ${sofar.failed.length}) ${entry.title}`);
      }
    });
    // A crashed page or a vanished browser ends the wait at once.
    const lost = new Promise((resolve, reject) => {
      const fail = (message) => reject(Object.assign(new Error(message), { lost: true }));
      page.once('error', (e) => fail(`the page crashed (${e.message})`));
      page.browser().once('disconnected', () => fail('the browser exited'));
    });
    await page.goto(`${url}test/browser/index.html?${new URLSearchParams({ files: files.join(',') })}`);
    try {
      await Promise.race([lost, page.waitForFunction(() => window.__pennyDone === true,
        { timeout: Math.max(1, deadline - Date.now()), polling: 250 })]);
    } catch (e) {
      if (e.name !== 'TimeoutError' && !e.lost) throw e;
      const why = e.lost ? e.message : `the run timed out after ${seconds} s (PENNY_BROWSER_TIMEOUT)`;
      sofar.failed.push({ title: current || 'the test page', error: `${why}${current ? ' in this test' : ''}` });
      summarize(sofar, took());
      return 1;
    }
    const results = await page.evaluate(() => window.__pennyResults);
    summarize(results, took());
    // No test at all is a failure too: a glob or a file that registers nothing.
    return results.failed.length || (!results.passed && !results.skipped) ? 1 : 0;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (e) => {
  console.error(e && e.code && e.code.startsWith('PENNY_') ? e.message : e && e.stack || e);
  process.exitCode = 1;
});
