/**
 * Streaming statistics against direct brute-force computation over the whole array, on tensors many
 * chunks long; relative change; the module tree's counts; the architecture guess.
 * Tolerance: mean, std, L2 and norms within 1e-10 relative (different summation order); the rest exact.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { relativeChange } from '../../src/engine/checkpoint/compare';
import { decodeValues } from '../../src/engine/checkpoint/dtypes';
import { CheckpointError } from '../../src/engine/checkpoint/errors';
import { tensorHeatmap } from '../../src/engine/checkpoint/heatmap';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { tensorStats } from '../../src/engine/checkpoint/stats';
import {
  guessArchitecture,
  moduleTree,
  summarizeCheckpoint,
  type ModuleNode,
  type TensorEntry,
} from '../../src/engine/checkpoint/summary';
import { encodeBF16, encodeSafetensors } from '../../src/engine/checkpoint/writer';

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b}`);

const N = 300_007; // ~73 chunks of 4096
const r = rng(11);
const big = new Float32Array(N).map(() => (r() - 0.5) * 3 + 0.25);
big[5] = NaN;
big[77_777] = Infinity;
big[200_000] = -Infinity;
for (let i = 1000; i < 1100; i++) big[i] = 0;
const other = big.map((x) => x + (r() - 0.5) * 0.01);

test('streaming stats over many chunks equal a direct computation over the whole array', async () => {
  const f = await openSafetensors(encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [N], data: big }]));
  const { stats, histogram } = await tensorStats(f, 'w', { bins: 50, chunkElements: 4096 });
  // brute force: finite values, two-pass mean/variance, linear scan for bins
  const fin = Array.from(big).filter(Number.isFinite);
  const mean = fin.reduce((a, b) => a + b, 0) / fin.length;
  const std = Math.sqrt(fin.reduce((a, b) => a + (b - mean) ** 2, 0) / fin.length);
  const min = fin.reduce((a, b) => Math.min(a, b), Infinity);
  const max = fin.reduce((a, b) => Math.max(a, b), -Infinity);
  assert.deepEqual(
    [stats.count, stats.finite, stats.nan, stats.posInf, stats.negInf, stats.zeros],
    [N, N - 3, 1, 1, 1, 100],
  );
  assert.equal(stats.min, min);
  assert.equal(stats.max, max);
  close(stats.mean, mean, 1e-10, 'mean');
  close(stats.std, std, 1e-10, 'std');
  close(stats.l2, Math.sqrt(fin.reduce((a, b) => a + b * b, 0)), 1e-10, 'l2');
  const counts = new Array(50).fill(0);
  for (const x of fin) {
    let j = 0;
    while (j < 49 && x >= histogram!.edges[j + 1]) j++;
    counts[j]++;
  }
  assert.deepEqual(Array.from(histogram!.counts), counts);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    N - 3,
  );
});

test('stats of a BF16 tensor are the stats of its decoded float32 values', async () => {
  const bits = encodeBF16(other.subarray(0, 10_000));
  const f = await openSafetensors(
    encodeSafetensors([{ name: 'b', dtype: 'BF16', shape: [100, 100], data: bits }]),
  );
  const { stats } = await tensorStats(f, 'b', { bins: 0, chunkElements: 333 });
  const u = new Uint32Array(10_000);
  bits.forEach((b, i) => (u[i] = b << 16));
  const vals = Array.from(new Float32Array(u.buffer)).filter(Number.isFinite);
  close(stats.mean, vals.reduce((a, b) => a + b, 0) / vals.length, 1e-10, 'bf16 mean');
});

test('progress is reported and an AbortSignal stops a long computation', async () => {
  const f = await openSafetensors(encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [N], data: big }]));
  const seen: number[] = [];
  await tensorStats(f, 'w', {
    bins: 4,
    chunkElements: 100_000,
    onProgress: (done, total) => seen.push(done / total),
  });
  assert.deepEqual(
    seen.map((x) => Math.round(x * 1e6) / 1e6),
    [100_000, 200_000, 300_000, N, N + 100_000, N + 200_000, N + 300_000, 2 * N].map(
      (d) => Math.round((d / (2 * N)) * 1e6) / 1e6,
    ),
  );
  const ctl = new AbortController();
  const p = tensorStats(f, 'w', {
    chunkElements: 1000,
    onProgress: (d) => d > 5000 && ctl.abort(),
    signal: ctl.signal,
  });
  await assert.rejects(p, (e: unknown) => e instanceof CheckpointError && e.code === 'aborted');
});

test('relative change over many chunks equals a direct computation', async () => {
  const clean = big.map((x) => (Number.isFinite(x) ? x : 0));
  const moved = other.map((x) => (Number.isFinite(x) ? x : 1));
  const a = await openSafetensors(
    encodeSafetensors([
      { name: 'w', dtype: 'F32', shape: [1000, (N / 1000) | 0], data: clean.subarray(0, 300_000) },
    ]),
  );
  const b = await openSafetensors(
    encodeSafetensors([
      { name: 'w', dtype: 'F32', shape: [1000, (N / 1000) | 0], data: moved.subarray(0, 300_000) },
    ]),
  );
  const c = await relativeChange(a, b, 'w', { chunkElements: 7000 });
  let sd = 0,
    sa = 0,
    m = 0;
  for (let i = 0; i < 300_000; i++) {
    const d = clean[i] - moved[i];
    sd += d * d;
    sa += clean[i] * clean[i];
    m = Math.max(m, Math.abs(d));
  }
  close(c.relChange, Math.sqrt(sd) / Math.sqrt(sa), 1e-10, 'relChange');
  assert.equal(c.maxAbsDiff, m);
});

test('heatmap of a tall tensor streamed in odd chunks equals brute-force mean pooling', async () => {
  const R = 517,
    C = 33;
  const f = await openSafetensors(
    encodeSafetensors([
      { name: 'm', dtype: 'F32', shape: [R, C], data: big.subarray(10_000, 10_000 + R * C) },
    ]),
  );
  const h = await tensorHeatmap(f, 'm', { maxRows: 40, maxCols: 8, pooling: 'mean', chunkElements: 101 });
  assert.deepEqual([h.rowBlock, h.colBlock, h.rows, h.cols], [13, 5, 40, 7]);
  for (let i = 0; i < h.rows; i++) {
    for (let j = 0; j < h.cols; j++) {
      let s = 0,
        n = 0;
      for (let y = i * 13; y < Math.min(R, (i + 1) * 13); y++)
        for (let x = j * 5; x < Math.min(C, (j + 1) * 5); x++) {
          const v = big[10_000 + y * C + x];
          if (!Number.isFinite(v)) continue;
          s += v;
          n++;
        }
      assert.equal(h.values[i * h.cols + j], Math.fround(s / n), `cell ${i},${j}`);
    }
  }
});

function gpt2(nLayer: number, nEmbd: number, vocab: number, block: number): TensorEntry[] {
  const t = (name: string, shape: number[]): TensorEntry => ({
    name,
    dtype: 'F32',
    shape,
    elements: shape.reduce((a, b) => a * b, 1),
    byteLength: 4 * shape.reduce((a, b) => a * b, 1),
  });
  const out = [
    t('transformer.wte.weight', [vocab, nEmbd]),
    t('transformer.wpe.weight', [block, nEmbd]),
    t('transformer.ln_f.weight', [nEmbd]),
    t('transformer.ln_f.bias', [nEmbd]),
  ];
  for (let l = 0; l < nLayer; l++) {
    const p = `transformer.h.${l}.`;
    out.push(
      t(p + 'ln_1.weight', [nEmbd]),
      t(p + 'ln_1.bias', [nEmbd]),
      t(p + 'attn.c_attn.weight', [nEmbd, 3 * nEmbd]),
      t(p + 'attn.c_attn.bias', [3 * nEmbd]),
      t(p + 'attn.c_proj.weight', [nEmbd, nEmbd]),
      t(p + 'attn.c_proj.bias', [nEmbd]),
      t(p + 'ln_2.weight', [nEmbd]),
      t(p + 'ln_2.bias', [nEmbd]),
      t(p + 'mlp.c_fc.weight', [nEmbd, 4 * nEmbd]),
      t(p + 'mlp.c_fc.bias', [4 * nEmbd]),
      t(p + 'mlp.c_proj.weight', [4 * nEmbd, nEmbd]),
      t(p + 'mlp.c_proj.bias', [nEmbd]),
    );
  }
  return out;
}

test('module tree: every node counts exactly the tensors under its path; GPT-2 124M has 124,439,808 parameters', () => {
  const tensors = gpt2(12, 768, 50257, 1024);
  const root = moduleTree(tensors);
  assert.equal(root.params, 124_439_808); // GPT-2 small without the tied lm_head
  const walk = (n: ModuleNode) => {
    const under = tensors.filter((t) =>
      n.tensor ? t.name === n.tensor : n.path === '' || t.name.startsWith(n.path + '.'),
    );
    assert.equal(
      n.params,
      under.reduce((a, t) => a + t.elements, 0),
      n.path,
    );
    assert.equal(n.tensorCount, under.length, n.path);
    assert.equal(n.share, n.params / root.params);
    n.children.forEach(walk);
  };
  walk(root);
  const h = root.children[0].children.find((c) => c.name === 'h')!;
  assert.deepEqual(
    h.children.map((c) => c.name),
    ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'],
  );
  assert.equal(h.children[0].params, 7_087_872); // one block: 12·768² + 13·768 params
});

test('architecture guess: GPT-2 names, Llama names, config.json, and other', () => {
  const g = guessArchitecture(gpt2(4, 128, 65, 64), { model_type: 'gpt2', n_head: 4, n_layer: 4 });
  assert.deepEqual(
    [g.family, g.nLayer, g.nEmbd, g.nHead, g.vocabSize, g.blockSize, g.tiedEmbeddings],
    ['gpt2', 4, 128, 4, 65, 64, true],
  );
  const disagree = guessArchitecture(gpt2(4, 128, 65, 64), { n_layer: 6 });
  assert.ok(disagree.evidence.some((e) => /n_layer=6 but the tensors say 4/.test(e)));

  const t = (name: string, shape: number[]): TensorEntry => ({
    name,
    dtype: 'BF16',
    shape,
    elements: shape.reduce((a, b) => a * b, 1),
    byteLength: 2 * shape.reduce((a, b) => a * b, 1),
  });
  const llama = [
    t('model.embed_tokens.weight', [32000, 512]),
    t('lm_head.weight', [32000, 512]),
    t('model.norm.weight', [512]),
  ];
  for (let l = 0; l < 3; l++) {
    llama.push(
      t(`model.layers.${l}.self_attn.q_proj.weight`, [512, 512]),
      t(`model.layers.${l}.self_attn.k_proj.weight`, [128, 512]),
      t(`model.layers.${l}.mlp.gate_proj.weight`, [1376, 512]),
    );
  }
  const l = guessArchitecture(llama, { model_type: 'llama', num_attention_heads: 8 });
  assert.deepEqual(
    [l.family, l.nLayer, l.nEmbd, l.vocabSize, l.intermediateSize, l.nHead, l.nKvHead, l.tiedEmbeddings],
    ['llama', 3, 512, 32000, 1376, 8, 2, false],
  );
  assert.equal(guessArchitecture([t('encoder.conv.weight', [3, 3])]).family, 'other');

  const s = summarizeCheckpoint([...llama, t('x', [2])]);
  assert.equal(s.tensorCount, llama.length + 1);
  assert.equal(s.params, llama.reduce((a, x) => a + x.elements, 0) + 2);
  assert.deepEqual(Object.keys(s.dtypes), ['BF16']);
  assert.equal(s.dtypes.BF16.bytes, s.bytes);
});

test('decoding a misaligned Node Buffer copies it instead of failing', () => {
  const f = Float32Array.from([1.5, -2, 3.25]);
  const pool = Buffer.alloc(13);
  Buffer.from(f.buffer).copy(pool, 1); // the floats start at byte 1 of the Buffer
  const view = pool.subarray(1, 13);
  assert.deepEqual(Array.from(decodeValues('F32', view) as Float32Array), [1.5, -2, 3.25]);
});
