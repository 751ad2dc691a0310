/**
 * Hugging Face model folders in the Sampler, Chat and CLI: copies of the Llama-family fixtures
 * (test/fixtures/llama, random weights with PyTorch reference logits) given a character-level tokenizer.json
 * (97 ids: <s>, </s> and the printable ASCII characters, built here) and a tokenizer_config.json with a
 * chat_template. References: the torch logits' argmax for the first greedy token, the template's text
 * encoded by hand for the chat prompt, a GPT-2 folder with the `transformer.` prefix for one without it,
 * and the refusals' messages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { writeSafetensorsAtomic } from '../../src/engine/checkpoint/writer';
import { gptParams } from '../../src/engine/model/gpt';
import { checkModelFolder } from '../../src/engine/model/modelFolder';
import type { GptModelConfig } from '../../src/engine/model/inference';
import { kvCacheOf, openModelForInference } from '../../src/engine/sample/openModel';
import { Rng } from '../../src/engine/train/rng';
import type { ChatJobResult } from '../../src/protocol/chat';
import type { SampledToken, SamplerJobResult, SamplerParams } from '../../src/protocol/sampler';
import { runChatJob } from '../../src/worker/chatJobs';
import { runSamplerJob } from '../../src/worker/samplerJobs';
import { charId, copyHubFolder, idText, TEMPLATE, tokenizerJson } from '../fixtures/llama/hubFolder';

const FIXTURES = 'test/fixtures/llama';
const CLI = path.resolve('dist/cli.js');
const temps: string[] = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-open-model-'));
  temps.push(d);
  return d;
};

/** A copy of a fixture folder in a temp dir with the tokenizer files (`template` null: no chat_template). */
function hubFolder(fixture: string, template: string | null = TEMPLATE, tokenizer = true): string {
  return copyHubFolder(fixture, path.join(tmp(), fixture), template, tokenizer);
}

async function refs(name: string): Promise<{ idx: number[][]; logits: Float32Array; V: number; T: number }> {
  const f = await openSafetensors(path.join(FIXTURES, 'refs.safetensors'));
  try {
    const idx = (await f.readValues(`${name}/idx`)) as BigInt64Array;
    const [B, T] = f.tensor(`${name}/idx`).shape;
    const logits = (await f.readValues(`${name}/logits`)) as Float32Array;
    const rows = Array.from({ length: B }, (_, b) => Array.from(idx.subarray(b * T, (b + 1) * T), Number));
    return { idx: rows, logits, V: f.tensor(`${name}/logits`).shape[2], T };
  } finally {
    await f.close();
  }
}

