/**
 * `LLM Lens: Install CUDA Support…` without VS Code: finds the onnxruntime GPU package that matches the
 * onnxruntime-node in use on a NuGet feed (as onnxruntime-node's own script/install.js does: the
 * Microsoft.ML.OnnxRuntime.Gpu.Linux package of the same version from api.nuget.org), downloads it with
 * resume and progress, checks its size and the SHA512 the feed's catalog lists, installs the provider
 * libraries into onnxruntime-node's bin folder (temp files, fsync, rename) and says what the CUDA
 * provider still lacks, probing it in a child process so that a failing native load cannot take the
 * caller down.
 *
 *   const pkg = await resolveCudaPackage({});            // { url, size, sha512, … } from the feed
 *   const r = await installCudaProviders(pkg, {
 *     signal, onProgress: (e) => …, probe: () => probeCudaInChild('/ext/dist/cli.js'),
 *   });
 *   r.cuda.ok || r.cuda.missing;                         // [{ piece: 'cudnn', detail: … }]
 *
 * Only linux-x64: onnxruntime-node runs the CUDA provider nowhere else (its install metadata lists CUDA
 * files for linux/x64 only; Windows' Microsoft.ML.OnnxRuntime.Gpu.Windows has another layout, DLLs
 * under runtimes/win-x64/native, that the Windows binding does not load).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import yauzl from 'yauzl';
import type { ProviderStatus, RuntimeReport } from '../../protocol/environment';
import { causeOf, transferBlob, TransferInterruptedError } from '../hub/transfer';
import {
  CUDA_PIECE_NAMES,
  CUDA_PROVIDER_FILES,
  cudaMissing,
  ortBinDir,
  type CudaCheckOptions,
} from './probe';

/** The feed onnxruntime-node's install-metadata.js uses. */
export const NUGET_FEED = 'https://api.nuget.org/v3/index.json';
/** The package onnxruntime-node's install-metadata.js takes the linux-x64 CUDA 12 files from. */
export const CUDA_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';

export interface CudaPackage {
  name: string;
  version: string;
  /** The NuGet service index it was resolved on. */
  feed: string;
  /** The .nupkg (PackageBaseAddress/3.0.0, as install-utils.js builds it). */
  url: string;
  /** Bytes and SHA512 (hex) from the feed's catalog entry (packageSize, packageHash). */
  size: number;
  sha512: string;
}

export type CudaInstallEvent =
  | { status: 'downloading'; bytes: number; total: number }
  | { status: 'installing'; file: string }
  | { status: 'probing' };

export interface CudaResolveOptions {
  /** A NuGet v3 service index: LLM_LENS_CUDA_FEED, else api.nuget.org's. */
  feed?: string;
  /** onnxruntime-node's version (default: its package.json). */
  ortVersion?: string;
  platform?: string;
  arch?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

export interface CudaInstallOptions {
  /** onnxruntime-node's bin folder (default: the one this process loads, ortBinDir()). */
  binDir?: string;
  /** Where the .nupkg is downloaded (and resumed from); default the OS temp folder. */
  downloadDir?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  onProgress?: (e: CudaInstallEvent) => void;
  /** Times an interrupted download resumes before giving up (default 3). */
  retries?: number;
  /** The checks after the install (tests give fake trees); binDir is this install's. */
  check?: Omit<CudaCheckOptions, 'binDir'>;
  /** Runs a cuda session when nothing is missing: probeCudaInChild(cliPath). */
  probe: () => Promise<ProviderStatus>;
}

export interface CudaInstallResult {
  pkg: CudaPackage;
  binDir: string;
  /** The files written into binDir. */
  installed: string[];
  /** The provider after the install: works, or why not (missing pieces). */
  cuda: ProviderStatus;
}

/** Throws the message for platforms onnxruntime-node runs no CUDA provider on. */
export function assertCudaPlatform(platform: string = process.platform, arch: string = process.arch): void {
  if (platform === 'linux' && arch === 'x64') return;
  const windows =
    platform === 'win32' && arch === 'x64'
      ? ' (Microsoft.ML.OnnxRuntime.Gpu.Windows has its own layout, which the Windows build of onnxruntime-node does not load)'
      : '';
  throw new Error(
    `CUDA support can be installed on linux-x64 only: onnxruntime-node runs the CUDA provider on no other ` +
      `platform${windows}. On ${platform}-${arch}, use the webgpu execution provider.`,
  );
}

/** onnxruntime-node's version, from the package.json next to the binding this process loads. */
export function ortPackageVersion(): string {
  const pkg = require.resolve('onnxruntime-node/package.json');
  return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
}

class FeedError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

async function getJson(url: string, what: string, o: CudaResolveOptions): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, { signal: o.signal, redirect: 'follow' });
  } catch (e) {
    if (o.signal?.aborted) throw e;
    throw new Error(`cannot reach the NuGet feed for ${what} (${url}): ${causeOf(e)}`, { cause: e });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new FeedError(`the NuGet feed answered ${res.status} for ${what} (${url})`, res.status);
  }
  try {
    const json: unknown = await res.json();
    if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(
    `${url} (${what}) is not a JSON object: is ${o.feed ?? NUGET_FEED} a NuGet v3 service index?`,
  );
}

