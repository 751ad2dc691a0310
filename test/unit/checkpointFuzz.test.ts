/**
 * Fuzzing the safetensors header parser: seeded random bytes, truncations, corrupted lengths, and
 * structured headers with wrong types, negative/overlapping/out-of-range offsets and huge shapes.
 * Every input either opens (and then satisfies the invariants, checked by brute force) or fails with a
 * CheckpointError that has a message; nothing else is thrown, nothing hangs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Rng } from '../../src/engine/train/rng';
import { memorySource } from '../../src/engine/checkpoint/byteSource';
import { CheckpointError, type CheckpointErrorCode } from '../../src/engine/checkpoint/errors';
import { MAX_HEADER_BYTES } from '../../src/engine/checkpoint/header';
import { openSafetensors, type SafetensorsFile } from '../../src/engine/checkpoint/safetensors';
import { tensorStats } from '../../src/engine/checkpoint/stats';

/** The fixtures, found from the bundled test (out/test/unit) or from the repository root. */
const FIX = [
  join(__dirname, '../../../test/fixtures/checkpoint'),
  join(process.cwd(), 'test/fixtures/checkpoint'),
].find((d) => existsSync(d))!;
const valid = new Uint8Array(readFileSync(join(FIX, 'fixture.safetensors')));

/** Deterministic uniform [0, 1): the engine's mulberry32. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function file(json: string | object, dataBytes: number, claimedLength?: bigint): Uint8Array {
  const text = Buffer.from(typeof json === 'string' ? json : JSON.stringify(json));
  const out = new Uint8Array(8 + text.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, claimedLength ?? BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

/** Invariants of an opened file, by brute force. */
async function checkOpened(f: SafetensorsFile) {
  const spans = f.tensors.filter((t) => t.byteLength > 0);
  for (const t of f.tensors) {
    assert.ok(
      t.byteOffset >= 8 + f.headerBytes && t.byteOffset + t.byteLength <= f.size,
      `${t.name} inside the file`,
    );
    assert.ok(t.shape.every((d) => Number.isSafeInteger(d) && d >= 0));
    if (t.itemBytes !== undefined) assert.equal(t.byteLength, t.elements * t.itemBytes);
  }
  for (const a of spans)
    for (const b of spans)
      if (a !== b)
        assert.ok(
          a.byteOffset + a.byteLength <= b.byteOffset || b.byteOffset + b.byteLength <= a.byteOffset,
          `${a.name} and ${b.name} overlap`,
        );
  for (const t of f.tensors) {
    if (t.supported && t.elements <= 4096) {
      await f.readValues(t.name);
      await tensorStats(f, t.name, { bins: 8, chunkElements: 3 });
    }
  }
}

/** Opens bytes; returns 'ok' or the CheckpointError's code; anything else fails the test. */
async function attempt(bytes: Uint8Array, what: string): Promise<'ok' | CheckpointErrorCode> {
  let f: SafetensorsFile;
  try {
    f = await openSafetensors(memorySource(bytes, 'fuzz'));
  } catch (e) {
    assert.ok(e instanceof CheckpointError, `${what}: threw ${String(e)}`);
    assert.ok(e.message.length > 10, `${what}: message too short`);
    return e.code;
  }
  try {
    await checkOpened(f);
  } catch (e) {
    if (!(e instanceof CheckpointError))
      throw new Error(`${what}: after opening: ${String(e)}`, { cause: e });
  }
  return 'ok';
}

test('random bytes: always a CheckpointError, never a crash', async () => {
  const r = rng(1);
  for (let i = 0; i < 1500; i++) {
    const n = Math.floor(r() * 64);
    const b = new Uint8Array(n).map(() => Math.floor(r() * 256));
    const code = await attempt(b, `random #${i}`);
    assert.notEqual(code, 'ok', `random #${i} opened`);
  }
});

test('random bytes behind a plausible length and a "{": a clear error or a valid open', async () => {
  const r = rng(2);
  const alphabet = '{}[]",:0123456789-.e dtypeshapedata_offsetsF32BF16I64__metadata__';
  for (let i = 0; i < 1500; i++) {
    let s = '{';
    const n = Math.floor(r() * 60);
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(r() * alphabet.length)];
    await attempt(file(s, Math.floor(r() * 32)), `json-ish #${i}: ${s}`);
  }
});

test('truncations and byte flips of a real file: a clear error or a valid open', async () => {
  const r = rng(3);
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  for (let i = 0; i < 600; i++) {
    const cut = Math.floor(r() * valid.length);
    const code = await attempt(valid.slice(0, cut), `truncated at ${cut}`);
    assert.ok(code === 'truncated' || code === 'not-safetensors', `truncated at ${cut}: ${code}`);
  }
  for (let i = 0; i < 600; i++) {
    const b = valid.slice();
    const flips = 1 + Math.floor(r() * 4);
    for (let k = 0; k < flips; k++) b[Math.floor(r() * headerEnd)] = Math.floor(r() * 256);
    await attempt(b, `flipped #${i}`);
  }
});