/** Torch's most likely next token after idx[b][0 … t]. */
function torchArgmax(r: { logits: Float32Array; V: number; T: number }, b: number, t: number): number {
  const row = r.logits.subarray((b * r.T + t) * r.V, (b * r.T + t + 1) * r.V);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

const GREEDY: SamplerParams = {
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  seed: 1,
  maxTokens: 1,
  stop: [],
};

async function samplerJob<K extends SamplerJobResult['kind']>(
  j: Parameters<typeof runSamplerJob>[0] & { kind: K },
): Promise<Extract<SamplerJobResult, { kind: K }>> {
  return (await runSamplerJob(j)) as Extract<SamplerJobResult, { kind: K }>;
}

async function drain(session: number): Promise<SampledToken[]> {
  const got: SampledToken[] = [];
  for (let done = false; !done;) {
    const r = await samplerJob({ kind: 'samplerNext', session, maxTokens: 4, budgetMs: 10_000 });
    got.push(...r.tokens);
    done = r.done;
  }
  return got;
}

const LENGTHS = [3, 8, 13, 20];

for (const [fixture, ref, shape] of [
  ['gqa_sharded', 'gqa', { nLayer: 2, nHead: 4, nEmbd: 64, blockSize: 64 }],
  ['tied_llama3', 'tied_llama3', { nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 256 }],
  ['qwen2_mqa', 'qwen2_mqa', { nLayer: 2, nHead: 4, nEmbd: 32, blockSize: 64 }],
] as const) {
  test(`Sampler worker on ${fixture} + tokenizer.json: the first greedy token is torch's argmax`, async () => {
    const dir = hubFolder(fixture);
    const r = await refs(ref);
    const info = (await samplerJob({ kind: 'samplerLoad', checkpoint: dir })).model;
    assert.deepEqual(
      { nLayer: info.nLayer, nHead: info.nHead, nEmbd: info.nEmbd, blockSize: info.blockSize },
      shape,
    );
    assert.equal(info.vocabSize, 97);
    assert.equal(info.startToken, '<s>');
    assert.equal(info.label, fixture);
    for (const b of [0, 1])
      for (const n of LENGTHS) {
        const ids = r.idx[b].slice(0, n);
        const started = await samplerJob({
          kind: 'samplerStart',
          checkpoint: dir,
          prompt: { ids },
          params: GREEDY,
          streams: 1,
        });
        assert.deepEqual(started.prompt.ids, ids);
        const got = await drain(started.sessions[0]);
        assert.equal(got.length, 1);
        assert.equal(got[0].id, torchArgmax(r, b, n - 1), `row ${b}, ${n} tokens`);
        assert.equal(got[0].text, idText(got[0].id));
      }
    // an empty prompt starts from the tokenizer's bos_token
    const empty = await samplerJob({
      kind: 'samplerStart',
      checkpoint: dir,
      prompt: { text: '' },
      params: GREEDY,
      streams: 1,
    });
    assert.deepEqual(empty.prompt.ids, [0]);
    await drain(empty.sessions[0]);
  });
}

test('Chat worker on a Llama folder renders its tokenizer_config.json chat_template with bos_token', async () => {
  const dir = hubFolder('tied_llama3');
  const load = (await runChatJob({ kind: 'chatLoad', checkpoint: dir })) as Extract<
    ChatJobResult,
    { kind: 'chatLoad' }
  >;
  assert.equal(load.model.chatTokens, true);
  const start = (await runChatJob({
    kind: 'chatStart',
    checkpoint: dir,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi there' },
    ],
    params: { ...GREEDY, maxTokens: 6 },
    streams: 1,
  })) as Extract<ChatJobResult, { kind: 'chatStart' }>;
  const text = 'system: Be brief. | user: Hi there | assistant:';
  assert.deepEqual(start.prompt.ids, [0, ...[...text].map(charId)]);
  assert.equal(start.prompt.format, 'template');
  assert.equal(start.prompt.special[0], true);
  const got = await drain(start.sessions[0]);
  assert.ok(got.length >= 1 && got.length <= 6);
  // the answer ends at </s> (eos_token) or after maxTokens
  const end = got.findIndex((t) => t.id === 1);
  assert.ok(end === -1 ? got.length === 6 : end === got.length - 1);
});

test("Chat worker: the first greedy answer token is torch's argmax after the rendered prompt", async () => {
  // a template that renders the user's text alone, so the prompt is a reference row: its ids are characters
  const r = await refs('gqa');
  const b = r.idx.findIndex((row) => row.slice(0, 12).every((id) => id >= 2));
  assert.ok(b >= 0, 'a reference row starts with 12 character ids');
  const dir = hubFolder('gqa_bf16', "{% for message in messages %}{{ message['content'] }}{% endfor %}");
  const content = r.idx[b].slice(0, 12).map(idText).join('');
  const start = (await runChatJob({
    kind: 'chatStart',
    checkpoint: dir,
    messages: [{ role: 'user', content }],
    params: GREEDY,
    streams: 1,
  })) as Extract<ChatJobResult, { kind: 'chatStart' }>;
  assert.deepEqual(start.prompt.ids, r.idx[b].slice(0, 12));
  const got = await drain(start.sessions[0]);
  assert.equal(got[0].id, torchArgmax(r, b, 11));
});

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input: '' });

test("llm-lens sample / chat --checkpoint a Llama folder: the first greedy token is torch's argmax", async () => {
  const r = await refs('tied_llama3');
  const b = r.idx.findIndex((row) => row.slice(0, 10).every((id) => id >= 2));
  assert.ok(b >= 0, 'a reference row starts with 10 character ids');
  const dir = hubFolder('tied_llama3', "{% for message in messages %}{{ message['content'] }}{% endfor %}");
  const prompt = r.idx[b].slice(0, 10).map(idText).join('');
  const greedy = ['--temperature', '0', '--max-tokens', '1'];
  const s = cli('sample', '--checkpoint', dir, '--prompt', prompt, '--json', ...greedy);
  assert.equal(s.status, 0, s.stderr);
  const sampled = JSON.parse(s.stdout.trim()) as { tokens: { id: number; text: string }[] };
  assert.equal(sampled.tokens[0].id, torchArgmax(r, b, 9));
  assert.equal(sampled.tokens[0].text, idText(torchArgmax(r, b, 9)));
  const c = cli('chat', '--checkpoint', dir, '--prompt', prompt, '--json', ...greedy);
  assert.equal(c.status, 0, c.stderr);
  const chat = JSON.parse(c.stdout.trim()) as { promptIds: number[]; tokens: { id: number }[] };
  assert.deepEqual(chat.promptIds, r.idx[b].slice(0, 10));
  assert.equal(chat.tokens[0]?.id ?? 1, torchArgmax(r, b, 9)); // </s> (1) ends the answer unprinted
  // --max-context caps the positions: the model sees the last 4 tokens, and says so
  const capped = cli('sample', '--checkpoint', dir, '--prompt', prompt, '--max-context', '4', ...greedy);
  assert.equal(capped.status, 0, capped.stderr);
  assert.match(capped.stderr, /the prompt has 10 tokens: the model sees the last 4/);
});

