/**
 * RL and the reward model on a GPU provider, against the CPU provider from the same weights and data:
 *   - 5 RL policy steps (PPO's clipped ratio, KL penalty) and 5 reward-model steps, each graph built for
 *     its provider (the CPU graph on cpu, the GPU variant with maxJoin on the GPU), give the CPU losses,
 *     gradient norms, KL and clipped shares within float tolerance, and the same weights after;
 *   - trainRewardModel with device webgpu gives the CPU run's losses, held-out accuracy and margins, and
 *     trainRl against that reward model (KL, 2 PPO updates, held-out eval every step) samples the same
 *     answers and gives the CPU run's rewards, losses and gradient norms: every session either run creates
 *     is on the device asked for, and none runs a node on the CPU.
 * Skips, with each provider's reason, where no GPU execution provider loads. About 40 s on lavapipe.
 *
 *   node --enable-source-maps --test out/test/unit/engineGpuRl.test.js
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { targetOf } from '../../src/engine/graph/graph';
import { initGptWeights } from '../../src/engine/model/gpt';
import type { GptModelConfig } from '../../src/engine/model/inference';
import { defaultsOf } from '../../src/engine/options';
import { buildGptPolicyGraph } from '../../src/engine/rl/policyLoss';
import type { PreferencePair } from '../../src/engine/rl/preferences';
import { buildRewardTrainGraph, initScoreHead, SCORE_WEIGHT } from '../../src/engine/rl/rewardModel';
import { trainRewardModel, type RewardEvent } from '../../src/engine/rl/rewardTrain';
import { trainRl, type RlConfig } from '../../src/engine/rl/rlLoop';
import type { RlTask } from '../../src/engine/rl/rlTasks';
import type { ExecutionProvider } from '../../src/engine/runtime/ort';
import { GraphRunner, toHost, type HostTensor } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { GPU_MAX_JOIN } from '../../src/engine/train/optim';
import { Rng } from '../../src/engine/train/rng';
import { RL_OPTIONS } from '../../src/protocol/rlOptions';
import type { RunEvent } from '../../src/protocol/training';
import { chatCheckpoint } from '../fixtures/chat/chatCheckpoint';
import { gpuProvider } from './webgpuProvider';

const model: GptModelConfig = { vocabSize: 37, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 16, bias: true };

/** |a − b| within rel·|a| or abs, whichever is larger. */
function near(a: number, b: number, rel: number, abs: number, what: string): number {
  const d = Math.abs(a - b);
  assert.ok(d <= Math.max(rel * Math.abs(a), abs), `${what}: cpu ${a} vs gpu ${b}`);
  return d / Math.max(Math.abs(a), abs);
}

/** A step runner per provider: the CPU graph on cpu, the GPU variant (maxJoin) on the GPU; nodes the GPU ran on the CPU land in `placed`. */
async function runners(
  build: (target: 'cpu' | 'gpu') => ReturnType<typeof buildRewardTrainGraph>,
  init: Record<string, HostTensor>,
  ep: ExecutionProvider,
  placed: string[],
) {
  const c = build('cpu');
  const g = build(targetOf(ep));
  const cpu = await TrainRunner.create(emitOnnx(c.graph), c.spec, init, { ep: 'cpu' });
  const gpu = await TrainRunner.create(emitOnnx(g.graph), g.spec, init, {
    ep,
    onCpuNodes: (w) => placed.push(w),
  });
  return { cpu, gpu, params: c.spec.state.filter((s) => s.init === 'param').map((s) => s.name) };
}

/** The largest |Δ| between the two runners' parameters. */
async function weightsDiff(a: TrainRunner, b: TrainRunner, params: string[]): Promise<number> {
  let worst = 0;
  for (const p of params) {
    const [x, y] = [(await a.get(p)).data, (await b.get(p)).data];
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(Number(x[i]) - Number(y[i])));
  }
  return worst;
}

const scalar = async (v: Parameters<typeof toHost>[0]) => Number((await toHost(v)).data[0]);

