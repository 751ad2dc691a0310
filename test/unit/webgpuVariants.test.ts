/**
 * The GPU variants of the graphs (GraphOptions.target 'gpu': cross-entropy without
 * SoftmaxCrossEntropyLoss, the embedding gradient without OneHot, batched products without FusedMatMul,
 * Llama positions without an int64 Cast) compute what the CPU graphs compute: every output of a training
 * step (loss, gradient norm, each gradient), the weighted loss with
 * ignored targets (-100) and the per-token log-probabilities, a Llama decode step, RL's policy step (PPO
 * ratio and KL penalty) and the reward model's training step (the last token picked without int64
 * arithmetic), run on the CPU provider agree within 1e-6; the GPU variant run on WebGPU agrees with the CPU
 * graph within 1e-4 with no node placed on the CPU (skips where WebGPU does not load).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { gradients } from '../../src/engine/graph/autodiff';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph, type GraphTarget } from '../../src/engine/graph/graph';
import { buildTrainGraph, initModelWeights, type TrainModel } from '../../src/engine/model/gpt';
import type { GptModelConfig } from '../../src/engine/model/inference';
import { buildDecodeGraph } from '../../src/engine/model/kvCache';
import { llama, type LlamaConfig } from '../../src/engine/model/llama';
import { buildGptPolicyGraph } from '../../src/engine/rl/policyLoss';
import { buildRewardTrainGraph, initScoreHead, SCORE_WEIGHT } from '../../src/engine/rl/rewardModel';
import type { ExecutionProvider } from '../../src/engine/runtime/ort';
import { GraphRunner, toHost, type HostTensor } from '../../src/engine/runtime/session';
import { emittedNodes } from '../../src/engine/runtime/webgpuKernels';
import { GPU_MAX_JOIN, type TrainStepSpec } from '../../src/engine/train/optim';
import { Rng } from '../../src/engine/train/rng';
import { gpuProvider } from './webgpuProvider';

const gpt2: TrainModel = { vocabSize: 37, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 16, bias: true };
const llamaModel: LlamaConfig = {
  vocabSize: 37,
  blockSize: 16,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  nEmbd: 32,
  headDim: 8,
  intermediateSize: 48,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tieWordEmbeddings: true,
  attentionBias: 'none',
};

/** Ops that a GPU session of the last run() placed on the CPU provider (runtime/placement.ts). */
let cpuPlaced: string[] = [];

/** Runs a graph once on a provider; every output on the host. */
async function run(g: Graph, feeds: Record<string, HostTensor>, ep: ExecutionProvider) {
  cpuPlaced = [];
  const r = await GraphRunner.create(emitOnnx(g), {
    ep,
    onCpuNodes: (_w, n) => cpuPlaced.push(...n.map((x) => x.op)),
  });
  try {
    const out = await r.run(feeds);
    const host: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(out)) host[k] = Array.from((await toHost(v)).data, Number);
    return host;
  } finally {
    await r.release();
  }
}

/** The largest |a - b| over every output, naming where; the outputs must be the same. */
function worst(a: Record<string, number[]>, b: Record<string, number[]>): { diff: number; at: string } {
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  let diff = 0;
  let at = '';
  for (const k of Object.keys(a))
    a[k].forEach((v, i) => {
      const d = Math.abs(v - b[k][i]);
      if (!(d <= diff)) [diff, at] = [d, `${k}[${i}]: ${v} vs ${b[k][i]}`];
    });
  return { diff, at };
}

const ids = (rng: Rng, n: number, V: number, ignoreEvery = 0) =>
  BigInt64Array.from({ length: n }, (_, i) =>
    ignoreEvery && i % ignoreEvery === 3 ? -100n : BigInt(Math.floor(rng.next() * V)),
  );

