/**
 * Install CUDA Support against a NuGet feed on 127.0.0.1 that serves NuGet's v3 URLs (service index,
 * registration leaf, catalog entry with packageHash/packageSize, flat-container .nupkg with Range) and a
 * .nupkg this test builds as a zip with fake provider libraries at the package's real paths. The file
 * list and package name are checked against onnxruntime-node's own install-metadata.js; hashes are
 * computed here with node:crypto. No request leaves the machine.
 *
 *   success: the three libraries land in a temp "bin" folder, byte-equal, no temp files left, and the
 *     probe reports the one missing piece of the fake machine (no driver) without a native load;
 *   wrong bytes: refused by SHA512, nothing installed; a cut connection resumes with Range; a cancel
 *     stops and keeps the partial file for the next call; an unknown version says so; an unwritable
 *     folder and other platforms are refused before any download.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import {
  CUDA_PACKAGE,
  installCudaProviders,
  NUGET_FEED,
  probeCudaInChild,
  resolveCudaPackage,
  type CudaInstallEvent,
  type CudaPackage,
} from '../../src/engine/runtime/cudaInstall';
import { CUDA_PROVIDER_FILES } from '../../src/engine/runtime/probe';
import type { ProviderStatus } from '../../src/protocol/environment';
import { fakeLibs, makeZip, startFeed } from './cudaInstallFeed';

const ORT_DIR = 'node_modules/onnxruntime-node';
const ORT_VERSION = (JSON.parse(fs.readFileSync(`${ORT_DIR}/package.json`, 'utf8')) as { version: string })
  .version;
const ID = CUDA_PACKAGE.toLowerCase();

const temps: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-cuda-'));
  temps.push(d);
  return d;
};
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A fake machine with CUDA 12 and cuDNN 9 in the linker cache but no NVIDIA driver. */
const noDriver = () => ({
  root: tmp(),
  libraryPath: '',
  ldconfig: () =>
    [
      "7 libs found in cache `/etc/ld.so.cache'",
      ...['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcurand.so.10', 'libcufft.so.11']
        .concat(['libcudnn.so.9'])
        .map((l) => `\t${l} (libc6,x86-64) => /usr/local/cuda/lib64/${l}`),
    ].join('\n'),
});

/** A bin folder as onnxruntime-node ships it (the binding and libonnxruntime, no providers). */
function binDir(): string {
  const d = path.join(tmp(), 'bin', 'napi-v6', 'linux', 'x64');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'libonnxruntime.so.1'), 'ort');
  fs.writeFileSync(path.join(d, 'onnxruntime_binding.node'), 'binding');
  return d;
}

const ls = (d: string) => fs.readdirSync(d).sort();
const neverProbe = async (): Promise<ProviderStatus> =>
  assert.fail('no native probe when pieces are missing');

test("the package, feed and file list are onnxruntime-node's own install metadata", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const meta = require(path.resolve(ORT_DIR, 'script/install-metadata.js')) as {
    manifests: Record<string, Record<string, { package: string; path: string }>>;
    packages: Record<string, { name: string; versions: { feed: string; version: string }[] }>;
    feeds: Record<string, { index: string }>;
  };
  const manifest = meta.manifests['linux/x64:cuda12'];
  assert.deepEqual(
    CUDA_PROVIDER_FILES.map((f) => [`./${f.file}`, f.pathInPackage]),
    Object.entries(manifest).map(([file, m]) => [file, m.path]),
  );
  const pkg = meta.packages[Object.values(manifest)[0].package];
  assert.equal(CUDA_PACKAGE, pkg.name);
  assert.deepEqual(pkg.versions, [{ feed: 'nuget', version: ORT_VERSION }]);
  assert.equal(NUGET_FEED, meta.feeds.nuget.index);
});

