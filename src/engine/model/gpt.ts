/**
 * A model as a graph for training and evaluation: a family's blocks (gpt2.ts, llama.ts) stacked under
 * causal attention, the cross-entropy loss and the optimizer step, with the config a graph is built for
 * and the family's initialisation. Weights are in the family's Hugging Face naming (GPT-2:
 * `transformer.h.0.attn.c_attn.weight`, Conv1D [in, out]; Llama: `model.layers.0.self_attn.q_proj.weight`,
 * nn.Linear [out, in]), so they load from and save to the same safetensors files as transformers.
 *
 *   const { graph, spec } = buildGptTrainGraph(config, { kind: 'adamw', weightDecay: 0.1, beta2: 0.99, clip: 1 });
 *   const runner = await TrainRunner.create(emitOnnx(graph), spec, initGptWeights(config, 1337));
 *   const { loss } = await runner.step({ idx, targets }, 1e-3);
 *   // any family: a TrainModel says which (family 'llama' + LlamaConfig, or a GPT-2 config)
 *   const m: TrainModel = { family: 'llama', ...llamaConfig };
 *   buildTrainGraph(m, { batchSize: 8, seqLen: 64 }, opt); initModelWeights(m, 1337);
 */
import { Graph, type GraphTarget } from '../graph/graph';
import type { Tensor } from '../graph/tensor';
import type { GptConfigMessage } from '../../protocol/worker';
import { addOptimizer, type OptimizerOptions, type TrainStepSpec } from '../train/optim';
import { gaussian } from '../train/rng';
import {
  causalAttention,
  declareParams,
  stack,
  type FamilyConfig,
  type ModelFamily,
  type ParamInfo,
  type Params,
} from './family';
import { gpt2 } from './gpt2';
import type { GptModelConfig } from './inference';
import { initLlamaWeights, llama, type LlamaConfig } from './llama';

/** A GPT's shape and the batch a graph is built for (fields documented on the protocol's message type). */
export interface GptConfig extends GptConfigMessage {
  /** How the embedding gradient is built; default one-hot MatMul (measured 4x faster than ScatterElements at nanoGPT shapes). */
  embeddingGrad?: 'scatter' | 'onehot';
  /**
   * Whether a training graph folds each LayerNorm's affine into the product it feeds (lnLinear):
   * 'auto' (default) where the weight is no larger than the activations, 'always', or 'never'.
   */
  foldNorms?: 'auto' | 'always' | 'never';
  /** Where the training graph runs (graph.ts's GraphOptions.target); default 'cpu'. */
  target?: GraphTarget;
}

/** Every parameter in Hugging Face GPT-2 naming and Conv1D [in, out] layout, in torch's named_parameters() order. */
export function gptParams(c: GptConfig): ParamInfo[] {
  return gpt2.params(c);
}

/**
 * Logits (B·T, V) of a GPT for token ids idx (B, T); declares the parameters on g. `train`: a backward
 * pass will follow, so LayerNorms fold into the products they feed (gpt2.ts's lnLinear, c.foldNorms).
 */
export function gptForward(
  g: Graph,
  c: GptConfig,
  idx: Tensor,
  o: { train?: boolean } = {},
): { logits: Tensor; params: Params } {
  const foldNorms = o.train ? (c.foldNorms ?? 'auto') : 'never';
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const C = c.nEmbd;
  if (C % c.nHead) throw new Error(`GPT config: nEmbd ${C} is not divisible by nHead ${c.nHead}`);
  if (T > c.blockSize) throw new Error(`GPT config: seqLen ${T} exceeds blockSize ${c.blockSize}`);
  const P = declareParams(g, gpt2.params(c));
  const x = stack(g, gpt2, c, P, idx, { B, T }, causalAttention(g, T), { foldNorms }); // (B·T, C)
  const logits = g.named(gpt2.logits(g, c, P, x, { foldNorms }), 'logits'); // (B·T, V)
  return { logits, params: P };
}

/**
 * One training step of a GPT as a graph: inputs idx, targets (B, T) i64, lr, step and the state;
 * outputs loss, grad_norm and the new state (see train/optim.ts). `weighted` (fine-tuning) adds the
 * input weights (B, T) f32, each target's loss weight: loss = Σ w·CE / Σ w (chat/pack.ts's packedBatch).
 */
export function buildGptTrainGraph(
  c: GptConfig,
  opt: OptimizerOptions,
  o: { weighted?: boolean } = {},
): { graph: Graph; spec: TrainStepSpec } {
  const g = new Graph({
    name: 'gpt-train-step',
    embeddingGrad: c.embeddingGrad ?? 'onehot',
    target: c.target ?? 'cpu',
  });
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const idx = g.input('idx', 'i64', [B, T]); // (B, T)
  const targets = g.input('targets', 'i64', [B, T]); // (B, T)
  const weights = o.weighted ? g.reshape(g.input('weights', 'f32', [B, T]), [B * T]) : undefined; // (B·T)
  const { logits } = gptForward(g, c, idx, { train: true });
  const loss = g.crossEntropy(logits, g.reshape(targets, [B * T]), { weights }); // ()
  const spec = addOptimizer(g, loss, opt);
  return { graph: g, spec };
}