/** A training step of m for a target, with outputGrads, and its feeds (weights, zero moments, a batch with ignored targets). */
function trainCase(m: TrainModel, target: GraphTarget) {
  const B = 3;
  const T = m.blockSize;
  const opt = { kind: 'adamw', weightDecay: 0.1, clip: 1, maxJoin: GPU_MAX_JOIN, outputGrads: true } as const;
  const { graph, spec } = buildTrainGraph(m, { batchSize: B, seqLen: T, target }, opt, { weighted: true });
  const w = initModelWeights(m, 7);
  const rng = new Rng(11);
  const feeds = stepFeeds(spec, w, {
    idx: { dtype: 'i64', shape: [B, T], data: ids(rng, B * T, m.vocabSize) },
    targets: { dtype: 'i64', shape: [B, T], data: ids(rng, B * T, m.vocabSize, 5) },
    weights: { dtype: 'f32', shape: [B, T], data: Float32Array.from({ length: B * T }, () => rng.next()) },
  });
  return { graph, feeds };
}

/** A step's feeds: its data, lr 1e-2, step 1, each parameter's weights and the moments zero. */
function stepFeeds(
  spec: TrainStepSpec,
  w: Record<string, HostTensor>,
  data: Record<string, HostTensor>,
): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {
    ...data,
    lr: { dtype: 'f32', shape: [], data: Float32Array.of(1e-2) },
    step: { dtype: 'f32', shape: [], data: Float32Array.of(1) },
  };
  for (const s of spec.state) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    feeds[s.name] = {
      dtype: 'f32',
      shape: s.shape,
      data: s.init === 'param' ? w[s.name].data : new Float32Array(n),
    };
  }
  return feeds;
}

/** The outputs a step's check compares: every one but the updated state (see the training-step test). */
const compared = (o: Record<string, number[]>) =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith('new/')));

/**
 * A training step's GPU variant gives the CPU graph's compared outputs `want`: within 1e-6 on the CPU
 * provider, within 1e-4 on WebGPU with no node placed on the CPU (skipped, with the reason, without WebGPU).
 */
async function variantAgrees(
  t: TestContext,
  name: string,
  want: Record<string, number[]>,
  gpu: { graph: Graph; feeds: Record<string, HostTensor> },
): Promise<void> {
  const onCpu = worst(want, compared(await run(gpu.graph, gpu.feeds, 'cpu')));
  assert.ok(onCpu.diff <= 1e-6, `on the CPU provider: ${onCpu.at}`);
  t.diagnostic(`${name}: GPU variant on CPU, max |Δ| ${onCpu.diff.toExponential(2)}`);
  const { ep, why } = await gpuProvider(['webgpu']);
  if (!ep) return void t.skip(why);
  const onGpu = worst(want, compared(await run(gpu.graph, gpu.feeds, ep)));
  assert.ok(onGpu.diff <= 1e-4, `on ${ep}: ${onGpu.at}`);
  assert.deepEqual(cpuPlaced, [], 'no node of the GPU variant ran on the CPU provider');
  t.diagnostic(`${name}: GPU variant on ${ep}, max |Δ| ${onGpu.diff.toExponential(2)}`);
}

for (const [name, m] of [
  ['GPT-2', gpt2],
  ['Llama', { family: 'llama', ...llamaModel }],
] as const)
  test(`${name} training step: the GPU variant gives the CPU graph's outputs (CPU 1e-6, WebGPU 1e-4)`, async (t) => {
    const cpu = trainCase(m, 'cpu');
    const gpu = trainCase(m, 'gpu');
    const types = (g: Graph) => new Set(g.nodes.map((n) => n.def.type));
    assert.ok(
      types(cpu.graph).has('SoftmaxCrossEntropyLoss') && !types(gpu.graph).has('SoftmaxCrossEntropyLoss'),
    );
    assert.ok(!types(gpu.graph).has('OneHot') && !types(gpu.graph).has('FusedMatMul'));
    // loss, gradient norm and gradients (AdamW's first update, ≈ lr·sign(g), amplifies the last bits of a
    // gradient near zero: the updated state is the same ops on those gradients)
    const want = compared(await run(cpu.graph, cpu.feeds, 'cpu'));
    assert.ok(Number.isFinite(want.loss[0]) && want.loss[0] > 1, `loss ${want.loss[0]}`);
    await variantAgrees(t, name, want, gpu);
  });

