/**
 * Reads safetensors files: the header at open, tensor data in ranges when asked.
 *
 *   const ckpt = await openSafetensors('/runs/a/checkpoints/step-100/model.safetensors');
 *   ckpt.tensors.map((t) => t.name);                       // every tensor, in file order
 *   const row = await ckpt.readValues('transformer.wte.weight', 768 * 42, 768); // token 42's embedding
 *   for await (const { start, values } of ckpt.chunks('lm_head.weight')) ...   // stream a big tensor
 *   await ckpt.close();
 */
import { memorySource, openFileSource, type ByteSource } from './byteSource';
import { decodeNumbers, decodeValues, type NumericValues, type TensorValues } from './dtypes';
import { CheckpointError, throwIfAborted } from './errors';
import { headerLength, parseHeader, type SafetensorsHeader, type TensorInfo } from './header';

/** Default elements per chunk when streaming (4 MB of float32). */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

/** The most bytes one readBytes/readValues call returns; bigger ranges go through chunks(). */
export const MAX_READ_BYTES = 2 ** 31;

export interface ChunkOptions {
  /** Elements per chunk (the last may be shorter). Default DEFAULT_CHUNK_ELEMENTS. */
  chunkElements?: number;
  /** First element and count; default the whole tensor. */
  start?: number;
  count?: number;
  signal?: AbortSignal;
}

export interface Chunk {
  /** Index of values[0] in the flattened tensor. */
  start: number;
  values: NumericValues;
}

export class SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  /** In file order. */
  readonly tensors: readonly TensorInfo[];
  readonly warnings: readonly string[];
  readonly headerBytes: number;
  private readonly byName = new Map<string, TensorInfo>();

  constructor(
    readonly source: ByteSource,
    header: SafetensorsHeader,
  ) {
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.warnings = header.warnings;
    this.headerBytes = header.headerBytes;
    for (const t of header.tensors) this.byName.set(t.name, t);
  }

  get name(): string {
    return this.source.name;
  }

  /** File size in bytes when opened. */
  get size(): number {
    return this.source.size;
  }

  /** Tensors whose dtype is listed but not decoded (no values or stats). */
  get unsupported(): TensorInfo[] {
    return this.tensors.filter((t) => !t.supported);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  tensor(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new CheckpointError('not-found', `no tensor named '${name}'`, this.name);
    return t;
  }

  /** Raw bytes of elements [start, start + count) of a tensor (any dtype with a known size). */
  async readBytes(name: string, start = 0, count?: number): Promise<Uint8Array> {
    const t = this.tensor(name);
    const n = count ?? t.elements - start;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(n) ||
      start < 0 ||
      n < 0 ||
      start + n > t.elements
    ) {
      throw new CheckpointError(
        'out-of-range',
        `elements [${start}, ${start + n}) are outside '${name}' (${t.elements} elements)`,
        this.name,
      );
    }
    if (t.itemBytes === undefined) {
      throw new CheckpointError(
        'unsupported-dtype',
        `'${name}' has dtype ${t.dtype}, which LLM Lens does not know`,
        this.name,
      );
    }
    if (n * t.itemBytes > MAX_READ_BYTES) {
      throw new CheckpointError(
        'out-of-range',
        `reading ${n * t.itemBytes} bytes of '${name}' at once is more than ${MAX_READ_BYTES}; stream it with chunks()`,
        this.name,
      );
    }
    return this.source.read(t.byteOffset + start * t.itemBytes, n * t.itemBytes);
  }

  /** Exact values of elements [start, start + count): BigInt64Array for I64, Float32Array for F16/BF16. */
  async readValues(name: string, start = 0, count?: number): Promise<TensorValues> {
    const t = this.tensor(name);
    this.requireSupported(t);
    return decodeValues(t.dtype, await this.readBytes(name, start, count));
  }

  /** Like readValues, with 64-bit integers as Float64Array: ready for arithmetic. */
  async readNumbers(name: string, start = 0, count?: number): Promise<NumericValues> {
    const t = this.tensor(name);
    this.requireSupported(t);
    return decodeNumbers(t.dtype, await this.readBytes(name, start, count));
  }

  /** Streams a tensor (or a range of it) in chunks, so a 1 GB tensor never sits in memory whole. */
  async *chunks(name: string, options: ChunkOptions = {}): AsyncGenerator<Chunk> {
    const t = this.tensor(name);
    this.requireSupported(t);
    const start = options.start ?? 0;
    const end = start + (options.count ?? t.elements - start);
    const step = Math.max(1, Math.floor(options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS));
    if (start < 0 || end > t.elements || end < start) {
      throw new CheckpointError(
        'out-of-range',
        `elements [${start}, ${end}) are outside '${name}' (${t.elements} elements)`,
        this.name,
      );
    }
    for (let s = start; s < end; s += step) {
      throwIfAborted(options.signal);
      const n = Math.min(step, end - s);
      yield {
        start: s,
        values: decodeNumbers(
          t.dtype,
          await this.source.read(t.byteOffset + s * t.itemBytes!, n * t.itemBytes!),
        ),
      };
    }
  }

  changedOnDisk(): Promise<boolean> {
    return this.source.changedOnDisk();
  }

  close(): Promise<void> {
    return this.source.close();
  }

  private requireSupported(t: TensorInfo): void {
    if (!t.supported) {
      throw new CheckpointError(
        'unsupported-dtype',
        `'${t.name}' has dtype ${t.dtype}, which LLM Lens lists but does not decode; convert it to F32, F16 or BF16 to inspect its values`,
        this.name,
      );
    }
  }
}

/** Reads and checks the header of a ByteSource. */
export async function readSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const first8 = await source.read(0, Math.min(8, source.size));
  const n = headerLength(first8, source.size, source.name);
  return new SafetensorsFile(source, parseHeader(await source.read(8, n), source.size, source.name));
}

/**
 * Opens a safetensors file by path (or wraps a ByteSource / in-memory bytes) and parses its header.
 * On a CheckpointError the source is closed; on success the caller closes the file.
 */
export async function openSafetensors(file: string | ByteSource | Uint8Array): Promise<SafetensorsFile> {
  let source: ByteSource;
  if (typeof file === 'string') source = await openFileSource(file);
  else source = file instanceof Uint8Array ? memorySource(file) : file;
  try {
    return await readSafetensors(source);
  } catch (e) {
    await source.close();
    throw e;
  }
}
