// Builds a platform-specific VSIX that carries only that platform's onnxruntime-node binaries.
// The README's pictures (docs/images) ship inside the VSIX, where VS Code's extension page finds them by their
// relative paths; for the Marketplace web page, --base-url makes vsce rewrite them to absolute URLs under the
// project's public repository (e.g. https://github.com/OWNER/REPO/raw/HEAD/), which this package does not name.
//   node scripts/package.mjs [--target linux-x64|linux-arm64|darwin-x64|darwin-arm64|win32-x64|win32-arm64] [--out FILE]
//                            [--base-url URL]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const target = opt('--target', `${process.platform}-${process.arch}`);
const baseUrl = opt('--base-url', undefined);
if (baseUrl !== undefined && !/^https:\/\/\S+\/$/.test(baseUrl)) {
  console.error(
    `package: --base-url must be an https URL ending in "/" under which docs/images/… resolve; got ${baseUrl}`,
  );
  process.exit(2);
}
const [platform, arch] = target.split('-');
const ortDir = 'node_modules/onnxruntime-node/bin/napi-v6';
const available = readdirSync(ortDir).flatMap((p) => readdirSync(join(ortDir, p)).map((a) => `${p}-${a}`));
if (!available.includes(target)) {
  console.error(
    `package: onnxruntime-node ships no binaries for ${target}; targets with binaries: ${available.join(', ')}`,
  );
  process.exit(2);
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const out = opt('--out', `dist-vsix/${pkg.name}-${target}-${pkg.version}.vsix`);
mkdirSync(out.slice(0, out.lastIndexOf('/')) || '.', { recursive: true });

execFileSync(process.execPath, ['scripts/build.mjs', '--production', '--no-tests'], { stdio: 'inherit' });

// .vscodeignore plus this platform's native binaries
const ignore = readFileSync('.vscodeignore', 'utf8') + `!${ortDir}/${platform}/${arch}/**\n`;
const ignoreFile = join(tmpdir(), `llm-lens-vscodeignore-${target}`);
writeFileSync(ignoreFile, ignore);

const vsce = join('node_modules', '.bin', process.platform === 'win32' ? 'vsce.cmd' : 'vsce');
execFileSync(
  vsce,
  [
    'package',
    '--target',
    target,
    '--ignoreFile',
    ignoreFile,
    '--allow-missing-repository',
    ...(baseUrl
      ? ['--baseContentUrl', baseUrl, '--baseImagesUrl', baseUrl]
      : ['--no-rewrite-relative-links']),
    '-o',
    out,
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
if (!existsSync(out)) throw new Error(`vsce did not write ${out}`);
console.log(`package: ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB, target ${target})`);
