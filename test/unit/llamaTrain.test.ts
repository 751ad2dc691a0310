/**
 * Training the Llama family against PyTorch (test/fixtures/gen/llama_train_fixtures.py: torch autograd in
 * float64 on llama_fixtures.py's modeling_llama.py forward): grouped-query attention with an untied lm_head,
 * and tied embeddings with llama3 rope_scaling. The loss and every parameter's gradient of a fixed batch,
 * the weighted (fine-tuning) loss Σ w·CE / Σ w and its gradients, and the losses and weights after 3 steps of
 * torch.optim.AdamW with clip_grad_norm_ agree within 1e-4 relative (max |engine - torch| ≤ 1e-4 · max |torch|).
 * Then central finite differences in float64 (h = 1e-6, 1e-6 relative, as graphGrad.test.ts) through the
 * Llama-specific paths: a whole block (RMSNorm, RoPE with llama3 scaling, grouped-query and multi-query
 * attention, SiLU·up) and the head (final RMSNorm, tied lm_head); and the initialisation's statistics.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { gradients } from '../../src/engine/graph/autodiff';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import type { Tensor } from '../../src/engine/graph/tensor';
import { causalAttention, type Params } from '../../src/engine/model/family';
import { buildTrainGraph, initModelWeights, trainParams, type TrainModel } from '../../src/engine/model/gpt';
import { llama, llamaConfigFromJson, type LlamaConfig } from '../../src/engine/model/llama';
import { GraphRunner, toHost, type HostTensor } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { Rng } from '../../src/engine/train/rng';
import { assertClose } from '../fixtures/engine/torchFixture';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';

const DIR = 'test/fixtures/llama/train';
const REL = 1e-4;

interface Fixture {
  m: TrainModel & LlamaConfig;
  opt: {
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weight_decay: number;
    clip: number;
    steps: number;
  };
  t: Map<string, HostTensor>;
  get(name: string): HostTensor;
}

async function load(name: string): Promise<Fixture> {
  const file = path.join(DIR, `${name}.safetensors`);
  const f = await openSafetensors(file);
  try {
    const t = new Map<string, HostTensor>();
    for (const info of f.tensors) {
      const v = await f.readValues(info.name);
      t.set(
        info.name,
        v instanceof BigInt64Array
          ? { dtype: 'i64', shape: [...info.shape], data: v }
          : { dtype: 'f32', shape: [...info.shape], data: v as Float32Array },
      );
    }
    const meta = f.metadata as Record<string, string>;
    const m = { family: 'llama' as const, ...llamaConfigFromJson(JSON.parse(meta.config), file) };
    const get = (n: string) => {
      const x = t.get(n);
      if (!x) throw new Error(`${file} has no ${n}`);
      return x;
    };
    return { m, opt: JSON.parse(meta.opt), t, get };
  } finally {
    await f.close();
  }
}

const init = (f: Fixture) =>
  Object.fromEntries(trainParams(f.m).map((p) => [p.name, f.get(`init/${p.name}`)])) as Record<
    string,
    HostTensor
  >;
const batch = (f: Fixture) => ({ idx: f.get('data/idx'), targets: f.get('data/targets') });
const shape = (f: Fixture) => ({ batchSize: f.get('data/idx').shape[0], seqLen: f.get('data/idx').shape[1] });
const f32 = async (v: unknown) => (await toHost(v as Parameters<typeof toHost>[0])).data as Float32Array;

/**
 * Weights after AdamW steps, as engineTorch.test.ts holds them: Adam divides each gradient by its running
 * RMS, so an element whose gradient is near zero moves by lr·(rounding noise)/(√v̂ + eps), percents of its
 * update where the float32 gradient's noise (≲ 1e-5 of the largest gradient here, 10x what the gradient
 * tests measure) is comparable to the gradient. Each element is held to
 *   1e-4 · max |torch|  +  min(steps · lr · δg / (√v̂ + eps), 20 · 1e-4 · max |torch|),  δg = 1e-5 · max |g| · clip
 * and at most 0.2% of a tensor's elements (at least one) may need the second term: a wrong optimizer
 * (weight decay, eps, bias correction) or a wrong gradient moves every element and fails.
 */
function assertWeightsClose(
  name: string,
  ours: Float32Array,
  ref: Float32Array,
  v: Float32Array,
  o: { lr: number; beta2: number; steps: number; maxGrad: number; clipCoef: number },
): void {
  assert.equal(ours.length, ref.length, `${name}: length`);
  const plain = REL * ref.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
  const dg = 1e-5 * o.maxGrad * o.clipCoef;
  const bc2 = 1 - o.beta2 ** o.steps;
  let noisy = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    if (d <= plain) continue;
    noisy++;
    const bound = plain + Math.min((o.steps * o.lr * dg) / (Math.sqrt(v[i] / bc2) + 1e-8), 20 * plain);
    assert.ok(
      d <= bound,
      `${name}[${i}]: |engine - torch| = ${d.toExponential(2)} > ${bound.toExponential(2)}`,
    );
  }
  assert.ok(
    noisy <= Math.max(1, 0.002 * ref.length),
    `${name}: ${noisy} of ${ref.length} elements differ by more than ${REL} × max |torch| (${plain.toExponential(2)})`,
  );
}

