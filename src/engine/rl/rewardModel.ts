/**
 * A reward model: the GPT with a scalar head, as Hugging Face's GPT2ForSequenceClassification with
 * num_labels 1. The final hidden state (after ln_f) at the last real token of a ChatML-rendered
 * (prompt + answer) goes through `score.weight` (1, nEmbd), a linear layer without bias, and gives the
 * reward r. Trained on preference pairs with the Bradley–Terry loss:
 *
 *   r_c, r_r = score(h_last(chosen)), score(h_last(rejected))      (B) each
 *   loss     = mean_b −log σ(r_c − r_r) = mean_b softplus(r_r − r_c)
 *
 * Rows are padded after their last token, and causal attention keeps the padding out of every earlier
 * position, so the index of the last real token (`*_last`, (B) i64) is all the mask there is.
 *
 *   const { graph, spec } = buildRewardTrainGraph(config, { kind: 'adamw', clip: 1 });
 *   const runner = await TrainRunner.create(emitOnnx(graph), spec, { ...weights, 'score.weight': head });
 *   const r = await runner.step({ chosen, chosen_last, rejected, rejected_last }, 1e-4);  // r.extra.accuracy
 *   const scorer = await GraphRunner.create(emitOnnx(buildRewardScoreGraph(config)));
 *   (await scorer.run({ ...weights, 'score.weight': head, idx, last })).reward   // (B)
 *
 * Checkpoints hold score.weight beside the GPT-2 weights; config.json says architectures
 * ["GPT2ForSequenceClassification"], num_labels 1 and "llm_lens": {"stage": "reward"} (rewardConfigJson).
 * `requireScoreHead` refuses a checkpoint without the head, naming the file and what is missing.
 */
import { Graph } from '../graph/graph';
import type { Tensor } from '../graph/tensor';
import { causalAttention, declareParams, stack } from '../model/family';
import { gaussian, type GptConfig } from '../model/gpt';
import { gpt2, gpt2Names } from '../model/gpt2';
import type { HostTensor } from '../runtime/session';
import { SCORE_WEIGHT, type Checkpoint } from '../train/checkpoint';
import { addOptimizer, type OptimizerOptions, type TrainStepSpec } from '../train/optim';

/** Hugging Face GPT2ForSequenceClassification's head: nn.Linear(n_embd, num_labels, bias=False), weight [1, n_embd]. */
export { SCORE_WEIGHT };

/**
 * Rewards (N) of the rows idx (N, T) at positions last (N) i64: the GPT's residual stream, the
 * hidden state of each row's last token, ln_f, then score.weight. Declares the parameters on g. The rows
 * come in parts (chosen, then rejected), each with its last positions, N the parts' rows together.
 *
 * On a GPU target (graph.ts's GraphOptions.target) no int64 arithmetic or Concat is emitted (ORT's WebGPU
 * provider runs them on the CPU: runtime/webgpuKernels.json): each part is embedded on its own and the
 * float rows joined, and each row's last token is picked by a product with a one-hot row (N, 1, T) built
 * from the positions gathered as floats, where the CPU graph gathers row n·T + last.
 */
export function rewardForward(
  g: Graph,
  c: GptConfig,
  idx: readonly Tensor[],
  last: readonly Tensor[],
): Tensor {
  const N = idx.reduce((n, t) => n + t.shape[0], 0);
  const T = idx[0].shape[1];
  const C = c.nEmbd;
  if (C % c.nHead) throw new Error(`GPT config: nEmbd ${C} is not divisible by nHead ${c.nHead}`);
  if (T > c.blockSize) throw new Error(`GPT config: seqLen ${T} exceeds blockSize ${c.blockSize}`);
  const P = declareParams(g, gpt2.params(c));
  const score = g.param(SCORE_WEIGHT, [1, C]); // (1, C)
  const join = (xs: readonly Tensor[]) => (xs.length === 1 ? xs[0] : g.concat([...xs], 0));
  const attend = causalAttention(g, T);
  let h: Tensor; // (N, C) each row's last token
  if (g.options.target === 'gpu') {
    let x = join(idx.map((t) => gpt2.embed(g, c, P, t, { B: t.shape[0], T }))); // (N·T, C)
    for (let l = 0; l < c.nLayer; l++) x = gpt2.block(g, c, P, l, x, { B: N, T }, attend); // (N·T, C)
    const positions = Array.from({ length: T }, (_, t) => t);
    const table = g.constant(positions, 'f32', [T], `reward_positions_${T}`); // (T)
    const at = g.reshape(join(last.map((l) => g.gather(table, l))), [N, 1]); // (N, 1) last as a float
    const onehot = g.cast(g.equal(at, g.constant(positions, 'f32', [1, T])), 'f32'); // (N, T)
    const picked = g.matmul(g.reshape(onehot, [N, 1, T]), g.reshape(x, [N, T, C])); // (N, 1, C)
    h = g.reshape(picked, [N, C]); // (N, C)
  } else {
    const x = stack(g, gpt2, c, P, join(idx), { B: N, T }, attend); // (N·T, C)
    const offsets = g.constant(
      Array.from({ length: N }, (_, n) => BigInt(n * T)),
      'i64',
      [N],
    ); // (N) row starts in the flat rows
    h = g.gather(x, g.add(join(last), offsets)); // (N, C)
  }
  const lnF = gpt2Names.lnF;
  const normed = g.layerNorm(h, P.get(`${lnF}.weight`)!, P.get(`${lnF}.bias`)); // (N, C)
  return g.reshape(g.linear(normed, score, undefined, { transB: true }), [N]); // (N)
}

