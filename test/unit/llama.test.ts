/**
 * The Llama family against PyTorch: small models on random weights in Hugging Face's naming and files
 * (test/fixtures/gen/llama_fixtures.py: a forward pass written with torch after transformers'
 * modeling_llama.py). Grouped-query attention with an untied lm_head from a BF16 file and from two F16
 * shards, tied embeddings with llama3 rope_scaling (F32), and Qwen2's q/k/v biases with one key/value head:
 * every logit within 1e-4 of torch's, for the full forward pass and for key/value-cache decoding token by
 * token; and the config.json / weights that are not supported are refused with what to do.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { copyHubFolder } from '../fixtures/llama/hubFolder';
import { writeSafetensorsAtomic, type TensorToWrite } from '../../src/engine/checkpoint/writer';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import { causalAttention, declareParams, familyForward, stack } from '../../src/engine/model/family';
import { initGptWeights } from '../../src/engine/model/gpt';
import { GptInference } from '../../src/engine/model/inference';
import { KvCacheModel } from '../../src/engine/model/kvCache';
import { llamaConfigFromJson, ropeInvFreq } from '../../src/engine/model/llama';
import { loadModel } from '../../src/engine/model/pretrained';
import { GraphRunner, toHost } from '../../src/engine/runtime/session';
import { saveCheckpoint, TRAINER_FORMAT, TRAINER_FORMAT_VERSION } from '../../src/engine/train/checkpoint';

const DIR = 'test/fixtures/llama';
const MODELS = [
  { folder: 'gqa_bf16', ref: 'gqa' },
  { folder: 'gqa_sharded', ref: 'gqa' },
  { folder: 'tied_llama3', ref: 'tied_llama3' },
  { folder: 'qwen2_mqa', ref: 'qwen2_mqa' },
];
const TOL = 1e-4;
const temps: string[] = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function refs(name: string): Promise<{ idx: number[][]; logits: Float32Array; V: number }> {
  const f = await openSafetensors(path.join(DIR, 'refs.safetensors'));
  try {
    const idx = (await f.readValues(`${name}/idx`)) as BigInt64Array; // (B, T)
    const [B, T] = f.tensor(`${name}/idx`).shape;
    const logits = (await f.readValues(`${name}/logits`)) as Float32Array; // (B, T, V)
    const rows = Array.from({ length: B }, (_, b) => Array.from(idx.subarray(b * T, (b + 1) * T), Number));
    return { idx: rows, logits, V: f.tensor(`${name}/logits`).shape[2] };
  } finally {
    await f.close();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

for (const { folder, ref } of MODELS) {
  test(`${folder}: full forward logits equal torch within 1e-4`, async () => {
    const m = await loadModel(path.join(DIR, folder));
    assert.equal(m.family, 'llama');
    const r = await refs(ref);
    const [B, T] = [r.idx.length, r.idx[0].length];
    const g = new Graph({ name: 'llama-test' });
    const idx = g.input('idx', 'i64', [B, T]);
    g.output('logits', familyForward(g, m.fam, m.config, idx, { B, T }));
    const runner = await GraphRunner.create(emitOnnx(g), { threads: 1 });
    try {
      const out = await runner.run({
        ...m.weights,
        idx: { dtype: 'i64', shape: [B, T], data: BigInt64Array.from(r.idx.flat(), BigInt) },
      });
      const logits = (await toHost(out.logits)).data as Float32Array;
      const d = maxDiff(logits, r.logits);
      assert.ok(d <= TOL, `max |engine - torch| = ${d.toExponential(2)} > ${TOL}`);
    } finally {
      await runner.release();
    }
  });
}

for (const folder of ['gqa_bf16', 'tied_llama3', 'qwen2_mqa']) {
  const ref = MODELS.find((m) => m.folder === folder)!.ref;
  test(`${folder}: key/value-cache decoding and GptInference equal torch within 1e-4`, async () => {
    const m = await loadModel(path.join(DIR, folder));
    assert.equal(m.family, 'llama');
    const r = await refs(ref);
    const kv = await KvCacheModel.forFamily(m.fam, m.config, m.weights, { threads: 1 });
    const full = await GptInference.forFamily(m.fam, m.config, m.weights, { threads: 1 });
    try {
      for (let b = 0; b < r.idx.length; b++) {
        const row = r.idx[b];
        const T = row.length;
        const at = (t: number) => r.logits.subarray((b * T + t) * r.V, (b * T + t + 1) * r.V);
        const cache = kv.newCache();
        let logits = await kv.prefill(cache, row.slice(0, 5));
        let worst = maxDiff(logits, at(4));
        for (let t = 5; t < T; t++) {
          logits = await kv.append(cache, row[t]);
          worst = Math.max(worst, maxDiff(logits, at(t)));
        }
        assert.ok(worst <= TOL, `row ${b}: decoding: max |engine - torch| = ${worst.toExponential(2)}`);
        for (const n of [1, 13, T]) {
          const d = maxDiff(await full.nextLogits(row.slice(0, n)), at(n - 1));
          assert.ok(
            d <= TOL,
            `row ${b}, ${n} tokens: nextLogits: max |engine - torch| = ${d.toExponential(2)}`,
          );
        }
      }
    } finally {
      await kv.release();
      await full.release();
    }
  });
}

test('gqa_bf16: batched decoding (prefillBatch + appendBatch) of two streams equals torch within 1e-4', async () => {
  const m = await loadModel(path.join(DIR, 'gqa_bf16'));
  assert.equal(m.family, 'llama');
  const r = await refs('gqa');
  const kv = await KvCacheModel.forFamily(m.fam, m.config, m.weights, { threads: 1 });
  try {
    // both streams follow row 0 after one prefill: each stream's cache rows are written and read back
    const row = r.idx[0];
    const T = row.length;
    const at = (t: number) => r.logits.subarray(t * r.V, (t + 1) * r.V);
    const { cache, logits } = await kv.prefillBatch(row.slice(0, 5), 2);
    let worst = maxDiff(logits, at(4));
    for (let t = 5; t < T; t++) {
      const [l0, l1] = await kv.appendBatch(cache, [row[t], row[t]]);
      worst = Math.max(worst, maxDiff(l0, at(t)), maxDiff(l1, at(t)));
    }
    assert.ok(worst <= TOL, `batched decoding: max |engine - torch| = ${worst.toExponential(2)}`);
  } finally {
    await kv.release();
  }
});

test('loadModel opens a GPT-2 checkpoint through loadCheckpoint, as before', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-gpt2-'));
  temps.push(dir);
  const c = { vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8, bias: true, gelu: 'tanh' as const };
  const weights = initGptWeights({ ...c, batchSize: 1 }, 5);
  const saved = await saveCheckpoint({
    runDir: dir,
    config: c,
    weights,
    moments: {},
    trainer: {
      format: TRAINER_FORMAT,
      version: TRAINER_FORMAT_VERSION,
      step: 1,
      rngState: 1,
      seed: 1,
      tokensSeen: 0,
      elapsedMs: 0,
    },
    tokenizerFiles: [],
  });
  const m = await loadModel(saved);
  assert.equal(m.family, 'gpt2');
  assert.deepEqual(m.config, c);
  for (const [k, w] of Object.entries(weights)) assert.deepEqual(m.weights[k].data, w.data, k);
});

test('tied_llama3: positions given as (T) and as (B, T) rows equal torch within 1e-4', async () => {
  const m = await loadModel(path.join(DIR, 'tied_llama3'));
  assert.equal(m.family, 'llama');
  const r = await refs('tied_llama3');
  const [B, T] = [r.idx.length, r.idx[0].length];
  for (const shape of [[T], [B, T]]) {
    const g = new Graph({ name: 'llama-pos-test' });
    const idx = g.input('idx', 'i64', [B, T]);
    const pos = g.input('pos', 'i64', shape);
    const P = declareParams(g, m.fam.params(m.config));
    const x = stack(g, m.fam, m.config, P, idx, { B, T, pos }, causalAttention(g, T));
    g.output('logits', m.fam.logits(g, m.config, P, x));
    const runner = await GraphRunner.create(emitOnnx(g), { threads: 1 });
    try {
      const ids = BigInt64Array.from({ length: shape.length === 1 ? T : B * T }, (_, i) => BigInt(i % T));
      const out = await runner.run({
        ...m.weights,
        idx: { dtype: 'i64', shape: [B, T], data: BigInt64Array.from(r.idx.flat(), BigInt) },
        pos: { dtype: 'i64', shape, data: ids },
      });
      const d = maxDiff((await toHost(out.logits)).data as Float32Array, r.logits);
      assert.ok(d <= TOL, `pos [${shape}]: max |engine - torch| = ${d.toExponential(2)}`);
    } finally {
      await runner.release();
    }
  }
});

test('llama3 rope_scaling: inverse frequencies as transformers computes them', () => {
  // transformers 4.4x _compute_llama3_parameters on head_dim 8, theta 10000, factor 8, low 1, high 4, original 128
  // (worked by hand: wavelengths 2π·10000^(i/4) = 6.28 (high band: kept), 62.8 (medium: blended), 628 and 6283 (low: ÷8))
  const inv = ropeInvFreq({
    headDim: 8,
    ropeTheta: 10000,
    ropeScaling: {
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 128,
    },
  });
  const plain = [1, 0.1, 0.01, 0.001];
  const smooth = (128 / ((2 * Math.PI) / 0.1) - 1) / (4 - 1);
  const want = [1, ((1 - smooth) * 0.1) / 8 + smooth * 0.1, 0.01 / 8, 0.001 / 8];
  for (let i = 0; i < 4; i++)
    assert.ok(Math.abs(inv[i] - want[i]) <= 1e-6 * plain[i], `inv_freq[${i}] = ${inv[i]}, want ${want[i]}`);
});

/** A copy of a fixture folder in a temp dir, with config.json edited and the weights replaced when given. */
function variant(
  from: string,
  edit: (j: Record<string, unknown>) => void,
): { dir: string; config: Record<string, unknown> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-'));
  temps.push(dir);
  for (const f of fs.readdirSync(path.join(DIR, from)))
    fs.copyFileSync(path.join(DIR, from, f), path.join(dir, f));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  edit(config);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return { dir, config };
}