/** The @id of the first resource of these types in a NuGet service index, ending in '/'. */
function resource(index: Record<string, unknown>, types: string[], feed: string): string {
  const resources = Array.isArray(index.resources) ? (index.resources as Record<string, unknown>[]) : [];
  for (const type of types) {
    const id = resources.find((r) => r?.['@type'] === type)?.['@id'];
    if (typeof id === 'string') return id.endsWith('/') ? id : `${id}/`;
  }
  throw new Error(`the NuGet service index ${feed} lists no ${types[0]} resource: it is not a NuGet v3 feed`);
}

/**
 * Finds the GPU package for onnxruntime-node's version on the feed: its .nupkg URL from
 * PackageBaseAddress/3.0.0, and its size and SHA512 from the registration leaf's catalog entry.
 */
export async function resolveCudaPackage(o: CudaResolveOptions = {}): Promise<CudaPackage> {
  assertCudaPlatform(o.platform, o.arch);
  const feed = o.feed ?? process.env.LLM_LENS_CUDA_FEED ?? NUGET_FEED;
  const version = o.ortVersion ?? ortPackageVersion();
  const opts = { ...o, feed };
  const index = await getJson(feed, 'the service index', opts);
  const base = resource(index, ['PackageBaseAddress/3.0.0'], feed);
  const registrations = resource(
    index,
    ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl'],
    feed,
  );
  const id = CUDA_PACKAGE.toLowerCase();
  const v = version.toLowerCase();
  const leafUrl = `${registrations}${id}/${v}.json`;
  let leaf: Record<string, unknown>;
  try {
    leaf = await getJson(leafUrl, `${CUDA_PACKAGE} ${version}`, opts);
  } catch (e) {
    if (e instanceof FeedError && e.status === 404)
      throw new Error(
        `${CUDA_PACKAGE} ${version} is not on the NuGet feed ${feed}: the CUDA provider must come from the ` +
          `onnxruntime release that matches onnxruntime-node ${version}. Point LLM_LENS_CUDA_FEED at a ` +
          `NuGet feed that has it, or use an LLM Lens build whose onnxruntime-node ` +
          `version is published there.`,
        { cause: e },
      );
    throw e;
  }
  const entryRef = leaf.catalogEntry;
  const entry =
    entryRef && typeof entryRef === 'object' && 'packageHash' in entryRef
      ? (entryRef as Record<string, unknown>)
      : await getJson(
          typeof entryRef === 'string' ? entryRef : String((entryRef as { '@id'?: unknown })?.['@id'] ?? ''),
          `the catalog entry of ${CUDA_PACKAGE} ${version}`,
          opts,
        );
  const hash = typeof entry.packageHash === 'string' ? Buffer.from(entry.packageHash, 'base64') : undefined;
  const size = entry.packageSize;
  if (String(entry.packageHashAlgorithm).toUpperCase() !== 'SHA512' || hash?.length !== 64)
    throw new Error(
      `the catalog entry of ${CUDA_PACKAGE} ${version} on ${feed} has no SHA512 packageHash ` +
        `(packageHashAlgorithm ${String(entry.packageHashAlgorithm)}): LLM Lens installs only checked packages`,
    );
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0)
    throw new Error(
      `the catalog entry of ${CUDA_PACKAGE} ${version} on ${feed} has no packageSize (got ${String(size)})`,
    );
  return {
    name: CUDA_PACKAGE,
    version,
    feed,
    url: `${base}${id}/${v}/${id}.${v}.nupkg`,
    size,
    sha512: hash.toString('hex'),
  };
}

/** Refuses early, with the folder and the fix, when the provider libraries cannot be written. */
async function assertWritable(binDir: string): Promise<void> {
  const probe = path.join(binDir, `.llm-lens-write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.writeFile(probe, '');
    await fsp.rm(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new Error(
      `cannot write the CUDA provider libraries into onnxruntime-node's folder ${binDir} (${code}): ` +
        'the extension is installed where this user cannot write. Install it as a user who can, or run ' +
        'VS Code as the owner of that folder, then run Install CUDA Support again.',
      { cause: e },
    );
  }
}

/** Downloads the package, installs its provider libraries and checks what the cuda provider still lacks. */
export async function installCudaProviders(
  pkg: CudaPackage,
  o: CudaInstallOptions,
): Promise<CudaInstallResult> {
  const binDir = o.binDir ?? ortBinDir('linux', 'x64');
  await assertWritable(binDir);
  const downloadDir = o.downloadDir ?? path.join(os.tmpdir(), 'llm-lens-cuda');
  await fsp.mkdir(downloadDir, { recursive: true });
  const nupkg = path.join(downloadDir, `${pkg.name.toLowerCase()}.${pkg.version.toLowerCase()}.nupkg`);
  await fsp.rm(nupkg, { force: true }); // only the checked .incomplete file is ever reused
  let installed: string[];
  try {
    await download(pkg, nupkg, o);
    o.signal?.throwIfAborted();
    installed = await extractProviders(nupkg, binDir, o);
  } finally {
    await fsp.rm(nupkg, { force: true });
  }
  o.onProgress?.({ status: 'probing' });
  const missing = cudaMissing({ ...o.check, binDir });
  const cuda: ProviderStatus = missing.length
    ? {
        name: 'cuda',
        ok: false,
        error: `the provider libraries are installed; cuda still needs ${missing.map((m) => CUDA_PIECE_NAMES[m.piece]).join(', ')}`,
        missing,
      }
    : await o.probe();
  return { pkg, binDir, installed, cuda };
}

