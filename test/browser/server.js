'use strict';

// A static file server for the browser tests (run.js, page.js) and for
// `npm run serve:example`. Every response carries the cross-origin isolation
// headers, because a page gets SharedArrayBuffer, shared WebAssembly memory
// and Atomics.wait in workers only when crossOriginIsolated is true.
//
//   node test/browser/server.js [ROOT] [PORT] [--path P] [--no-isolation]
//
// ROOT defaults to the repository root, PORT to 8080 (0 picks a free one).
// --path P prints the URL of P under the server (e.g. examples/browser/).
// It listens on 127.0.0.1 only: an http:// origin other than localhost is
// not a secure context, and there crossOriginIsolated stays false.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', // streaming compilation requires exactly this
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

function headers(isolated, extra) {
  const h = {
    'Cache-Control': 'no-store', // a rebuilt .wasm or .mjs must never be stale
    // CORP on our own responses lets a COEP page (or a worker) load them.
    'Cross-Origin-Resource-Policy': 'same-origin',
    ...extra,
  };
  if (isolated) {
    h['Cross-Origin-Opener-Policy'] = 'same-origin';
    h['Cross-Origin-Embedder-Policy'] = 'require-corp';
  }
  return h;
}

function send(req, res, isolated, status, body, extra) {
  res.writeHead(status, headers(isolated, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...extra,
  }));
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function handle(req, res, root, isolated) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(req, res, isolated, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
  }
  const { pathname, search } = new URL(req.url, 'http://localhost');
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return send(req, res, isolated, 400, 'Bad request\n');
  }
  // The URL parser already folds '..' segments, but an encoded '%2F..' only
  // becomes one after decoding: check the resolved path, not the URL.
  let file = path.resolve(root, '.' + decoded);
  if (decoded.includes('\0') || (file !== root && !file.startsWith(root + path.sep))) {
    return send(req, res, isolated, 403, 'Forbidden\n');
  }
  let stat;
  try {
    stat = await fs.promises.stat(file);
    if (stat.isDirectory()) {
      // Without the slash, relative imports in index.html resolve one level up.
      if (!pathname.endsWith('/')) {
        return send(req, res, isolated, 301, 'Moved\n', { Location: pathname + '/' + search });
      }
      file = path.join(file, 'index.html');
      stat = await fs.promises.stat(file);
    }
    if (!stat.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return send(req, res, isolated, 404, 'Not found\n');
    return send(req, res, isolated, 500, 'Internal error\n');
  }
  res.writeHead(200, headers(isolated, {
    'Content-Type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
    'Content-Length': stat.size,
  }));
  if (req.method === 'HEAD') return res.end();
  fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

// Resolves to { url, close() } once listening; url ends with '/'.
function serve({ root, port = 0, host = '127.0.0.1', isolated = true } = {}) {
  if (!root) throw new TypeError('serve: root is required');
  const base = path.resolve(root);
  const server = http.createServer((req, res) => {
    handle(req, res, base, isolated).catch(() => res.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const { port: actual } = server.address();
      const name = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${name}:${actual}/`,
        // A browser keeps idle connections open; close() must not wait on them.
        close: () => new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}

module.exports = { serve };

if (require.main === module) {
  const args = process.argv.slice(2);
  const positional = [];
  let open = '';
  let isolated = true;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--path') open = args[++i] || '';
    else if (args[i] === '--no-isolation') isolated = false;
    else positional.push(args[i]);
  }
  const root = path.resolve(positional[0] || path.join(__dirname, '..', '..'));
  const port = Number(positional[1] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Not a port: ${positional[1]}`);
    process.exit(1);
  }
  serve({ root, port, isolated }).then(({ url }) => {
    const target = url + open.replace(/^\/+/, '');
    console.log(open ? `Penny example: ${target}` : `Serving ${root} at ${target}`);
    if (!isolated) console.log('(without COOP/COEP: the page will not be cross-origin isolated)');
  }, (e) => {
    console.error(e.code === 'EADDRINUSE'
      ? `Port ${port} is in use; pass another one (0 picks a free port).`
      : e.message);
    process.exit(1);
  });
}
