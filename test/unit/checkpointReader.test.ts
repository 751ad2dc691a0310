/**
 * The safetensors reader against files written independently by PyTorch + numpy
 * (test/fixtures/gen/safetensors_fixture.py): values, stats, histograms, heatmaps and relative change equal
 * numpy's. Tolerances: decoded values, min, max, counts and histogram counts/edges exact; mean, std and
 * L2 norm within 1e-12 relative (summation order differs); heatmap cells within 1e-6 relative (float32 output).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { compareCheckpoints, relativeChange } from '../../src/engine/checkpoint/compare';
import { CheckpointError } from '../../src/engine/checkpoint/errors';
import { tensorHeatmap, type Pooling } from '../../src/engine/checkpoint/heatmap';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { histogramEdges, tensorStats } from '../../src/engine/checkpoint/stats';

/** The fixtures, found from the bundled test (out/test/unit) or from the repository root. */
const FIX = [
  join(__dirname, '../../../test/fixtures/checkpoint'),
  join(process.cwd(), 'test/fixtures/checkpoint'),
].find((d) => existsSync(d))!;
interface Expected {
  version: number;
  tensors: Record<
    string,
    {
      dtype: string;
      shape: number[];
      values?: string[];
      sample?: { indices: number[]; values: string[] };
      stats: Record<string, string | number> & {
        histogram: { bins: number; edges: string[]; counts: number[] };
      };
    }
  >;
  explicitEdges: { tensor: string; edges: string[]; counts: number[] };
  heatmaps: {
    tensor: string;
    cases: Array<{
      maxRows: number;
      maxCols: number;
      pooling: Pooling;
      rowBlock: number;
      colBlock: number;
      rows: number;
      cols: number;
      values: string[];
    }>;
  };
  relativeChange: Record<string, string>;
}
const expected: Expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8'));
const SPECIAL: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };
const num = (s: string | number) => (typeof s === 'number' ? s : (SPECIAL[s] ?? Number(s)));

/** Same value, same sign of zero, NaN equals NaN. */
function sameValue(actual: number, want: number, what: string) {
  assert.ok(Object.is(actual, want), `${what}: got ${actual}, numpy/torch say ${want}`);
}
function close(actual: number, want: number, rel: number, what: string) {
  if (!Number.isFinite(want) || want === 0)
    return sameValue(actual === 0 ? 0 : actual, want === 0 ? 0 : want, what);
  assert.ok(
    Math.abs(actual - want) <= rel * Math.abs(want),
    `${what}: got ${actual}, numpy says ${want} (rel tol ${rel})`,
  );
}

test('fixture format version is the one these tests know', () => {
  assert.equal(expected.version, 1, 'regenerate with test/fixtures/gen/safetensors_fixture.py');
});

test('reads the header: names, dtypes, shapes and metadata as PyTorch wrote them', async () => {
  const f = await openSafetensors(join(FIX, 'fixture.safetensors'));
  try {
    assert.deepEqual(f.metadata, { format: 'pt', source: 'safetensors_fixture.py' });
    assert.deepEqual(f.tensors.map((t) => t.name).sort(), Object.keys(expected.tensors).sort());
    for (const t of f.tensors) {
      assert.equal(t.dtype, expected.tensors[t.name].dtype, t.name);
      assert.deepEqual(t.shape, expected.tensors[t.name].shape, t.name);
      assert.equal(t.supported, true);
    }
    assert.deepEqual(f.warnings, []);
  } finally {
    await f.close();
  }
});

test('decodes every dtype exactly: NaN, ±Inf, -0, f16 subnormals, bf16 rounding, I64 beyond 2^53', async () => {
  const f = await openSafetensors(join(FIX, 'fixture.safetensors'));
  try {
    for (const [name, e] of Object.entries(expected.tensors)) {
      const values = await f.readValues(name);
      const want = e.values ?? e.sample!.values;
      const at = e.values ? want.map((_, i) => i) : e.sample!.indices;
      at.forEach((idx, k) => {
        const v = values[idx];
        if (typeof v === 'bigint') assert.equal(v, BigInt(want[k]), `${name}[${idx}]`);
        else sameValue(v, num(want[k]), `${name}[${idx}]`);
      });
      if (e.values) assert.equal(values.length, e.values.length, name);
    }
    // ranged reads equal the same slice of a whole read
    const all = await f.readNumbers('bf16.matrix');
    assert.deepEqual(await f.readNumbers('bf16.matrix', 100, 37), all.slice(100, 137));
  } finally {
    await f.close();
  }
});

