/**
 * What the runtime can do on this machine: which onnxruntime-node backends load and which execution
 * providers (cpu, webgpu, cuda) really run a graph, and when cuda does not, which piece is missing
 * (driver, CUDA 12, cuDNN 9, the provider libraries), found from files and `ldconfig -p` without
 * loading any native library. Used by `LLM Lens: Show Environment` and `llm-lens env`.
 *
 *   const report = await probeRuntime(os.availableParallelism());
 *   report.providers[2].missing; // [{ piece: 'cudnn', detail: 'cuDNN 9 (libcudnn.so.9) was not found …' }]
 *   cudaMissing({ root: fakeTree, ldconfig: () => fakeOutput }); // the same check on a fake machine
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeModel, OnnxDataType } from '../graph/onnxProto';
import type { CudaMissing, ProviderStatus, RuntimeReport } from '../../protocol/environment';
import { createSession, EXECUTION_PROVIDERS, loadOrt, type ExecutionProvider } from './ort';

/** A graph computing y = x + x for a float32 [2] input: small enough to probe any provider. */
export function probeModel(): Uint8Array {
  const f32 = (name: string) => ({
    name,
    type: { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: [{ dimValue: 2 }] } } },
  });
  return encodeModel({
    irVersion: 9,
    opsetImport: [{ domain: '', version: 20 }],
    producerName: 'llm-lens',
    graph: {
      name: 'probe',
      node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'], name: 'probe/add' }],
      input: [f32('x')],
      output: [f32('y')],
    },
  });
}

async function probeProvider(ep: ExecutionProvider, model: Uint8Array): Promise<ProviderStatus> {
  const ort = loadOrt();
  const t0 = performance.now();
  try {
    const session = await createSession(model, ep);
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1.5, -2]), [2]) });
      const y = out.y.data as Float32Array;
      if (y[0] !== 3 || y[1] !== -4) return { name: ep, ok: false, error: `wrong result ${Array.from(y)}` };
      return { name: ep, ok: true, ms: performance.now() - t0 };
    } finally {
      await session.release();
    }
  } catch (e) {
    return { name: ep, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Loads the runtime and tries every execution provider; never throws. */
export async function probeRuntime(cpus: number): Promise<RuntimeReport> {
  const report: RuntimeReport = {
    nodeVersion: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    cpus,
    backends: [],
    providers: [],
  };
  let ort;
  try {
    ort = loadOrt();
  } catch (e) {
    report.ortError = e instanceof Error ? e.message : String(e);
    report.providers = EXECUTION_PROVIDERS.map((name) => ({
      name,
      ok: false,
      error: 'onnxruntime-node did not load',
    }));
    return report;
  }
  report.ortVersion = ort.env.versions?.node ?? ort.env.versions?.common;
  report.backends = ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
  const model = probeModel();
  for (const ep of EXECUTION_PROVIDERS) report.providers.push(await probeProvider(ep, model));
  const cuda = report.providers.find((p) => p.name === 'cuda');
  if (cuda && !cuda.ok) cuda.missing = cudaMissing();
  return report;
}

/**
 * The files onnxruntime-node's install script (script/install-metadata.js, manifest 'linux/x64:cuda12')
 * takes from the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet package into its bin folder. The linux-x64
 * VSIX is built without that step, so `LLM Lens: Install CUDA Support…` installs them on request.
 */
export const CUDA_PROVIDER_FILES: readonly { file: string; pathInPackage: string }[] = [
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_tensorrt.so',
].map((file) => ({ file, pathInPackage: `runtimes/linux-x64/native/${file}` }));

/** The provider libraries the cuda provider loads (tensorrt is only for the tensorrt provider). */
const CUDA_PROVIDER_NEEDED = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

/** What libonnxruntime_providers_cuda.so links (onnxruntime's cmake: cublasLt, cublas, cudnn, curand, cufft, cudart). */
const CUDA12_LIBS = [
  'libcudart.so.12',
  'libcublas.so.12',
  'libcublasLt.so.12',
  'libcurand.so.10',
  'libcufft.so.11',
];
const CUDNN9_LIBS = ['libcudnn.so.9'];
/** The oldest Linux driver CUDA 12 runs on (CUDA 12.0 release notes: >= 525.60.13). */
const MIN_DRIVER_MAJOR = 525;

/** What each missing piece is called in messages. */
export const CUDA_PIECE_NAMES: Record<CudaMissing['piece'], string> = {
  platform: 'linux-x64',
  driver: 'an NVIDIA driver',
  cuda: 'CUDA 12',
  cudnn: 'cuDNN 9',
  providers: "onnxruntime's CUDA provider libraries",
};

/** Where onnxruntime-node's native binding and libonnxruntime live, and where the provider libraries go. */
export function ortBinDir(platform: string = process.platform, arch: string = process.arch): string {
  const pkg = require.resolve('onnxruntime-node/package.json');
  return path.join(path.dirname(pkg), 'bin', 'napi-v6', platform, arch);
}

export interface CudaCheckOptions {
  /** The file system root the checks look under ('/'; tests give a fake tree). */
  root?: string;
  /** The output of `ldconfig -p` (default: runs ldconfig; '' when it cannot). */
  ldconfig?: () => string;
  /** LD_LIBRARY_PATH (default: the process's). */
  libraryPath?: string;
  /** onnxruntime-node's bin folder (default: ortBinDir()). */
  binDir?: string;
  platform?: string;
  arch?: string;
}

/** Runs `ldconfig -p` (in /sbin or /usr/sbin when not on PATH); '' when there is none. */
function runLdconfig(): string {
  for (const cmd of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      return execFileSync(cmd, ['-p'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5000,
      });
    } catch {
      // try the next place
    }
  }
  return '';
}

/**
 * The libraries in the linker cache for this architecture: `ldconfig -p` lines look like
 * "\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12".
 */
export function parseLdconfig(out: string, arch: string): Map<string, string> {
  const tag = arch === 'arm64' ? 'AArch64' : 'x86-64';
  const libs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(.+?)\s*$/.exec(line);
    if (m && m[2].split(',').includes(tag) && !libs.has(m[1])) libs.set(m[1], m[3]);
  }
  return libs;
}

