// `npm test`: build, type-check, format and lint checks, unit tests, boundary check, package + VSIX check, then end-to-end
// tests in a real VS Code (code-server + Chromium). Prints one closing line: "tests: N passed, N failed".
//   node scripts/test.mjs [--only unit|package|e2e] [--skip-build]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const t0 = Date.now();
const totals = { pass: 0, fail: 0 };
const failures = [];

function elapsed() {
  return `${((Date.now() - t0) / 1000).toFixed(0)}s`;
}

function step(name, cmd, args, opts = {}) {
  console.log(`\n=== [${elapsed()}] ${name}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`=== ${name} failed (exit ${r.status ?? r.signal})`);
    console.log(`tests: ${totals.pass} passed, ${totals.fail + 1} failed`);
    process.exit(1);
  }
}

function files(dir, suffix) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => f.endsWith(suffix) && statSync(f).isFile())
    .sort();
}

/** Runs node's test runner over files, echoing its spec output and adding its counts to the totals. */
function nodeTests(name, testFiles, { concurrency = true, timeoutMs } = {}) {
  return new Promise((resolve) => {
    console.log(`\n=== [${elapsed()}] ${name} (${testFiles.length} files)`);
    if (!testFiles.length) {
      console.log(`=== ${name}: no test files`);
      failures.push(`${name}: no test files`);
      totals.fail++;
      return resolve();
    }
    const args = [
      '--enable-source-maps',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${concurrency ? 2 : 1}`,
    ];
    if (timeoutMs) args.push(`--test-timeout=${timeoutMs}`);
    const child = spawn(process.execPath, [...args, ...testFiles], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code) => {
      const count = (k) => Number((out.match(new RegExp(`ℹ ${k} (\\d+)`)) ?? [])[1] ?? 0);
      const pass = count('pass');
      const fail = count('fail') + count('cancelled');
      totals.pass += pass;
      totals.fail += fail;
      if (code !== 0 && fail === 0) {
        totals.fail++;
        failures.push(`${name}: runner exited ${code}`);
      } else if (fail) failures.push(`${name}: ${fail} failed`);
      resolve();
    });
  });
}

if (!argv.includes('--skip-build')) {
  step('build', process.execPath, ['scripts/build.mjs']);
  step('typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
  step('typecheck webviews', process.execPath, [
    'node_modules/typescript/bin/tsc',
    '-p',
    'webview/tsconfig.json',
  ]);
  step('format (prettier --check)', process.execPath, [
    'node_modules/prettier/bin/prettier.cjs',
    '--check',
    '--log-level=warn',
    '.',
  ]);
  step('lint (eslint)', process.execPath, ['node_modules/eslint/bin/eslint.js', '.']);
}

if (!only || only === 'unit') {
  await nodeTests('unit tests', files('out/test/unit', '.test.js'));
}

if (!only || only === 'package' || only === 'e2e') {
  step('package linux-x64 VSIX', process.execPath, [
    'scripts/package.mjs',
    '--target',
    `${process.platform}-${process.arch}`,
  ]);
  await nodeTests('VSIX contents', files('out/test/package', '.test.js'));
}

if (!only || only === 'e2e') {
  if (!existsSync('/usr/bin/chromium') && !process.env.CHROMIUM_PATH) {
    console.error(
      'e2e: Chromium is missing: apt-get install chromium (or run .ci/run, which installs everything)',
    );
    totals.fail++;
    failures.push('e2e: no Chromium');
  } else {
    step('code-server', 'bash', ['scripts/setup-code-server.sh']);
    await nodeTests('end-to-end in VS Code (code-server)', files('out/test/e2e', '.e2e.js'), {
      concurrency: false,
      timeoutMs: 600_000,
    });
  }
}

console.log(`\n=== [${elapsed()}] done`);
if (failures.length) console.log(`failed: ${failures.join('; ')}`);
console.log(`tests: ${totals.pass} passed, ${totals.fail} failed`);
process.exit(totals.fail ? 1 : 0);