for (const name of ['gqa', 'tied_llama3']) {
  test(`${name}: loss and every parameter's gradient equal torch autograd within 1e-4`, async () => {
    const f = await load(name);
    const { graph, spec } = buildTrainGraph(f.m, shape(f), { kind: 'sgd', outputGrads: true });
    const runner = await TrainRunner.create(emitOnnx(graph), spec, init(f), { threads: 1 });
    const r = await runner.step(batch(f), 0);
    assertClose('loss', [r.loss], f.get('loss').data as Float32Array, REL);
    const names = trainParams(f.m).map((p) => p.name);
    assert.deepEqual(
      names.slice().sort(),
      [...f.t.keys()]
        .filter((k) => k.startsWith('grad/'))
        .map((k) => k.slice(5))
        .sort(),
      'the parameters are torch named_parameters()',
    );
    for (const n of names)
      assertClose(`grad/${n}`, await f32(r.extra[`grad/${n}`]), f.get(`grad/${n}`).data as Float32Array, REL);
    await runner.release();
  });

  test(`${name}: the weighted (fine-tuning) loss and its gradients equal torch within 1e-4`, async () => {
    const f = await load(name);
    const { graph, spec } = buildTrainGraph(
      f.m,
      shape(f),
      { kind: 'sgd', outputGrads: true },
      { weighted: true },
    );
    const runner = await TrainRunner.create(emitOnnx(graph), spec, init(f), { threads: 1 });
    const r = await runner.step({ ...batch(f), weights: f.get('data/weights') }, 0);
    assertClose('sft loss', [r.loss], f.get('sft/loss').data as Float32Array, REL);
    for (const p of trainParams(f.m))
      assertClose(
        `sft grad/${p.name}`,
        await f32(r.extra[`grad/${p.name}`]),
        f.get(`sft/grad/${p.name}`).data as Float32Array,
        REL,
      );
    await runner.release();
  });

  test(`${name}: 3 AdamW steps with clipping give torch.optim.AdamW's losses and weights within 1e-4`, async () => {
    const f = await load(name);
    const o = f.opt;
    const opt = {
      kind: 'adamw' as const,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weight_decay,
      clip: o.clip,
    };
    const { graph, spec } = buildTrainGraph(f.m, shape(f), opt);
    const runner = await TrainRunner.create(emitOnnx(graph), spec, init(f), { threads: 1 });
    const losses: number[] = [];
    for (let i = 0; i < o.steps; i++) losses.push((await runner.step(batch(f), o.lr)).loss);
    assertClose('losses', losses, f.get('adamw/losses').data as Float32Array, REL);
    const moments = await runner.moments();
    const grads = trainParams(f.m).map((p) => f.get(`grad/${p.name}`).data as Float32Array);
    const maxGrad = Math.max(...grads.map((g) => g.reduce((a, x) => Math.max(a, Math.abs(x)), 0)));
    const norm = Math.sqrt(grads.reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
    const clipCoef = Math.min(o.clip / (norm + 1e-6), 1);
    for (const p of trainParams(f.m)) {
      const w = (await runner.get(p.name)).data as Float32Array;
      const v = moments[`adam.v/${p.name}`].data as Float32Array;
      assertWeightsClose(
        `${p.name} after ${o.steps} steps`,
        w,
        f.get(`adamw/${p.name}`).data as Float32Array,
        v,
        {
          ...o,
          maxGrad,
          clipCoef,
        },
      );
    }
    await runner.release();
  });
}

// ---- finite differences in float64 --------------------------------------------------------------

/** A tiny Llama: 2 query heads per key/value head (or multi-query), head size 4, llama3 rope scaling. */
function tiny(o: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    vocabSize: 7,
    blockSize: 16,
    nLayer: 1,
    nHead: 4,
    nEmbd: 8,
    nKvHead: 2,
    headDim: 4,
    intermediateSize: 6,
    ropeTheta: 10000,
    ropeScaling: {
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8,
    },
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
    attentionBias: 'none',
    ...o,
  };
}

/**
 * L = Σ f(params) ⊙ R with every parameter float64; autodiff's gradient of every element against
 * (L(p + h) − L(p − h)) / 2h, run by onnxruntime.
 */
