/**
 * Every graph the engine runs on a device, for the presets GPT-2 `tiny` and `llama-tiny`, built as the
 * engine builds them for that target: the training step as train/loop.ts builds it (AdamW, clipping,
 * maxJoin on a GPU; plain and weighted), the eval loss and logits graphs (inference.ts), key/value-cache
 * prefill and decode (kvCache.ts) and the inspection pass (inspect.ts); for GPT-2 (the family RL and
 * reward models take) also RL's policy step with PPO's ratio and the KL penalty and its log-prob pass
 * (rl/rlLoop.ts) and the reward model's training step and scoring pass (rl/rewardTrain.ts). Shared by the
 * kernel-table generator (test/fixtures/gen/webgpuKernels.ts) and test/unit/webgpuKernels.test.ts.
 *
 *   for (const { name, graph } of engineGraphs('gpu')) offDevice(graph, table);
 */
import { Graph, type GraphTarget } from '../../src/engine/graph/graph';
import { buildTrainGraph, initModelWeights, type TrainModel } from '../../src/engine/model/gpt';
import type { GptModelConfig } from '../../src/engine/model/inference';
import { gpt2 } from '../../src/engine/model/gpt2';
import { GptInference } from '../../src/engine/model/inference';
import { buildInspectGraph } from '../../src/engine/model/inspect';
import { buildDecodeGraph, buildPrefillGraph } from '../../src/engine/model/kvCache';
import { llama, type LlamaConfig } from '../../src/engine/model/llama';
import { preset } from '../../src/engine/model/presets';
import { buildGptLogProbGraph, buildGptPolicyGraph } from '../../src/engine/rl/policyLoss';
import { buildRewardScoreGraph, buildRewardTrainGraph } from '../../src/engine/rl/rewardModel';
import type { HostTensor } from '../../src/engine/runtime/session';
import { GPU_MAX_JOIN } from '../../src/engine/train/optim';

/** A preset's model as runConfig.ts makes it (a Llama preset's as a LlamaConfig), with a char-level vocabulary. */
export function presetModel(name: 'tiny' | 'llama-tiny', vocabSize = 65): TrainModel {
  const { llama: l, ...shape } = preset(name).model;
  if (!l) return { ...shape, vocabSize };
  const { bias: _, ...m } = shape;
  return {
    family: 'llama',
    ...m,
    vocabSize,
    headDim: m.nEmbd / m.nHead,
    ...l,
    attentionBias: 'none',
  };
}

/** The graphs of one preset for a target, named `<preset> <graph>`. */
export async function presetGraphs(
  name: 'tiny' | 'llama-tiny',
  target: GraphTarget,
): Promise<{ name: string; graph: Graph }[]> {
  const m = presetModel(name);
  const p = preset(name);
  const B = p.train.batchSize;
  const T = m.blockSize;
  const opt = {
    kind: 'adamw',
    beta2: p.train.beta2,
    weightDecay: p.train.weightDecay,
    clip: 1,
    maxJoin: target === 'cpu' ? undefined : GPU_MAX_JOIN,
  } as const;
  const shape = { batchSize: B, seqLen: T, target };
  const out = [
    { name: 'train step', graph: buildTrainGraph(m, shape, opt).graph },
    { name: 'train step (weighted)', graph: buildTrainGraph(m, shape, opt, { weighted: true }).graph },
  ];
  const ep = target === 'cpu' ? 'cpu' : 'webgpu';
  const w = initModelWeights(m, 1) as Record<string, HostTensor>;
  const infer =
    m.family === 'llama'
      ? await GptInference.forFamily(llama, m as LlamaConfig, w, { ep })
      : await GptInference.create(m, w, { ep });
  out.push(
    { name: 'eval loss', graph: infer.graph('loss', B, T) },
    { name: 'eval loss (weighted)', graph: infer.graph('wloss', B, T) },
    { name: 'logits', graph: infer.graph('logits', 1, T) },
  );
  const kv = (
    build: (t: number) => Graph,
    decode: (b: number) => Graph,
    inspect: () => Graph,
  ): { name: string; graph: Graph }[] => [
    ...[16, 32, 64].filter((t) => t <= T).map((t) => ({ name: `kv prefill ${t}`, graph: build(t) })),
    { name: 'kv decode', graph: decode(1) },
    { name: 'kv decode 4 streams', graph: decode(4) },
    { name: 'inspect', graph: inspect() },
  ];
  if (m.family === 'llama')
    out.push(
      ...kv(
        (t) => buildPrefillGraph(m, llama, t, target),
        (b) => buildDecodeGraph(m, llama, b, T, target),
        () => buildInspectGraph(m, llama, 16, 5, true, target),
      ),
    );
  else
    out.push(
      ...kv(
        (t) => buildPrefillGraph(m, gpt2, t, target),
        (b) => buildDecodeGraph(m, gpt2, b, T, target),
        () => buildInspectGraph(m, gpt2, 16, 5, true, target),
      ),
      ...postTraining(m, { batchSize: B, seqLen: T, target }, opt),
    );
  return out.map((o) => ({ name: `${name} ${o.name}`, graph: o.graph }));
}

/** RL's and the reward model's graphs of a GPT-2 as rlLoop.ts and rewardTrain.ts build them. */
function postTraining(
  m: GptModelConfig,
  shape: { batchSize: number; seqLen: number; target: GraphTarget },
  opt: { kind: 'adamw'; maxJoin?: number },
): { name: string; graph: Graph }[] {
  const c = { ...m, ...shape };
  const rl = { ...opt, beta1: 0.9, beta2: 0.95, weightDecay: 0, clip: 1 };
  const ppoKl = { ref: true, klBeta: 0.1, old: true, clipEps: 0.2 };
  return [
    { name: 'rl policy step', graph: buildGptPolicyGraph(c, rl).graph },
    { name: 'rl policy step (ppo, kl)', graph: buildGptPolicyGraph(c, rl, ppoKl).graph },
    { name: 'rl log-probs', graph: buildGptLogProbGraph(c) },
    { name: 'reward train step', graph: buildRewardTrainGraph(c, { ...opt, weightDecay: 0, clip: 1 }).graph },
    { name: 'reward score', graph: buildRewardScoreGraph(c) },
  ];
}

/** Every engine graph of both presets for a target. */
export async function engineGraphs(target: GraphTarget): Promise<{ name: string; graph: Graph }[]> {
  return [...(await presetGraphs('tiny', target)), ...(await presetGraphs('llama-tiny', target))];
}
