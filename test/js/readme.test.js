'use strict';

// The docs cannot drift from the code: every JavaScript block in README.md
// and docs/*.md that is a complete program (it loads 'penny' itself) runs
// here, as CommonJS or as an ES module according to how it loads Penny,
// from a directory where 'penny' resolves to this package. It must exit 0,
// and each `console.log(...)` line that ends in a `// value` comment must
// print that value, in order.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT } = require('./fixtures/common');

function programs(file) {
  const text = fs.readFileSync(file, 'utf8');
  const out = [];
  const re = /```js\n([\s\S]*?)```/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    const code = m[1];
    const esm = /^import .* from 'penny';$/m.test(code);
    if (!esm && !/require\('penny'\)/.test(code)) continue; // a fragment
    const line = text.slice(0, m.index).split('\n').length;
    const expected = [...code.matchAll(/console\.log\(.*\);\s*\/\/ (.+)$/gm)]
      .map((x) => x[1].trim());
    out.push({ name: `${path.basename(file)}:${line}`, code, esm, expected });
  }
  return out;
}

describe('the docs run', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penny-readme-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'penny'), 'dir');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const files = [path.join(ROOT, 'README.md'),
    ...fs.readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => path.join(ROOT, 'docs', f))];
  const all = files.flatMap(programs);

  it('finds the README\'s first example in both module systems', () => {
    assert.ok(all.some((p) => p.name.startsWith('README') && p.esm));
    assert.ok(all.some((p) => p.name.startsWith('README') && !p.esm));
  });

  for (const p of all) {
    it(`${p.name} (${p.esm ? 'ES module' : 'CommonJS'}) runs as written`,
      () => {
        const file = path.join(dir, `example${p.esm ? '.mjs' : '.cjs'}`);
        fs.writeFileSync(file, p.code);
        const r = spawnSync(process.execPath, [file],
          { cwd: dir, encoding: 'utf8', timeout: 60000 });
        assert.equal(r.status, 0, r.stderr);
        const lines = r.stdout.trim().split('\n');
        assert.deepEqual(lines.slice(0, p.expected.length), p.expected);
      });
  }
});
