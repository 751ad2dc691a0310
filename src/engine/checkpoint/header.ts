/**
 * The safetensors header, parsed and checked without touching tensor data.
 *
 * Layout (https://github.com/huggingface/safetensors):
 *   bytes 0..8      N, the header length, little-endian u64
 *   bytes 8..8+N    JSON: {"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...}
 *   bytes 8+N..     the data section; data_offsets are relative to its start
 *
 *   const n = headerLength(first8, fileSize);           // throws on a file that is not safetensors
 *   const h = parseHeader(await src.read(8, n), fileSize);
 *   h.tensors[0]  // { name: 'transformer.wte.weight', dtype: 'F32', shape: [50257, 768], byteOffset: ..., ... }
 */
import { dtypeSize, isDecodable } from './dtypes';
import { CheckpointError } from './errors';

/** The reference implementation's limit: a header over 100 MB is refused. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  /** As written in the file: 'F32', 'BF16', … or a dtype we do not know. */
  dtype: string;
  shape: number[];
  /** Product of the shape (1 for a scalar). */
  elements: number;
  /** Bytes per element; undefined for an unknown dtype. */
  itemBytes: number | undefined;
  /** Absolute offset of the first byte in the file. */
  byteOffset: number;
  byteLength: number;
  /** [begin, end) relative to the data section, as written in the header. */
  dataOffsets: [number, number];
  /** False for dtypes that are listed but not decoded (unknown or F8/C64): no values, no stats. */
  supported: boolean;
}

export interface SafetensorsHeader {
  /** N: bytes of JSON (with padding) after the 8-byte length. */
  headerBytes: number;
  /** 8 + N: where the data section starts. */
  dataStart: number;
  metadata: Record<string, string>;
  /** In the order of their data in the file. */
  tensors: TensorInfo[];
  /** Harmless oddities: gaps between tensors, bytes after the last one. */
  warnings: string[];
}

/** Recognizable magics of files people mistake for safetensors, with what to do. */
const OTHER_FORMATS: Array<[number[], string]> = [
  [
    [0x50, 0x4b, 0x03, 0x04],
    'a zip archive, like a PyTorch checkpoint (.pt/.bin) saved by torch.save; convert it with safetensors.torch.save_file(torch.load(path), "model.safetensors")',
  ],
  [[0x80], 'a Python pickle, like an old PyTorch checkpoint; convert it with safetensors.torch.save_file'],
  [[0x47, 0x47, 0x55, 0x46], 'a GGUF file (llama.cpp); LLM Lens reads safetensors'],
  [
    [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59],
    'a NumPy .npy file; save the arrays with safetensors.numpy.save_file',
  ],
  [[0x89, 0x48, 0x44, 0x46], 'an HDF5 file (Keras .h5); export the weights as safetensors'],
];

function otherFormat(first: Uint8Array): string | undefined {
  for (const [magic, what] of OTHER_FORMATS) {
    if (first.length >= magic.length && magic.every((b, i) => first[i] === b)) return what;
  }
  return undefined;
}

const HINT = 'it is not a safetensors file, or it is damaged';