async function download(pkg: CudaPackage, nupkg: string, o: CudaInstallOptions): Promise<void> {
  const retries = o.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await transferBlob({
        url: pkg.url,
        blobPath: nupkg,
        file: path.basename(nupkg),
        size: pkg.size,
        hash: { algorithm: 'sha512', hex: pkg.sha512 },
        signal: o.signal,
        fetch: o.fetch,
        source: `the NuGet feed ${pkg.feed}`,
        onBytes: (bytes) => o.onProgress?.({ status: 'downloading', bytes, total: pkg.size }),
        refused: (res) =>
          new Error(`the NuGet feed answered ${res.status} for ${pkg.url}: the package cannot be downloaded`),
      });
      return;
    } catch (e) {
      if (!(e instanceof TransferInterruptedError) || o.signal?.aborted || attempt >= retries) throw e;
    }
  }
}

/**
 * Writes CUDA_PROVIDER_FILES from the package into binDir: each to a temp file in binDir (fsync), and
 * only when all are there, renamed over the old ones; on any failure the temp files are removed.
 */
async function extractProviders(nupkg: string, binDir: string, o: CudaInstallOptions): Promise<string[]> {
  const wanted = new Map(CUDA_PROVIDER_FILES.map((f) => [f.pathInPackage, f.file]));
  const temps = new Map<string, string>(); // file -> temp path
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const zip = await openZip(nupkg);
  try {
    for await (const entry of entries(zip)) {
      const file = wanted.get(entry.fileName);
      if (!file || temps.has(file)) continue;
      o.signal?.throwIfAborted();
      o.onProgress?.({ status: 'installing', file });
      const temp = path.join(binDir, `.${file}.${tag}.tmp`);
      temps.set(file, temp);
      await writeEntry(zip, entry, temp);
    }
    const absent = [...wanted].filter(([, file]) => !temps.has(file)).map(([p]) => p);
    if (absent.length)
      throw new Error(`${path.basename(nupkg)} does not contain ${absent.join(', ')}: nothing was installed`);
    o.signal?.throwIfAborted();
    for (const [file, temp] of temps) await fsp.rename(temp, path.join(binDir, file));
    temps.clear();
    return CUDA_PROVIDER_FILES.map((f) => path.join(binDir, f.file));
  } finally {
    zip.close();
    for (const temp of temps.values()) await fsp.rm(temp, { force: true });
  }
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, zip) =>
      err ? reject(new Error(`${path.basename(file)} is not a readable zip: ${err.message}`)) : resolve(zip),
    ),
  );
}

/** The zip's entries one at a time (yauzl's lazyEntries). */
async function* entries(zip: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  for (;;) {
    const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
      const cleanup = () =>
        zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
      zip.once('entry', (e: yauzl.Entry) => (cleanup(), resolve(e)));
      zip.once('end', () => (cleanup(), resolve(undefined)));
      zip.once('error', (e: Error) => (cleanup(), reject(e)));
      zip.readEntry();
    });
    if (!entry) return;
    yield entry;
  }
}

/** One entry to `temp` (mode 755, fsync'd); yauzl checks its sizes against the central directory. */
async function writeEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, temp: string): Promise<void> {
  const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
    zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))),
  );
  const out = await fsp.open(temp, 'w', 0o755);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) await out.write(chunk);
    await out.chmod(0o755);
    await out.sync();
  } finally {
    await out.close();
  }
}

/**
 * The cuda provider's probe in a child process (`llm-lens env --json`): a native library that crashes
 * while loading takes only that process down, and a fresh process sees the newly installed files.
 */
export function probeCudaInChild(cliPath: string, timeoutMs = 120_000): Promise<ProviderStatus> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, 'env', '--json'],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        try {
          const report = JSON.parse(stdout) as RuntimeReport;
          const cuda = report.providers.find((p) => p.name === 'cuda');
          if (cuda) return resolve(cuda);
        } catch {
          // reported below
        }
        const how = err?.signal ? `was stopped by ${err.signal}` : `exited with ${String(err?.code ?? 0)}`;
        const tail = stderr.trim().split('\n').slice(-3).join(' ');
        resolve({
          name: 'cuda',
          ok: false,
          error: `the probe process (${path.basename(cliPath)} env --json) ${how} while loading the CUDA provider${tail ? `: ${tail}` : ''}`,
        });
      },
    );
  });
}
