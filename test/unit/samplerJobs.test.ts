/**
 * The sampler's worker jobs on a checkpoint written here (random weights, a character vocabulary), and
 * the validator of the Sampler webview's messages. References: the engine called directly, brute force.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { isSamplerWebviewMessage } from '../../src/host/sampler/validate';
import { gptParams } from '../../src/engine/model/gpt';
import type { GptModelConfig } from '../../src/engine/model/inference';
import { GptInspector } from '../../src/engine/model/inspect';
import { KvCacheModel } from '../../src/engine/model/kvCache';
import { generateTokens } from '../../src/engine/sample/generate';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { writeSafetensorsAtomic } from '../../src/engine/checkpoint/writer';
import { getEncoding } from '../../src/engine/tokenizer/builtin';
import { loadCheckpoint, saveCheckpoint } from '../../src/engine/train/checkpoint';
import { Rng } from '../../src/engine/train/rng';
import type { SampledToken, SamplerJobResult, SamplerParams } from '../../src/protocol/sampler';
import { runSamplerJob } from '../../src/worker/samplerJobs';
import { randomWeights } from '../fixtures/chat/chatCheckpoint';
import { STEP5_TRAINER } from '../fixtures/chat/chatCheckpoint';

const CHARS = [...'\n abcdefghijklmnopqrstuvwxyz.,'];
const config: GptModelConfig = {
  vocabSize: CHARS.length,
  blockSize: 32,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  bias: true,
};
const params: SamplerParams = {
  temperature: 0.9,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  seed: 4,
  maxTokens: 20,
  stop: [],
};

const W = randomWeights(config);

async function checkpoint(
  withTokenizer = true,
  llmLens: Record<string, unknown> = { tokenizer: 'char' },
): Promise<string> {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-sampler-'));
  const vocab = path.join(dir, 'vocab.char.json');
  fs.writeFileSync(vocab, new CharTokenizer('char', CHARS).toJson());
  const out = await saveCheckpoint({
    runDir: path.join(dir, 'run'),
    config,
    weights: W,
    moments: {},
    trainer: STEP5_TRAINER,
    tokenizerFiles: withTokenizer ? [vocab] : [],
    configExtra: llmLens,
  });
  return out;
}

async function job<K extends SamplerJobResult['kind']>(
  j: Parameters<typeof runSamplerJob>[0] & { kind: K },
): Promise<Extract<SamplerJobResult, { kind: K }>> {
  return (await runSamplerJob(j)) as Extract<SamplerJobResult, { kind: K }>;
}

test('samplerStart + samplerNext stream exactly the tokens of generateTokens, a few at a time', async () => {
  const ck = await checkpoint();
  const info = (await job({ kind: 'samplerLoad', checkpoint: path.join(ck, 'model.safetensors') })).model;
  assert.equal(info.nLayer, 2);
  assert.match(info.startToken, /token 0/);
  const started = await job({
    kind: 'samplerStart',
    checkpoint: ck,
    prompt: { text: 'hello world' },
    params,
    streams: 2,
  });
  assert.equal(started.sessions.length, 2);
  assert.equal(started.prompt.texts.join(''), 'hello world');
  const tok = new CharTokenizer('char', CHARS);
  const kv = await KvCacheModel.create(config, W, { threads: 1 });
  for (const [i, session] of started.sessions.entries()) {
    const got: SampledToken[] = [];
    for (let done = false; !done;) {
      const r = await job({ kind: 'samplerNext', session, maxTokens: 3, budgetMs: 10_000 });
      assert.ok(r.tokens.length <= 3);
      got.push(...r.tokens);
      done = r.done;
    }
    const want: number[] = [];
    for await (const t of generateTokens(kv, tok.encode('hello world'), { ...params, seed: params.seed + i }))
      want.push(t.id);
    assert.deepEqual(
      got.map((t) => t.id),
      want,
    );
    assert.equal(got.at(-1)!.finish, 'maxTokens');
    assert.equal(got.map((t) => t.text).join(''), tok.decode(want));
    for (const t of got) assert.equal(t.top.length, 20);
  }
  await kv.release();
});

test('bad input: empty prompt, prompt over the block, characters outside the vocabulary, no tokenizer', async () => {
  const ck = await checkpoint();
  const empty = await job({ kind: 'samplerStart', checkpoint: ck, prompt: { text: '' }, params, streams: 1 });
  assert.deepEqual(empty.prompt.ids, [0]);
  assert.match(empty.prompt.notes[0], /empty prompt: starting from token 0/);
  const long = await job({
    kind: 'samplerStart',
    checkpoint: ck,
    prompt: { text: 'abc '.repeat(20) },
    params,
    streams: 1,
  });
  assert.equal(long.prompt.ids.length, 32);
  assert.match(long.prompt.notes[0], /80 tokens: the model sees the last 32/);
  await assert.rejects(
    job({ kind: 'samplerStart', checkpoint: ck, prompt: { text: 'snow ☃' }, params, streams: 1 }),
    /"☃" .* not in the vocabulary/,
  );
  await assert.rejects(
    job({ kind: 'samplerStart', checkpoint: ck, prompt: { ids: [1, 999] }, params, streams: 1 }),
    /outside the model's vocabulary/,
  );
  await assert.rejects(
    job({ kind: 'samplerLoad', checkpoint: await checkpoint(false) }),
    /copy the tokenizer/,
  );
  // no tokenizer files and none named: GPT-2's encoding is assumed, and it does not fit 30 ids
  await assert.rejects(
    job({ kind: 'samplerLoad', checkpoint: await checkpoint(false, {}) }),
    /gpt2, 50257 tokens\) does not fit the model's vocabulary of 30/,
  );
});

test('samplerInspect: thumbnails are the max-pooled attention; samplerAttention returns one head', async () => {
  const ck = await checkpoint();
  const ids = Array.from({ length: 40 }, (_, i) => (i * 7) % CHARS.length);
  const r = (await job({ kind: 'samplerInspect', checkpoint: ck, ids, thumbSize: 8 })).view;
  assert.equal(r.ids.length, 32);
  assert.equal(r.offset, 8);
  const ins = await GptInspector.create(config, W, { threads: 1 });
  const ref = await ins.inspect(ids.slice(-32));
  await ins.release();
  const n = 32;
  const s = 8;
  for (let l = 0; l < 2; l++)
    for (let h = 0; h < 2; h++)
      for (let a = 0; a < s; a++)
        for (let b = 0; b < s; b++) {
          let max = 0;
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++)
              if (Math.floor((i * s) / n) === a && Math.floor((j * s) / n) === b)
                max = Math.max(max, ref.attention[l][(h * n + i) * n + j]);
          assert.ok(Math.abs(r.thumbs[((l * 2 + h) * s + a) * s + b] - max) < 1e-6);
        }
  const head = await job({ kind: 'samplerAttention', layer: 1, head: 1 });
  assert.equal(head.n, n);
  assert.deepEqual(Array.from(head.weights), Array.from(ref.attention[1].subarray(n * n, 2 * n * n)));
  assert.equal(r.lens.ids.length, 3 * n * r.lens.k);
  await assert.rejects(job({ kind: 'samplerAttention', layer: 5, head: 0 }), /inspect the text first/);
});

test('the Sampler webview validator accepts exactly the protocol', () => {
  const ok: unknown[] = [
    { type: 'ready' },
    { type: 'stop' },
    { type: 'pickCheckpoint' },
    { type: 'generate', prompt: 'hi', params, streams: 3 },
    { type: 'branch', universe: 1, index: 4, tokenId: 7, params },
    { type: 'generate', prompt: 'hi', params, streams: 1, tools: true },
    { type: 'branch', universe: 1, index: 4, tokenId: 7, params, tools: false },
    { type: 'inspect', universe: 2 },
    { type: 'attention', layer: 0, head: 5 },
  ];
  for (const m of ok) assert.ok(isSamplerWebviewMessage(m), JSON.stringify(m));
  const bad: unknown[] = [
    null,
    'ready',
    { type: 'ready', extra: 1 },
    { type: 'nope' },
    { type: 'generate', prompt: 'hi', params, streams: 9 },
    { type: 'generate', prompt: 'hi', params: { ...params, temperature: -1 }, streams: 1 },
    { type: 'generate', prompt: 'hi', params: { ...params, topP: 0 }, streams: 1 },
    { type: 'generate', prompt: 'hi', params: { ...params, minP: 2 }, streams: 1 },
    { type: 'generate', prompt: 'hi', params: { ...params, topK: 2.5 }, streams: 1 },
    { type: 'generate', prompt: 'hi', params: { ...params, maxTokens: 1e6 }, streams: 1 },
    { type: 'generate', prompt: 'hi', params: { ...params, stop: [1] }, streams: 1 },
    { type: 'generate', prompt: 'hi', params: { ...params, extra: true }, streams: 1 },
    { type: 'generate', prompt: 7, params, streams: 1 },
    { type: 'branch', universe: -1, index: 0, tokenId: 0, params },
    { type: 'generate', prompt: 'hi', params, streams: 1, tools: ['calculator'] },
    { type: 'generate', prompt: 'hi', params, streams: 1, tools: 'on' },
    { type: 'branch', universe: 1, index: 4, tokenId: 7, params, tools: 0 },
    { type: 'generate', prompt: 'hi', params, streams: 1, searchDir: '/' },
    { type: 'attention', layer: 0.5, head: 0 },
  ];
  for (const m of bad) assert.ok(!isSamplerWebviewMessage(m), JSON.stringify(m));
});

test("a Hugging Face GPT-2 folder (model.safetensors + config.json, no tokenizer files) samples with GPT-2's encoding", async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-hf-gpt2-'));
  const hf: GptModelConfig = {
    vocabSize: 50257,
    blockSize: 16,
    nLayer: 1,
    nHead: 2,
    nEmbd: 8,
    bias: true,
    gelu: 'tanh',
  };
  const rng = new Rng(5);
  const tensors = gptParams({ ...hf, batchSize: 1 }).map((p) => ({
    name: p.name.replace(/^transformer\./, ''), // transformers' GPT2Model naming
    dtype: 'F32' as const,
    shape: p.shape,
    data: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () =>
      /ln_.*weight/.test(p.name) ? 1 : (rng.next() - 0.5) * 0.4,
    ),
  }));
  tensors.push({
    name: 'h.0.attn.bias',
    dtype: 'F32',
    shape: [1, 1, 16, 16],
    data: new Float32Array(256).fill(1),
  }); // the mask buffer old exports carry
  await writeSafetensorsAtomic(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'gpt2',
      vocab_size: 50257,
      n_positions: 16,
      n_ctx: 16,
      n_embd: 8,
      n_layer: 1,
      n_head: 2,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
    }),
  );
  const info = (await job({ kind: 'samplerLoad', checkpoint: dir })).model;
  assert.equal(info.tokenizer, 'gpt2');
  assert.equal(info.startToken, '<|endoftext|>');
  const empty = await job({
    kind: 'samplerStart',
    checkpoint: dir,
    prompt: { text: '' },
    params,
    streams: 1,
  });
  assert.deepEqual(empty.prompt.ids, [50256]);
  const gpt2 = getEncoding('gpt2');
  const started = await job({
    kind: 'samplerStart',
    checkpoint: dir,
    prompt: { text: 'Hello, world' },
    params: { ...params, maxTokens: 6 },
    streams: 1,
  });
  assert.deepEqual(started.prompt.ids, gpt2.encode('Hello, world'));
  const got = await job({
    kind: 'samplerNext',
    session: started.sessions[0],
    maxTokens: 10,
    budgetMs: 60_000,
  });
  const ck = await loadCheckpoint(dir);
  const kv = await KvCacheModel.create(ck.config, ck.weights, { threads: 1 });
  const want: number[] = [];
  for await (const t of generateTokens(kv, started.prompt.ids, {
    ...params,
    maxTokens: 6,
    stopTokens: [50256],
  }))
    want.push(t.id);
  await kv.release();
  assert.deepEqual(
    got.tokens.map((t) => t.id),
    want,
  );
  assert.ok(got.done);
});