test('cross-entropy and token log-probabilities with ignored targets: the GPU variant agrees', async (t) => {
  const N = 12;
  const V = 9;
  const build = (target: GraphTarget) => {
    const g = new Graph({ target });
    const x = g.param('x', [N, V]); // (N, V)
    const tg = g.input('t', 'i64', [3, 4]); // (3, 4)
    const w = g.input('w', 'f32', [N]); // (N)
    const loss = g.crossEntropy(x, g.reshape(tg, [N]), { weights: w }); // ()
    const logp = g.tokenLogProbs(g.mul(x, 2), g.reshape(tg, [N])); // (N)
    const total = g.add(loss, g.reduceSum(g.mul(logp, 0.1))); // ()
    g.output('loss', loss);
    g.output('logp', logp);
    g.output('dx', gradients(g, total, [x]).get(x)!);
    return g;
  };
  const rng = new Rng(5);
  const feeds: Record<string, HostTensor> = {
    x: { dtype: 'f32', shape: [N, V], data: Float32Array.from({ length: N * V }, () => 4 * rng.next() - 2) },
    t: { dtype: 'i64', shape: [3, 4], data: ids(rng, N, V, 4) },
    w: { dtype: 'f32', shape: [N], data: Float32Array.from({ length: N }, () => rng.next()) },
  };
  const want = await run(build('cpu'), feeds, 'cpu');
  assert.equal(want.logp[3], 0, 'an ignored target has log-probability 0');
  const onCpu = worst(want, await run(build('gpu'), feeds, 'cpu'));
  assert.ok(onCpu.diff <= 1e-6, onCpu.at);
  const { ep, why } = await gpuProvider(['webgpu']);
  if (!ep) return t.skip(why);
  const onGpu = worst(want, await run(build('gpu'), feeds, ep));
  assert.ok(onGpu.diff <= 1e-4, onGpu.at);
});

test('Llama decode step at a position: the GPU variant (positions gathered, no int64 Cast) agrees', async (t) => {
  const c = llamaModel;
  const B = 2;
  const S = c.blockSize;
  const w = initModelWeights({ family: 'llama', ...c }, 3);
  const rng = new Rng(9);
  const feeds: Record<string, HostTensor> = {
    ...(w as Record<string, HostTensor>),
    idx: { dtype: 'i64', shape: [B, 1], data: ids(rng, B, c.vocabSize) },
    pos: { dtype: 'i64', shape: [1], data: BigInt64Array.of(5n) },
    mask: {
      dtype: 'f32',
      shape: [1, S],
      data: Float32Array.from({ length: S }, (_, i) => (i < 5 ? 0 : -Infinity)),
    },
  };
  for (let l = 0; l < c.nLayer; l++)
    for (const kv of ['past_k', 'past_v'])
      feeds[`${kv}.${l}`] = {
        dtype: 'f32',
        shape: [B, c.nKvHead, S, c.headDim],
        data: Float32Array.from({ length: B * c.nKvHead * S * c.headDim }, () => rng.next() - 0.5),
      };
  const gpu = buildDecodeGraph(c, llama, B, S, 'gpu');
  assert.ok(!gpu.nodes.some((n) => n.def.type === 'Cast' && n.inputs[0].dtype === 'i64'));
  const want = await run(buildDecodeGraph(c, llama, B, S, 'cpu'), feeds, 'cpu');
  const onCpu = worst(want, await run(gpu, feeds, 'cpu'));
  assert.ok(onCpu.diff <= 1e-6, onCpu.at);
  const { ep, why } = await gpuProvider(['webgpu']);
  if (!ep) return t.skip(why);
  const onGpu = worst(want, await run(gpu, feeds, ep));
  assert.ok(onGpu.diff <= 1e-4, onGpu.at);
});

