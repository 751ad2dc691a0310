/**
 * Downloads a model from the Hugging Face hub into its cache layout (HF_HOME/hub, as transformers and
 * huggingface_hub write it, so either finds the files the other fetched):
 *
 *   models--org--name/blobs/<sha256 or git oid>          the bytes, named by their hash
 *   models--org--name/refs/main                          the commit the revision pointed at
 *   models--org--name/snapshots/<commit>/config.json     → ../../blobs/… (a symlink; a copy where none)
 *
 * Only what LLM Lens runs is fetched: config.json, generation_config.json, tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json (those present) and the safetensors weights
 * (model.safetensors, or model.safetensors.index.json and its shards). A repo with only PyTorch .bin
 * weights is refused. Each file is checked against the hub's hash and an interrupted download resumes
 * (transfer.ts). @huggingface/hub resolves the revision and lists the files.
 *
 *   const dir = await downloadModel({
 *     repo: 'HuggingFaceTB/SmolLM2-135M', cacheDir: '/home/me/.cache/huggingface/hub',
 *     token: process.env.HF_TOKEN, onProgress: ({ file, bytes, total }) => …,
 *   });
 *   const m = await loadModel(dir);                      // model/pretrained.ts
 */
import { getHFHubCachePath, getRepoFolderName, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { few } from '../few';
import { causeOf, transferBlob, type ExpectedHash } from './transfer';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Files fetched when the repo has them; config.json must be there. */
export const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

export interface DownloadProgress {
  /** The file's path in the repo. */
  file: string;
  /** Bytes of it on disk (a resumed file starts at what it had). */
  bytes: number;
  total: number;
  /** Over this call's transfer of the file; 0 for a file already in the cache. */
  bytesPerSec: number;
}

export interface DownloadModelOptions {
  /** "org/name" (or a legacy "name"). */
  repo: string;
  /** A branch, tag or commit (default main). */
  revision?: string;
  /** The hub cache folder (default HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** The hub's address (HF_ENDPOINT; default https://huggingface.co). */
  endpoint?: string;
  /** A Hugging Face access token (hf_…), for gated and private repos. */
  token?: string;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Called once every file to fetch is known (after the small files and the shard index, before the weights). */
  onPlan?: (files: { path: string; size: number }[]) => void;
  /** How the user sets a token, for the 401/403 message (default "HF_TOKEN"). */
  tokenHint?: string;
  fetch?: typeof fetch;
}

/** A request the hub refused: `status` is its HTTP status (401/403 gated or private, 404 not found). */
export class HubError extends Error {
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

interface RepoFile {
  path: string;
  size: number;
  /** The blob's name in the cache: the LFS sha256, or the git oid of a file kept in git. */
  etag: string;
  hash: ExpectedHash;
}

/** A progress event as a line: "model.safetensors  12.3 MB / 269.1 MB 4% 21.0 MB/s" */
export function progressLine(p: DownloadProgress): string {
  const pct = p.total ? Math.floor((100 * p.bytes) / p.total) : 100;
  const speed = p.bytesPerSec > 0 ? ` ${size(p.bytesPerSec)}/s` : '';
  return `${p.file}  ${size(p.bytes)} / ${size(p.total)} ${pct}%${speed}`;
}

/** Bytes in decimal units, as the hub shows sizes: 269060552 → "269.1 MB". */
export function size(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  for (; bytes >= 1000 && i < units.length - 1; i++) bytes /= 1000;
  return `${i ? bytes.toFixed(1) : Math.round(bytes)} ${units[i]}`;
}

/** Downloads the files of `repo` that LLM Lens needs; returns the snapshot folder. */
export async function downloadModel(o: DownloadModelOptions): Promise<string> {
  const repo = o.repo.trim();
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo) || repo.includes('..'))
    throw new Error(
      `"${o.repo}" is not a model repo name: give it as org/name, e.g. HuggingFaceTB/SmolLM2-135M`,
    );
  if (o.token !== undefined && !o.token.startsWith('hf_'))
    throw new Error('the token (HF_TOKEN) must be a Hugging Face access token, starting with hf_');
  const revision = o.revision ?? 'main';
  if (!revision || path.isAbsolute(revision) || revision.split(/[\\/]/).includes('..'))
    throw new Error(`"${revision}" is not a revision: give a branch, tag or commit, e.g. main`);
  const endpoint = (o.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  o.signal?.throwIfAborted();
  const withSignal: typeof fetch = (url, init) => (o.fetch ?? fetch)(url, { ...init, signal: o.signal });
  const hub = { hubUrl: endpoint, accessToken: o.token || undefined, fetch: withSignal };
  const ctx = { repo, revision, endpoint, tokenHint: o.tokenHint ?? 'HF_TOKEN' };

  const info = await asked(ctx, () => modelInfo({ ...hub, name: repo, revision, additionalFields: ['sha'] }));
  const commit = info.sha;
  if (!/^[0-9a-f]{40}$/.test(commit ?? ''))
    throw new Error(
      `${endpoint} gave no commit for ${repo} at ${revision}: is ${endpoint} a Hugging Face hub?`,
    );
  const tree = new Map<string, RepoFile>();
  await asked(ctx, async () => {
    for await (const e of listFiles({ ...hub, repo, revision: commit, recursive: true })) {
      if (e.type !== 'file') continue;
      const hash: ExpectedHash = e.lfs
        ? { algorithm: 'sha256', hex: e.lfs.oid }
        : { algorithm: 'git-sha1', hex: e.oid ?? '' };
      tree.set(e.path, { path: e.path, size: e.lfs?.size ?? e.size, etag: hash.hex, hash });
    }
  });

  const storage = path.join(
    o.cacheDir ?? getHFHubCachePath(),
    getRepoFolderName({ type: 'model', name: repo }),
  );
  const snapshot = path.join(storage, 'snapshots', commit);
  const get = (file: RepoFile) => fetchFile(file, storage, snapshot, commit, o, ctx);

  if (!tree.has('config.json'))
    throw new Error(`${repo} has no config.json at ${revision}: it is not a transformers model repo`);
  refuseWithoutSafetensors(tree, repo, revision);
  const small = MODEL_FILES.flatMap((name) => tree.get(name) ?? []);
  for (const f of small) await get(f);
  const weights = await weightFiles(tree, repo, get, snapshot); // fetches the shard index, if any
  const index = tree.get('model.safetensors.index.json');
  const plan = [...small, ...(index && !tree.has('model.safetensors') ? [index] : []), ...weights];
  o.onPlan?.(plan.map((f) => ({ path: f.path, size: f.size })));
  for (const f of weights) await get(f);

  if (revision !== commit) {
    const ref = path.join(storage, 'refs', revision);
    await fsp.mkdir(path.dirname(ref), { recursive: true });
    await fsp.writeFile(ref, commit);
  }
  return snapshot;
}

/** Refuses, before anything is fetched, a repo without model.safetensors or its index (.bin weights). */
function refuseWithoutSafetensors(tree: Map<string, RepoFile>, repo: string, revision: string): void {
  if (tree.has('model.safetensors') || tree.has('model.safetensors.index.json')) return;
  const other = [...tree.keys()].filter((p) => /\.(bin|pt|pth|ckpt|h5|msgpack|gguf)$/.test(p));
  const what = other.length ? `only ${few(other)}, not safetensors` : 'no model.safetensors';
  throw new Error(
    `${repo} at ${revision} has ${what}: LLM Lens reads safetensors weights (model.safetensors or ` +
      'model.safetensors.index.json with its shards). Pick a repo that has them, or a revision of ' +
      "this one that does (the hub's safetensors conversion bot opens them as refs/pr/N)",
  );
}

/** The safetensors files to fetch: model.safetensors, or the shards its index names (index fetched). */
async function weightFiles(
  tree: Map<string, RepoFile>,
  repo: string,
  get: (f: RepoFile) => Promise<void>,
  snapshot: string,
): Promise<RepoFile[]> {
  const single = tree.get('model.safetensors');
  if (single) return [single];
  const file = 'model.safetensors.index.json';
  const index = tree.get(file);
  if (!index) throw new Error(`${repo} has no ${file}`); // refuseWithoutSafetensors said why
  await get(index);
  let map: unknown;
  try {
    map = (JSON.parse(await fsp.readFile(path.join(snapshot, file), 'utf8')) as { weight_map?: unknown })
      .weight_map;
  } catch (e) {
    throw new Error(`${repo}: ${file} is not JSON (${(e as Error).message})`, { cause: e });
  }
  if (!map || typeof map !== 'object')
    throw new Error(`${repo}: ${file} has no "weight_map" object naming the shard of each tensor`);
  const shards = [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  return shards.map((s) => {
    const f = tree.get(s);
    if (!f) throw new Error(`${repo}: ${file}'s weight_map names ${s}, which the repo does not have`);
    return f;
  });
}

/** One file into the blobs and a link to it in the snapshot, unless already there. */
async function fetchFile(
  f: RepoFile,
  storage: string,
  snapshot: string,
  commit: string,
  o: DownloadModelOptions,
  ctx: Ctx,
): Promise<void> {
  if (path.isAbsolute(f.path) || f.path.split(/[\\/]/).includes('..') || !/^[0-9a-f]{40,64}$/.test(f.etag))
    throw new Error(`${ctx.repo}: the hub listed a file "${f.path}" (hash "${f.etag}") that cannot be saved`);
  const pointer = path.join(snapshot, f.path);
  const blob = path.join(storage, 'blobs', f.etag);
  const report = (bytes: number, bytesPerSec: number) =>
    o.onProgress?.({ file: f.path, bytes, total: f.size, bytesPerSec });
  if (fs.existsSync(pointer) && fs.statSync(pointer).size === f.size) return report(f.size, 0);
  await fsp.mkdir(path.dirname(blob), { recursive: true });
  await fsp.mkdir(path.dirname(pointer), { recursive: true });
  if (!fs.existsSync(blob)) {
    const t0 = Date.now();
    let last = 0;
    await transferBlob({
      url: `${ctx.endpoint}/${ctx.repo}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`,
      blobPath: blob,
      file: f.path,
      size: f.size,
      hash: f.hash,
      headers: o.token ? { Authorization: `Bearer ${o.token}` } : {},
      signal: o.signal,
      fetch: o.fetch,
      refused: (res) => hubError(ctx, res.status, res.headers.get('x-error-code') ?? '', f.path),
      onBytes: (bytes, start) => {
        const now = Date.now();
        if (now - last < 100 && bytes < f.size) return;
        last = now;
        report(bytes, ((bytes - start) * 1000) / Math.max(1, now - t0));
      },
    });
    if (last === 0) report(f.size, 0); // nothing arrived: the partial file was whole
  } else report(f.size, 0);
  await link(blob, pointer);
}

/** A relative symlink as huggingface_hub makes; a copy where links cannot be made (Windows). */
async function link(blob: string, pointer: string): Promise<void> {
  await fsp.rm(pointer, { force: true });
  try {
    await fsp.symlink(path.relative(path.dirname(pointer), blob), pointer);
  } catch {
    await fsp.copyFile(blob, pointer);
  }
}

interface Ctx {
  repo: string;
  revision: string;
  endpoint: string;
  tokenHint: string;
}

/** Runs a hub API call, turning its failures into messages that say what to do. */
async function asked<T>(ctx: Ctx, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof HubApiError) {
      const detail = (e.data as { error?: unknown } | undefined)?.error;
      throw hubError(ctx, e.statusCode, typeof detail === 'string' ? detail : '', undefined, e);
    }
    if (e instanceof TypeError && /fetch failed/.test(e.message))
      throw new Error(
        `cannot reach ${ctx.endpoint} (${causeOf(e.cause)}): check the network connection, or the hub ` +
          'address (HF_ENDPOINT, --endpoint)',
        { cause: e },
      );
    throw e;
  }
}

/** The message for a refused request: gated or private (401/403), repo or revision not found (404). */
export function hubError(ctx: Ctx, status: number, detail: string, file?: string, cause?: unknown): HubError {
  const where = `${ctx.endpoint}/${ctx.repo}`;
  const of = file ? ` (${file})` : '';
  if (status === 401 || status === 403)
    return new HubError(
      `${ctx.repo} is gated or private${of}: accept its license on the hub (${where}) and set a token ` +
        `(${ctx.tokenHint}, from https://huggingface.co/settings/tokens) of an account that has access. ` +
        `(The hub answers ${status} for repos that do not exist too: check the name.)`,
      status,
      { cause },
    );
  if (status === 404) {
    if (/RevisionNotFound|invalid rev|revision not found/i.test(detail))
      return new HubError(
        `revision "${ctx.revision}" not found in ${ctx.repo}${of}: check the branch, tag or commit`,
        status,
        { cause },
      );
    return new HubError(`${ctx.repo} not found on ${ctx.endpoint}${of}: check the name (org/name)`, status, {
      cause,
    });
  }
  return new HubError(`${where}${of}: the hub answered ${status}${detail ? ` (${detail})` : ''}`, status, {
    cause,
  });
}