test('stats and histograms equal numpy for every tensor, streamed in small chunks', async () => {
  const f = await openSafetensors(join(FIX, 'fixture.safetensors'));
  try {
    for (const [name, e] of Object.entries(expected.tensors)) {
      for (const chunkElements of [7, 1 << 20]) {
        const { stats, histogram } = await tensorStats(f, name, {
          bins: e.stats.histogram.bins,
          chunkElements,
        });
        const what = `${name} (chunks of ${chunkElements})`;
        for (const k of ['count', 'finite', 'zeros', 'nan', 'posInf', 'negInf'] as const)
          assert.equal(stats[k], e.stats[k], `${what} ${k}`);
        sameValue(stats.min, num(e.stats.min), `${what} min`);
        sameValue(stats.max, num(e.stats.max), `${what} max`);
        for (const k of ['mean', 'std', 'l2'] as const)
          close(stats[k], num(e.stats[k]), 1e-12, `${what} ${k}`);
        assert.equal(stats.zeroFraction, stats.count ? (e.stats.zeros as number) / stats.count : 0);
        assert.deepEqual(Array.from(histogram!.edges), e.stats.histogram.edges.map(num), `${what} edges`);
        assert.deepEqual(Array.from(histogram!.counts), e.stats.histogram.counts, `${what} counts`);
      }
    }
  } finally {
    await f.close();
  }
});

test('histogram with explicit edges equals np.histogram(x, bins=edges)', async () => {
  const f = await openSafetensors(join(FIX, 'fixture.safetensors'));
  try {
    const { histogram } = await tensorStats(f, expected.explicitEdges.tensor, {
      edges: expected.explicitEdges.edges.map(num),
      chunkElements: 1000,
    });
    assert.deepEqual(Array.from(histogram!.counts), expected.explicitEdges.counts);
  } finally {
    await f.close();
  }
  // numpy's rule for a constant tensor: range (x - 0.5, x + 0.5)
  assert.deepEqual(Array.from(histogramEdges(2.5, 2.5, 2)), [2, 2.5, 3]);
});

test('heatmaps equal a numpy brute-force pooling (mean and max-abs, uneven blocks)', async () => {
  const f = await openSafetensors(join(FIX, 'fixture.safetensors'));
  try {
    for (const c of expected.heatmaps.cases) {
      for (const chunkElements of [5, 96, 1 << 20]) {
        const h = await tensorHeatmap(f, expected.heatmaps.tensor, {
          maxRows: c.maxRows,
          maxCols: c.maxCols,
          pooling: c.pooling,
          chunkElements,
        });
        const what = `${c.pooling} ${c.maxRows}x${c.maxCols} chunks ${chunkElements}`;
        assert.deepEqual(
          [h.rows, h.cols, h.rowBlock, h.colBlock, h.sourceRows, h.sourceCols],
          [c.rows, c.cols, c.rowBlock, c.colBlock, 64, 96],
          what,
        );
        c.values.forEach((v, i) => close(h.values[i], num(v), 1e-6, `${what} cell ${i}`));
      }
    }
  } finally {
    await f.close();
  }
});