/** RL's policy step with PPO's clipped ratio and the KL penalty, as rlLoop.ts builds it for a target. */
function policyCase(target: GraphTarget) {
  const m = gpt2 as GptModelConfig;
  const B = 4;
  const T = m.blockSize;
  const opt = { kind: 'adamw', weightDecay: 0, clip: 1, maxJoin: GPU_MAX_JOIN, outputGrads: true } as const;
  const o = { ref: true, old: true, klBeta: 0.1, clipEps: 0.2 };
  const { graph, spec } = buildGptPolicyGraph({ ...m, batchSize: B, seqLen: T, target }, opt, o);
  const rng = new Rng(13);
  const f32 = (f: () => number): HostTensor => ({
    dtype: 'f32',
    shape: [B, T],
    data: Float32Array.from({ length: B * T }, f),
  });
  const feeds = stepFeeds(spec, initModelWeights(m, 5) as Record<string, HostTensor>, {
    idx: { dtype: 'i64', shape: [B, T], data: ids(rng, B * T, m.vocabSize) },
    targets: { dtype: 'i64', shape: [B, T], data: ids(rng, B * T, m.vocabSize) },
    advantages: f32(() => 2 * rng.next() - 1),
    weights: f32(() => (rng.next() < 0.7 ? 1 / (0.7 * B * T) : 0)),
    // log-probs near the policy's own (about −log 37): ratios on both sides of the clip range
    old_logp: f32(() => -Math.log(37) + rng.next() - 0.5),
    ref_logp: f32(() => -Math.log(37) + rng.next() - 0.5),
  });
  return { graph, feeds };
}

/** The reward model's Bradley–Terry step, its rows' last tokens anywhere in the block. */
function rewardCase(target: GraphTarget) {
  const m = gpt2 as GptModelConfig;
  const B = 3;
  const T = m.blockSize;
  const opt = { kind: 'adamw', weightDecay: 0, clip: 1, maxJoin: GPU_MAX_JOIN, outputGrads: true } as const;
  const { graph, spec } = buildRewardTrainGraph({ ...m, batchSize: B, seqLen: T, target }, opt);
  const rng = new Rng(17);
  const w = { ...initModelWeights(m, 6), [SCORE_WEIGHT]: initScoreHead(m.nEmbd, 6) } as Record<
    string,
    HostTensor
  >;
  const lasts = (): HostTensor => ({
    dtype: 'i64',
    shape: [B],
    data: BigInt64Array.from({ length: B }, () => BigInt(Math.floor(rng.next() * T))),
  });
  const feeds = stepFeeds(spec, w, {
    chosen: { dtype: 'i64', shape: [B, T], data: ids(rng, B * T, m.vocabSize) },
    chosen_last: lasts(),
    rejected: { dtype: 'i64', shape: [B, T], data: ids(rng, B * T, m.vocabSize) },
    rejected_last: lasts(),
  });
  return { graph, feeds };
}

for (const [name, build] of [
  ['RL policy step (PPO ratio, KL penalty)', policyCase],
  ['reward-model training step', rewardCase],
] as const)
  test(`${name}: the GPU variant gives the CPU graph's outputs (CPU 1e-6, WebGPU 1e-4)`, async (t) => {
    const cpu = build('cpu');
    const gpu = build('gpu');
    const types = (g: Graph) => new Set(g.nodes.map((n) => n.def.type));
    assert.ok(!types(gpu.graph).has('SoftmaxCrossEntropyLoss') && !types(gpu.graph).has('OneHot'));
    const int64 = emittedNodes(gpu.graph).filter(
      (n) => n.def.type !== 'Gather' && n.inputs.some((x) => x.dtype === 'i64' && x.kind !== 'const'),
    );
    assert.deepEqual(
      int64.map((n) => n.name),
      [],
      'no emitted node but a Gather takes an int64 input',
    );
    const want = compared(await run(cpu.graph, cpu.feeds, 'cpu'));
    assert.ok(Number.isFinite(want.loss[0]) && want.grad_norm[0] > 0, `loss ${want.loss[0]}`);
    if (want.clip_frac)
      assert.ok(want.clip_frac[0] > 0 && want.clip_frac[0] < 1, 'some ratios clipped, not all');
    await variantAgrees(t, name, want, gpu);
  });