test('installs the provider libraries from the feed and reports the missing driver', async () => {
  const libs = fakeLibs();
  const nupkg = makeZip(libs);
  const feed = await startFeed(nupkg);
  try {
    const pkg = await resolveCudaPackage({ feed: feed.url });
    assert.equal(pkg.version, ORT_VERSION);
    assert.equal(pkg.size, nupkg.length);
    assert.equal(pkg.sha512, createHash('sha512').update(nupkg).digest('hex'));
    assert.equal(
      pkg.url,
      `${feed.url.replace('/v3/index.json', '')}/v3-flatcontainer/${ID}/${ORT_VERSION}/${ID}.${ORT_VERSION}.nupkg`,
    );

    const bin = binDir();
    const downloadDir = tmp();
    const events: CudaInstallEvent[] = [];
    const r = await installCudaProviders(pkg, {
      binDir: bin,
      downloadDir,
      onProgress: (e) => events.push(e),
      check: noDriver(),
      probe: neverProbe,
    });
    assert.deepEqual(ls(bin), [
      'libonnxruntime.so.1',
      'libonnxruntime_providers_cuda.so',
      'libonnxruntime_providers_shared.so',
      'libonnxruntime_providers_tensorrt.so',
      'onnxruntime_binding.node',
    ]);
    for (const f of CUDA_PROVIDER_FILES) {
      assert.ok(fs.readFileSync(path.join(bin, f.file)).equals(libs[f.pathInPackage]), f.file);
      assert.equal(fs.statSync(path.join(bin, f.file)).mode & 0o777, 0o755, f.file);
    }
    assert.deepEqual(
      r.installed,
      CUDA_PROVIDER_FILES.map((f) => path.join(bin, f.file)),
    );
    assert.deepEqual(ls(downloadDir), [], 'the .nupkg is removed after the install');
    const bytes = events.filter((e) => e.status === 'downloading').map((e) => e.bytes);
    assert.ok(bytes.length > 0 && bytes.every((b, i) => i === 0 || b >= bytes[i - 1]));
    assert.equal(bytes.at(-1), nupkg.length);
    assert.deepEqual(
      events.filter((e) => e.status !== 'downloading'),
      [...CUDA_PROVIDER_FILES.map((f) => ({ status: 'installing', file: f.file })), { status: 'probing' }],
    );
    assert.equal(r.cuda.ok, false);
    assert.deepEqual(
      r.cuda.missing?.map((m) => m.piece),
      ['driver'],
    );
    assert.match(r.cuda.missing![0].detail, /no NVIDIA driver: \/proc\/driver\/nvidia\/version is absent/);
    assert.equal(r.cuda.error, 'the provider libraries are installed; cuda still needs an NVIDIA driver');

    // with every piece in place the native probe runs (in a child process, in the extension)
    const root = noDriver();
    fs.mkdirSync(path.join(root.root, 'proc/driver/nvidia'), { recursive: true });
    fs.writeFileSync(
      path.join(root.root, 'proc/driver/nvidia/version'),
      'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n',
    );
    const ld = root.ldconfig();
    root.ldconfig = () => `${ld}\n\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1`;
    const works: ProviderStatus = { name: 'cuda', ok: true, ms: 12 };
    const again = await installCudaProviders(pkg, {
      binDir: bin,
      downloadDir,
      check: root,
      probe: async () => works,
    });
    assert.equal(again.cuda, works);
  } finally {
    await feed.close();
  }
});

test('bytes that do not match the listed SHA512 are refused and nothing is installed', async () => {
  const nupkg = makeZip(fakeLibs());
  const other = makeZip(fakeLibs()); // what the catalog lists: another package of the same size
  assert.equal(other.length, nupkg.length);
  const feed = await startFeed(nupkg, { listed: other });
  try {
    const pkg = await resolveCudaPackage({ feed: feed.url });
    const bin = binDir();
    const downloadDir = tmp();
    await assert.rejects(
      installCudaProviders(pkg, { binDir: bin, downloadDir, check: noDriver(), probe: neverProbe }),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(`the downloaded file has sha512 ${createHash('sha512').update(nupkg).digest('hex')}`),
        );
        assert.match(e.message, new RegExp(`lists sha512 ${pkg.sha512}`));
        return true;
      },
    );
    assert.deepEqual(ls(bin), ['libonnxruntime.so.1', 'onnxruntime_binding.node']);
    assert.deepEqual(ls(downloadDir), [], 'the bad partial file is deleted');
  } finally {
    await feed.close();
  }
});

test('a package without one of the files installs none of them', async () => {
  const libs = fakeLibs();
  delete libs['runtimes/linux-x64/native/libonnxruntime_providers_tensorrt.so'];
  const feed = await startFeed(makeZip(libs));
  try {
    const pkg = await resolveCudaPackage({ feed: feed.url });
    const bin = binDir();
    await assert.rejects(
      installCudaProviders(pkg, { binDir: bin, downloadDir: tmp(), check: noDriver(), probe: neverProbe }),
      /does not contain runtimes\/linux-x64\/native\/libonnxruntime_providers_tensorrt\.so: nothing was installed/,
    );
    assert.deepEqual(ls(bin), ['libonnxruntime.so.1', 'onnxruntime_binding.node']);
  } finally {
    await feed.close();
  }
});

test('a connection cut mid-package is resumed with a Range request', async () => {
  const libs = fakeLibs();
  const nupkg = makeZip(libs);
  const feed = await startFeed(nupkg, { cutAfter: 100_000 });
  try {
    const pkg = await resolveCudaPackage({ feed: feed.url });
    const bin = binDir();
    const r = await installCudaProviders(pkg, {
      binDir: bin,
      downloadDir: tmp(),
      check: noDriver(),
      probe: neverProbe,
    });
    const gets = feed.requests.filter((q) => q.url.endsWith('.nupkg'));
    assert.equal(gets.length, 2);
    assert.equal(gets[0].range, undefined);
    const start = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? '')?.[1]);
    assert.ok(start > 0 && start <= 100_000, `resumed from ${gets[1].range}`);
    assert.equal(gets[1].status, 206);
    assert.ok(
      fs
        .readFileSync(path.join(bin, 'libonnxruntime_providers_cuda.so'))
        .equals(libs[CUDA_PROVIDER_FILES[0].pathInPackage]),
    );
    assert.deepEqual(
      r.cuda.missing?.map((m) => m.piece),
      ['driver'],
    );
  } finally {
    await feed.close();
  }
});