test('header lengths: over 100 MB, past the end, 2^64 - 1, zero', async () => {
  const body = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const over = await attempt(file(body, 4, BigInt(MAX_HEADER_BYTES + 1)), 'over 100 MB');
  assert.equal(over, 'header-too-large');
  assert.equal(await attempt(file(body, 4, 2n ** 64n - 1n), 'max u64'), 'header-too-large');
  assert.equal(await attempt(file(body, 4, BigInt(body.length + 5)), 'past the end'), 'truncated');
  assert.equal(await attempt(file(body, 4, 0n), 'zero'), 'not-safetensors');
  await assert.rejects(
    openSafetensors(memorySource(file(body, 0), 'cut')),
    /truncated: tensor 'a' ends at byte 4 of the data section but the file has 0/,
  );
  await assert.rejects(
    openSafetensors(memorySource(file(body, 0, 1000n), 'cut')),
    /truncated: the header says 1000 bytes but the file has \d+/,
  );
  await assert.rejects(
    openSafetensors(memorySource(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0]), 'model.bin')),
    /PyTorch checkpoint/,
  );
});

const DTYPES = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'I64',
  'I32',
  'I16',
  'I8',
  'U8',
  'BOOL',
  'U16',
  'F8_E4M3',
  'F4',
  'XYZ',
  '',
];
const WEIRD: unknown[] = [-1, 1.5, 2 ** 53, 2 ** 60, 1e300, '3', null, true, [], {}, -0, 0];

test('structured headers: wrong types, negative and overlapping offsets, huge shapes', async () => {
  const r = rng(4);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const codes = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const header: Record<string, unknown> = {};
    const nt = Math.floor(r() * 5);
    let off = 0;
    for (let k = 0; k < nt; k++) {
      const dtype = r() < 0.9 ? pick(DTYPES) : pick(WEIRD);
      const shape =
        r() < 0.85
          ? Array.from({ length: Math.floor(r() * 3) }, () => (r() < 0.9 ? Math.floor(r() * 5) : pick(WEIRD)))
          : pick(WEIRD);
      const size =
        Array.isArray(shape) && typeof dtype === 'string'
          ? shape.reduce((a: number, d) => a * (typeof d === 'number' ? d : 1), 1) *
              ({ F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, U16: 2 } as Record<string, number>)[
                dtype
              ] || 1
          : 1;
      let offsets: unknown = [off, off + size];
      if (r() < 0.2)
        offsets = [
          Math.max(0, off - 1 - Math.floor(r() * 8)),
          Math.max(0, off - 1 - Math.floor(r() * 8)) + size,
        ]; // right size, overlapping the previous tensor
      else if (r() < 0.3) offsets = [Math.floor(r() * 40) - 5, Math.floor(r() * 40) - 5]; // negatives, past the end, begin > end
      if (r() < 0.05) offsets = pick(WEIRD);
      off += size;
      const entry: Record<string, unknown> = { dtype, shape, data_offsets: offsets };
      if (r() < 0.05) delete entry[pick(['dtype', 'shape', 'data_offsets'])];
      header[r() < 0.05 ? '__metadata__' : `t${k}`] = r() < 0.05 ? pick(WEIRD) : entry;
    }
    if (r() < 0.1) header.__metadata__ = r() < 0.5 ? { a: 'b' } : { a: pick(WEIRD) };
    const json = r() < 0.05 ? JSON.stringify(pick(WEIRD)) : JSON.stringify(header);
    const code = await attempt(file(json, Math.floor(r() * 48)), `structured #${i}: ${json}`);
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  // the generator reaches every kind of outcome
  for (const c of ['ok', 'bad-header', 'bad-tensor', 'truncated', 'overlap', 'not-safetensors'])
    assert.ok((codes.get(c) ?? 0) > 0, `no case ended in ${c}: ${[...codes]}`);
});

test('a valid file whose header length starts with a magic byte (0x80 = pickle) still opens', async () => {
  for (const len of [0x80, 0x89, 0x93, 0x4750]) {
    const body = '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    const f = await openSafetensors(memorySource(file(body.padEnd(len, ' '), 1), `len ${len}`));
    assert.equal(f.headerBytes, len);
    assert.deepEqual(
      f.tensors.map((t) => t.name),
      ['a'],
    );
  }
});

test('specific bad headers get specific errors', async () => {
  const t = (json: object | string, data: number, code: CheckpointErrorCode, re: RegExp) =>
    assert.rejects(
      openSafetensors(memorySource(file(json, data), 'x')),
      (e: unknown) => e instanceof CheckpointError && e.code === code && re.test(e.message),
    );
  await t(
    {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    },
    12,
    'overlap',
    /'a'.*'b'.*overlap/,
  );
  await t(
    { a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } },
    8,
    'bad-tensor',
    /end before they begin/,
  );
  await t(
    { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } },
    8,
    'bad-tensor',
    /needs 12 bytes but data_offsets \[0, 8\] hold 8/,
  );
  await t(
    { a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } },
    8,
    'bad-tensor',
    /more elements than can be counted/,
  );
  await t(
    { a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } },
    8,
    'bad-header',
    /non-negative integers/,
  );
  await t({ a: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, 8, 'bad-header', /data_offsets/);
  await t({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 2 ** 60] } }, 8, 'bad-header', /data_offsets/);
  await t('[1, 2]', 0, 'not-safetensors', /not valid JSON|not an object|start with/);
  await t('{"a": ', 0, 'not-safetensors', /not valid JSON/);
  await t({ __metadata__: { step: 100 } }, 0, 'bad-header', /__metadata__.step must be a string/);
});

test('the fuzz corpus runs fast', { timeout: 10_000 }, async () => {
  const r = rng(5);
  const t0 = performance.now();
  for (let i = 0; i < 500; i++)
    await attempt(
      new Uint8Array(256).map(() => Math.floor(r() * 256)),
      `speed #${i}`,
    );
  assert.ok(performance.now() - t0 < 5000);
});