/**
 * A model a run trains: a GPT-2 config (`family` absent or 'gpt2', as every run before the Llama family)
 * or a Llama-family config. A Llama's blockSize is the context a run trains and samples (RoPE has no
 * table of positions), at most its max_position_embeddings.
 */
export type TrainModel =
  | (GptModelConfig & { family?: 'gpt2' })
  | (LlamaConfig & {
      family: 'llama';
      /** config.json's max_position_embeddings when larger than the context trained (blockSize): a hub model's. */
      maxPositionEmbeddings?: number;
    });

/** The rows a training graph is built for: B sequences of T tokens, and how its gradients are built. */
export interface TrainShape {
  batchSize: number;
  seqLen?: number;
  embeddingGrad?: GptConfig['embeddingGrad'];
  foldNorms?: GptConfig['foldNorms'];
  /** Where the graph runs: 'gpu' builds the GPU providers' variants (graph.ts's GraphOptions.target). */
  target?: GraphTarget;
}

/** The family's parameters of a run's model, in torch's named_parameters() order. */
export function trainParams(m: TrainModel): ParamInfo[] {
  return m.family === 'llama' ? llama.params(m) : gpt2.params(m);
}

/**
 * One training step of any family's model (see buildGptTrainGraph for the inputs and outputs). The
 * Llama family does not fold its RMSNorms into the products they feed: each norm feeds two or three
 * products (q, k, v; gate, up), so a fold would build and differentiate two or three scaled copies of
 * the weights where the unfolded norm costs one elementwise product of the rows.
 */
export function buildTrainGraph(
  m: TrainModel,
  s: TrainShape,
  opt: OptimizerOptions,
  o: { weighted?: boolean } = {},
): { graph: Graph; spec: TrainStepSpec } {
  if (m.family !== 'llama') return buildGptTrainGraph({ ...m, ...s }, opt, o);
  const { family: _, maxPositionEmbeddings: __, ...c } = m;
  return buildFamilyTrainGraph(llama, c, s, opt, o);
}

/** One training step of a family's stack under causal attention: cross-entropy (weighted: Σ w·CE / Σ w) and the optimizer. */
function buildFamilyTrainGraph<C extends FamilyConfig>(
  fam: ModelFamily<C>,
  c: C,
  s: TrainShape,
  opt: OptimizerOptions,
  o: { weighted?: boolean },
): { graph: Graph; spec: TrainStepSpec } {
  const g = new Graph({
    name: 'train-step',
    embeddingGrad: s.embeddingGrad ?? 'onehot',
    target: s.target ?? 'cpu',
  });
  const B = s.batchSize;
  const T = s.seqLen ?? c.blockSize;
  if (T > c.blockSize) throw new Error(`model config: seqLen ${T} exceeds blockSize ${c.blockSize}`);
  const idx = g.input('idx', 'i64', [B, T]); // (B, T)
  const targets = g.input('targets', 'i64', [B, T]); // (B, T)
  const weights = o.weighted ? g.reshape(g.input('weights', 'f32', [B, T]), [B * T]) : undefined; // (B·T)
  const P = declareParams(g, fam.params(c));
  const rows = { B, T };
  const x = stack(g, fam, c, P, idx, rows, causalAttention(g, T), { foldNorms: s.foldNorms }); // (B·T, C)
  const logits = g.named(fam.logits(g, c, P, x, { foldNorms: s.foldNorms }), 'logits'); // (B·T, V)
  const loss = g.crossEntropy(logits, g.reshape(targets, [B * T]), { weights }); // ()
  return { graph: g, spec: addOptimizer(g, loss, opt) };
}

/** The family's initialisation of a run's model (initGptWeights, llama.ts's initLlamaWeights). */
export function initModelWeights(
  m: TrainModel,
  seed: number,
): Record<string, { dtype: 'f32'; shape: number[]; data: Float32Array }> {
  return m.family === 'llama' ? initLlamaWeights(m, seed) : initGptWeights({ ...m, batchSize: 1 }, seed);
}

/** GPT-2 initialisation (as nanoGPT / gpt_ref.py): N(0, 0.02), residual projections N(0, 0.02/√(2·nLayer)), LN 1/0, biases 0. */
export function initGptWeights(
  c: GptConfig,
  seed: number,
): Record<string, { dtype: 'f32'; shape: number[]; data: Float32Array }> {
  const normal = gaussian(seed);
  const out: Record<string, { dtype: 'f32'; shape: number[]; data: Float32Array }> = {};
  for (const p of gptParams(c)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (p.shape.length === 2) {
      const std = p.name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < n; i++) data[i] = normal() * std;
    } else if (/ln_\d\.weight$|ln_f\.weight$/.test(p.name)) data.fill(1);
    out[p.name] = { dtype: 'f32', shape: p.shape, data };
  }
  return out;
}

export { gaussian, uniform } from '../train/rng';
