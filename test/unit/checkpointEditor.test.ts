/**
 * The Checkpoint Inspector without VS Code: its webview message validator, the inspector model (overview,
 * stats, compare, errors, cancellation) and Export for Hugging Face, read back with the engine's reader.
 * Reference values (parameter counts, stats, transposes) are computed here from the arrays written.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CheckpointError } from '../../src/engine/checkpoint/errors';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { writeSafetensorsAtomic, type TensorToWrite } from '../../src/engine/checkpoint/writer';
import { exportForHuggingFace, gpt2Name, planGpt2Export } from '../../src/host/checkpoint/hfExport';
import { openInspectedFile } from '../../src/host/checkpoint/inspector';
import { isCheckpointWebviewMessage, MAX_TENSOR_NAME } from '../../src/host/checkpoint/validate';

const root = mkdtempSync(join(tmpdir(), 'llm-lens-ckpt-editor-'));
after(() => rmSync(root, { recursive: true, force: true }));

// ---------------------------------------------------------------- validator

test('every webview message shape is accepted exactly', () => {
  for (const m of [
    { type: 'ready' },
    { type: 'compare' },
    { type: 'exportHf' },
    { type: 'exportOnnx' },
    { type: 'sample' },
    { type: 'continueTraining' },
    { type: 'reload' },
    { type: 'inspect', name: 'transformer.wte.weight' },
  ]) {
    assert.equal(isCheckpointWebviewMessage(m), true, JSON.stringify(m));
  }
});

test('malformed webview messages are rejected', () => {
  const bad: unknown[] = [
    null,
    undefined,
    'ready',
    42,
    [],
    [{ type: 'ready' }],
    {},
    { type: 'nope' },
    { type: 'READY' },
    { type: 'ready', extra: 1 },
    { type: 'compare', path: '/etc/passwd' },
    { type: 'exportHf', outDir: '/tmp/x' },
    { type: 'exportOnnx', dir: '/tmp' },
    { type: 'sample', checkpoint: '/etc' },
    { type: 'reload', force: true },
    { type: 'inspect' },
    { type: 'inspect', name: '' },
    { type: 'inspect', name: 3 },
    { type: 'inspect', name: ['a'] },
    { type: 'inspect', name: 'x'.repeat(MAX_TENSOR_NAME + 1) },
    { type: 'inspect', name: 'a', start: 0 },
    { type: 'inspect', name: null },
    { type: 'inspect', name: { toString: () => 'a' } },
  ];
  for (const m of bad) assert.equal(isCheckpointWebviewMessage(m), false, JSON.stringify(m));
  assert.equal(isCheckpointWebviewMessage({ type: 'inspect', name: 'x'.repeat(MAX_TENSOR_NAME) }), true);
});

// ---------------------------------------------------------------- a tiny GPT-2 checkpoint

interface Tiny {
  nLayer: number;
  nEmbd: number;
  vocab: number;
  block: number;
}

/** Deterministic values: a small LCG, different per tensor and seed. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 2 ** 32 - 0.5) * 0.2;
  }
  return out;
}

/** GPT-2 tensors; `linear` stores c_attn/c_proj/c_fc as nn.Linear [out, in] like nanoGPT; `prefix` before every name. */
function gpt2Tensors(
  c: Tiny,
  seed: number,
  opts: {
    linear?: boolean;
    prefix?: string;
    biases?: boolean;
    lmHead?: 'tied' | 'separate';
    maskBuffer?: boolean;
  } = {},
): TensorToWrite[] {
  const C = c.nEmbd;
  const out: TensorToWrite[] = [];
  let k = 0;
  const add = (name: string, shape: number[]) =>
    out.push({
      name: `${opts.prefix ?? ''}${name}`,
      dtype: 'F32',
      shape,
      data: values(
        shape.reduce((a, b) => a * b, 1),
        seed * 1000 + k++,
      ),
    });
  const w = (inF: number, outF: number) => (opts.linear ? [outF, inF] : [inF, outF]);
  add('transformer.wte.weight', [c.vocab, C]);
  add('transformer.wpe.weight', [c.block, C]);
  for (let i = 0; i < c.nLayer; i++) {
    const h = `transformer.h.${i}`;
    add(`${h}.ln_1.weight`, [C]);
    add(`${h}.attn.c_attn.weight`, w(C, 3 * C));
    add(`${h}.attn.c_proj.weight`, w(C, C));
    add(`${h}.ln_2.weight`, [C]);
    add(`${h}.mlp.c_fc.weight`, w(C, 4 * C));
    add(`${h}.mlp.c_proj.weight`, w(4 * C, C));
    if (opts.biases) {
      add(`${h}.ln_1.bias`, [C]);
      add(`${h}.attn.c_attn.bias`, [3 * C]);
    }
    if (opts.maskBuffer) add(`${h}.attn.bias`, [1, 1, c.block, c.block]);
  }
  add('transformer.ln_f.weight', [C]);
  if (opts.lmHead === 'tied')
    out.push({
      name: `${opts.prefix ?? ''}lm_head.weight`,
      dtype: 'F32',
      shape: [c.vocab, C],
      data: out[0].data,
    });
  if (opts.lmHead === 'separate') add('lm_head.weight', [c.vocab, C]);
  return out;
}

