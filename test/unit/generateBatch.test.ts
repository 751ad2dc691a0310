/**
 * Batched rollouts against the one-stream decoder they must equal: each stream of generateBatch (one
 * prefill, one B-row decode graph per step) gives exactly the tokens and finish reason of generateTokens
 * (B = 1 on the KV cache) with that stream's seed, across sampling options (temperature, top-k, top-p,
 * repetition penalty, banned tokens, stop tokens and stop strings, streams ending at different steps);
 * and the batch decode's logits equal the one-stream decode's within 1e-5 relative.
 * With tools (a real GPT whose weights make it call one, toolCallingModel.ts), each stream equals
 * generateTokens with the same seed and the same toolForcer: tokens, which of them were forced, the tool
 * calls, finish and text; an answer cut at blockSize is generateTokens' answer's start; and the RL rows'
 * mask (rolloutRows + maskForced) is 0 exactly on the forced tokens, as written out by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initGptWeights } from '../../src/engine/model/gpt';
import type { GptModelConfig } from '../../src/engine/model/inference';
import { KvCacheModel } from '../../src/engine/model/kvCache';
import { rolloutRows } from '../../src/engine/rl/rlLoop';
import { answerMask, maskForced } from '../../src/engine/rl/toolRollout';
import { generateTokens, type ToolCallRecord } from '../../src/engine/sample/generate';
import {
  generateBatch,
  type BatchAnswer,
  type BatchGenerateOptions,
} from '../../src/engine/sample/generateBatch';
import { toolForcer } from '../../src/engine/tools/toolLoop';
import * as calling from './toolCallingModel';

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

/** generateTokens' answer with tools, in BatchAnswer's terms (tool run times left out). */
async function referenceWithTools(m: KvCacheModel, o: BatchGenerateOptions, seed: number) {
  const force = toolForcer({ tokens: calling.tools, tokenizer: calling.tok, tools: [calling.pythonCalc] });
  const ids: number[] = [];
  const forced: number[] = [];
  const tools: { index: number; call: ToolCallRecord }[] = [];
  let finish: string | undefined;
  for await (const t of generateTokens(
    m,
    calling.plain('?'),
    { ...o, seed },
    { decode: calling.decode, force },
  )) {
    if (t.forced) forced.push(ids.length);
    if (t.tool) tools.push({ index: ids.length, call: { ...t.tool, ms: 0 } });
    ids.push(t.id);
    finish = t.finish;
  }
  return { ids, forced, tools, finish };
}

const withoutMs = (a: BatchAnswer) => a.tools.map(({ index, call }) => ({ index, call: { ...call, ms: 0 } }));

test('generateBatch with tools: each of 8 streams equals generateTokens with its seed and tools', async () => {
  const { config, weights: w } = calling.toolCallingModel();
  const m = await KvCacheModel.create(config, w, { threads: 1 });
  const force = toolForcer({ tokens: calling.tools, tokenizer: calling.tok, tools: [calling.pythonCalc] });
  const o = { temperature: 1, maxTokens: 40, stopTokens: [calling.chat.imEnd] };
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  const got = await generateBatch(
    m,
    calling.plain('?'),
    8,
    { ...o, seeds },
    { decode: calling.decode, force },
  );
  const firstForced = new Set<number>();
  let calls = 0;
  for (const [i, seed] of seeds.entries()) {
    const ref = await referenceWithTools(m, o, seed);
    assert.deepEqual(got[i].ids, ref.ids, `stream ${i} (seed ${seed}): ${calling.decode(got[i].ids)}`);
    assert.deepEqual(got[i].forced, ref.forced, `stream ${i} forced`);
    assert.deepEqual(withoutMs(got[i]), ref.tools, `stream ${i} tools`);
    assert.equal(got[i].finish, ref.finish, `stream ${i} finish`);
    assert.equal(got[i].text, calling.decode(ref.ids));
    firstForced.add(ref.forced[0]);
    calls += ref.tools.length;
  }
  // the grammar's calls: every stream calls python, at different steps, some more than once, all run
  assert.ok(got.every((a) => a.tools.length > 0 && a.tools.every((t) => t.call.ok)));
  assert.ok(firstForced.size > 2, `every stream's tool output started at the same step`);
  assert.ok(calls > 8, 'no stream made a second call');
  const one = got[0];
  assert.equal(
    calling.decode(one.forced.map((i) => one.ids[i])),
    `<|output_start|>${one.tools[0].call.output}<|output_end|>`,
  );
  await m.release();
});

