'use strict';

// penny/browser on a page that is not cross-origin isolated (the server
// without COOP and COEP): the import succeeds, and new Pool() throws
// ERR_PENNY_ISOLATION naming the headers the page needs. Exit status 1
// otherwise. run.js runs the rest of the browser tests on an isolated page.

const { withPage } = require('./page');

withPage(async (page, { url }) => {
  const got = await page.evaluate(async (base) => {
    const { Pool } = await import(`${base}lib/browser/index.mjs`);
    try {
      new Pool({ threads: 1 }); // eslint-disable-line no-new
      return { isolated: crossOriginIsolated, code: 'none' };
    } catch (err) {
      return { isolated: crossOriginIsolated, code: err.code,
        message: err.message };
    }
  }, url);
  const ok = got.isolated === false && got.code === 'ERR_PENNY_ISOLATION' &&
    /Cross-Origin-Opener-Policy: same-origin/.test(got.message) &&
    /Cross-Origin-Embedder-Policy: require-corp/.test(got.message);
  console.log(`${ok ? '  ✔' : '  1)'} a page without cross-origin isolation ` +
    `gets ERR_PENNY_ISOLATION from new Pool() (${JSON.stringify(got)})`);
  process.exitCode = ok ? 0 : 1;
}, { isolated: false }).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
