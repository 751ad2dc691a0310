/**
 * Opens the VSIX that `npm run package` built for linux-x64 and checks what a user would install:
 * the bundles, this platform's onnxruntime binary and the Pyodide files the python tool loads offline,
 * and nothing else; and what the Marketplace listing shows: the 128×128 icon, the README's pictures (inside the
 * VSIX or at https URLs) and a CHANGELOG section for this version.
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

/** Reads one entry of the zip whole. */
function readZipEntry(file: string, name: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      zip.on('entry', (e: yauzl.Entry) => {
        if (e.fileName !== name) return zip.readEntry();
        zip.openReadStream(e, (err2, stream) => {
          if (err2 || !stream) return reject(err2 ?? new Error(`cannot read ${name}`));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            zip.close();
            resolve(Buffer.concat(chunks));
          });
        });
      });
      zip.on('end', () => reject(new Error(`VSIX lacks ${name}`)));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

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

test('the listing: a 128×128 PNG icon, README pictures that resolve, a CHANGELOG section for this version', async () => {
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
    icon?: string;
    galleryBanner?: { color?: string; theme?: string };
    categories?: string[];
    keywords?: string[];
  };
  assert.ok(manifest.icon, 'package.json has no "icon"');
  const icon = await readZipEntry(vsix, `extension/${manifest.icon}`);
  // PNG signature, then the IHDR chunk: width and height as big-endian 32-bit integers at bytes 16 and 20.
  assert.equal(icon.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', `${manifest.icon} is not a PNG`);
  assert.deepEqual(
    [icon.readUInt32BE(16), icon.readUInt32BE(20)],
    [128, 128],
    `${manifest.icon} is not 128×128`,
  );
  assert.match(
    manifest.galleryBanner?.color ?? '',
    /^#[0-9a-f]{6}$/i,
    'galleryBanner.color is not a #rrggbb colour',
  );
  assert.ok(
    ['dark', 'light'].includes(manifest.galleryBanner?.theme ?? ''),
    'galleryBanner.theme is not dark/light',
  );
  assert.ok((manifest.keywords ?? []).length <= 30, 'the Marketplace takes at most 30 keywords');

  const names = new Set((await listZip(vsix)).map((e) => e.name));
  const readme = (await readZipEntry(vsix, 'extension/readme.md')).toString('utf8');
  const pictures = [
    ...[...readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)/g)].map((m) => m[1]),
    ...[...readme.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]),
  ];
  assert.ok(pictures.length >= 1, 'the README shows no pictures');
  const broken = pictures.filter((src) =>
    /^https:\/\//.test(src) ? false : !names.has(`extension/${src.replace(/^\.\//, '')}`),
  );
  assert.deepEqual(broken, [], 'README pictures neither inside the VSIX nor at https URLs');

  const changelog = (await readZipEntry(vsix, 'extension/changelog.md')).toString('utf8');
  const versions = [...changelog.matchAll(/^## (\S+)/gm)].map((m) => m[1]);
  assert.equal(
    versions[0],
    pkg.version,
    `the CHANGELOG's first section is not package.json's version ${pkg.version}`,
  );
  assert.ok(
    versions.every((v) => /^\d+\.\d+\.\d+$/.test(v)),
    `CHANGELOG sections are not all versions: ${versions.join(', ')}`,
  );
});
