/**
 * The sampler engine against references: KV-cache generation against recomputing the whole context
 * (GptInference, nanoGPT's way), the sampling filters against brute-force versions written here, and
 * the inspection pass against the model's own logits and the rules of causal attention.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gptParams } from '../../src/engine/model/gpt';
import { GptInference, type GptModelConfig } from '../../src/engine/model/inference';
import { GptInspector } from '../../src/engine/model/inspect';
import { KvCacheModel } from '../../src/engine/model/kvCache';
import { generateTokens, preparePrompt } from '../../src/engine/sample/generate';
import {
  applyRepetitionPenalty,
  nextTokenProbs,
  sampleFrom,
  type SamplingOptions,
} from '../../src/engine/sample/sampling';
import { summarizeStep, topIndices } from '../../src/engine/sample/stepStats';
import type { HostTensor } from '../../src/engine/runtime/session';
import { Rng } from '../../src/engine/train/rng';

const config: GptModelConfig = { vocabSize: 37, blockSize: 24, nLayer: 2, nHead: 2, nEmbd: 16, bias: true };

/** Random weights with a larger scale than GPT-2's init, so that distributions are peaked and greedy has no near-ties. */
function weights(c: GptModelConfig, seed: number): Record<string, HostTensor> {
  const rng = new Rng(seed);
  const out: Record<string, HostTensor> = {};
  for (const p of gptParams({ ...c, batchSize: 1 })) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const ln = /ln_\d\.weight$|ln_f\.weight$/.test(p.name);
    for (let i = 0; i < n; i++) data[i] = ln ? 1 + (rng.next() - 0.5) * 0.2 : (rng.next() - 0.5) * 0.6;
    out[p.name] = { dtype: 'f32', shape: p.shape, data };
  }
  return out;
}

const W = weights(config, 7);
const prompt = [3, 14, 15, 9, 2, 6];
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

async function kvTokens(
  m: KvCacheModel,
  ids: number[],
  o: SamplingOptions & { maxTokens: number; seed: number },
): Promise<number[]> {
  const out: number[] = [];
  for await (const t of generateTokens(m, ids, o)) out.push(t.id);
  return out;
}

test('KV cache: logits at every step within 1e-4 of recomputing the context, past the block size too', async () => {
  const ref = await GptInference.create(config, W, { threads: 1 });
  const kv = await KvCacheModel.create(config, W, { threads: 1, slideKeep: config.blockSize });
  try {
    const cache = kv.newCache();
    let logits = await kv.prefill(cache, prompt);
    const ctx = [...prompt];
    let worst = 0;
    for (let i = 0; i < 40; i++) {
      // 46 tokens > blockSize 24: the window slides
      worst = Math.max(worst, maxDiff(logits, await ref.nextLogits(ctx)));
      const next = (i * 7 + 3) % config.vocabSize;
      ctx.push(next);
      logits = await kv.append(cache, next);
    }
    assert.ok(worst < 1e-4, `max |Δlogit| ${worst}`);
    assert.ok(cache.slides > 0, 'the window slid');
    assert.deepEqual(cache.tokens, ctx);
  } finally {
    await ref.release();
    await kv.release();
  }
});

test('KV cache: greedy and seeded generation give exactly the tokens of recompute generation', async () => {
  const ref = await GptInference.create(config, W, { threads: 1 });
  const kv = await KvCacheModel.create(config, W, { threads: 1, slideKeep: config.blockSize });
  try {
    for (const s of [
      { temperature: 0 },
      { temperature: 1, seed: 5 },
      { temperature: 0.8, topK: 10, seed: 9 },
      { temperature: 1.2, topP: 0.9, seed: 11 },
    ]) {
      const seed = (s as { seed?: number }).seed ?? 1;
      const rng = new Rng(seed);
      const want = await ref.generate(prompt, 30, s, () => rng.next());
      assert.deepEqual(await kvTokens(kv, prompt, { ...s, seed, maxTokens: 30 }), want, JSON.stringify(s));
    }
  } finally {
    await ref.release();
    await kv.release();
  }
});

