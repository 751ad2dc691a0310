/**
 * safetensors dtypes: their sizes, and decoding raw little-endian bytes into JavaScript arrays.
 *
 *   decodeValues('BF16', bytes)  // Float32Array, exact (bf16 is the top half of a float32)
 *   decodeNumbers('I64', bytes)  // Float64Array (Number(bigint), rounded to nearest) for statistics
 *   f32ToF16Bits(1 / 3)          // 0x3555, round to nearest even like torch's .half()
 */
import { CheckpointError } from './errors';

/** The dtypes this reader decodes (and the writer writes). */
export type Dtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Bytes per element of every decodable dtype. */
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** Dtypes of the format whose size we know (so their offsets are checked) but whose values we do not decode. */
const SIZED_UNDECODED: Readonly<Record<string, number>> = { F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1, C64: 8 };

export function isDecodable(dtype: string): dtype is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype);
}

/** Bytes per element, or undefined for a dtype we do not know (sub-byte types, future types). */
export function dtypeSize(dtype: string): number | undefined {
  if (isDecodable(dtype)) return DTYPE_BYTES[dtype];
  return Object.prototype.hasOwnProperty.call(SIZED_UNDECODED, dtype) ? SIZED_UNDECODED[dtype] : undefined;
}

/** Exact values: floats as Float32Array/Float64Array, 64-bit integers as BigInt arrays, BOOL as 0/1 bytes. */
export type TensorValues =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** Values as plain numbers, for statistics: 64-bit integers become Float64Array (lossy beyond 2^53). */
export type NumericValues = Exclude<TensorValues, BigInt64Array | BigUint64Array>;

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A view of `bytes` as T, copying only when the bytes are not aligned to T's size. */
function view<T>(bytes: Uint8Array, size: number, make: (b: ArrayBuffer, off: number, n: number) => T): T {
  if (!littleEndian)
    throw new CheckpointError('unsupported-dtype', 'this reader needs a little-endian machine');
  const n = bytes.byteLength / size;
  if (!Number.isInteger(n))
    throw new CheckpointError(
      'bad-input',
      `${bytes.byteLength} bytes is not a whole number of ${size}-byte elements`,
    );
  // a misaligned view is copied into a fresh buffer (Buffer#slice would return another view, not a copy)
  const b = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  return make(b.buffer as ArrayBuffer, b.byteOffset, n);
}

let f16Table: Float32Array | undefined;
/** All 65,536 half-precision values as float32 (256 kB, built once). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0)
      t[h] = sign * mant * 2 ** -24; // zero and subnormals
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
}

/** IEEE half-precision bits → float32 values. */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** bfloat16 bits → float32 values (exact: bf16 is the upper 16 bits of a float32). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return new Float32Array(u.buffer);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → half bits, round to nearest even; overflow → ±Inf, NaN → quiet NaN. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 255) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  if (exp > 112) {
    // normal half (or overflow): keep 10 mantissa bits, round the 13 dropped ones
    let h = ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is still right
    return h >= 0x7c00 ? sign | 0x7c00 : sign | h;
  }
  // subnormal half: value / 2^-24 = (1.mant) * 2^(exp-126)
  const shift = 126 - exp;
  if (shift > 24) return sign;
  const m = mant | 0x800000;
  let q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && q & 1)) q++;
  return sign | q;
}

/** float → bfloat16 bits, round to nearest even like torch's .bfloat16(); NaN → quiet NaN. */
export function f32ToBF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7f800000) === 0x7f800000 && u & 0x7fffff) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Raw little-endian bytes → exact values of the dtype. */
export function decodeValues(dtype: string, bytes: Uint8Array): TensorValues {
  switch (dtype) {
    case 'F64':
      return view(bytes, 8, (b, o, n) => new Float64Array(b, o, n));
    case 'F32':
      return view(bytes, 4, (b, o, n) => new Float32Array(b, o, n));
    case 'F16':
      return f16ToF32(view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n)));
    case 'BF16':
      return bf16ToF32(view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n)));
    case 'I64':
      return view(bytes, 8, (b, o, n) => new BigInt64Array(b, o, n));
    case 'U64':
      return view(bytes, 8, (b, o, n) => new BigUint64Array(b, o, n));
    case 'I32':
      return view(bytes, 4, (b, o, n) => new Int32Array(b, o, n));
    case 'U32':
      return view(bytes, 4, (b, o, n) => new Uint32Array(b, o, n));
    case 'I16':
      return view(bytes, 2, (b, o, n) => new Int16Array(b, o, n));
    case 'U16':
      return view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n));
    case 'I8':
      return view(bytes, 1, (b, o, n) => new Int8Array(b, o, n));
    case 'U8':
      return bytes;
    case 'BOOL':
      return bytes.map((v) => (v ? 1 : 0)); // any non-zero byte is true
    default:
      throw new CheckpointError(
        'unsupported-dtype',
        `dtype ${dtype} is listed but not decoded by LLM Lens; convert the tensor to F32, F16 or BF16 to inspect it`,
      );
  }
}

/** Raw bytes → numbers for statistics: like decodeValues, but 64-bit integers become Float64Array. */
export function decodeNumbers(dtype: string, bytes: Uint8Array): NumericValues {
  const v = decodeValues(dtype, bytes);
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) {
    const out = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = Number(v[i]);
    return out;
  }
  return v;
}
