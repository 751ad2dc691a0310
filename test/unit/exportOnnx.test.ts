/**
 * Export ONNX: the exported folder, run by onnxruntime itself and loaded by transformers.js, gives
 * PyTorch's logits (test/fixtures/train/torch_logits.f32, written by gen/train_parity.sh) with a
 * key/value cache, left padding and a batch.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { exportGptOnnx } from '../../src/engine/model/exportOnnx';
import { exportForHuggingFace } from '../../src/host/checkpoint/hfExport';
import { loadHuggingFaceTokenizer } from '../../src/engine/tokenizer/huggingface';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { gaussian, initGptWeights } from '../../src/engine/model/gpt';
import { GptInference } from '../../src/engine/model/inference';
import { trainBpe } from '../../src/engine/tokenizer/train';
import {
  saveTrainedTokenizer,
  loadTrainedTokenizer,
  TRAINED_META_FILE,
  TRAINED_RANKS_FILE,
  TRAINED_VOCAB_FILE,
} from '../../src/engine/tokenizer/trainedFiles';
import {
  loadCheckpoint,
  saveCheckpoint,
  TRAINER_FORMAT,
  TRAINER_FORMAT_VERSION,
} from '../../src/engine/train/checkpoint';

const FIX = 'test/fixtures/train';
const V = 58;
const torchLogits = new Float32Array(fs.readFileSync(path.join(FIX, 'torch_logits.f32')).buffer.slice(0)); // (32, V)
const train = fs.readFileSync(path.join(FIX, 'data', 'train.bin'));
const ids = Array.from({ length: 32 }, (_, i) => train.readUInt16LE(i * 2)); // the tokens torch_logits is for
const torchAt = (t: number) => torchLogits.subarray(t * V, (t + 1) * V);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

async function exported(): Promise<{
  dir: string;
  files: string[];
  tokenizer: string;
  nLayer: number;
  nHead: number;
  hd: number;
}> {
  const src = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-'));
  for (const f of ['config.json', 'vocab.char.json']) fs.copyFileSync(path.join(FIX, f), path.join(src, f));
  fs.copyFileSync(path.join(FIX, 'step20.safetensors'), path.join(src, 'model.safetensors'));
  const ck = await loadCheckpoint(src);
  const dir = path.join(src, 'gpt-onnx');
  const r = await exportGptOnnx(ck.config, ck.weights, dir, { tokenizerDir: src });
  return {
    dir,
    files: r.files,
    tokenizer: r.tokenizer,
    nLayer: ck.config.nLayer,
    nHead: ck.config.nHead,
    hd: ck.config.nEmbd / ck.config.nHead,
  };
}

const i64 = (rows: number[][]) =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);

test("model.onnx has Optimum's GPT-2 inputs and outputs and reproduces PyTorch with a cache, a batch and left padding", async () => {
  const m = await exported();
  assert.deepEqual(m.files, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']);
  assert.equal(m.tokenizer, 'converted');
  const s = await ort.InferenceSession.create(path.join(m.dir, 'onnx', 'model.onnx'));
  const kvNames = (p: string) =>
    Array.from({ length: m.nLayer }, (_, l) => [`${p}.${l}.key`, `${p}.${l}.value`]).flat();
  assert.deepEqual(
    [...s.inputNames],
    ['input_ids', 'attention_mask', 'position_ids', ...kvNames('past_key_values')],
  );
  assert.deepEqual([...s.outputNames], ['logits', ...kvNames('present')]);
  const empty = (b: number) =>
    Object.fromEntries(
      kvNames('past_key_values').map((n) => [
        n,
        new ort.Tensor('float32', new Float32Array(0), [b, m.nHead, 0, m.hd]),
      ]),
    );
  const present = (out: ort.InferenceSession.OnnxValueMapType) =>
    Object.fromEntries(
      kvNames('present').map((n) => [n.replace('present', 'past_key_values'), out[n] as ort.Tensor]),
    );
  const row = (out: ort.InferenceSession.OnnxValueMapType, b: number, t: number) => {
    const [, T] = (out.logits as ort.Tensor).dims;
    return ((out.logits as ort.Tensor).data as Float32Array).subarray((b * T + t) * V, (b * T + t + 1) * V);
  };

  // the whole 32-token context at once: every position
  const full = await s.run({
    input_ids: i64([ids]),
    attention_mask: i64([ids.map(() => 1)]),
    position_ids: i64([ids.map((_, i) => i)]),
    ...empty(1),
  });
  assert.deepEqual((full.logits as ort.Tensor).dims, [1, 32, V]);
  let worst = 0;
  for (let t = 0; t < 32; t++) worst = Math.max(worst, maxDiff(row(full, 0, t), torchAt(t)));
  assert.ok(worst < 1e-5, `all positions at once: max |Δlogit| ${worst}`);
  assert.deepEqual((full['present.0.key'] as ort.Tensor).dims, [1, m.nHead, 32, m.hd]);

  // a prompt of 20, then 12 tokens one at a time with the cache
  let out = await s.run({
    input_ids: i64([ids.slice(0, 20)]),
    attention_mask: i64([Array(20).fill(1)]),
    position_ids: i64([[...Array(20).keys()]]),
    ...empty(1),
  });
  worst = maxDiff(row(out, 0, 19), torchAt(19));
  for (let t = 20; t < 32; t++) {
    out = await s.run({
      input_ids: i64([[ids[t]]]),
      attention_mask: i64([Array(t + 1).fill(1)]),
      position_ids: i64([[t]]),
      ...present(out),
    });
    worst = Math.max(worst, maxDiff(row(out, 0, 0), torchAt(t)));
  }
  assert.ok(worst < 1e-5, `incremental decoding: max |Δlogit| ${worst}`);

  // a batch of two prompts, the shorter left-padded (position ids as transformers.js makes them), then two steps
  const pad = 4;
  const a = ids.slice(0, 10);
  const b = [...Array(pad).fill(0), ...ids.slice(0, 10 - pad)];
  const maskB = [...Array(pad).fill(0), ...Array(10 - pad).fill(1)];
  out = await s.run({
    input_ids: i64([a, b]),
    attention_mask: i64([Array(10).fill(1), maskB]),
    position_ids: i64([[...Array(10).keys()], maskB.map((k, i) => (k ? i - pad : 1))]),
    ...empty(2),
  });
  worst = Math.max(maxDiff(row(out, 0, 9), torchAt(9)), maxDiff(row(out, 1, 9), torchAt(9 - pad)));
  for (let k = 0; k < 2; k++) {
    const ta = 10 + k;
    const tb = 10 - pad + k;
    out = await s.run({
      input_ids: i64([[ids[ta]], [ids[tb]]]),
      attention_mask: i64([Array(11 + k).fill(1), [...maskB, ...Array(1 + k).fill(1)]]),
      position_ids: i64([[ta], [tb]]),
      ...present(out),
    });
    worst = Math.max(worst, maxDiff(row(out, 0, 0), torchAt(ta)), maxDiff(row(out, 1, 0), torchAt(tb)));
  }
  assert.ok(worst < 1e-5, `batch with left padding: max |Δlogit| ${worst}`);
  await s.release();
});

test('transformers.js loads the exported folder: its tokenizer and logits match, and greedy generation equals the argmax chain', async () => {
  const m = await exported();
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = path.dirname(m.dir);
  const name = path.basename(m.dir);
  const tokenizer = await tjs.AutoTokenizer.from_pretrained(name, { local_files_only: true });
  const model = await tjs.AutoModelForCausalLM.from_pretrained(name, {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
  });

  const chars = CharTokenizer.fromJson(fs.readFileSync(path.join(FIX, 'vocab.char.json'), 'utf8'));
  const text = chars.decode(ids);
  const enc = tokenizer(text, { add_special_tokens: false });
  assert.deepEqual(
    Array.from(enc.input_ids.data as BigInt64Array, Number),
    ids,
    'transformers.js encodes like the character vocabulary',
  );
  assert.equal(tokenizer.decode(ids), text);
  assert.deepEqual(
    loadHuggingFaceTokenizer(path.join(m.dir, 'tokenizer.json')).encode(text),
    ids,
    'so does @huggingface/tokenizers',
  );

  const out = await model(enc);
  const logits = out.logits.data as Float32Array;
  let worst = 0;
  for (let t = 0; t < 32; t++)
    worst = Math.max(worst, maxDiff(logits.subarray(t * V, (t + 1) * V), torchAt(t)));
  assert.ok(worst < 1e-5, `transformers.js forward: max |Δlogit| ${worst}`);

  // greedy generation with transformers.js's cache loop = the argmax chain computed without a cache
  const prompt = ids.slice(0, 8);
  const gen = await model.generate({
    input_ids: new tjs.Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, 8]),
    max_new_tokens: 12,
    do_sample: false,
  });
  const generated = Array.from((gen as InstanceType<typeof tjs.Tensor>).data as BigInt64Array, Number);
  const s = await ort.InferenceSession.create(path.join(m.dir, 'onnx', 'model.onnx'));
  const seq = [...prompt];
  while (seq.length < 20) {
    const r = await s.run({
      input_ids: i64([seq]),
      attention_mask: i64([seq.map(() => 1)]),
      position_ids: i64([seq.map((_, i) => i)]),
      ...Object.fromEntries(
        Array.from({ length: m.nLayer }, (_, l) =>
          ['key', 'value'].map((k) => [
            `past_key_values.${l}.${k}`,
            new ort.Tensor('float32', new Float32Array(0), [1, m.nHead, 0, m.hd]),
          ]),
        ).flat(),
      ),
    });
    const last = ((r.logits as ort.Tensor).data as Float32Array).subarray(
      (seq.length - 1) * V,
      seq.length * V,
    );
    seq.push(last.indexOf(Math.max(...last)));
  }
  assert.deepEqual(generated, seq);
  // the text-generation pipeline, as a transformers.js user writes it: the same greedy continuation, as text
  const pipe = await tjs.pipeline('text-generation', name, {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
  });
  const [first] = (await pipe(chars.decode(prompt), { max_new_tokens: 12, do_sample: false })) as {
    generated_text: string;
  }[];
  assert.equal(first.generated_text, chars.decode(seq));
  await pipe.dispose();
  await s.release();
  await model.dispose();
});

test('a checkpoint with a tokenizer.json has it copied; one without gets none, and the model still loads', async () => {
  const src = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-'));
  fs.copyFileSync(path.join(FIX, 'config.json'), path.join(src, 'config.json'));
  fs.copyFileSync(path.join(FIX, 'step20.safetensors'), path.join(src, 'model.safetensors'));
  const ck = await loadCheckpoint(src);
  // the inspector exports the file it shows, whatever its name; model.safetensors beside it is not read
  fs.copyFileSync(path.join(FIX, 'step0.safetensors'), path.join(src, 'step-0.safetensors'));
  const other = await loadCheckpoint(path.join(src, 'step-0.safetensors'));
  const name = 'transformer.h.0.attn.c_attn.weight';
  assert.notDeepEqual(other.weights[name].data, ck.weights[name].data);
  const none = await exportGptOnnx(ck.config, ck.weights, path.join(src, 'a'), { tokenizerDir: src });
  assert.equal(none.tokenizer, 'none');
  assert.deepEqual(none.files, ['config.json', 'onnx/model.onnx']);
  fs.writeFileSync(
    path.join(src, 'tokenizer.json'),
    CharTokenizer.fromJson(fs.readFileSync(path.join(FIX, 'vocab.char.json'), 'utf8')).toHuggingFaceJson(),
  );
  const copied = await exportGptOnnx(ck.config, ck.weights, path.join(src, 'b'), { tokenizerDir: src });
  assert.equal(copied.tokenizer, 'copied');
  assert.equal(
    fs.readFileSync(path.join(src, 'b', 'tokenizer.json'), 'utf8'),
    fs.readFileSync(path.join(src, 'tokenizer.json'), 'utf8'),
  );
  await assert.rejects(exportGptOnnx(ck.config, ck.weights, path.join(src, 'b'), {}), /already exists/);
  const bad = {
    ...ck.weights,
    'transformer.h.0.attn.c_attn.weight': { dtype: 'f32' as const, shape: [3, 3], data: new Float32Array(9) },
  };
  await assert.rejects(
    exportGptOnnx(ck.config, bad, path.join(src, 'c'), {}),
    /c_attn\.weight has shape \[3, 3\], the config implies \[32, 96\]/,
  );
  assert.ok(!fs.existsSync(path.join(src, 'c')), 'nothing is left behind');
  // over protobuf's 2 GB: a clear refusal before anything is built (only the size is read, so nothing is allocated)
  const huge = {
    ...ck.weights,
    'transformer.wte.weight': {
      dtype: 'f32' as const,
      shape: [2 ** 29 / 32, 32],
      data: { byteLength: 2 ** 31 } as unknown as Float32Array,
    },
  };
  await assert.rejects(
    exportGptOnnx(ck.config, huge, path.join(src, 'd'), {}),
    /2\.00 GB; one ONNX file holds under 2 GB/,
  );
  assert.deepEqual(
    fs.readdirSync(src).filter((f) => f.includes('.tmp-')),
    [],
  );
});

test('a model with a trained BPE tokenizer exports a tokenizer.json that transformers.js encodes and decodes like LLM Lens', async () => {
  const text = fs
    .readFileSync(process.env.LLM_LENS_TINYSHAKESPEARE ?? '../shared/data/tinyshakespeare.txt', 'utf8')
    .slice(0, 60_000);
  const trained = await trainBpe(text, {
    vocabSize: 300,
    pattern: 'gpt4',
    specialTokens: ['<|endoftext|>'],
    name: 'bpe-300',
  });
  const tokDir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-tok-'));
  saveTrainedTokenizer(tokDir, trained);
  const ours = loadTrainedTokenizer(tokDir);
  const c = {
    vocabSize: ours.vocabSize,
    blockSize: 32,
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    bias: false,
    gelu: 'none' as const,
  };
  const runDir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-run-'));
  const ck = await saveCheckpoint({
    runDir,
    config: c,
    weights: initGptWeights({ ...c, batchSize: 1 }, 3),
    moments: {},
    trainer: {
      format: TRAINER_FORMAT,
      version: TRAINER_FORMAT_VERSION,
      step: 0,
      rngState: 1,
      seed: 1,
      tokensSeen: 0,
      elapsedMs: 0,
    },
    tokenizerFiles: [TRAINED_META_FILE, TRAINED_RANKS_FILE, TRAINED_VOCAB_FILE].map((f) =>
      path.join(tokDir, f),
    ),
    configExtra: { tokenizer: tokDir },
  });
  const loaded = await loadCheckpoint(ck);
  const out = path.join(runDir, 'bpe-onnx');
  const r = await exportGptOnnx(loaded.config, loaded.weights, out, { tokenizerDir: ck });
  assert.equal(r.tokenizer, 'converted');
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = runDir;
  const tokenizer = await tjs.AutoTokenizer.from_pretrained('bpe-onnx', { local_files_only: true });
  const sample = 'ROMEO:\nBut soft, what light through yonder window breaks?  Code: x = f(42);<|endoftext|>';
  const expected = ours.encode(sample, { allowedSpecial: 'all' });
  assert.deepEqual(
    Array.from(tokenizer(sample, { add_special_tokens: false }).input_ids.data as BigInt64Array, Number),
    expected,
  );
  assert.equal(tokenizer.decode(expected), sample);
});

test('Export for Hugging Face converts a character vocabulary into the tokenizer.json transformers.js reads', async () => {
  const src = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-'));
  for (const f of ['config.json', 'vocab.char.json']) fs.copyFileSync(path.join(FIX, f), path.join(src, f));
  fs.copyFileSync(path.join(FIX, 'step20.safetensors'), path.join(src, 'model.safetensors'));
  const file = await openSafetensors(path.join(src, 'model.safetensors'));
  const r = await exportForHuggingFace(file, { outDir: path.join(src, 'hf'), nHead: 2, searchDirs: [src] });
  await file.close();
  assert.deepEqual(r.files, ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = src;
  const tokenizer = await tjs.AutoTokenizer.from_pretrained('hf', { local_files_only: true });
  const text = CharTokenizer.fromJson(fs.readFileSync(path.join(FIX, 'vocab.char.json'), 'utf8')).decode(ids);
  assert.deepEqual(
    Array.from(tokenizer(text, { add_special_tokens: false }).input_ids.data as BigInt64Array, Number),
    ids,
  );
});

test("biases and the tanh GELU export too: model.onnx equals the engine's forward pass, with and without the cache", async () => {
  const c = {
    vocabSize: 23,
    blockSize: 16,
    nLayer: 2,
    nHead: 2,
    nEmbd: 16,
    bias: true,
    gelu: 'tanh' as const,
  };
  const weights = initGptWeights({ ...c, batchSize: 1 }, 11);
  const normal = gaussian(12);
  // biases that matter, and activations of order 1 so that GELU's curve (not just its slope at 0) is exercised
  for (const [name, w] of Object.entries(weights)) {
    if (name.endsWith('.bias')) w.data.forEach((_, i) => (w.data[i] = 0.3 * normal()));
    else if (w.shape.length === 2 && !name.includes('wte') && !name.includes('wpe'))
      w.data.forEach((x, i) => (w.data[i] = x * 15));
  }
  const dir = path.join(fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-')), 'onnx');
  await exportGptOnnx(c, weights, dir);
  const ref = await GptInference.create(c, weights, { threads: 1 });
  const s = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'));
  const prompt = [3, 9, 14, 1, 22, 7];
  const empty = Object.fromEntries(
    Array.from({ length: c.nLayer }, (_, l) =>
      ['key', 'value'].map((k) => [
        `past_key_values.${l}.${k}`,
        new ort.Tensor('float32', new Float32Array(0), [1, c.nHead, 0, 8]),
      ]),
    ).flat(),
  );
  let out = await s.run({
    input_ids: i64([prompt]),
    attention_mask: i64([prompt.map(() => 1)]),
    position_ids: i64([prompt.map((_, i) => i)]),
    ...empty,
  });
  const last = (o: typeof out, t: number) =>
    ((o.logits as ort.Tensor).data as Float32Array).subarray(t * c.vocabSize, (t + 1) * c.vocabSize);
  let worst = maxDiff(last(out, prompt.length - 1), await ref.nextLogits(prompt));
  const seq = [...prompt];
  for (const next of [5, 18]) {
    const past = Object.fromEntries(
      Array.from({ length: c.nLayer }, (_, l) =>
        ['key', 'value'].map((k) => [`past_key_values.${l}.${k}`, out[`present.${l}.${k}`] as ort.Tensor]),
      ).flat(),
    );
    seq.push(next);
    out = await s.run({
      input_ids: i64([[next]]),
      attention_mask: i64([seq.map(() => 1)]),
      position_ids: i64([[seq.length - 1]]),
      ...past,
    });
    worst = Math.max(worst, maxDiff(last(out, 0), await ref.nextLogits(seq)));
  }
  assert.ok(worst < 1e-5, `max |Δlogit| ${worst}`); // a GELU constant off by 10% gives 6e-4 here
  await s.release();
  await ref.release();
});