test('5 RL policy steps (PPO ratio, KL) on the GPU give the CPU losses, grad norms, KL and clipped shares', async (t) => {
  const { ep, why } = await gpuProvider();
  if (!ep) return t.skip(why);
  const B = 4;
  const T = model.blockSize;
  const opt = { kind: 'adamw', beta1: 0.9, beta2: 0.95, weightDecay: 0, clip: 1 } as const;
  const o = { ref: true, old: true, klBeta: 0.1, clipEps: 0.2 };
  const placed: string[] = [];
  const { cpu, gpu, params } = await runners(
    (target) =>
      buildGptPolicyGraph(
        { ...model, batchSize: B, seqLen: T, target },
        { ...opt, maxJoin: target === 'gpu' ? GPU_MAX_JOIN : undefined },
        o,
      ),
    initGptWeights({ ...model, batchSize: B }, 1),
    ep,
    placed,
  );
  const rng = new Rng(7);
  const ids = () => BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rng.next() * 37)));
  const f32 = (f: () => number): HostTensor => ({
    dtype: 'f32',
    shape: [B, T],
    data: Float32Array.from({ length: B * T }, f),
  });
  let worst = 0;
  try {
    for (let s = 0; s < 5; s++) {
      const data: Record<string, HostTensor> = {
        idx: { dtype: 'i64', shape: [B, T], data: ids() },
        targets: { dtype: 'i64', shape: [B, T], data: ids() },
        advantages: f32(() => 2 * rng.next() - 1),
        weights: f32(() => (rng.next() < 0.7 ? 1 / (0.7 * B * T) : 0)),
        old_logp: f32(() => -Math.log(37) + rng.next() - 0.5),
        ref_logp: f32(() => -Math.log(37) + rng.next() - 0.5),
      };
      const a = await cpu.step(data, 1e-2);
      const b = await gpu.step(data, 1e-2);
      assert.ok(a.applied && b.applied, `step ${s + 1} applied`);
      worst = Math.max(worst, near(a.loss, b.loss, 1e-4, 1e-5, `step ${s + 1} loss`));
      near(a.gradNorm, b.gradNorm, 1e-3, 1e-6, `step ${s + 1} grad norm`);
      near(await scalar(a.extra.kl), await scalar(b.extra.kl), 1e-4, 1e-6, `step ${s + 1} kl`);
      const [ca, cb] = [await scalar(a.extra.clip_frac), await scalar(b.extra.clip_frac)];
      assert.ok(ca > 0 && ca < 1, `step ${s + 1}: some ratios clipped, not all (${ca})`);
      near(ca, cb, 0, 1e-6, `step ${s + 1} clipped share`);
    }
    const dw = await weightsDiff(cpu, gpu, params);
    assert.ok(dw <= 1e-4, `weights after 5 steps: max |Δ| ${dw}`);
    assert.deepEqual(placed, [], 'no node of the GPU policy step ran on the CPU');
    t.diagnostic(
      `${ep}: worst relative loss difference ${worst.toExponential(2)}, weights ${dw.toExponential(2)}`,
    );
  } finally {
    await cpu.release();
    await gpu.release();
  }
});

