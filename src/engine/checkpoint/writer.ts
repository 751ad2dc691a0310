/**
 * Writes safetensors files the way the reference implementation (huggingface/safetensors) does:
 * compact JSON header, `__metadata__` first, header padded with spaces to a multiple of 8 bytes,
 * tensor data ordered by dtype (widest first, so every tensor is aligned to its element size) then by
 * name. Same tensors in → same bytes out. Writes are atomic: temp file in the same folder, fsync, rename.
 *
 *   await writeSafetensorsAtomic('run/checkpoints/step-100/model.safetensors', [
 *     { name: 'transformer.wte.weight', dtype: 'F32', shape: [65, 64], data: wte },  // Float32Array(65 * 64)
 *     { name: 'transformer.wpe.weight', dtype: 'BF16', shape: [64, 64], data: encodeBF16(wpe) },
 *   ], { format: 'pt' });
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DTYPE_BYTES, f32ToBF16Bits, f32ToF16Bits, type Dtype } from './dtypes';
import { CheckpointError, throwIfAborted } from './errors';

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  /**
   * Float64Array (F64), Float32Array (F32), Uint16Array of bits (F16, BF16: see encodeF16/encodeBF16),
   * BigInt64Array (I64), BigUint64Array (U64), Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array,
   * Uint8Array (U8, and BOOL as 0/1).
   */
  data: ArrayBufferView;
}

const DATA_CLASS: Readonly<Record<Dtype, abstract new (...args: never[]) => ArrayBufferView>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

/** The reference's dtype order (its Rust enum); data is laid out from the last to the first. */
const DTYPE_RANK: readonly string[] = [
  'BOOL',
  'U8',
  'I8',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];

/** float32 values → F16 bits (round to nearest even). */
export function encodeF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  return out;
}

/** float32 values → BF16 bits (round to nearest even). */
export function encodeBF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBF16Bits(values[i]);
  return out;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const byUtf8 = (a: string, b: string) => Buffer.compare(utf8(a), utf8(b));

export interface SafetensorsLayout {
  /** 8-byte length + padded JSON. */
  header: Uint8Array;
  /** Tensors in data order, with their bytes. */
  tensors: Array<{ name: string; bytes: Uint8Array }>;
  /** Total file size. */
  size: number;
}

/** Checks the tensors and computes the header and data order; no I/O. */
export function layoutSafetensors(
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = {},
): SafetensorsLayout {
  const bad = (msg: string) => new CheckpointError('bad-input', msg);
  const seen = new Set<string>();
  for (const t of tensors) {
    if (!t.name || t.name === '__metadata__') throw bad(`tensor name '${t.name}' is not allowed`);
    if (seen.has(t.name)) throw bad(`two tensors are named '${t.name}'`);
    seen.add(t.name);
    if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, t.dtype))
      throw bad(`'${t.name}': unknown dtype ${t.dtype}`);
    let n = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw bad(`'${t.name}': shape [${t.shape}] must hold non-negative integers`);
      n *= d;
    }
    if (!(t.data instanceof DATA_CLASS[t.dtype]))
      throw bad(
        `'${t.name}': ${t.dtype} data must be a ${DATA_CLASS[t.dtype].name}, got ${(t.data as object).constructor.name}`,
      );
    if (t.data.byteLength !== n * DTYPE_BYTES[t.dtype])
      throw bad(
        `'${t.name}': shape [${t.shape}] needs ${n} elements, the data has ${t.data.byteLength / DTYPE_BYTES[t.dtype]}`,
      );
    if (t.dtype === 'BOOL' && (t.data as Uint8Array).some((v) => v > 1))
      throw bad(`'${t.name}': BOOL data must hold only 0 and 1`);
  }
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') throw bad(`metadata '${k}' must be a string`);

  const ordered = [...tensors].sort(
    (a, b) => DTYPE_RANK.indexOf(b.dtype) - DTYPE_RANK.indexOf(a.dtype) || byUtf8(a.name, b.name),
  );
  const entries: string[] = [];
  const keys = Object.keys(metadata).sort(byUtf8);
  if (keys.length)
    entries.push(
      `"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`,
    );
  let offset = 0;
  for (const t of ordered) {
    const end = offset + t.data.byteLength;
    entries.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = utf8(`{${entries.join(',')}}`);
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return {
    header,
    tensors: ordered.map((t) => ({
      name: t.name,
      bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    })),
    size: header.length + offset,
  };
}

/** The whole file in memory (small files, tests). */
export function encodeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Uint8Array {
  const l = layoutSafetensors(tensors, metadata);
  const out = new Uint8Array(l.size);
  out.set(l.header, 0);
  let at = l.header.length;
  for (const t of l.tensors) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/**
 * Writes the file atomically: a temp file beside `path`, fsync, rename over `path`, fsync the folder.
 * On any failure (disk full, abort) the temp file is removed and an existing `path` is left as it was.
 */
export async function writeSafetensorsAtomic(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
  options: { signal?: AbortSignal } = {},
): Promise<{ bytes: number }> {
  const l = layoutSafetensors(tensors, metadata);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  let ok = false;
  try {
    let at = 0;
    for (const part of [l.header, ...l.tensors.map((t) => t.bytes)]) {
      throwIfAborted(options.signal);
      for (let done = 0; done < part.length;) {
        const { bytesWritten } = await fh.write(part, done, Math.min(part.length - done, 1 << 30), at + done);
        done += bytesWritten;
      }
      at += part.length;
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    ok = true;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
  }
  await syncFolder(dirname(path));
  return { bytes: l.size };
}

/** fsync a folder so the rename is durable; not possible on Windows, where rename is already durable enough. */
async function syncFolder(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // EISDIR/EPERM on Windows: nothing to do
  }
}