const TINY: Tiny = { nLayer: 2, nEmbd: 8, vocab: 11, block: 6 };
const byName = (ts: TensorToWrite[]) => new Map(ts.map((t) => [t.name, t]));

// ---------------------------------------------------------------- inspector model

test('the overview counts parameters from the header and reads step and loss beside the checkpoint', async () => {
  const dir = join(root, 'run', 'checkpoints', 'step-40');
  const tensors = gpt2Tensors(TINY, 1, { biases: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeSafetensorsAtomic(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 8, vocab_size: 11, n_positions: 6 }),
  );
  writeFileSync(
    join(dir, 'trainer.json'),
    JSON.stringify({
      format: 'llm-lens-trainer',
      version: 1,
      step: 40,
      trainLoss: 2.25,
      valLoss: 2.5,
      tokensSeen: 1280,
    }),
  );
  const f = await openInspectedFile(join(dir, 'model.safetensors'));
  try {
    const o = f.overview;
    const expected = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    assert.equal(o.params, expected);
    assert.equal(o.bytes, expected * 4);
    assert.equal(o.tensors.length, tensors.length);
    assert.equal(o.architecture.family, 'gpt2');
    assert.deepEqual(
      [
        o.architecture.nLayer,
        o.architecture.nHead,
        o.architecture.nEmbd,
        o.architecture.vocabSize,
        o.architecture.blockSize,
      ],
      [2, 2, 8, 11, 6],
    );
    assert.deepEqual(o.training, {
      step: 40,
      loss: 2.25,
      valLoss: 2.5,
      tokensSeen: 1280,
      source: join(dir, 'trainer.json'),
    });
    assert.equal(o.canExportHf, true);
    // the tree: transformer → h → 0 … with shares that add up
    const transformer = o.tree.children.find((c) => c.name === 'transformer')!;
    const h0 = transformer.children.find((c) => c.name === 'h')!.children.find((c) => c.name === '0')!;
    const h0Expected = tensors
      .filter((t) => t.name.startsWith('transformer.h.0.'))
      .reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    assert.equal(h0.params, h0Expected);
    assert.ok(Math.abs(h0.share - h0Expected / expected) < 1e-15);
  } finally {
    await f.close();
  }
});

