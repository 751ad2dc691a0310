// Bundles the extension, the worker, the CLI, one browser bundle per webview panel and the test suites.
//   node scripts/build.mjs [--watch] [--production] [--no-tests]
import * as esbuild from 'esbuild';
import { readdirSync, readFileSync, statSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const args = new Set(process.argv.slice(2));
const watch = args.has('--watch');
const production = args.has('--production');
const withTests = !args.has('--no-tests');
const withBench = args.has('--bench');

/**
 * Packages that stay outside the bundles: VS Code's API, the native runtime, and test-only peers.
 * (yauzl is bundled: Install CUDA Support reads the NuGet package with it.)
 */
const nodeExternals = [
  'vscode',
  'onnxruntime-node',
  'tiktoken',
  'playwright-core',
  'mocha',
  '@huggingface/transformers',
  'pyodide',
];

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const common = {
  define: { LLM_LENS_VERSION: JSON.stringify(pkg.version) },
  bundle: true,
  sourcemap: production ? false : 'linked',
  sourcesContent: false,
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
  // Python the engine writes out as it is (src/engine/export/train.py): embedded as text
  loader: { '.py': 'text' },
};

const webviewEntries = readdirSync('webview')
  .filter(
    (d) =>
      d !== 'common' &&
      statSync(join('webview', d)).isDirectory() &&
      existsSync(join('webview', d, 'main.ts')),
  )
  .map((d) => ({ in: join('webview', d, 'main.ts'), out: d }));

/** Test entry points: every *.test.ts under the given folders, bundled one file each. */
function testEntries(dir, suffix) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(suffix)) out.push({ in: p, out: p.slice('test/'.length, -'.ts'.length) });
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const builds = [
  {
    ...common,
    entryPoints: [
      { in: 'src/host/extension.ts', out: 'extension' },
      { in: 'src/worker/worker.ts', out: 'worker' },
      { in: 'src/cli/main.ts', out: 'cli' },
      { in: 'src/engine/tools/pythonChild.ts', out: 'pythonChild' },
    ],
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nodeExternals,
  },
  {
    ...common,
    entryPoints: webviewEntries,
    outdir: 'dist/webview',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

if (withTests) {
  builds.push({
    ...common,
    sourcemap: 'inline',
    minify: false,
    entryPoints: [
      ...testEntries('test/unit', '.test.ts'),
      ...testEntries('test/package', '.test.ts'),
      ...testEntries('test/e2e', '.e2e.ts'),
      { in: 'test/integration/index.ts', out: 'integration/index' },
    ],
    outdir: 'out/test',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: [...nodeExternals],
  });
}

if (withBench) {
  builds.push({
    ...common,
    sourcemap: 'inline',
    minify: false,
    entryPoints: readdirSync('bench')
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => ({ in: join('bench', f), out: f.slice(0, -3) })),
    outdir: 'out/bench',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: [...nodeExternals],
  });
}

if (!watch) {
  rmSync('dist', { recursive: true, force: true });
  if (withTests) rmSync('out', { recursive: true, force: true });
}

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('esbuild: watching for changes');
} else {
  const t0 = Date.now();
  await Promise.all(builds.map((b) => esbuild.build(b)));
  console.log(
    `esbuild: built ${builds.length} bundle groups in ${Date.now() - t0} ms${production ? ' (production)' : ''}`,
  );
}