test('cancel stops the download, installs nothing and keeps the partial file for the next try', async () => {
  const nupkg = makeZip(fakeLibs());
  const feed = await startFeed(nupkg, { stallAfter: 64_000 });
  try {
    const pkg = await resolveCudaPackage({ feed: feed.url });
    const bin = binDir();
    const downloadDir = tmp();
    const ac = new AbortController();
    await assert.rejects(
      installCudaProviders(pkg, {
        binDir: bin,
        downloadDir,
        signal: ac.signal,
        onProgress: (e) => e.status === 'downloading' && ac.abort(),
        check: noDriver(),
        probe: neverProbe,
      }),
      { name: 'AbortError' },
    );
    assert.deepEqual(ls(bin), ['libonnxruntime.so.1', 'onnxruntime_binding.node']);
    const partial = path.join(downloadDir, `${ID}.${ORT_VERSION}.nupkg.incomplete`);
    const kept = fs.statSync(partial).size;
    assert.ok(kept > 0 && kept <= 64_000);

    await installCudaProviders(pkg, { binDir: bin, downloadDir, check: noDriver(), probe: neverProbe });
    assert.equal(feed.requests.filter((q) => q.url.endsWith('.nupkg')).at(-1)?.range, `bytes=${kept}-`);
    assert.equal(ls(bin).length, 5);
  } finally {
    await feed.close();
  }
});

test('a version the feed does not have gets a message naming it and the feed', async () => {
  const feed = await startFeed(makeZip(fakeLibs()));
  try {
    await assert.rejects(resolveCudaPackage({ feed: feed.url, ortVersion: '1.99.0' }), (e: Error) => {
      assert.match(e.message, new RegExp(`^${CUDA_PACKAGE} 1\\.99\\.0 is not on the NuGet feed ${feed.url}`));
      assert.match(e.message, /LLM_LENS_CUDA_FEED/);
      return true;
    });
  } finally {
    await feed.close();
  }
});

test('other platforms and unwritable folders are refused before any download', async () => {
  await assert.rejects(
    resolveCudaPackage({ feed: 'http://127.0.0.1:9/never', platform: 'win32', arch: 'x64' }),
    /linux-x64 only: .*Gpu\.Windows has its own layout.* On win32-x64, use the webgpu execution provider/,
  );
  await assert.rejects(
    resolveCudaPackage({ feed: 'http://127.0.0.1:9/never', platform: 'darwin', arch: 'arm64' }),
    /linux-x64 only/,
  );
  const feed = await startFeed(makeZip(fakeLibs()));
  try {
    const pkg: CudaPackage = await resolveCudaPackage({ feed: feed.url });
    const notADir = path.join(tmp(), 'file');
    fs.writeFileSync(notADir, '');
    await assert.rejects(
      installCudaProviders(pkg, {
        binDir: notADir,
        downloadDir: tmp(),
        check: noDriver(),
        probe: neverProbe,
      }),
      new RegExp(
        `cannot write the CUDA provider libraries into onnxruntime-node's folder ${notADir} \\(ENOTDIR\\)`,
      ),
    );
    assert.equal(feed.requests.filter((q) => q.url.endsWith('.nupkg')).length, 0);
  } finally {
    await feed.close();
  }
});

test('the native probe runs in a child process: a crash there is a reason, not a crash here', async () => {
  const dir = tmp();
  const crashing = path.join(dir, 'cli.js');
  fs.writeFileSync(
    crashing,
    "process.stderr.write('loading libonnxruntime_providers_cuda.so\\n'); process.kill(process.pid, 'SIGSEGV');",
  );
  const crashed = await probeCudaInChild(crashing);
  assert.equal(crashed.ok, false);
  assert.equal(
    crashed.error,
    'the probe process (cli.js env --json) was stopped by SIGSEGV while loading the CUDA provider: loading libonnxruntime_providers_cuda.so',
  );

  // the real CLI: cuda works here, or says why; without the provider libraries that is among the reasons
  const real = await probeCudaInChild(path.resolve('dist/cli.js'));
  assert.equal(real.name, 'cuda');
  if (
    !fs.existsSync(`${ORT_DIR}/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so`) &&
    process.platform === 'linux' &&
    process.arch === 'x64'
  )
    assert.ok(
      real.missing?.some((m) => m.piece === 'providers'),
      JSON.stringify(real),
    );
  else assert.ok(real.ok || real.error, JSON.stringify(real));
});