/** softplus(x) = log(1 + eˣ), computed as max(x, 0) + log(1 + e^−|x|) so that no exp overflows. */
function softplus(g: Graph, x: Tensor): Tensor {
  const negAbs = g.min(x, g.neg(x)); // −|x|
  return g.add(g.max(x, 0), g.log(g.add(g.exp(negAbs), 1)));
}

/**
 * One reward-model training step: inputs chosen, rejected (B, T) i64, chosen_last, rejected_last (B) i64,
 * lr, step and the optimizer state; outputs loss (Bradley–Terry, the header's), grad_norm, reward_chosen,
 * reward_rejected (B), accuracy (share of pairs with r_c > r_r, before the update) and the new state.
 * `c.target` 'gpu' builds the GPU providers' variant (with the optimizer's maxJoin: GPU_MAX_JOIN).
 */
export function buildRewardTrainGraph(
  c: GptConfig,
  opt: OptimizerOptions,
): { graph: Graph; spec: TrainStepSpec } {
  const g = new Graph({
    name: 'reward-train-step',
    embeddingGrad: c.embeddingGrad ?? 'onehot',
    target: c.target ?? 'cpu',
  });
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const chosen = g.input('chosen', 'i64', [B, T]); // (B, T)
  const chosenLast = g.input('chosen_last', 'i64', [B]); // (B)
  const rejected = g.input('rejected', 'i64', [B, T]); // (B, T)
  const rejectedLast = g.input('rejected_last', 'i64', [B]); // (B)
  // one pass over 2B rows: chosen first, then rejected
  const r = rewardForward(g, c, [chosen, rejected], [chosenLast, rejectedLast]); // (2B)
  const [rc, rr] = g.split(r, [B, B], 0); // (B) each
  const loss = g.reduceMean(softplus(g, g.sub(rr, rc))); // () −log σ(r_c − r_r)
  g.output('reward_chosen', rc);
  g.output('reward_rejected', rr);
  g.output('accuracy', g.reduceMean(g.cast(g.less(rr, rc), 'f32')));
  return { graph: g, spec: addOptimizer(g, loss, opt) };
}

/** Forward only: inputs idx (B, T) i64, last (B) i64 and the weights; output reward (B). */
export function buildRewardScoreGraph(c: GptConfig): Graph {
  const g = new Graph({ name: 'reward-score', target: c.target ?? 'cpu' });
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const idx = g.input('idx', 'i64', [B, T]); // (B, T)
  const last = g.input('last', 'i64', [B]); // (B)
  g.output('reward', rewardForward(g, c, [idx], [last]));
  return g;
}

/** A fresh head as Hugging Face initialises it (normal, std 0.02). */
export function initScoreHead(nEmbd: number, seed: number): HostTensor {
  const normal = gaussian(seed);
  return {
    dtype: 'f32',
    shape: [1, nEmbd],
    data: Float32Array.from({ length: nEmbd }, () => normal() * 0.02),
  };
}

/** config.json fields that make a checkpoint a GPT2ForSequenceClassification with one label. */
export const REWARD_CONFIG = {
  architectures: ['GPT2ForSequenceClassification'],
  num_labels: 1,
  id2label: { '0': 'LABEL_0' },
  label2id: { LABEL_0: 0 },
} as const;

/** The scalar head of a loaded checkpoint; refuses one without it, naming the file and what it lacks. */
export function requireScoreHead(
  ckpt: Pick<Checkpoint, 'dir' | 'config' | 'score'>,
  file: string,
): HostTensor {
  const C = ckpt.config.nEmbd;
  if (!ckpt.score)
    throw new Error(
      `${file} has no scalar head: a reward model needs ${SCORE_WEIGHT} [1, ${C}] (GPT2ForSequenceClassification, num_labels 1) and this is a language model's checkpoint. Train a reward model from it: llm-lens reward-train --from ${ckpt.dir} --data PAIRS.jsonl`,
    );
  if (ckpt.score.shape.join(',') !== `1,${C}`)
    throw new Error(
      `${file}: ${SCORE_WEIGHT} is [${ckpt.score.shape}], not [1, ${C}]: LLM Lens's reward model has one label (num_labels 1) over n_embd ${C}; use a checkpoint saved by llm-lens reward-train`,
    );
  return ckpt.score;
}
