'use strict';

// Headless Chromium on a page of the test server (server.js), for the
// browser tests (run.js) and for anything else that needs Penny in a real
// browser, such as benchmarks:
//
//   const { withPage } = require('./test/browser/page');
//   await withPage(async (page, { url, browser }) => {
//     await page.evaluate(async () => { ... });
//   }, { isolated: true, path: 'test/browser/index.html' });
//
// The page starts at `path` under the server (by default the test page with
// no test files, which runs nothing); `url` is the server's root URL. The
// page's console goes to `log` with a '[page]' prefix (log: null: nowhere).
// Chromium is PENNY_CHROMIUM, else the Debian package's binary.

const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { serve } = require('./server');

const ROOT = path.resolve(__dirname, '..', '..');
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

// The path of Chromium's binary, or null. An explicit PENNY_CHROMIUM that
// does not exist is not silently replaced by another browser.
function findChromium() {
  const wanted = process.env.PENNY_CHROMIUM;
  if (wanted) return fs.existsSync(wanted) ? wanted : null;
  return CANDIDATES.find((p) => fs.existsSync(p)) || null;
}

function describeSearch() {
  const wanted = process.env.PENNY_CHROMIUM;
  return wanted ? `PENNY_CHROMIUM=${wanted} does not exist` : `none of ${CANDIDATES.join(', ')} exists`;
}

// puppeteer-core is an ES module since version 22: import() loads it on every
// Node version, where require() would need require(esm). Resolving it with
// require.resolve first keeps NODE_PATH working, which import() ignores.
async function loadPuppeteer() {
  let file;
  try {
    file = require.resolve('puppeteer-core');
  } catch {
    throw Object.assign(new Error('puppeteer-core is not installed (it is a devDependency: npm install)'),
      { code: 'PENNY_NO_PUPPETEER' });
  }
  const mod = await import(pathToFileURL(file).href);
  return mod.default || mod;
}

async function withPage(fn, {
  isolated = true,
  path: start = 'test/browser/index.html',
  root = ROOT,
  executablePath = findChromium(),
  log = (line) => console.log(line),
} = {}) {
  if (!executablePath) throw Object.assign(new Error(`Chromium not found: ${describeSearch()}`), { code: 'PENNY_NO_CHROMIUM' });
  const puppeteer = await loadPuppeteer();
  const server = await serve({ root, isolated });
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true, // the new headless mode: the same browser as a windowed one
      // As root in a container Chromium refuses to start with its sandbox;
      // there is no GPU; /dev/shm may be small (the Debian wrapper adds
      // --disable-dev-shm-usage itself only when it is).
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    if (log) {
      page.on('console', (m) => {
        // Chromium's own message for a failed load does not name the URL.
        const where = m.text().startsWith('Failed to load resource') ? ` ${m.location().url}` : '';
        log(`[page] ${m.text()}${where}`);
      });
      page.on('pageerror', (e) => log(`[page] uncaught: ${String(e && e.message || e).split('\n')[0]}`));
    }
    await page.goto(server.url + start);
    return await fn(page, { url: server.url, browser });
  } finally {
    if (browser) await browser.close().catch(() => {});
    await server.close();
  }
}

module.exports = { withPage, findChromium, describeSearch, ROOT };
