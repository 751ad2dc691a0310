/**
 * One file from the Hugging Face hub into a blob of the cache, resumable and checked: the bytes go to
 * `blobs/<etag>.incomplete`; a later call that finds that file asks only for the rest (`Range:
 * bytes=N-`, 206), hashing the bytes it already has first; at the end the size and the hash are checked
 * against the hub's (the LFS sha256 of a weights file, the git blob sha1 of a small file) and the file is
 * renamed to the blob. A mismatch deletes the partial file and names the file; an interruption keeps it.
 *
 *   await transferBlob({
 *     url: 'https://huggingface.co/org/name/resolve/<sha>/model.safetensors',
 *     blobPath: '…/blobs/<sha256>', file: 'model.safetensors', size: 269060552,
 *     hash: { algorithm: 'sha256', hex: '<sha256>' }, headers: { Authorization: 'Bearer hf_…' },
 *     onBytes: (bytes) => …,                      // bytes of the file on disk so far
 *   });
 *
 * @huggingface/hub's downloadFileToCacheDir writes the same layout but neither resumes, checks hashes,
 * reports progress nor stops on an AbortSignal, hence this file.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';

/**
 * The hash the source gives for a file: LFS files' sha256, the git blob sha1 of files kept in git, or
 * a NuGet package's sha512.
 */
export interface ExpectedHash {
  algorithm: 'sha256' | 'sha512' | 'git-sha1';
  hex: string;
}

export interface TransferOptions {
  url: string;
  blobPath: string;
  /** The file's path in the repo, for messages. */
  file: string;
  size: number;
  hash: ExpectedHash;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Called as bytes arrive: the bytes of the file on disk, and those it had when this call began. */
  onBytes?: (bytes: number, start: number) => void;
  /** Who serves the file, for messages ('the hub' unless said). */
  source?: string;
  /** Turns a refused response (401, 403, 404…) into the error to throw. */
  refused: (res: Response) => Error;
}

/** A transfer that broke off: what is on disk stays for the next call to resume. */
export class TransferInterruptedError extends Error {}

function newHash(h: ExpectedHash, size: number): Hash {
  if (h.algorithm !== 'git-sha1') return createHash(h.algorithm);
  const git = createHash('sha1');
  git.update(`blob ${size}\0`);
  return git;
}

/** Feeds the partial file to the hash (the part a resumed transfer does not fetch again). */
async function hashPrefix(file: string, hash: Hash): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

async function sizeOf(file: string): Promise<number> {
  return fsp.stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

/** Downloads `url` into `blobPath` (resuming its .incomplete file) and checks size and hash. */
export async function transferBlob(o: TransferOptions): Promise<void> {
  const incomplete = `${o.blobPath}.incomplete`;
  let start = await sizeOf(incomplete);
  if (start > o.size) {
    await fsp.rm(incomplete, { force: true });
    start = 0;
  }
  const hash = newHash(o.hash, o.size);
  if (start < o.size) {
    const headers = { ...o.headers, ...(start > 0 ? { Range: `bytes=${start}-` } : {}) };
    let res: Response;
    try {
      res = await (o.fetch ?? fetch)(o.url, { headers, signal: o.signal, redirect: 'follow' });
    } catch (e) {
      if (o.signal?.aborted) throw e;
      throw new TransferInterruptedError(`${o.file}: cannot reach ${o.source ?? 'the hub'}: ${causeOf(e)}`, {
        cause: e,
      });
    }
    if (res.status === 416 && start > 0) {
      await res.body?.cancel(); // nothing past what is on disk: check what we have
      await hashPrefix(incomplete, hash);
    } else if (!res.ok) {
      await res.body?.cancel();
      throw o.refused(res);
    } else {
      const range = res.headers.get('content-range') ?? '';
      if (res.status === 206 && !range.startsWith(`bytes ${start}-`)) {
        await res.body?.cancel();
        throw new TransferInterruptedError(
          `${o.file}: asked for bytes ${start}- and got ${range || 'no range'}`,
        );
      }
      if (res.status === 206) await hashPrefix(incomplete, hash);
      else start = 0; // the server sent the whole file: start over
      await receive(res, incomplete, start, hash, o);
    }
  } else {
    await hashPrefix(incomplete, hash);
  }
  await check(incomplete, hash, o);
  await fsp.rename(incomplete, o.blobPath);
}

async function receive(res: Response, incomplete: string, start: number, hash: Hash, o: TransferOptions) {
  const out = await fsp.open(incomplete, start > 0 ? 'a' : 'w');
  let bytes = start;
  try {
    if (!res.body) throw new TransferInterruptedError(`${o.file}: ${o.source ?? 'the hub'} sent no body`);
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      await out.write(chunk);
      hash.update(chunk);
      bytes += chunk.length;
      o.onBytes?.(bytes, start);
    }
  } catch (e) {
    if (o.signal?.aborted) throw e;
    if (e instanceof TransferInterruptedError) throw e;
    throw new TransferInterruptedError(
      `download of ${o.file} was interrupted after ${bytes} of ${o.size} bytes (${causeOf(e)}): ` +
        'run it again to resume where it stopped',
      { cause: e },
    );
  } finally {
    await out.close();
  }
}

async function check(incomplete: string, hash: Hash, o: TransferOptions): Promise<void> {
  const got = await sizeOf(incomplete);
  if (got < o.size)
    throw new TransferInterruptedError(
      `download of ${o.file} stopped at ${got} of ${o.size} bytes: run it again to resume where it stopped`,
    );
  const hex = hash.digest('hex');
  if (got !== o.size || hex !== o.hash.hex) {
    await fsp.rm(incomplete, { force: true });
    const what = o.hash.algorithm === 'git-sha1' ? 'git blob sha1' : o.hash.algorithm;
    const source = o.source ?? 'the hub';
    const found = got !== o.size ? `${got} bytes, not the ${o.size} that ${source} lists` : `${what} ${hex}`;
    throw new Error(
      `${o.file}: the downloaded file has ${found} (${source} lists ${what} ${o.hash.hex}); ` +
        'the partial file was deleted: run the download again, and if it fails again the file on ' +
        `${source} or a proxy in between is corrupt`,
    );
  }
}

/** The reason under fetch's "fetch failed" / "terminated" (ECONNREFUSED, other side closed…). */
export function causeOf(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e; c && parts.length < 4; c = (c as { cause?: unknown }).cause) {
    const err = c as { message?: string; code?: string };
    const text = [err.code, err.message].filter(Boolean).join(' ');
    if (text && !parts.includes(text)) parts.push(text);
  }
  return parts.join(': ') || String(e);
}