test('unsupported model_types and quantized configs are refused naming the model_type and what is supported', async () => {
  for (const [type, extra] of [
    ['mistral', { sliding_window: 4096 }],
    ['gemma', {}],
  ] as const) {
    const { dir } = variant('tied_llama3', (j) => Object.assign(j, { model_type: type }, extra));
    await assert.rejects(
      loadModel(dir),
      new RegExp(
        `config\\.json: model_type "${type}" is not supported: LLM Lens runs gpt2, llama, qwen2 \\(llama family\\)`,
      ),
    );
  }
  const q = variant('tied_llama3', (j) => (j.quantization_config = { quant_method: 'gptq', bits: 4 }));
  await assert.rejects(
    loadModel(q.dir),
    /config\.json: quantized weights \("quantization_config": "gptq"\) are not supported: use the model's unquantized bf16, f16 or f32 safetensors \(model_type "llama"\)/,
  );
  const sw = variant('qwen2_mqa', (j) => (j.use_sliding_window = true));
  await assert.rejects(
    loadModel(sw.dir),
    /"use_sliding_window": true \(sliding-window attention\) is not supported/,
  );
  const yarn = variant('tied_llama3', (j) => (j.rope_scaling = { rope_type: 'yarn', factor: 4 }));
  await assert.rejects(loadModel(yarn.dir), /"rope_scaling": \{"rope_type": "yarn"\} is not supported/);
});