test('KV cache: repetition penalty and min-p generation equal a recompute loop with the same filters', async () => {
  const ref = await GptInference.create(config, W, { threads: 1 });
  const kv = await KvCacheModel.create(config, W, { threads: 1 });
  try {
    const s = { temperature: 0.9, minP: 0.05, repetitionPenalty: 1.5, seed: 3 };
    const rng = new Rng(3);
    const ctx = [...prompt];
    for (let i = 0; i < 15; i++)
      ctx.push(sampleFrom(bruteProbs(await ref.nextLogits(ctx), s, ctx), rng.next()));
    assert.deepEqual(await kvTokens(kv, prompt, { ...s, maxTokens: 15 }), ctx.slice(prompt.length));
  } finally {
    await ref.release();
    await kv.release();
  }
});

test('KV cache: the default slide keeps ¾ of the block and matches a recompute of that window', async () => {
  const kv = await KvCacheModel.create(config, W, { threads: 1 });
  const ref = await GptInference.create(config, W, { threads: 1 });
  try {
    assert.equal(kv.slideKeep, 18);
    const cache = kv.newCache();
    const ctx = Array.from({ length: config.blockSize }, (_, i) => (i * 5) % config.vocabSize);
    await kv.prefill(cache, ctx);
    const logits = await kv.append(cache, 4);
    assert.equal(cache.slides, 1);
    assert.equal(cache.length, 18);
    assert.ok(maxDiff(logits, await ref.nextLogits([...ctx, 4].slice(-18))) < 1e-4);
  } finally {
    await kv.release();
    await ref.release();
  }
});