test('openModelForInference caps a long-context model at maxContext (default 2048)', async () => {
  const dir = hubFolder('tied_llama3');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ ...cfg, max_position_embeddings: 131072 }),
  );
  assert.equal((await openModelForInference(dir)).model.config.blockSize, 2048);
  assert.equal((await openModelForInference(dir, { maxContext: 100 })).model.config.blockSize, 100);
});

test('refusals name the model_type and what is supported: other model types, quantized, no tokenizer.json', async () => {
  const mistral = hubFolder('gqa_bf16');
  const cfg = JSON.parse(fs.readFileSync(path.join(mistral, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(mistral, 'config.json'), JSON.stringify({ ...cfg, model_type: 'mistral' }));
  const supported = /model_type "mistral" is not supported: LLM Lens runs gpt2, llama, qwen2/;
  await assert.rejects(samplerJob({ kind: 'samplerLoad', checkpoint: mistral }), supported);
  await assert.rejects(runChatJob({ kind: 'chatLoad', checkpoint: mistral }), supported);
  const s = cli('sample', '--checkpoint', mistral, '--prompt', 'hi');
  assert.notEqual(s.status, 0);
  assert.match(s.stderr, supported);
  const c = cli('chat', '--checkpoint', mistral, '--prompt', 'hi');
  assert.notEqual(c.status, 0);
  assert.match(c.stderr, supported);

  const quant = hubFolder('gqa_bf16');
  fs.writeFileSync(
    path.join(quant, 'config.json'),
    JSON.stringify({ ...cfg, quantization_config: { quant_method: 'gptq', bits: 4 } }),
  );
  await assert.rejects(
    samplerJob({ kind: 'samplerLoad', checkpoint: quant }),
    /quantized weights \("quantization_config": "gptq"\) are not supported.*model_type "llama"/,
  );

  const bare = hubFolder('qwen2_mqa', null, false);
  const noTok =
    /has no tokenizer\.json: a qwen2 model reads text only with the tokenizer it was trained with/;
  await assert.rejects(samplerJob({ kind: 'samplerLoad', checkpoint: bare }), noTok);
  const n = cli('sample', '--checkpoint', bare);
  assert.notEqual(n.status, 0);
  assert.match(n.stderr, noTok);
});

test('a GPT-2 hub folder without the `transformer.` prefix loads, ties lm_head, and gives the logits of one with it', async () => {
  const config: GptModelConfig = {
    vocabSize: 50257,
    blockSize: 16,
    nLayer: 2,
    nHead: 2,
    nEmbd: 8,
    bias: true,
    gelu: 'tanh',
  };
  const rng = new Rng(3);
  const params = gptParams({ ...config, batchSize: 1 }).map((p) => ({
    name: p.name,
    dtype: 'F32' as const,
    shape: p.shape,
    data: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () =>
      /ln_.*weight/.test(p.name) ? 1 : (rng.next() - 0.5) * 0.6,
    ),
  }));
  const hfConfig = {
    model_type: 'gpt2',
    vocab_size: 50257,
    n_positions: 16,
    n_ctx: 16,
    n_embd: 8,
    n_layer: 2,
    n_head: 2,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
  };
  const folder = async (strip: boolean) => {
    const dir = tmp();
    const wte = params.find((p) => p.name === 'transformer.wte.weight')!;
    const tensors = params.map((p) => (strip ? { ...p, name: p.name.replace(/^transformer\./, '') } : p));
    tensors.push({ ...wte, name: 'lm_head.weight' }); // transformers saves the tied head too
    await writeSafetensorsAtomic(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfig));
    return dir;
  };
  const logitsOf = async (dir: string) => {
    const m = await openModelForInference(dir);
    assert.equal(m.model.family, 'gpt2');
    const kv = await kvCacheOf(m.model);
    try {
      return Array.from(await kv.prefill(kv.newCache(), [3, 14, 15, 9, 26, 5]));
    } finally {
      await kv.release();
    }
  };
  const withPrefix = await logitsOf(await folder(false));
  const without = await logitsOf(await folder(true));
  assert.equal(withPrefix.length, 50257);
  assert.deepEqual(without, withPrefix);
  // a head that is not the embedding is refused: LLM Lens's GPT-2 ties them
  const untied = await folder(true);
  const tensors = params.map((p) => ({ ...p, name: p.name.replace(/^transformer\./, '') }));
  const wte = params.find((p) => p.name === 'transformer.wte.weight')!;
  tensors.push({ ...wte, name: 'lm_head.weight', data: wte.data.map((x) => x + 1) });
  await writeSafetensorsAtomic(path.join(untied, 'model.safetensors'), tensors, { format: 'pt' });
  await assert.rejects(openModelForInference(untied), /lm_head\.weight is not transformer\.wte\.weight/);
});

