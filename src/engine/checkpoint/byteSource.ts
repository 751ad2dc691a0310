/**
 * The file-access interface the reader pulls bytes through, in ranges, on demand (never the whole
 * file). Offsets are plain numbers checked to be safe integers, so files over 2 GB (and 4 GB) work.
 *
 *   const src = await openFileSource('/runs/a/model.safetensors');
 *   const first8 = await src.read(0, 8);
 *   if (await src.changedOnDisk()) ...  // the host shows a reload prompt
 *   await src.close();
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CheckpointError } from './errors';

export interface ByteSource {
  /** Shown in error messages: a path, or a label for in-memory bytes. */
  readonly name: string;
  /** Size in bytes when opened. */
  readonly size: number;
  /** Exactly `length` bytes from `offset` in a fresh, 0-aligned buffer; throws CheckpointError past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** True when the underlying file's size or modification time changed since it was opened. */
  changedOnDisk(): Promise<boolean>;
  close(): Promise<void>;
}

/** Largest single read handed to the OS (fs reads take at most 2^31 - 1 bytes). */
const MAX_READ = 1 << 30;

export function checkRange(source: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new CheckpointError(
      'out-of-range',
      `bad byte range offset=${offset} length=${length}`,
      source.name,
    );
  }
  if (offset + length > source.size) {
    throw new CheckpointError(
      'truncated',
      `asked for bytes ${offset}..${offset + length} but the file has ${source.size}`,
      source.name,
    );
  }
}

class FileSource implements ByteSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly mtimeMs: number,
    private readonly fh: FileHandle,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = Math.min(MAX_READ, length - done);
      const { bytesRead } = await this.fh.read(out, done, n, offset + done);
      if (bytesRead === 0) {
        throw new CheckpointError(
          'changed-on-disk',
          `the file ended at byte ${offset + done} but had ${this.size} bytes when opened: it changed on disk, reopen it`,
          this.name,
        );
      }
      done += bytesRead;
    }
    return out;
  }

  async changedOnDisk(): Promise<boolean> {
    const s = await this.fh.stat();
    return s.size !== this.size || s.mtimeMs !== this.mtimeMs;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Opens a file read-only for ranged reads. */
export async function openFileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw new CheckpointError('not-safetensors', 'not a regular file', path);
    return new FileSource(path, s.size, s.mtimeMs, fh);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Bytes already in memory as a ByteSource (tests, files received from a webview, fuzzing). */
export function memorySource(bytes: Uint8Array, name = '<memory>'): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset: number, length: number) {
      checkRange(this, offset, length);
      return bytes.slice(offset, offset + length);
    },
    async changedOnDisk() {
      return false;
    },
    async close() {},
  };
}