test('inspect returns stats equal to sums over the written values, a histogram and a heatmap for matrices', async () => {
  const dir = join(root, 'run', 'checkpoints', 'step-40');
  const f = await openInspectedFile(join(dir, 'model.safetensors'));
  try {
    const t = byName(gpt2Tensors(TINY, 1, { biases: true })).get('transformer.h.1.attn.c_attn.weight')!;
    const v = Array.from(t.data as Float32Array);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
    const d = await f.inspect('transformer.h.1.attn.c_attn.weight');
    assert.ok(Math.abs(d.stats.mean! - mean) < 1e-12 * Math.max(1, Math.abs(mean)) + 1e-15);
    assert.ok(Math.abs(d.stats.std! - std) < 1e-12);
    assert.equal(d.stats.min, Math.min(...v));
    assert.equal(d.stats.max, Math.max(...v));
    assert.ok(Math.abs(d.stats.l2! - Math.sqrt(v.reduce((a, x) => a + x * x, 0))) < 1e-12);
    assert.equal(d.stats.count, v.length);
    assert.equal(
      d.histogram!.counts.reduce((a, b) => a + b, 0),
      v.length,
    );
    assert.equal(d.histogram!.edges.length, d.histogram!.counts.length + 1);
    assert.deepEqual([d.heatmap!.sourceRows, d.heatmap!.sourceCols], [8, 24]);
    // 1-D tensors get no heatmap
    assert.equal((await f.inspect('transformer.ln_f.weight')).heatmap, undefined);
    await assert.rejects(
      f.inspect('nope'),
      (e: unknown) => e instanceof CheckpointError && e.code === 'not-found',
    );
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      f.inspect('transformer.wte.weight', ac.signal),
      (e: unknown) => e instanceof CheckpointError && e.code === 'aborted',
    );
  } finally {
    await f.close();
  }
});

test("compare lists each tensor's relative change ‖a − b‖/‖a‖, largest first", async () => {
  const dir = join(root, 'cmp');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  const a = gpt2Tensors(TINY, 2);
  const b = a.map((t) => ({ ...t, data: Float32Array.from(t.data as Float32Array) }));
  // scale two tensors by known factors: relative change |1 - s|
  const scale = new Map([
    ['transformer.h.0.mlp.c_fc.weight', 1.5],
    ['transformer.wpe.weight', 0.9],
  ]);
  for (const t of b) {
    const s = scale.get(t.name);
    if (s) (t.data as Float32Array).forEach((x, i, arr) => (arr[i] = x * s));
  }
  await writeSafetensorsAtomic(join(dir, 'a.safetensors'), a);
  await writeSafetensorsAtomic(join(dir, 'b.safetensors'), b);
  const f = await openInspectedFile(join(dir, 'a.safetensors'));
  try {
    const c = await f.compare(join(dir, 'b.safetensors'));
    assert.deepEqual(
      c.changes.slice(0, 2).map((x) => x.name),
      ['transformer.h.0.mlp.c_fc.weight', 'transformer.wpe.weight'],
    );
    assert.ok(Math.abs(c.changes[0].relChange! - 0.5) < 1e-6);
    assert.ok(Math.abs(c.changes[1].relChange! - 0.1) < 1e-6);
    assert.ok(c.changes.slice(2).every((x) => x.relChange === 0));
    assert.equal(c.changes.length, a.length);
    assert.deepEqual([c.onlyHere, c.onlyThere], [[], []]);
  } finally {
    await f.close();
  }
});

test('a truncated, foreign or empty file gives a CheckpointError with a message, not a crash', async () => {
  const dir = join(root, 'bad');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeSafetensorsAtomic(join(dir, 'cut.safetensors'), gpt2Tensors(TINY, 3));
  truncateSync(join(dir, 'cut.safetensors'), 300);
  writeFileSync(join(dir, 'text.safetensors'), 'this is not a checkpoint at all, just some text');
  writeFileSync(join(dir, 'empty.safetensors'), '');
  writeFileSync(join(dir, 'zip.safetensors'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]));
  writeFileSync(join(dir, 'junk.onnx'), Buffer.alloc(64, 0xff));
  for (const name of [
    'cut.safetensors',
    'text.safetensors',
    'empty.safetensors',
    'zip.safetensors',
    'junk.onnx',
  ]) {
    await assert.rejects(
      openInspectedFile(join(dir, name)),
      (e: unknown) => e instanceof CheckpointError && e.message.length > 20,
      name,
    );
  }
  await assert.rejects(openInspectedFile(join(dir, 'zip.safetensors')), /zip archive/);
});

test('a file rewritten on disk while open is noticed', async () => {
  const dir = join(root, 'changed');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  const p = join(dir, 'm.safetensors');
  await writeSafetensorsAtomic(p, gpt2Tensors(TINY, 4));
  const f = await openInspectedFile(p);
  try {
    assert.equal(await f.changedOnDisk(), false);
    writeFileSync(p, readFileSync(p).subarray(0, 500));
    assert.equal(await f.changedOnDisk(), true);
  } finally {
    await f.close();
  }
});