test('checkModelFolder (Open Model Folder…): what opens, whether it chats, and the refusals before any weight is read', () => {
  assert.deepEqual(checkModelFolder(hubFolder('tied_llama3')), {
    dir: path.join(temps.at(-1)!, 'tied_llama3'),
    family: 'llama',
    modelType: 'llama',
    tokenizer: true,
    chat: true,
  });
  assert.equal(checkModelFolder(hubFolder('qwen2_mqa', null)).chat, false);
  // ChatML tokens in tokenizer.json make a chat model without a template
  const chatml = hubFolder('qwen2_mqa', null);
  const tj = tokenizerJson() as { added_tokens: object[] };
  tj.added_tokens.push(
    { id: 95, content: '<|im_start|>', special: true },
    { id: 96, content: '<|im_end|>', special: true },
  );
  fs.writeFileSync(path.join(chatml, 'tokenizer.json'), JSON.stringify(tj));
  assert.equal(checkModelFolder(chatml).chat, true);
  assert.equal(checkModelFolder(hubFolder('gqa_sharded')).family, 'llama'); // sharded: the index is enough

  const mistral = hubFolder('gqa_bf16');
  const cfg = JSON.parse(fs.readFileSync(path.join(mistral, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(mistral, 'config.json'), JSON.stringify({ ...cfg, model_type: 'mistral' }));
  assert.throws(
    () => checkModelFolder(mistral),
    /model_type "mistral" is not supported: LLM Lens runs gpt2, llama, qwen2/,
  );
  fs.writeFileSync(
    path.join(mistral, 'config.json'),
    JSON.stringify({ ...cfg, quantization_config: { quant_method: 'awq' } }),
  );
  assert.throws(
    () => checkModelFolder(mistral),
    /quantized weights \("quantization_config": "awq"\) are not supported/,
  );
  const bare = hubFolder('gqa_bf16', null, false);
  assert.throws(() => checkModelFolder(bare), /has no tokenizer\.json: a llama model reads text only/);
  const noWeights = hubFolder('gqa_bf16');
  fs.rmSync(path.join(noWeights, 'model.safetensors'));
  assert.throws(
    () => checkModelFolder(noWeights),
    /has neither model\.safetensors nor model\.safetensors\.index\.json/,
  );
  assert.throws(() => checkModelFolder(tmp()), /has no config\.json: not a model folder/);
});

test("llm-lens probe on a Llama folder asks through its chat template: greedy answers are torch's argmax", async () => {
  const r = await refs('tied_llama3');
  const b = r.idx.findIndex((row) => row.slice(0, 10).every((id) => id >= 2));
  const dir = hubFolder('tied_llama3', "{% for message in messages %}{{ message['content'] }}{% endfor %}");
  const question = r.idx[b].slice(0, 10).map(idText).join('');
  const file = path.join(tmp(), 'q.jsonl');
  fs.writeFileSync(file, JSON.stringify({ question }) + '\n');
  const args = ['probe', '--checkpoint', dir, '--questions', file, '--samples', '2', '--temperature', '0'];
  const probe = cli(...args, '--max-tokens', '1', '--json');
  assert.equal(probe.status, 0, probe.stderr);
  const result = JSON.parse(probe.stdout.trim()) as { answers: string[]; agreement: number };
  const argmax = torchArgmax(r, b, 9);
  const expected = argmax === 1 ? '' : idText(argmax); // </s> ends the answer before it is printed
  assert.deepEqual(result.answers, [expected, expected]);
  assert.equal(result.agreement, 1);
});
