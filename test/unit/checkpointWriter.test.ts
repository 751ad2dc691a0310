/**
 * The safetensors writer: byte-exact against the independent Python writer of
 * test/fixtures/gen/safetensors_fixture.py (reference layout), F16/BF16 encoding equal to torch's
 * float32 → half/bfloat16 rounding, read-back round trips, and atomic replacement.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DTYPE_BYTES, type Dtype } from '../../src/engine/checkpoint/dtypes';
import { CheckpointError } from '../../src/engine/checkpoint/errors';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import {
  encodeBF16,
  encodeF16,
  encodeSafetensors,
  writeSafetensorsAtomic,
  type TensorToWrite,
} from '../../src/engine/checkpoint/writer';

/** The fixtures, found from the bundled test (out/test/unit) or from the repository root. */
const FIX = [
  join(__dirname, '../../../test/fixtures/checkpoint'),
  join(process.cwd(), 'test/fixtures/checkpoint'),
].find((d) => existsSync(d))!;
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8'));
const SPECIAL: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };
const num = (s: string) => SPECIAL[s] ?? Number(s);

/** Typed array of the writer's input type for a dtype, over raw little-endian bytes. */
function typed(dtype: Dtype, raw: Buffer): ArrayBufferView {
  const b = new Uint8Array(raw).buffer; // fresh, aligned
  const n = raw.length / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'F64':
      return new Float64Array(b, 0, n);
    case 'F32':
      return new Float32Array(b, 0, n);
    case 'F16':
    case 'BF16':
    case 'U16':
      return new Uint16Array(b, 0, n);
    case 'I64':
      return new BigInt64Array(b, 0, n);
    case 'U64':
      return new BigUint64Array(b, 0, n);
    case 'I32':
      return new Int32Array(b, 0, n);
    case 'U32':
      return new Uint32Array(b, 0, n);
    case 'I16':
      return new Int16Array(b, 0, n);
    case 'I8':
      return new Int8Array(b, 0, n);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(b, 0, n);
  }
}

const writerCase: TensorToWrite[] = expected.writer.tensors.map(
  (t: { name: string; dtype: Dtype; shape: number[]; base64: string }) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    data: typed(t.dtype, Buffer.from(t.base64, 'base64')),
  }),
);

test('writes the same bytes as the reference layout written by the Python fixture', () => {
  const want = readFileSync(join(FIX, 'writer_expected.safetensors'));
  const shuffled = [...writerCase].reverse(); // input order must not matter
  const got = encodeSafetensors(shuffled, expected.writer.metadata);
  assert.equal(
    Buffer.compare(Buffer.from(got), want),
    0,
    `bytes differ:\n${Buffer.from(got).subarray(0, 400)}\n${want.subarray(0, 400)}`,
  );
  assert.equal(got.length - 8 - Number(Buffer.from(got).readBigUInt64LE(0)) >= 0, true);
  assert.equal(Number(Buffer.from(got).readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
});

test('F16 and BF16 encoding equal torch .half() / .bfloat16() (round to nearest even, overflow, NaN)', () => {
  const src: number[] = expected.encode.src.map(num);
  const f16 = encodeF16(src);
  const bf16 = encodeBF16(src);
  src.forEach((x, i) => {
    if (Number.isNaN(x)) {
      assert.equal(f16[i] & 0x7c00, 0x7c00, 'f16 NaN exponent');
      assert.notEqual(f16[i] & 0x3ff, 0, 'f16 NaN mantissa');
      assert.equal(bf16[i] & 0x7f80, 0x7f80);
      assert.notEqual(bf16[i] & 0x7f, 0);
    } else {
      assert.equal(f16[i], expected.encode.f16Bits[i], `f16(${x})`);
      assert.equal(bf16[i], expected.encode.bf16Bits[i], `bf16(${x})`);
    }
  });
});

test('round trip: what the writer writes, the reader reads back identically', async () => {
  const f = await openSafetensors(encodeSafetensors(writerCase, expected.writer.metadata));
  assert.deepEqual({ ...f.metadata }, expected.writer.metadata);
  for (const t of writerCase) {
    const info = f.tensor(t.name);
    assert.deepEqual([info.dtype, info.shape], [t.dtype, t.shape]);
    assert.deepEqual(
      Buffer.from(await f.readBytes(t.name)),
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      t.name,
    );
    assert.equal(info.byteOffset % DTYPE_BYTES[t.dtype], 0, `${t.name} aligned to its element size`);
  }
});

test('atomic write: replaces the file, leaves no temp file, and keeps the old file when a write fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-write-'));
  try {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, 'old contents');
    const { bytes } = await writeSafetensorsAtomic(path, writerCase, expected.writer.metadata);
    assert.deepEqual(readFileSync(path), readFileSync(join(FIX, 'writer_expected.safetensors')));
    assert.equal(bytes, readFileSync(path).length);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);

    const ctl = new AbortController();
    ctl.abort();
    await assert.rejects(
      writeSafetensorsAtomic(path, writerCase, {}, { signal: ctl.signal }),
      (e: unknown) => e instanceof CheckpointError && e.code === 'aborted',
    );
    assert.deepEqual(readdirSync(dir), ['model.safetensors'], 'temp file removed');
    assert.deepEqual(
      readFileSync(path),
      readFileSync(join(FIX, 'writer_expected.safetensors')),
      'old file kept',
    );
    await assert.rejects(writeSafetensorsAtomic(join(dir, 'missing', 'x.safetensors'), writerCase));
    assert.equal(existsSync(join(dir, 'missing')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the writer refuses bad input with a clear error', () => {
  const bad = (tensors: TensorToWrite[], re: RegExp) =>
    assert.throws(
      () => encodeSafetensors(tensors),
      (e: unknown) => e instanceof CheckpointError && e.code === 'bad-input' && re.test(e.message),
    );
  const f32 = new Float32Array(6);
  bad([{ name: 'a', dtype: 'F32', shape: [2, 2], data: f32 }], /needs 4 elements/);
  bad([{ name: 'a', dtype: 'F16', shape: [6], data: f32 }], /must be a Uint16Array/);
  bad(
    [
      { name: 'a', dtype: 'F32', shape: [6], data: f32 },
      { name: 'a', dtype: 'F32', shape: [6], data: f32 },
    ],
    /two tensors/,
  );
  bad([{ name: '__metadata__', dtype: 'F32', shape: [6], data: f32 }], /not allowed/);
  bad([{ name: 'a', dtype: 'F32', shape: [-6], data: f32 }], /non-negative/);
  bad([{ name: 'a', dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) }], /only 0 and 1/);
});