test('generateTokens: stop strings, stop tokens, max tokens, abort, per-step statistics', async () => {
  const kv = await KvCacheModel.create(config, W, { threads: 1 });
  try {
    const decode = (ids: readonly number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('');
    const all: {
      id: number;
      text: string;
      finish?: string;
      prob: number;
      rank: number;
      top: { p: number }[];
      topRaw: { p: number }[];
      entropy: number;
    }[] = [];
    for await (const t of generateTokens(kv, prompt, { temperature: 1, seed: 2, maxTokens: 12 }, { decode }))
      all.push(t);
    assert.equal(all.length, 12);
    assert.equal(all.at(-1)!.finish, 'maxTokens');
    for (const t of all) {
      assert.equal(t.top.length, 20);
      assert.ok(t.top.reduce((a, b) => a + b.p, 0) <= 1 + 1e-9);
      assert.ok(t.rank >= 1 && t.rank <= config.vocabSize);
      assert.ok(t.entropy > 0 && t.entropy <= Math.log(config.vocabSize) + 1e-9);
      assert.ok(t.prob > 0);
    }
    const target = all[4].text;
    const stopped: string[] = [];
    for await (const t of generateTokens(
      kv,
      prompt,
      { temperature: 1, seed: 2, maxTokens: 12, stop: [all[3].text + target] },
      { decode },
    ))
      stopped.push(t.finish ?? '');
    assert.equal(stopped.length, 5);
    assert.equal(stopped.at(-1), 'stop');
    const byToken: number[] = [];
    for await (const t of generateTokens(kv, prompt, {
      temperature: 1,
      seed: 2,
      maxTokens: 12,
      stopTokens: [all[2].id],
    }))
      byToken.push(t.id);
    assert.ok(byToken.length <= 3 && byToken.at(-1) === all[2].id);
    const abort = new AbortController();
    abort.abort();
    await assert.rejects(async () => {
      for await (const _ of generateTokens(kv, prompt, {}, { signal: abort.signal })) void _;
    });
  } finally {
    await kv.release();
  }
});

test('preparePrompt: empty prompts start from the start token, long ones keep the last blockSize tokens', () => {
  assert.deepEqual(preparePrompt([], 8, { id: 50256, text: '<|endoftext|>' }), {
    ids: [50256],
    notes: ['empty prompt: starting from <|endoftext|>'],
  });
  const long = preparePrompt(
    Array.from({ length: 12 }, (_, i) => i),
    8,
    { id: 0, text: 'token 0' },
  );
  assert.deepEqual(long.ids, [4, 5, 6, 7, 8, 9, 10, 11]);
  assert.match(long.notes[0], /12 tokens: the model sees the last 8/);
});

// ---- sampling filters against brute force --------------------------------------------------------

/** Brute force: penalty, temperature, top-k, top-p, min-p over explicitly sorted lists. */
function bruteProbs(logits: ArrayLike<number>, o: SamplingOptions, ctx: readonly number[] = []): number[] {
  let l = Array.from(logits);
  if (o.repetitionPenalty && o.repetitionPenalty !== 1)
    l = l.map((x, i) => {
      if (!ctx.includes(i)) return x;
      return x > 0 ? x / o.repetitionPenalty! : x * o.repetitionPenalty!;
    });
  const t = o.temperature ?? 1;
  if (t === 0) return l.map((_, i) => (i === l.indexOf(Math.max(...l)) ? 1 : 0));
  const byLogit = l
    .map((x, i) => [x, i])
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .map((p) => p[1]);
  const allowed = new Set(o.topK ? byLogit.slice(0, o.topK) : byLogit);
  const e = l.map((x, i) => (allowed.has(i) ? Math.exp(x / t) : 0));
  let p = e.map((x) => x / e.reduce((a, b) => a + b, 0));
  if (o.topP !== undefined && o.topP < 1) {
    const order = p
      .map((x, i) => [x, i])
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .map((q) => q[1]);
    const keep = new Set<number>();
    let cum = 0;
    for (const i of order) {
      keep.add(i);
      cum += p[i];
      if (cum >= o.topP) break;
    }
    p = p.map((x, i) => (keep.has(i) ? x : 0));
    const s = p.reduce((a, b) => a + b, 0);
    p = p.map((x) => x / s);
  }
  if (o.minP) {
    const top = Math.max(...p);
    p = p.map((x) => (x >= o.minP! * top ? x : 0));
    const s = p.reduce((a, b) => a + b, 0);
    p = p.map((x) => x / s);
  }
  return p;
}

test('nextTokenProbs: top-p, min-p, top-k, temperature and repetition penalty equal brute force on random logits', () => {
  const rng = new Rng(42);
  for (let trial = 0; trial < 300; trial++) {
    const V = 1 + rng.randint(60);
    const logits = Float32Array.from({ length: V }, () => (rng.next() - 0.5) * 8);
    const ctx = Array.from({ length: rng.randint(10) }, () => rng.randint(V));
    const o: SamplingOptions = {
      temperature: [0, 0.5, 1, 1.7][rng.randint(4)],
      topK: rng.randint(3) ? 0 : 1 + rng.randint(V),
      topP: rng.randint(2) ? 1 : 0.05 + rng.next() * 0.95,
      minP: rng.randint(2) ? 0 : rng.next() * 0.5,
      repetitionPenalty: rng.randint(2) ? 1 : 1 + rng.next(),
    };
    const got = nextTokenProbs(logits, o, ctx);
    const want = bruteProbs(logits, o, ctx);
    assert.ok(maxDiff(got, want) < 1e-9, `${JSON.stringify(o)}: ${maxDiff(got, want)}`);
    assert.ok(Math.abs(got.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  }
});

test('nextTokenProbs: vocabLimit gives ids past it probability 0 and the rest as if the logits ended there', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 100; trial++) {
    const V = 2 + rng.randint(60);
    const limit = 1 + rng.randint(V - 1); // < V
    const logits = Float32Array.from({ length: V }, (_, i) => (i >= limit ? 50 : (rng.next() - 0.5) * 8));
    const ctx = Array.from({ length: rng.randint(10) }, () => rng.randint(V));
    const o: SamplingOptions = { temperature: [0, 0.7, 1][rng.randint(3)], topK: rng.randint(2) ? 0 : 3 };
    const got = nextTokenProbs(logits, { ...o, vocabLimit: limit }, ctx);
    const kept = bruteProbs(Array.from(logits.subarray(0, limit)), o, ctx);
    assert.equal(got.length, V);
    assert.ok(
      maxDiff(got, [...kept, ...new Array<number>(V - limit).fill(0)]) < 1e-9,
      `V ${V}, limit ${limit}`,
    );
  }
  assert.throws(() => nextTokenProbs([1, 2, 3], { vocabLimit: 0.5 }), /vocabLimit/);
});

test('repetition penalty divides positive and multiplies negative logits of context tokens only', () => {
  assert.deepEqual(Array.from(applyRepetitionPenalty([2, -1, 0.5], [0, 1, 1], 2)), [1, -2, 0.5]);
  assert.deepEqual(Array.from(applyRepetitionPenalty([2, -1], [], 2)), [2, -1]);
});

test('summarizeStep: ranks, top lists and entropy against sorting', () => {
  const rng = new Rng(1);
  for (let trial = 0; trial < 50; trial++) {
    const V = 2 + rng.randint(100);
    const logits = Float32Array.from({ length: V }, () => Math.round((rng.next() - 0.5) * 10) / 2); // ties on purpose
    const probs = nextTokenProbs(logits, { topK: 1 + rng.randint(V) });
    const id = rng.randint(V);
    const s = summarizeStep(logits, probs, id, 20);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
    assert.equal(s.rank, order.indexOf(id) + 1);
    assert.deepEqual(
      s.topRaw.map((t) => t.id),
      order.slice(0, 20),
    );
    assert.deepEqual(
      topIndices(probs, 20, logits),
      Array.from(probs.keys())
        .sort((a, b) => probs[b] - probs[a] || logits[b] - logits[a] || a - b)
        .slice(0, 20),
    );
    const raw = Array.from(logits, (x) => Math.exp(x - Math.max(...logits)));
    const z = raw.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s.entropy - -raw.reduce((h, e) => h + (e / z) * Math.log(e / z), 0)) < 1e-9);
  }
});