// ---------------------------------------------------------------- Export for Hugging Face

const HF_NAMES = (c: Tiny) => {
  const names = [
    'transformer.wte.weight',
    'transformer.wpe.weight',
    'transformer.ln_f.weight',
    'transformer.ln_f.bias',
  ];
  for (let i = 0; i < c.nLayer; i++) {
    for (const m of ['ln_1', 'attn.c_attn', 'attn.c_proj', 'ln_2', 'mlp.c_fc', 'mlp.c_proj'])
      names.push(`transformer.h.${i}.${m}.weight`, `transformer.h.${i}.${m}.bias`);
  }
  return names.sort();
};

test('Export for Hugging Face writes GPT2Config fields, GPT-2 names and the tokenizer files, atomically', async () => {
  const dir = join(root, 'export1');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  const tensors = gpt2Tensors(TINY, 5, { biases: true, lmHead: 'tied', maskBuffer: true });
  await writeSafetensorsAtomic(join(dir, 'model.safetensors'), tensors);
  const tok = JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: { a: 0 } } });
  writeFileSync(join(dir, 'tokenizer.json'), tok);
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  const src = await openSafetensors(join(dir, 'model.safetensors'));
  const outDir = join(dir, 'hf');
  try {
    const r = await exportForHuggingFace(src, {
      outDir,
      nHead: 2,
      searchDirs: [dir],
      sourceConfig: { eos_token_id: 10, activation_function: 'gelu' },
    });
    assert.deepEqual(r.files.sort(), ['config.json', 'merges.txt', 'model.safetensors', 'tokenizer.json']);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.tmp')),
      [],
      'no temp folder left behind',
    );
    const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
    assert.deepEqual(
      {
        n_layer: config.n_layer,
        n_head: config.n_head,
        n_embd: config.n_embd,
        n_positions: config.n_positions,
        vocab_size: config.vocab_size,
      },
      { n_layer: 2, n_head: 2, n_embd: 8, n_positions: 6, vocab_size: 11 },
    );
    assert.equal(config.model_type, 'gpt2');
    assert.deepEqual(config.architectures, ['GPT2LMHeadModel']);
    assert.equal(config.tie_word_embeddings, true);
    assert.equal(config.eos_token_id, 10);
    assert.equal(config.activation_function, 'gelu');
    assert.equal(readFileSync(join(outDir, 'tokenizer.json'), 'utf8'), tok);

    const out = await openSafetensors(join(outDir, 'model.safetensors'));
    try {
      assert.deepEqual(out.tensors.map((t) => t.name).sort(), HF_NAMES(TINY));
      const srcByName = byName(tensors);
      for (const t of out.tensors) {
        const got = await out.readNumbers(t.name);
        const from = srcByName.get(t.name);
        if (from) {
          assert.deepEqual(t.shape, [...from.shape], t.name);
          assert.deepEqual(Array.from(got), Array.from(from.data as Float32Array), t.name);
        } else {
          assert.match(t.name, /\.bias$/);
          assert.ok(
            got.every((x) => x === 0),
            `${t.name} is written as zeros`,
          );
        }
      }
    } finally {
      await out.close();
    }
    await assert.rejects(exportForHuggingFace(src, { outDir, nHead: 2 }), /already exists/);
    await assert.rejects(
      exportForHuggingFace(src, { outDir: join(dir, 'hf3'), nHead: 3 }),
      /n_head must divide/,
    );
  } finally {
    await src.close();
  }
});

