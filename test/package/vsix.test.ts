/**
 * Opens the VSIX that `npm run package` built for linux-x64 and checks what a user would install:
 * the bundles, this platform's onnxruntime binary and the Pyodide files the python tool loads offline,
 * and nothing else.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import yauzl from 'yauzl';
import { PYODIDE_FILES } from '../../src/engine/tools/python';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};
const vsix = process.env.LLM_LENS_VSIX ?? join('dist-vsix', `${pkg.name}-linux-x64-${pkg.version}.vsix`);

function listZip(file: string): Promise<{ name: string; size: number }[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const entries: { name: string; size: number }[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        entries.push({ name: e.fileName, size: e.uncompressedSize });
        zip.readEntry();
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

test('the linux-x64 VSIX holds the bundles and only linux-x64 onnxruntime binaries', async () => {
  const size = statSync(vsix).size;
  console.log(`VSIX ${vsix}: ${(size / 1e6).toFixed(1)} MB`);
  assert.ok(size < 60e6, `VSIX is ${(size / 1e6).toFixed(1)} MB, over the 60 MB budget`);

  const names = (await listZip(vsix)).map((e) => e.name);
  const has = (n: string) => assert.ok(names.includes(n), `VSIX lacks ${n}`);
  has('extension/package.json');
  has('extension/dist/extension.js');
  has('extension/dist/worker.js');
  has('extension/dist/cli.js');
  has('extension/dist/pythonChild.js');
  for (const f of PYODIDE_FILES) has(`extension/node_modules/pyodide/${f}`);
  for (const panel of readdirSync('webview').filter(
    (d) => d !== 'common' && statSync(join('webview', d)).isDirectory(),
  )) {
    has(`extension/dist/webview/${panel}.js`);
  }
  has('extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node');
  has('extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1');
  has('extension/node_modules/onnxruntime-node/dist/index.js');
  has('extension/node_modules/onnxruntime-common/dist/cjs/index.js');

  const otherPlatforms = names.filter(
    (n) => /onnxruntime-node\/bin\//.test(n) && !n.includes('/bin/napi-v6/linux/x64/'),
  );
  assert.deepEqual(otherPlatforms, [], 'binaries of other platforms are in the VSIX');
  const forbidden = names.filter(
    (n) =>
      /^extension\/(src|test|webview|scripts|out|\.cache)\//.test(n) ||
      n.endsWith('.map') ||
      (n.endsWith('.ts') && !n.endsWith('.d.ts')),
  );
  assert.deepEqual(forbidden, [], 'sources, tests or source maps are in the VSIX');
  const devDeps = Object.keys(pkg.devDependencies).filter((d) =>
    names.some((n) => n.startsWith(`extension/node_modules/${d}/`)),
  );
  assert.deepEqual(devDeps, [], 'dev dependencies are in the VSIX');
  const modules = new Set(
    names
      .filter((n) => n.startsWith('extension/node_modules/'))
      .map((n) =>
        n
          .split('/')
          .slice(2, n.split('/')[2].startsWith('@') ? 4 : 3)
          .join('/'),
      ),
  );
  assert.deepEqual(
    [...modules].sort(),
    ['onnxruntime-common', 'onnxruntime-node', 'pyodide'],
    'unexpected runtime modules in the VSIX',
  );
});