// ---- inspection ----------------------------------------------------------------------------------

test('inspect: attention rows sum to 1 and are causal; the last layer of the logit lens is the model', async () => {
  const ins = await GptInspector.create(config, W, { threads: 1 });
  const ref = await GptInference.create(config, W, { threads: 1 });
  try {
    const ids = [5, 1, 30, 2, 2, 17, 8, 36, 0, 11];
    const n = ids.length;
    const r = await ins.inspect(ids, { topK: 3, lensLogits: true });
    assert.equal(r.attention.length, config.nLayer);
    assert.equal(r.residual.length, config.nLayer + 1);
    for (const a of r.attention) {
      assert.equal(a.length, config.nHead * n * n);
      for (let h = 0; h < config.nHead; h++)
        for (let i = 0; i < n; i++) {
          let sum = 0;
          for (let j = 0; j < n; j++) {
            const w = a[(h * n + i) * n + j];
            if (j > i) assert.equal(w, 0, `head ${h} row ${i} looks ahead at ${j}`);
            sum += w;
          }
          assert.ok(Math.abs(sum - 1) < 1e-5, `row sum ${sum}`);
        }
    }
    const V = config.vocabSize;
    const last = r.lens.logits![config.nLayer];
    for (let i = 0; i < n; i++) {
      const want = await ref.nextLogits(ids.slice(0, i + 1));
      assert.ok(maxDiff(last.subarray(i * V, (i + 1) * V), want) < 1e-4, `position ${i}`);
      const p = nextTokenProbs(want);
      const k = r.lens.k;
      const top = Array.from(p.keys())
        .sort((a, b) => p[b] - p[a])
        .slice(0, k);
      assert.deepEqual(
        Array.from(r.lens.ids.subarray((config.nLayer * n + i) * k, (config.nLayer * n + i + 1) * k)),
        top,
      );
      assert.ok(Math.abs(r.lens.probs[(config.nLayer * n + i) * k] - p[top[0]]) < 1e-5);
    }
  } finally {
    await ins.release();
    await ref.release();
  }
});

test('KV cache: two sequences decoding at once on one model give the tokens each gives alone', async () => {
  const kv = await KvCacheModel.create(config, W, { threads: 1 });
  try {
    const alone = [
      await kvTokens(kv, prompt, { temperature: 1, seed: 1, maxTokens: 20 }),
      await kvTokens(kv, [7, 7, 1], { temperature: 1, seed: 2, maxTokens: 20 }),
    ];
    const together = await Promise.all([
      kvTokens(kv, prompt, { temperature: 1, seed: 1, maxTokens: 20 }),
      kvTokens(kv, [7, 7, 1], { temperature: 1, seed: 2, maxTokens: 20 }),
    ]);
    assert.deepEqual(together, alone);
  } finally {
    await kv.release();
  }
});