async function finiteDifferences(
  params: { name: string; shape: number[]; positive?: boolean }[],
  f: (g: Graph, P: Params) => Tensor,
  seed: number,
): Promise<number> {
  const rng = new Rng(seed);
  const r = () => rng.next();
  const g = new Graph({ name: 'fd' });
  const P: Params = new Map(params.map((p) => [p.name, g.param(p.name, p.shape, 'f64')]));
  const y = f(g, P);
  assert.equal(y.dtype, 'f64');
  const R = g.constant(
    Array.from({ length: y.size }, () => r() * 2 - 1),
    'f64',
    [...y.shape],
  );
  const loss = g.reduceSum(g.mul(y, R)); // ()
  const grads = gradients(g, loss, [...P.values()]);
  g.output('loss', loss);
  for (const [n, t] of P) g.output(`grad/${n}`, grads.get(t)!);
  const runner = await GraphRunner.create(emitOnnx(g), { threads: 1 });
  const vals = params.map((p) =>
    Float64Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () =>
      p.positive ? 0.5 + r() : r() * 2 - 1,
    ),
  );
  const feeds = () =>
    Object.fromEntries(
      params.map((p, i) => [p.name, { dtype: 'f64' as const, shape: p.shape, data: vals[i] }]),
    );
  const lossAt = async () => Number((await toHost((await runner.run(feeds())).loss)).data[0]);
  const out = await runner.run(feeds());
  const h = 1e-6;
  let checked = 0;
  for (const [i, p] of params.entries()) {
    const analytic = (await toHost(out[`grad/${p.name}`])).data as Float64Array;
    for (let k = 0; k < vals[i].length; k++) {
      const x0 = vals[i][k];
      vals[i][k] = x0 + h;
      const up = await lossAt();
      vals[i][k] = x0 - h;
      const down = await lossAt();
      vals[i][k] = x0;
      const numeric = (up - down) / (2 * h);
      assert.ok(
        Math.abs(analytic[k] - numeric) <= 1e-7 + 1e-6 * Math.abs(numeric),
        `${p.name}[${k}]: autodiff ${analytic[k]}, finite differences ${numeric}`,
      );
      checked++;
    }
  }
  await runner.release();
  return checked;
}

for (const [what, c] of [
  ['grouped-query attention (2 query heads per key/value head)', tiny()],
  ['multi-query attention with q, k, v biases (Qwen2)', tiny({ nKvHead: 1, attentionBias: 'qkv' })],
] as const)
  test(`finite differences (f64): a Llama block, ${what}, RMSNorm, RoPE (llama3 scaling), SiLU·up`, async () => {
    const B = 2;
    const T = 5;
    const x = { name: 'x', shape: [B * T, c.nEmbd] };
    const params = llama.params(c).filter((p) => p.name.startsWith('model.layers.0.'));
    // norm weights near 1 as trained ones are; the rest in [-1, 1)
    const specs = [x, ...params.map((p) => ({ ...p, positive: p.name.endsWith('layernorm.weight') }))];
    const n = await finiteDifferences(
      specs,
      (g, P) => llama.block(g, c, P, 0, P.get('x')!, { B, T }, causalAttention(g, T)), // (B·T, C)
      c.nKvHead,
    );
    assert.equal(
      n,
      specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0),
    );
  });

test('finite differences (f64): the head, final RMSNorm and an lm_head tied to the embedding', async () => {
  const c = tiny({ tieWordEmbeddings: true });
  const params = llama.params(c).filter((p) => !p.name.startsWith('model.layers.'));
  assert.deepEqual(
    params.map((p) => p.name),
    ['model.embed_tokens.weight', 'model.norm.weight'],
  );
  const idx = [3, 0, 6, 3, 1];
  await finiteDifferences(
    [{ name: 'x', shape: [idx.length, c.nEmbd] }, ...params],
    (g, P) => {
      // the embedding enters twice, as embed_tokens' rows and as the tied lm_head
      const e = llama.embed(g, c, P, g.constant(idx, 'i64', [1, idx.length]), { B: 1, T: idx.length }); // (T, C)
      return llama.logits(g, c, P, g.add(P.get('x')!, e)); // (T, V)
    },
    3,
  );
});

test('initialisation is LlamaPreTrainedModel._init_weights: N(0, 0.02) matrices, RMSNorm weights 1', () => {
  const c = tiny({ vocabSize: 300, nEmbd: 64, headDim: 16, intermediateSize: 96, nLayer: 2 });
  const w = initModelWeights({ family: 'llama', ...c }, 7);
  assert.deepEqual(
    Object.keys(w),
    trainParams({ family: 'llama', ...c }).map((p) => p.name),
  );
  for (const [name, t] of Object.entries(w)) {
    const d = t.data;
    if (t.shape.length === 1) {
      assert.ok(
        d.every((v) => v === 1),
        `${name} is all 1`,
      );
      continue;
    }
    const mean = d.reduce((s, v) => s + v, 0) / d.length;
    const std = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / d.length);
    // the sample std of n normals is within 4·0.02/√(2n) of 0.02 but for a 1e-4 chance
    assert.ok(Math.abs(std - 0.02) < (4 * 0.02) / Math.sqrt(2 * d.length), `${name}: std ${std}`);
    assert.ok(Math.abs(mean) < (4 * 0.02) / Math.sqrt(d.length), `${name}: mean ${mean}`);
  }
});
