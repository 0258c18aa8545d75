'use strict';

// The browser example (examples/browser/, npm run serve:example) in
// headless Chromium: it must finish with both Mandelbrot images equal and
// both prime counts the same. `--screenshot FILE` saves the page as the
// README shows it. Exit status 1 otherwise.

const { withPage } = require('./page');

const args = process.argv.slice(2);
const shot = args.includes('--screenshot')
  ? args[args.indexOf('--screenshot') + 1] : null;

withPage(async (page) => {
  await page.setViewport({ width: 1040, height: 760 });
  await page.waitForFunction(() => document.body.dataset.done !== undefined,
    { timeout: 120000, polling: 250 });
  const got = await page.evaluate(() => ({
    done: document.body.dataset.done,
    status: document.getElementById('status').textContent,
    penny: document.getElementById('tasks-penny').textContent,
    plain: document.getElementById('tasks-plain').textContent,
    fib: document.getElementById('fib').textContent,
  }));
  const count = (s) => s.split(' primes')[0];
  const ok = got.done === 'true' && /agree/.test(got.status) &&
    count(got.penny) === count(got.plain) && got.fib.startsWith('196,418');
  console.log(`${ok ? '  ✔' : '  1)'} the browser example renders and counts ` +
    `(${JSON.stringify(got)})`);
  if (shot !== null) await page.screenshot({ path: shot });
  process.exitCode = ok ? 0 : 1;
}, { path: 'examples/browser/index.html' }).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