/** Reads and checks N from the first 8 bytes. */
export function headerLength(first8: Uint8Array, fileSize: number, file?: string): number {
  if (fileSize < 8 || first8.length < 8) {
    throw new CheckpointError(
      'not-safetensors',
      `the file has ${fileSize} bytes, fewer than the 8 of a safetensors header length: ${HINT}`,
      file,
    );
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  // A plausible length wins over magic numbers: a valid header may be 128 bytes long (first byte 0x80).
  const other =
    2n <= n && n + 8n <= BigInt(fileSize) && n <= BigInt(MAX_HEADER_BYTES) ? undefined : otherFormat(first8);
  if (other)
    throw new CheckpointError('not-safetensors', `not a safetensors file: this looks like ${other}`, file);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(
      'header-too-large',
      `the first 8 bytes say the header is ${n} bytes, over the ${MAX_HEADER_BYTES / 1e6} MB limit: ${HINT}`,
      file,
    );
  }
  const len = Number(n);
  if (len < 2)
    throw new CheckpointError(
      'not-safetensors',
      `the header length is ${len} bytes, too short for a JSON object: ${HINT}`,
      file,
    );
  if (8 + len > fileSize) {
    throw new CheckpointError(
      'truncated',
      `truncated: the header says ${len} bytes but the file has ${fileSize - 8} after the length; download or save it again`,
      file,
    );
  }
  return len;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and checks the JSON header; `fileSize` bounds every offset. */
export function parseHeader(bytes: Uint8Array, fileSize: number, file?: string): SafetensorsHeader {
  const headerBytes = bytes.length;
  const dataStart = 8 + headerBytes;
  const dataSize = fileSize - dataStart;
  const fail = (code: ConstructorParameters<typeof CheckpointError>[0], msg: string) =>
    new CheckpointError(code, msg, file);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail('not-safetensors', `the header is not UTF-8 text: ${HINT}`);
  }
  if (!text.startsWith('{')) throw fail('not-safetensors', `the header does not start with '{': ${HINT}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail('not-safetensors', `the header is not valid JSON (${(e as Error).message}): ${HINT}`);
  }
  if (!isObject(json)) throw fail('not-safetensors', `the header is JSON but not an object: ${HINT}`);

  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(entry)) throw fail('bad-header', '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string')
          throw fail('bad-header', `__metadata__.${k} must be a string, not ${typeof v}`);
        Object.defineProperty(metadata, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      continue;
    }
    tensors.push(tensorInfo(name, entry, dataStart, dataSize, fail));
  }

  // No two tensors may share bytes; gaps and trailing bytes are only odd.
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  const warnings: string[] = [];
  let prev: TensorInfo | undefined;
  let end = 0;
  for (const t of tensors) {
    if (t.byteLength === 0) continue;
    const [b, e] = t.dataOffsets;
    if (prev && b < end) {
      throw fail(
        'overlap',
        `tensors '${prev.name}' [${prev.dataOffsets}] and '${t.name}' [${t.dataOffsets}] overlap: the header is damaged`,
      );
    }
    if (b > end) warnings.push(`${b - end} unused bytes before '${t.name}'`);
    prev = t;
    end = e;
  }
  if (dataSize > end) warnings.push(`${dataSize - end} bytes after the last tensor`);
  return { headerBytes, dataStart, metadata, tensors, warnings };
}

function tensorInfo(
  name: string,
  entry: unknown,
  dataStart: number,
  dataSize: number,
  fail: (code: 'bad-header' | 'bad-tensor' | 'truncated', msg: string) => CheckpointError,
): TensorInfo {
  const where = `tensor '${name}'`;
  if (!isObject(entry))
    throw fail(
      'bad-header',
      `${where}: expected {"dtype", "shape", "data_offsets"}, got ${JSON.stringify(entry)?.slice(0, 80)}`,
    );
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') throw fail('bad-header', `${where}: dtype must be a string`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fail(
      'bad-header',
      `${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)?.slice(0, 80)}`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw fail(
      'bad-header',
      `${where}: data_offsets must be [begin, end] of non-negative integers, got ${JSON.stringify(offsets)?.slice(0, 80)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end)
    throw fail('bad-tensor', `${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) {
    throw fail(
      'truncated',
      `truncated: ${where} ends at byte ${end} of the data section but the file has ${Math.max(dataSize, 0)} data bytes; download or save it again`,
    );
  }
  let elements = 1;
  for (const d of shape as number[]) {
    elements *= d;
    if (!Number.isSafeInteger(elements))
      throw fail(
        'bad-tensor',
        `${where}: shape [${shape}] has more elements than can be counted (over 2^53)`,
      );
  }
  const itemBytes = dtypeSize(dtype);
  if (itemBytes !== undefined) {
    const want = elements * itemBytes;
    if (!Number.isSafeInteger(want))
      throw fail('bad-tensor', `${where}: shape [${shape}] of ${dtype} is too large to address`);
    if (want !== end - begin) {
      throw fail(
        'bad-tensor',
        `${where}: shape [${shape}] of ${dtype} needs ${want} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
  }
  return {
    name,
    dtype,
    shape: shape as number[],
    elements,
    itemBytes,
    byteOffset: dataStart + begin,
    byteLength: end - begin,
    dataOffsets: [begin, end],
    supported: isDecodable(dtype),
  };
}