test('Export for Hugging Face transposes nanoGPT Linear weights to Conv1D, strips torch.compile prefixes and keeps an untied lm_head', async () => {
  const dir = join(root, 'export2');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  const tensors = gpt2Tensors(TINY, 6, { linear: true, prefix: '_orig_mod.', lmHead: 'separate' });
  await writeSafetensorsAtomic(join(dir, 'ckpt.safetensors'), tensors);
  const src = await openSafetensors(join(dir, 'ckpt.safetensors'));
  try {
    const plan = planGpt2Export(src.tensors);
    assert.equal(plan.tensors.filter((t) => t.transpose).length, 4 * TINY.nLayer);
    const r = await exportForHuggingFace(src, { outDir: join(dir, 'hf'), nHead: 4 });
    assert.equal(r.config.tie_word_embeddings, false);
    const out = await openSafetensors(join(dir, 'hf', 'model.safetensors'));
    try {
      for (const from of tensors) {
        const name =
          from.name === '_orig_mod.lm_head.weight' ? 'lm_head.weight' : from.name.slice('_orig_mod.'.length);
        const t = out.tensor(name);
        const got = Array.from(await out.readNumbers(name));
        const v = from.data as Float32Array;
        if (/\.(c_attn|c_proj|c_fc)\.weight$/.test(name)) {
          const [rows, cols] = from.shape; // Linear [out, in] → Conv1D [in, out]
          assert.deepEqual(t.shape, [cols, rows], name);
          for (let i = 0; i < rows; i++)
            for (let j = 0; j < cols; j++) assert.equal(got[j * rows + i], v[i * cols + j]);
        } else {
          assert.deepEqual(got, Array.from(v), name);
        }
      }
      assert.ok(!out.has('_orig_mod.transformer.wte.weight'));
    } finally {
      await out.close();
    }
  } finally {
    await src.close();
  }
});

test('gpt2Name adds the transformer prefix of bare Hugging Face GPT-2 names, and a checkpoint without GPT-2 names is refused', async () => {
  assert.equal(gpt2Name('h.3.attn.c_attn.weight'), 'transformer.h.3.attn.c_attn.weight');
  assert.equal(gpt2Name('wte.weight'), 'transformer.wte.weight');
  assert.equal(gpt2Name('module.lm_head.weight'), 'lm_head.weight');
  const dir = join(root, 'llama');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeSafetensorsAtomic(join(dir, 'm.safetensors'), [
    {
      name: 'model.layers.0.self_attn.q_proj.weight',
      dtype: 'F32',
      shape: [2, 2],
      data: new Float32Array(4),
    },
  ]);
  const f = await openInspectedFile(join(dir, 'm.safetensors'));
  try {
    assert.equal(f.overview.canExportHf, false);
    assert.throws(() => planGpt2Export(f.safetensors!.tensors), /GPT-2 checkpoint/);
  } finally {
    await f.close();
  }
  assert.ok(!existsSync(join(dir, 'hf')));
});

test('tensors of unknown or undecoded dtypes are listed in the overview, not fatal; inspecting one says why', async () => {
  // a safetensors file built by hand (not with the engine's writer): F32 [2], F8_E4M3 [4], an unknown 'Q4' dtype (size unknown)
  const header = JSON.stringify({
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    f8: { dtype: 'F8_E4M3', shape: [4], data_offsets: [8, 12] },
    q: { dtype: 'Q4', shape: [3], data_offsets: [12, 12] },
  });
  const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
  const bytes = Buffer.alloc(8 + padded.length + 12);
  bytes.writeBigUInt64LE(BigInt(padded.length), 0);
  bytes.write(padded, 8, 'utf8');
  Buffer.from(Float32Array.from([1.5, -2]).buffer).copy(bytes, 8 + padded.length);
  const dir = join(root, 'dtypes');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  const p = join(dir, 'mixed.safetensors');
  writeFileSync(p, bytes);
  const f = await openInspectedFile(p);
  try {
    assert.deepEqual(f.overview.unsupported.sort(), ['f8', 'q']);
    assert.deepEqual(f.overview.tensors.map((t) => [t.name, t.dtype, t.supported]).sort(), [
      ['a', 'F32', true],
      ['f8', 'F8_E4M3', false],
      ['q', 'Q4', false],
    ]);
    assert.equal(f.overview.params, 9);
    assert.deepEqual(f.overview.dtypes.map((d) => d.dtype).sort(), ['F32', 'F8_E4M3', 'Q4']);
    const a = await f.inspect('a');
    assert.deepEqual([a.stats.mean, a.stats.min, a.stats.max], [-0.25, -2, 1.5]);
    await assert.rejects(
      f.inspect('f8'),
      (e: unknown) =>
        e instanceof CheckpointError && e.code === 'unsupported-dtype' && /F8_E4M3/.test(e.message),
    );
  } finally {
    await f.close();
  }
});