test('5 reward-model steps on the GPU give the CPU losses, rewards and accuracy', async (t) => {
  const { ep, why } = await gpuProvider();
  if (!ep) return t.skip(why);
  const B = 3;
  const T = model.blockSize;
  const placed: string[] = [];
  const init = { ...initGptWeights({ ...model, batchSize: B }, 2), [SCORE_WEIGHT]: initScoreHead(16, 2) };
  const { cpu, gpu, params } = await runners(
    (target) =>
      buildRewardTrainGraph(
        { ...model, batchSize: B, seqLen: T, target },
        { kind: 'adamw', weightDecay: 0, clip: 1, maxJoin: target === 'gpu' ? GPU_MAX_JOIN : undefined },
      ),
    init,
    ep,
    placed,
  );
  const rng = new Rng(8);
  const ids = (): HostTensor => ({
    dtype: 'i64',
    shape: [B, T],
    data: BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rng.next() * 37))),
  });
  const lasts = (): HostTensor => ({
    dtype: 'i64',
    shape: [B],
    data: BigInt64Array.from({ length: B }, () => BigInt(Math.floor(rng.next() * T))),
  });
  let worst = 0;
  let worstReward = 0;
  try {
    for (let s = 0; s < 5; s++) {
      const data = { chosen: ids(), chosen_last: lasts(), rejected: ids(), rejected_last: lasts() };
      const a = await cpu.step(data, 3e-3);
      const b = await gpu.step(data, 3e-3);
      assert.ok(a.applied && b.applied, `step ${s + 1} applied`);
      worst = Math.max(worst, near(a.loss, b.loss, 1e-4, 1e-6, `step ${s + 1} loss`));
      near(a.gradNorm, b.gradNorm, 1e-3, 1e-6, `step ${s + 1} grad norm`);
      for (const k of ['reward_chosen', 'reward_rejected']) {
        const [x, y] = [(await toHost(a.extra[k])).data, (await toHost(b.extra[k])).data];
        x.forEach((v, i) => {
          // before any update (step 1) the same weights; after, Adam's first steps (≈ lr·sign(g)) turn the
          // last bits of gradients near zero into weight differences of up to ~1e-5
          const abs = s === 0 ? 1e-6 : 1e-4;
          near(Number(v), Number(y[i]), 1e-4, abs, `step ${s + 1} ${k}[${i}]`);
          worstReward = Math.max(worstReward, Math.abs(Number(v) - Number(y[i])));
        });
      }
      assert.equal(await scalar(b.extra.accuracy), await scalar(a.extra.accuracy), `step ${s + 1} accuracy`);
    }
    // ln_f.bias adds score·β to both rewards of a pair: its gradient is 0 but for rounding, which Adam
    // turns into steps of up to lr either way (on the CPU ~4e-4 here, on WebGPU exactly 0)
    const dw = await weightsDiff(
      cpu,
      gpu,
      params.filter((p) => p !== 'transformer.ln_f.bias'),
    );
    assert.ok(dw <= 1e-4, `weights after 5 steps: max |Δ| ${dw}`);
    assert.deepEqual(placed, [], 'no node of the GPU reward step ran on the CPU');
    t.diagnostic(
      `${ep}: worst relative loss difference ${worst.toExponential(2)}, reward |Δ| ${worstReward.toExponential(2)}, weights ${dw.toExponential(2)}`,
    );
  } finally {
    await cpu.release();
    await gpu.release();
  }
});

/** Records the provider of every session made until `restore`, and any warning of nodes run on the CPU. */
function watchSessions() {
  const create = GraphRunner.create.bind(GraphRunner);
  const eps: string[] = [];
  const placed: string[] = [];
  GraphRunner.create = (m, o = {}) => {
    eps.push(o.ep ?? 'cpu');
    return create(m, { ...o, onCpuNodes: (w, n) => (placed.push(w), o.onCpuNodes?.(w, n)) });
  };
  return { eps, placed, restore: () => (GraphRunner.create = create) };
}

/** Polite and curt answers to short questions, in the chat checkpoint's characters. */
function pairs(n: number, seed: number): PreferencePair[] {
  const rng = new Rng(seed);
  const word = () =>
    Array.from({ length: 2 + Math.floor(rng.next() * 4) }, () => 'abcdefgh'[Math.floor(rng.next() * 8)]).join(
      '',
    );
  return Array.from({ length: n }, () => ({
    prompt: `Is ${word()} ok?`,
    chosen: `Yes, thank you. ${word()}.`,
    rejected: `${word()}!`,
  }));
}