test('relative change ‖a−b‖/‖a‖ equals numpy, and a checkpoint compared with itself has none', async () => {
  const f = await openSafetensors(join(FIX, 'fixture.safetensors'));
  try {
    const r = expected.relativeChange;
    const c = await relativeChange(f, f, r.a, { nameB: r.b, chunkElements: 1000 });
    for (const k of ['relChange', 'normA', 'normB', 'normDiff'] as const) close(c[k], num(r[k]), 1e-12, k);
    sameValue(c.maxAbsDiff, num(r.maxAbsDiff), 'maxAbsDiff');
    const self = await compareCheckpoints(f, f);
    assert.deepEqual(self.onlyInA, []);
    assert.deepEqual(self.onlyInB, []);
    for (const ch of self.changes) {
      // tensors holding NaN or Inf compare as NaN; every other tensor is unchanged
      const s = expected.tensors[ch.name].stats;
      if (s.nan || s.posInf || s.negInf) assert.ok(Number.isNaN(ch.relChange), ch.name);
      else assert.equal(ch.relChange, 0, ch.name);
    }
    await assert.rejects(
      relativeChange(f, f, 'scalar', { nameB: 'empty' }),
      (e: unknown) => e instanceof CheckpointError && e.code === 'shape-mismatch',
    );
  } finally {
    await f.close();
  }
});

test('unknown dtypes are listed as unsupported, not fatal', async () => {
  const f = await openSafetensors(join(FIX, 'unknown_dtype.safetensors'));
  try {
    assert.deepEqual(f.unsupported.map((t) => [t.name, t.dtype]).sort(), [
      ['fp4', 'F4'],
      ['fp8', 'F8_E4M3'],
    ]);
    assert.deepEqual(Array.from((await f.readValues('ok')) as Float32Array), [1, 2]);
    await assert.rejects(
      f.readValues('fp4'),
      (e: unknown) => e instanceof CheckpointError && e.code === 'unsupported-dtype' && /F4/.test(e.message),
    );
    assert.deepEqual(Array.from(await f.readBytes('fp8')), [0x38, 0x40, 0x48]); // raw bytes of a sized dtype still read
  } finally {
    await f.close();
  }
});

test('a file truncated on disk while open: changedOnDisk() says so and reads fail with a clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-change-'));
  try {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, readFileSync(join(FIX, 'fixture.safetensors')));
    const f = await openSafetensors(path);
    try {
      assert.equal(await f.changedOnDisk(), false);
      const last = [...f.tensors].sort((a, b) => b.byteOffset - a.byteOffset)[0];
      truncateSync(path, last.byteOffset);
      assert.equal(await f.changedOnDisk(), true);
      await assert.rejects(
        f.readBytes(last.name),
        (e: unknown) =>
          e instanceof CheckpointError && e.code === 'changed-on-disk' && /reopen/.test(e.message),
      );
    } finally {
      await f.close();
    }
    await assert.rejects(
      openSafetensors(path),
      (e: unknown) => e instanceof CheckpointError && e.code === 'truncated',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files over 4 GB: offsets past 2^32 read correctly (sparse file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-big-'));
  try {
    const pad = 5 * 2 ** 30; // 5 GiB of U8 zeros, never written (sparse)
    const json = JSON.stringify({
      pad: { dtype: 'U8', shape: [pad], data_offsets: [0, pad] },
      tail: { dtype: 'F32', shape: [3], data_offsets: [pad, pad + 12] },
    });
    const header = Buffer.alloc(8 + json.length);
    header.writeBigUInt64LE(BigInt(json.length));
    header.write(json, 8);
    const path = join(dir, 'big.safetensors');
    const fh = await open(path, 'w');
    await fh.write(header, 0, header.length, 0);
    await fh.write(Buffer.from(new Float32Array([1.5, -2, 3e-3]).buffer), 0, 12, header.length + pad);
    await fh.close();
    const f = await openSafetensors(path);
    try {
      assert.equal(f.size, header.length + pad + 12);
      assert.deepEqual(
        Array.from((await f.readValues('tail')) as Float32Array),
        Array.from(new Float32Array([1.5, -2, 3e-3])),
      );
      assert.deepEqual(Array.from((await f.readValues('pad', pad - 3, 3)) as Uint8Array), [0, 0, 0]);
      await assert.rejects(
        f.readBytes('pad'),
        (e: unknown) =>
          e instanceof CheckpointError && e.code === 'out-of-range' && /chunks\(\)/.test(e.message),
      );
    } finally {
      await f.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
