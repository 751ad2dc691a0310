/** The runtime probe, the worker that runs it, the CLI that prints it and the webview message validator. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ortMessage } from '../../src/engine/runtime/ort';
import {
  cudaMissing,
  parseLdconfig,
  probeRuntime,
  type CudaCheckOptions,
} from '../../src/engine/runtime/probe';
import { isEnvironmentWebviewMessage } from '../../src/host/panels/validate';
import type { RuntimeReport } from '../../src/protocol/environment';
import { WorkerClient } from '../../src/worker/client';

const ortVersion = (
  JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }
).version;

test('the probe finds the installed onnxruntime-node and a working cpu provider', async () => {
  const r = await probeRuntime(2);
  assert.equal(r.ortVersion, ortVersion);
  assert.deepEqual(
    r.providers.map((p) => p.name),
    ['cpu', 'webgpu', 'cuda'],
  );
  assert.equal(r.providers[0].ok, true, r.providers[0].error);
  for (const p of r.providers) assert.ok(p.ok || p.error, `${p.name}: neither ok nor a reason`);
  assert.ok(r.backends.some((b) => b.name === 'cpu' && b.bundled));
});

test('ORT assertion messages are reduced to what a person can act on', () => {
  const raw =
    '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n';
  assert.equal(ortMessage(new Error(raw)), 'Failed to get a WebGPU adapter: No supported adapters');
  assert.equal(
    ortMessage(new Error('[ONNXRuntimeError] : 1 : FAIL : Load model failed')),
    'Load model failed',
  );
  assert.equal(ortMessage('plain'), 'plain');
});

test('the worker runs the probe off the main thread and reports the same runtime', async () => {
  const client = new WorkerClient(resolve('dist/worker.js'));
  try {
    const result = await client.run({ kind: 'probeRuntime', cpus: 3 });
    assert.equal(result.kind, 'probeRuntime');
    assert.equal(result.report.ortVersion, ortVersion);
    assert.equal(result.report.cpus, 3);
    assert.equal(result.report.providers[0].ok, true);
  } finally {
    await client.dispose();
  }
});

test('a worker that dies rejects its pending jobs with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llm-lens-worker-'));
  const crashing = join(dir, 'worker.js');
  writeFileSync(
    crashing,
    "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom in job'); });",
  );
  const client = new WorkerClient(crashing);
  await assert.rejects(
    client.run({ kind: 'probeRuntime', cpus: 1 }),
    /The LLM Lens worker crashed: boom in job/,
  );
  await client.dispose();
});

test('llm-lens env --json prints the runtime report; bad usage exits 2 with help', () => {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'env', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as RuntimeReport;
  assert.equal(report.ortVersion, ortVersion);
  assert.equal(report.providers.find((p) => p.name === 'cpu')?.ok, true);

  const bad = spawnSync(process.execPath, ['dist/cli.js', 'frobnicate'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
  assert.match(bad.stderr, /Usage:/);
  // a command's bad option: its message and where to look, not the whole usage over it
  const badOption = spawnSync(process.execPath, ['dist/cli.js', 'sample', '--top-p', '0'], {
    encoding: 'utf8',
  });
  assert.equal(badOption.status, 2);
  assert.equal(
    badOption.stderr,
    "llm-lens: sample: --top-p must be a number > 0 and ≤ 1, got 0\nRun 'llm-lens sample --help' for its options.\n",
  );
  const tokenizeHelp = spawnSync(process.execPath, ['dist/cli.js', 'tokenize', '--help'], {
    encoding: 'utf8',
  });
  assert.equal(tokenizeHelp.status, 0);
  assert.match(tokenizeHelp.stdout, /llm-lens tokenize --tokenizer NAME\|PATH/);
  const version = spawnSync(process.execPath, ['dist/cli.js', '--version'], { encoding: 'utf8' });
  assert.equal(
    version.stdout.trim(),
    (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version,
  );
});

test('webview messages are validated: exact shapes only', () => {
  for (const ok of [{ type: 'ready' }, { type: 'refresh' }, { type: 'copy' }, { type: 'installCuda' }])
    assert.equal(isEnvironmentWebviewMessage(ok), true);
  for (const bad of [
    null,
    'ready',
    [],
    { type: 'exec' },
    { type: 'ready', extra: 1 },
    { kind: 'ready' },
    { type: 1 },
  ]) {
    assert.equal(isEnvironmentWebviewMessage(bad), false, JSON.stringify(bad));
  }
});

test('a cuda provider that does not work says which pieces are missing', async () => {
  const r = await probeRuntime(2);
  const cuda = r.providers.find((p) => p.name === 'cuda')!;
  if (cuda.ok) return assert.equal(cuda.missing, undefined);
  const bin = `node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}`;
  const pieces = cuda.missing?.map((m) => m.piece) ?? [];
  if (process.platform !== 'linux' || process.arch !== 'x64') return assert.deepEqual(pieces, ['platform']);
  assert.equal(pieces.includes('providers'), !existsSync(`${bin}/libonnxruntime_providers_cuda.so`));
  if (!existsSync('/proc/driver/nvidia/version')) assert.ok(pieces.includes('driver'), JSON.stringify(cuda));
});

const CUDA_LIBS = [
  'libcudart.so.12',
  'libcublas.so.12',
  'libcublasLt.so.12',
  'libcurand.so.10',
  'libcufft.so.11',
];

/** A fake machine: a root folder, `ldconfig -p` output and onnxruntime-node's bin folder. */
function fakeMachine(o: {
  driver?: string;
  cache?: string[];
  cacheArch?: string;
  libraryPath?: Record<string, string[]>;
  providers?: boolean;
}): CudaCheckOptions {
  const root = mkdtempSync(join(tmpdir(), 'llm-lens-cuda-root-'));
  if (o.driver !== undefined) {
    mkdirSync(join(root, 'proc/driver/nvidia'), { recursive: true });
    writeFileSync(join(root, 'proc/driver/nvidia/version'), o.driver);
  }
  for (const [dir, libs] of Object.entries(o.libraryPath ?? {})) {
    mkdirSync(join(root, dir), { recursive: true });
    for (const l of libs) writeFileSync(join(root, dir, l), '');
  }
  const binDir = join(root, 'ext/node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
  mkdirSync(binDir, { recursive: true });
  if (o.providers !== false)
    for (const f of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'])
      writeFileSync(join(binDir, f), '');
  const ldconfig = [
    `${(o.cache ?? []).length} libs found in cache \`/etc/ld.so.cache'`,
    '\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6',
    ...(o.cache ?? []).map(
      (l) => `\t${l} (${o.cacheArch ?? 'libc6,x86-64'}) => /usr/lib/x86_64-linux-gnu/${l}`,
    ),
  ].join('\n');
  return {
    root,
    binDir,
    platform: 'linux',
    arch: 'x64',
    libraryPath: Object.keys(o.libraryPath ?? {}).join(':'),
    ldconfig: () => ldconfig,
  };
}

const DRIVER_550 =
  'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0\n';
const pieces = (o: CudaCheckOptions) => cudaMissing(o).map((m) => m.piece);

test('cuda prerequisites: a complete machine lacks nothing', () => {
  assert.deepEqual(
    cudaMissing(fakeMachine({ driver: DRIVER_550, cache: ['libcuda.so.1', ...CUDA_LIBS, 'libcudnn.so.9'] })),
    [],
  );
  // the open kernel module's line, and libraries found through LD_LIBRARY_PATH (pip's nvidia-* wheels)
  const open = 'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build\n';
  assert.deepEqual(
    pieces(
      fakeMachine({
        driver: open,
        cache: ['libcuda.so.1'],
        libraryPath: { '/venv/nvidia/cudnn/lib': ['libcudnn.so.9'], '/venv/nvidia/cu12/lib': CUDA_LIBS },
      }),
    ),
    [],
  );
});

test('cuda prerequisites: each missing piece is named with what to install', () => {
  const all = ['libcuda.so.1', ...CUDA_LIBS, 'libcudnn.so.9'];
  const noDriver = cudaMissing(fakeMachine({ cache: all }));
  assert.deepEqual(
    noDriver.map((m) => m.piece),
    ['driver'],
  );
  assert.match(noDriver[0].detail, /^no NVIDIA driver: \/proc\/driver\/nvidia\/version is absent/);

  const noLibcuda = cudaMissing(fakeMachine({ driver: DRIVER_550, cache: all.slice(1) }));
  assert.deepEqual(
    noLibcuda.map((m) => m.piece),
    ['driver'],
  );
  assert.match(noLibcuda[0].detail, /libcuda\.so\.1 was not found/);

  const old = cudaMissing(fakeMachine({ driver: DRIVER_550.replace('550.54.14', '470.223.02'), cache: all }));
  assert.match(old[0].detail, /NVIDIA driver 470 is too old for CUDA 12, which needs 525 or newer/);

  const noCublasLt = cudaMissing(
    fakeMachine({ driver: DRIVER_550, cache: all.filter((l) => l !== 'libcublasLt.so.12') }),
  );
  assert.deepEqual(
    noCublasLt.map((m) => m.piece),
    ['cuda'],
  );
  assert.match(
    noCublasLt[0].detail,
    /^CUDA 12 runtime libraries not found .*: libcublasLt\.so\.12\. Install/,
  );

  const noCudnn = cudaMissing(
    fakeMachine({ driver: DRIVER_550, cache: all.filter((l) => l !== 'libcudnn.so.9') }),
  );
  assert.deepEqual(
    noCudnn.map((m) => m.piece),
    ['cudnn'],
  );
  assert.match(noCudnn[0].detail, /^cuDNN 9 \(libcudnn\.so\.9\) was not found/);

  const noProviders = fakeMachine({ driver: DRIVER_550, cache: all, providers: false });
  const p = cudaMissing(noProviders);
  assert.deepEqual(
    p.map((m) => m.piece),
    ['providers'],
  );
  assert.equal(
    p[0].detail,
    `onnxruntime's CUDA provider libraries are not installed in ${noProviders.binDir} ` +
      '(libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so): run LLM Lens: Install CUDA Support… to download them.',
  );

  // a bare machine: all of them, in order
  assert.deepEqual(pieces(fakeMachine({ providers: false })), ['driver', 'cuda', 'cudnn', 'providers']);
  // 32-bit libraries in the cache do not count for x64
  assert.deepEqual(pieces(fakeMachine({ driver: DRIVER_550, cache: all, cacheArch: 'libc6' })), [
    'driver',
    'cuda',
    'cudnn',
  ]);
  assert.deepEqual(pieces({ platform: 'darwin', arch: 'arm64' }), ['platform']);
});

test('ldconfig -p output is read per architecture', () => {
  const out = [
    "3 libs found in cache `/etc/ld.so.cache'",
    '\tlibcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9',
    '\tlibcudart.so.12 (libc6) => /usr/lib/i386-linux-gnu/libcudart.so.12',
    '\tlibcudart.so.12 (libc6,AArch64) => /usr/lib/aarch64-linux-gnu/libcudart.so.12',
  ].join('\n');
  assert.deepEqual(
    [...parseLdconfig(out, 'x64')],
    [['libcudnn.so.9', '/usr/lib/x86_64-linux-gnu/libcudnn.so.9']],
  );
  assert.deepEqual(
    [...parseLdconfig(out, 'arm64')],
    [['libcudart.so.12', '/usr/lib/aarch64-linux-gnu/libcudart.so.12']],
  );
});