/**
 * What the cuda provider lacks here, as the dynamic loader would look for it: the linker cache,
 * LD_LIBRARY_PATH, onnxruntime-node's own folder and the default /lib, /usr/lib folders.
 * Empty when everything is in place (then only a real session says whether the GPU works).
 */
export function cudaMissing(o: CudaCheckOptions = {}): CudaMissing[] {
  const platform = o.platform ?? process.platform;
  const arch = o.arch ?? process.arch;
  if (platform !== 'linux' || arch !== 'x64')
    return [
      {
        piece: 'platform',
        detail:
          `onnxruntime-node runs the CUDA provider on linux-x64 only (its install script fetches CUDA ` +
          `libraries for no other platform); on ${platform}-${arch} use the webgpu provider.`,
      },
    ];
  const root = o.root ?? '/';
  const at = (p: string) => path.join(root, p);
  const binDir = o.binDir ?? ortBinDir(platform, arch);
  const cache = parseLdconfig((o.ldconfig ?? runLdconfig)(), arch);
  const dirs = [
    ...(o.libraryPath ?? process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean).map(at),
    binDir,
    ...['/lib64', '/usr/lib64', '/lib', '/usr/lib'].map(at),
  ];
  const found = (lib: string) => cache.has(lib) || dirs.some((d) => fs.existsSync(path.join(d, lib)));
  const where = 'in the linker cache (ldconfig -p), LD_LIBRARY_PATH or /usr/lib';
  const missing: CudaMissing[] = [];

  const driver = readText(at('/proc/driver/nvidia/version'));
  // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  …" (or "Open Kernel Module for x86_64  …")
  const major = Number(/NVRM version:.*?\s(\d{3,})\.\d+/.exec(driver ?? '')?.[1]);
  if (driver === undefined)
    missing.push({
      piece: 'driver',
      detail:
        'no NVIDIA driver: /proc/driver/nvidia/version is absent (no NVIDIA kernel module is loaded). ' +
        `Install the NVIDIA driver (${MIN_DRIVER_MAJOR} or newer) for the GPU, or in a container run it with the GPU passed through.`,
    });
  else if (!found('libcuda.so.1'))
    missing.push({
      piece: 'driver',
      detail: `the NVIDIA driver's libcuda.so.1 was not found ${where}: install the driver's user-space libraries (e.g. libnvidia-compute).`,
    });
  else if (major < MIN_DRIVER_MAJOR)
    missing.push({
      piece: 'driver',
      detail: `NVIDIA driver ${major} is too old for CUDA 12, which needs ${MIN_DRIVER_MAJOR} or newer: update the driver.`,
    });

  const cuda = CUDA12_LIBS.filter((l) => !found(l));
  if (cuda.length)
    missing.push({
      piece: 'cuda',
      detail:
        `CUDA 12 runtime libraries not found ${where}: ${cuda.join(', ')}. Install the CUDA 12 libraries ` +
        '(the cuda-libraries-12-x package, or pip nvidia-cuda-runtime-cu12, nvidia-cublas-cu12, nvidia-curand-cu12 ' +
        'and nvidia-cufft-cu12 with their lib folders on LD_LIBRARY_PATH).',
    });
  const cudnn = CUDNN9_LIBS.filter((l) => !found(l));
  if (cudnn.length)
    missing.push({
      piece: 'cudnn',
      detail:
        `cuDNN 9 (${cudnn.join(', ')}) was not found ${where}: install cuDNN 9 for CUDA 12 ` +
        '(the libcudnn9-cuda-12 package, or pip nvidia-cudnn-cu12 with its lib folder on LD_LIBRARY_PATH).',
    });
  const providers = CUDA_PROVIDER_NEEDED.filter((f) => !fs.existsSync(path.join(binDir, f)));
  if (providers.length)
    missing.push({
      piece: 'providers',
      detail:
        `onnxruntime's CUDA provider libraries are not installed in ${binDir} (${providers.join(', ')}): ` +
        'run LLM Lens: Install CUDA Support… to download them.',
    });
  return missing;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
