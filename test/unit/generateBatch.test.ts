/**
 * Batched rollouts against the one-stream decoder they must equal: each stream of generateBatch (one
 * prefill, one B-row decode graph per step) gives exactly the tokens and finish reason of generateTokens
 * (B = 1 on the KV cache) with that stream's seed, across sampling options (temperature, top-k, top-p,
 * repetition penalty, banned tokens, stop tokens and stop strings, streams ending at different steps);
 * and the batch decode's logits equal the one-stream decode's within 1e-5 relative.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initGptWeights } from '../../src/engine/model/gpt';
import type { GptModelConfig } from '../../src/engine/model/inference';
import { KvCacheModel } from '../../src/engine/model/kvCache';
import { generateTokens } from '../../src/engine/sample/generate';
import { generateBatch, type BatchGenerateOptions } from '../../src/engine/sample/generateBatch';

const config: GptModelConfig = { vocabSize: 23, blockSize: 48, nLayer: 2, nHead: 2, nEmbd: 16, bias: true };
const weights = () => {
  const w = initGptWeights({ ...config, batchSize: 1 }, 3);
  for (const [name, t] of Object.entries(w)) {
    let k = name.includes('c_attn') ? 12 : 1; // attention that depends on the cache
    if (name.endsWith('wte.weight')) k = 6; // peakier distributions than N(0, 0.02) gives
    for (let i = 0; i < t.data.length; i++) t.data[i] *= k;
  }
  return w;
};
const decode = (ids: readonly number[]) => ids.map((i) => String.fromCharCode(97 + i)).join('');
const prompt = [3, 7, 1, 12, 5];

async function reference(m: KvCacheModel, o: BatchGenerateOptions, seed: number) {
  const ids: number[] = [];
  let finish: string | undefined;
  for await (const t of generateTokens(m, prompt, { ...o, seed }, { decode })) {
    ids.push(t.id);
    finish = t.finish;
  }
  return { ids, finish };
}

const cases: [string, BatchGenerateOptions][] = [
  ['temperature 1, stop token 4', { temperature: 1, maxTokens: 30, stopTokens: [4] }],
  ['temperature 0.8, top-k 5, top-p 0.9', { temperature: 0.8, topK: 5, topP: 0.9, maxTokens: 25 }],
  [
    'repetition penalty 1.3, a banned token, a stop string',
    { temperature: 1.2, repetitionPenalty: 1.3, bannedTokens: [0, 4], stop: ['zz', 'q'], maxTokens: 40 },
  ],
  ['greedy', { temperature: 0, maxTokens: 20 }],
];

for (const [name, o] of cases)
  test(`generateBatch (${name}): each of 6 streams equals generateTokens with its seed`, async () => {
    const m = await KvCacheModel.create(config, weights(), { threads: 1 });
    const seeds = [11, 12, 13, 14, 15, 99];
    const got = await generateBatch(m, prompt, seeds.length, { ...o, seeds }, { decode });
    const lengths = new Set<number>();
    for (const [i, seed] of seeds.entries()) {
      const ref = await reference(m, o, seed);
      assert.deepEqual(got[i].ids, ref.ids, `stream ${i} (seed ${seed})`);
      assert.equal(got[i].finish, ref.finish, `stream ${i} finish`);
      assert.equal(got[i].text, decode(ref.ids));
      lengths.add(ref.ids.length);
    }
    if (o.stopTokens || o.stop) assert.ok(lengths.size > 1, 'every stream ended at the same step');
    await m.release();
  });

test('generateBatch caps an answer at blockSize and defaults seeds to seed + i', async () => {
  const m = await KvCacheModel.create(config, weights(), { threads: 1 });
  const o = { temperature: 1, maxTokens: 500 };
  const got = await generateBatch(m, prompt, 3, { ...o, seed: 5 });
  for (const [i, a] of got.entries()) {
    assert.equal(a.ids.length, config.blockSize - prompt.length + 1);
    assert.equal(a.finish, 'maxTokens');
    const ref = await reference(m, { ...o, maxTokens: a.ids.length }, 5 + i);
    assert.deepEqual(a.ids, ref.ids, `stream ${i}`);
  }
  await assert.rejects(generateBatch(m, prompt, 2, { seeds: [1] }), /1 seeds for 2 streams/);
  await assert.rejects(generateBatch(m, new Array<number>(48).fill(1), 2), /48 tokens, blockSize is 48/);
  await m.release();
});

test('appendBatch logits equal one-stream append logits (different tokens per stream)', async () => {
  const m = await KvCacheModel.create(config, weights(), { threads: 1 });
  const { cache } = await m.prefillBatch(prompt, 3);
  const singles = [0, 1, 2].map(() => m.newCache());
  for (const c of singles) await m.prefill(c, prompt);
  const steps = [
    [1, 2, 3],
    [9, 9, 20],
    [4, 0, 17],
  ];
  for (const tokens of steps) {
    const batch = await m.appendBatch(cache, tokens);
    for (let b = 0; b < 3; b++) {
      const one = await m.append(singles[b], tokens[b]);
      const max = one.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
      const diff = one.reduce((a, x, i) => Math.max(a, Math.abs(x - batch[b][i])), 0);
      assert.ok(diff <= 1e-5 * max, `stream ${b}: max |batch - one| = ${diff} (max |logit| ${max})`);
    }
  }
  await m.release();
});