test('integer (quantized) tensors, missing weights, a wrong config and a missing shard are refused', async () => {
  // an int8 q_proj in place of the f32 one
  const int8 = variant('tied_llama3', () => {});
  const f = await openSafetensors(path.join(int8.dir, 'model.safetensors'));
  const tensors: TensorToWrite[] = [];
  for (const t of f.tensors) {
    const data = (await f.readValues(t.name)) as Float32Array;
    tensors.push(
      t.name === 'model.layers.0.self_attn.q_proj.weight'
        ? {
            name: t.name,
            dtype: 'I8' as const,
            shape: t.shape,
            data: Int8Array.from(data, (x) => Math.round(x * 100)),
          }
        : { name: t.name, dtype: 'F32' as const, shape: t.shape, data },
    );
  }
  await f.close();
  await writeSafetensorsAtomic(path.join(int8.dir, 'model.safetensors'), tensors, {});
  await assert.rejects(
    loadModel(int8.dir),
    /model\.layers\.0\.self_attn\.q_proj\.weight is I8: quantized or integer weights are not supported/,
  );
  const layers = variant('tied_llama3', (j) => (j.num_hidden_layers = 3));
  await assert.rejects(loadModel(layers.dir), /it lacks 9 weight\(s\) the config needs \(model\.layers\.2\./);
  const untied = variant('tied_llama3', (j) => (j.tie_word_embeddings = false));
  await assert.rejects(loadModel(untied.dir), /it lacks 1 weight\(s\) the config needs \(lm_head\.weight\)/);
  const kvh = variant('gqa_bf16', (j) => (j.num_key_value_heads = 4));
  await assert.rejects(
    loadModel(kvh.dir),
    /weight\(s\) have other shapes than the config implies \(model\.layers\.0\.self_attn\.k_proj\.weight \[32,64\], not \[64,64\]/,
  );
  const shard = variant('gqa_sharded', () => {});
  fs.rmSync(path.join(shard.dir, 'model-00002-of-00002.safetensors'));
  await assert.rejects(
    loadModel(shard.dir),
    /index\.json names model-00002-of-00002\.safetensors, which is missing/,
  );
  assert.throws(
    () =>
      llamaConfigFromJson(
        { model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 3 },
        'c.json',
      ),
    /c\.json: "num_key_value_heads": 3 does not divide "num_attention_heads": 4/,
  );
});

test('maxContext caps the positions a Llama model runs with', async () => {
  const m = await loadModel(path.join(DIR, 'tied_llama3'), { maxContext: 32 });
  assert.equal(m.config.blockSize, 32);
  const n = await loadModel(path.join(DIR, 'tied_llama3'));
  assert.equal(n.config.blockSize, 256); // max_position_embeddings
});

test('llm-lens eval on a Llama folder prints the mean cross-entropy of torch’s logits', async () => {
  // one sequence per split, exactly block + 1 tokens long: every batch is that sequence, and the loss is
  // the mean over its positions of −log softmax(torch's logits)[next id]
  const { idx, logits, V } = await refs('tied_llama3');
  const T = idx[0].length;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-llama-eval-'));
  temps.push(tmp);
  // the model with its character tokenizer.json; a dataset prepared with it, whose token files are then
  // replaced by the two sequences
  const model = copyHubFolder('tied_llama3', path.join(tmp, 'model'));
  fs.writeFileSync(path.join(tmp, 'text.txt'), 'the quick brown fox jumps over the lazy dog\n'.repeat(4));
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  const prep = cli(
    'prepare',
    '--tokenizer',
    model,
    '--out',
    path.join(tmp, 'data'),
    '--val-fraction',
    '0.5',
    path.join(tmp, 'text.txt'),
  );
  assert.equal(prep.status, 0, prep.stderr);
  const data = path.join(tmp, 'data', fs.readdirSync(path.join(tmp, 'data'))[0]);
  const want: Record<string, number> = {};
  for (const [split, row, last] of [
    ['train', 1, 5],
    ['val', 0, 9],
  ] as const) {
    const ids = [...idx[row], last];
    fs.writeFileSync(path.join(data, `${split}.bin`), Buffer.from(new Uint16Array(ids).buffer));
    let sum = 0;
    for (let t = 0; t < T; t++) {
      const z = Array.from(logits.subarray((row * T + t) * V, (row * T + t + 1) * V));
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((a, x) => a + Math.exp(x - max), 0));
      sum += lse - z[ids[t + 1]];
    }
    want[split] = sum / T;
  }
  const meta = JSON.parse(fs.readFileSync(path.join(data, 'meta.json'), 'utf8'));
  assert.equal(meta.dtype, 'uint16');
  fs.writeFileSync(
    path.join(data, 'meta.json'),
    JSON.stringify({ ...meta, trainTokens: T + 1, valTokens: T + 1 }),
  );
  const evaluate = (...args: string[]) => cli('eval', '--checkpoint', model, '--data', data, ...args);
  const r = evaluate('--block-size', String(T), '--batch-size', '2', '--iters', '2');
  assert.equal(r.status, 0, r.stderr);
  const got = Object.fromEntries(
    [...r.stdout.matchAll(/^(train|val) loss (\S+)$/gm)].map((m) => [m[1], +m[2]]),
  );
  for (const split of ['train', 'val'])
    assert.ok(Math.abs(got[split] - want[split]) <= 2e-4, `${split}: ${got[split]} vs torch ${want[split]}`);
  // a sequence longer than the data, or than the model's context, is refused before anything runs
  const short = evaluate('--block-size', String(T + 1));
  assert.equal(short.status, 2, short.stderr);
  assert.match(
    short.stderr,
    /train split .* has 21 tokens, fewer than a sequence of 21 \+ 1; give a smaller --block-size/,
  );
  const long = evaluate('--block-size', '257');
  assert.match(long.stderr, /--block-size 257 is longer than .*model's context \(256\); give at most 256/);
});