test('trainRewardModel and trainRl on the GPU: every session there, the CPU runs within float tolerance', async (t) => {
  const { ep, why } = await gpuProvider();
  if (!ep) return t.skip(why);
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-rl-gpu-'));
  const from = await chatCheckpoint(dir, { chatTokens: true });
  const reward = async (device: 'cpu' | typeof ep) => {
    const events: RewardEvent[] = [];
    const w = watchSessions();
    try {
      const r = await trainRewardModel({
        from,
        data: pairs(24, 1),
        heldout: pairs(8, 2),
        steps: 6,
        lr: 3e-3,
        batchSize: 4,
        runDir: path.join(dir, `reward-${device}`),
        device,
        threads: 1,
        onEvent: (e) => events.push(e),
      });
      return { r, events, eps: w.eps, placed: w.placed };
    } finally {
      w.restore();
    }
  };
  const [rc, rg] = [await reward('cpu'), await reward(ep)];
  assert.deepEqual(new Set(rc.eps), new Set(['cpu']));
  assert.deepEqual(new Set(rg.eps), new Set([ep]), 'every reward-model session on the device');
  assert.deepEqual(rg.placed, [], 'no reward-model node ran on the CPU');
  let worst = 0;
  rc.r.losses.forEach(
    (l, i) => (worst = Math.max(worst, near(l, rg.r.losses[i], 1e-4, 1e-6, `reward step ${i + 1} loss`))),
  );
  for (const k of ['before', 'after'] as const) {
    assert.equal(rg.r[k].accuracy, rc.r[k].accuracy, `held-out accuracy ${k}`);
    near(rc.r[k].margin, rg.r[k].margin, 1e-3, 1e-5, `held-out margin ${k}`);
  }
  t.diagnostic(`reward-train on ${ep}: worst relative loss difference ${worst.toExponential(2)}`);

  // RL against the GPU-trained reward model: the reward model's scores, KL, 2 PPO updates, held-out eval
  const task: RlTask = {
    name: 'odd',
    description: 'answers of odd length',
    checker: 'test',
    items: (split, count) =>
      Array.from({ length: count }, (_, i) => ({
        prompt: `${split === 'train' ? 'Is' : 'Was'} ${'abc'[i % 3]} ok?`,
        answer: '',
      })),
    check: (text) => text.length % 2,
  };
  const rl = async (device: 'cpu' | typeof ep) => {
    const c: RlConfig = {
      ...defaultsOf(RL_OPTIONS),
      from,
      task: 'odd',
      rewardModel: rg.r.checkpoint,
      runDir: path.join(dir, `rl-${device}`),
      steps: 2,
      groupSize: 4,
      promptsPerStep: 2,
      maxTokens: 8,
      lr: 1e-2,
      klBeta: 0.05,
      updatesPerBatch: 2,
      evalInterval: 1,
      evalCount: 2,
      passK: 1,
      groupsInterval: 1,
      device,
      threads: 1,
    };
    const events: RunEvent[] = [];
    const w = watchSessions();
    try {
      for await (const e of trainRl(c, { task })) events.push(e);
    } finally {
      w.restore();
    }
    const error = events.find((e) => e.kind === 'error');
    assert.equal(error, undefined, error?.kind === 'error' ? error.message : '');
    return { events, eps: w.eps, placed: w.placed };
  };
  const [a, b] = [await rl('cpu'), await rl(ep)];
  assert.deepEqual(new Set(a.eps), new Set(['cpu']));
  assert.deepEqual(
    new Set(b.eps),
    new Set([ep]),
    'every RL session (step, log-probs, KV cache, reward model) on the device',
  );
  assert.deepEqual(b.placed, [], 'no RL node ran on the CPU');
  const of = <K extends RunEvent['kind']>(e: RunEvent[], kind: K) =>
    e.filter((x): x is Extract<RunEvent, { kind: K }> => x.kind === kind);
  const tokens = (e: RunEvent[]) =>
    of(e, 'groups').map((g) => g.groups.map((p) => p.answers.map((x) => x.tokens)));
  assert.deepEqual(tokens(b.events), tokens(a.events), 'the same answers sampled on both providers');
  assert.deepEqual(
    of(b.events, 'taskEval').map((e) => e.correct),
    of(a.events, 'taskEval').map((e) => e.correct),
    'the same held-out verdicts',
  );
  const [sa, sb] = [of(a.events, 'step'), of(b.events, 'step')];
  assert.equal(sb.length, 2);
  let worstRl = 0;
  sa.forEach((x, i) => {
    const y = sb[i];
    assert.ok(x.gradNorm > 0, `step ${i + 1} has a gradient`);
    near(x.reward!, y.reward!, 1e-4, 1e-5, `step ${i + 1} reward`);
    worstRl = Math.max(worstRl, near(x.loss, y.loss, 1e-3, 1e-5, `step ${i + 1} loss`));
    near(x.gradNorm, y.gradNorm, 1e-3, 1e-6, `step ${i + 1} grad norm`);
    near(x.kl!, y.kl!, 1e-3, 1e-6, `step ${i + 1} kl`);
  });
  t.diagnostic(`rl on ${ep}: worst relative loss difference ${worstRl.toExponential(2)}`);
});