test('generateBatch with tools cuts answers at blockSize: each is the start of generateTokens answer', async () => {
  const { config, weights: w } = calling.toolCallingModel({ blockSize: 24 });
  const m = await KvCacheModel.create(config, w, { threads: 1 });
  const force = toolForcer({ tokens: calling.tools, tokenizer: calling.tok, tools: [calling.pythonCalc] });
  const o = { temperature: 1, maxTokens: 40, stopTokens: [calling.chat.imEnd] };
  const got = await generateBatch(
    m,
    calling.plain('?'),
    6,
    { ...o, seed: 20 },
    { decode: calling.decode, force },
  );
  let cut = 0;
  for (const [i, a] of got.entries()) {
    const ref = await referenceWithTools(m, o, 20 + i);
    const n = a.ids.length;
    assert.ok(n <= 24, `stream ${i} has ${n} tokens, more than blockSize − 1 + 1`);
    assert.deepEqual(a.ids, ref.ids.slice(0, n), `stream ${i}`);
    assert.deepEqual(
      a.forced,
      ref.forced.filter((f) => f < n),
      `stream ${i} forced`,
    );
    assert.deepEqual(
      withoutMs(a),
      ref.tools.filter((t) => t.index < n),
      `stream ${i} tools`,
    );
    if (n < ref.ids.length) {
      cut++;
      assert.equal(n, 24);
      assert.equal(a.finish, 'maxTokens');
    } else assert.equal(a.finish, ref.finish);
  }
  assert.ok(cut > 0 && cut < got.length, `${cut} of ${got.length} answers were cut`);
  await m.release();
});

test('the RL rows mask out forced tokens: answerMask and maskForced against masks written by hand', () => {
  assert.deepEqual([...answerMask({ ids: [5, 9, 4, 8], forced: [1, 2] })], [1, 0, 0, 1]);
  assert.throws(
    () => answerMask({ ids: [5], forced: [1] }),
    /forced index 1 is outside the answer's 1 tokens/,
  );
  // prompt [7, 6]: answers [1 2 3 4 5] (2 and 3 forced) and [9 8] (none); prompt [3]: [4 5 6] (6 forced)
  const prompts = [{ ids: [7, 6] }, { ids: [3] }];
  const answers = [
    [
      { ids: [1, 2, 3, 4, 5], forced: [1, 2] },
      { ids: [9, 8], forced: [] },
    ],
    [{ ids: [4, 5, 6], forced: [2] }],
  ];
  const T = 7;
  const rows = rolloutRows(
    prompts,
    answers.map((g) => g.map((a) => a.ids)),
    T,
  );
  maskForced(rows.mask, prompts, answers, T);
  // targets: row 0 = 6 1 2 3 4 5 ·, row 1 = 6 9 8 · · · ·, row 2 = 4 5 6 · · · ·
  assert.deepEqual([...rows.mask], [0, 1, 0, 0, 1, 1, 0, /**/ 0, 1, 1, 0, 0, 0, 0, /**/ 1, 1, 0, 0, 0, 0, 0]);
  assert.throws(
    () => maskForced(new Float32Array(5), prompts, answers, T),
    /5 values, expected 3 answers × 7/,
  );
});

test('a real tool rollout: the rows mask is 0 on every forced token and 1 on every sampled one', async () => {
  const { config, weights: w } = calling.toolCallingModel();
  const m = await KvCacheModel.create(config, w, { threads: 1 });
  const force = toolForcer({ tokens: calling.tools, tokenizer: calling.tok, tools: [calling.pythonCalc] });
  const prompt = calling.plain('?');
  const group = await generateBatch(
    m,
    prompt,
    4,
    { temperature: 1, maxTokens: 40, seed: 3, stopTokens: [calling.chat.imEnd] },
    { force },
  );
  const T = config.blockSize;
  const rows = rolloutRows([{ ids: prompt }], [group.map((a) => a.ids)], T);
  maskForced(rows.mask, [{ ids: prompt }], [group], T);
  for (const [b, a] of group.entries())
    for (let t = 0; t < T; t++) {
      const k = t - (prompt.length - 1); // the answer token that is row b's target at t
      const target = Number(rows.targets[b * T + t]);
      const inOutput = k >= 0 && k < a.ids.length && insideOutput(a.ids, k);
      const expected = k >= 0 && k < a.ids.length && !inOutput ? 1 : 0;
      assert.equal(rows.mask[b * T + t], expected, `row ${b} position ${t} (target ${target})`);
    }
  await m.release();
});

/** Whether answer token k lies in a tool's output, <|output_start|> … <|output_end|> (found by the tokens alone). */
function insideOutput(ids: readonly number[], k: number): boolean {
  const open = ids.lastIndexOf(calling.tools.outputStart, k);
  if (open < 0) return false;
  const close = ids.indexOf(calling.tools.outputEnd, open);
  return close < 0 || k <= close;
}
