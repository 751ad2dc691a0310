/**
 * The policy-gradient loss of group-relative RL (see grpo.ts for the algorithm and its defaults) as a
 * graph: per-token log-probabilities of the sampled answer tokens, weighted by their advantages, with
 * optional PPO-style ratio clipping against the log-probs of the policy that sampled them ("old") and an
 * optional KL penalty to a reference model (the k3 estimator). Per token t:
 *
 *   logp_t  = log π(target_t | prefix)                    (−cross-entropy of the token)
 *   r_t     = exp(logp_t − old_t)                          (1 when there is no old: on-policy)
 *   pg_t    = min(r_t·A_t, clip(r_t, 1−ε, 1+ε)·A_t)       (plain A_t·logp_t without old)
 *   k3_t    = exp(ref_t − logp_t) − (ref_t − logp_t) − 1  (≥ 0, an unbiased estimate of KL(π‖π_ref))
 *   loss    = −Σ_t w_t·pg_t + β·Σ_t w_t·k3_t
 *
 * The normaliser is in the weights: w_t is 0 on the prompt, on padding and on forced tool-output tokens,
 * and on the answer's own tokens it is already divided by whatever the loss is normalised by (the
 * batch's answer-token count by default; see `lossWeights` for the others). The host computes them once
 * per batch, so micro-batches of one accumulated batch share one normaliser, and one graph serves every
 * normalisation. Outputs besides the loss: `logp` (B, T) (the next update's "old", taken before this
 * step's update), `kl` (Σ w·k3 / Σ w, the mean KL over answer tokens) and `clip_frac` (the weighted share of
 * tokens whose clipped term was selected, i.e. that give no gradient).
 *
 *   const { graph, spec } = buildGptPolicyGraph(config, { kind: 'adamw' }, { old: true, clipEps: 0.2 });
 *   const runner = await TrainRunner.create(emitOnnx(graph), spec, weights);
 *   const w = lossWeights(mask, B, T);                           // 1 / (answer tokens) on answers
 *   const r = await runner.step({ idx, targets, advantages, weights: w, old_logp }, 1e-5);
 */
import { Graph } from '../graph/graph';
import { fmt, GraphError, type Tensor } from '../graph/tensor';
import { gptForward, type GptConfig } from '../model/gpt';
import type { HostTensor } from '../runtime/session';
import { addOptimizer, type OptimizerOptions, type TrainStepSpec } from '../train/optim';

export interface PolicyLossOptions {
  /** PPO clip range ε: ratios outside [1−ε, 1+ε] give no gradient in the direction that leaves it (default 0.2). Used with `old`. */
  clipEps?: number;
  /** KL penalty coefficient β on the k3 estimator against `ref` (default 0: no penalty, kl is still reported). */
  klBeta?: number;
}

export interface PolicyLossTerms {
  /** (N) log-probability of each target under the policy. */
  logp: Tensor;
  /** (N) advantage of each token (0 where the loss does not count). */
  advantages: Tensor;
  /** (N) loss weight of each token, normaliser included (0 on prompt, padding and forced tokens). */
  weights: Tensor;
  /** (N) log-probs of the policy that sampled the tokens, for the ratio r = exp(logp − old). */
  old?: Tensor;
  /** (N) log-probs of the reference model, for the KL penalty. */
  ref?: Tensor;
}

export interface PolicyLoss {
  loss: Tensor;
  /** Σ w·k3 / Σ w, when ref is given. */
  kl?: Tensor;
  /** Σ w·[clipped] / Σ w, when old is given. */
  clipFrac?: Tensor;
}

/** The loss of the file's header on (N) tensors; throws naming the input whose shape or dtype is wrong. */
export function policyLoss(g: Graph, x: PolicyLossTerms, o: PolicyLossOptions = {}): PolicyLoss {
  const { logp, advantages: A, weights: w } = x;
  for (const [name, t] of Object.entries(x) as [string, Tensor | undefined][])
    if (t && (t.rank !== 1 || t.shape[0] !== logp.shape[0] || t.dtype !== logp.dtype))
      throw new GraphError(`policyLoss: ${name} must be ${logp.dtype}[${logp.shape[0]}], got ${fmt(t)}`);
  const eps = o.clipEps ?? 0.2;
  const beta = o.klBeta ?? 0;
  if (!(eps > 0 && eps < 1)) throw new GraphError(`policyLoss: clipEps must be in (0, 1), got ${eps}`);
  if (!(beta >= 0)) throw new GraphError(`policyLoss: klBeta must be ≥ 0, got ${beta}`);
  if (beta > 0 && !x.ref)
    throw new GraphError(
      'policyLoss: klBeta > 0 needs the reference log-probs (ref); pass them or set klBeta 0',
    );
  const wsum = g.max(g.reduceSum(w), 1e-12); // () Σ w, for the means
  let pg: Tensor; // (N) the surrogate per token
  let clipFrac: Tensor | undefined;
  if (x.old) {
    const r = g.exp(g.sub(logp, x.old)); // (N) π / π_old
    const unclipped = g.mul(r, A); // (N)
    const clipped = g.mul(g.min(g.max(r, 1 - eps), 1 + eps), A); // (N)
    pg = g.min(unclipped, clipped); // (N) pessimistic bound
    const isClipped = g.cast(g.less(clipped, unclipped), logp.dtype); // (N) 1 where the clipped term won
    clipFrac = g.div(g.reduceSum(g.mul(isClipped, w)), wsum); // ()
  } else pg = g.mul(logp, A); // (N) REINFORCE: ∇ = A·∇logp, as r·A with r = 1
  let loss = g.neg(g.reduceSum(g.mul(pg, w))); // ()
  let kl: Tensor | undefined;
  if (x.ref) {
    const d = g.sub(x.ref, logp); // (N) log π_ref/π
    const k3 = g.sub(g.sub(g.exp(d), d), 1); // (N) e^d − d − 1
    const wk3 = g.reduceSum(g.mul(k3, w)); // ()
    kl = g.div(wk3, wsum); // ()
    if (beta > 0) loss = g.add(loss, g.mul(wk3, beta)); // ()
  }
  return { loss, kl, clipFrac };
}

export interface PolicyGraphOptions extends PolicyLossOptions {
  /** Input old_logp (B, T): PPO ratio clipping against the sampling policy (several updates per batch). */
  old?: boolean;
  /** Input ref_logp (B, T): the KL to a reference model is output, and penalised when klBeta > 0. */
  ref?: boolean;
}

/**
 * One RL training step of a GPT: inputs idx, targets (B, T) i64, advantages, weights (B, T) f32
 * [, old_logp, ref_logp (B, T) f32], lr, step and the optimizer state; outputs loss, grad_norm, logp (B, T),
 * [kl, clip_frac] and the new state (train/optim.ts). `c.target` 'gpu' builds the GPU providers' variant
 * (graph.ts's GraphOptions.target; with the optimizer's maxJoin: GPU_MAX_JOIN, as the RL loop builds it).
 */
export function buildGptPolicyGraph(
  c: GptConfig,
  opt: OptimizerOptions,
  o: PolicyGraphOptions = {},
): { graph: Graph; spec: TrainStepSpec } {
  const g = new Graph({
    name: 'gpt-policy-step',
    embeddingGrad: c.embeddingGrad ?? 'onehot',
    target: c.target ?? 'cpu',
  });
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const flat = (name: string, dtype: 'i64' | 'f32') => g.reshape(g.input(name, dtype, [B, T]), [B * T]); // (B·T)
  const idx = g.input('idx', 'i64', [B, T]); // (B, T)
  const targets = flat('targets', 'i64'); // (B·T)
  const advantages = flat('advantages', 'f32'); // (B·T)
  const weights = flat('weights', 'f32'); // (B·T)
  const old = o.old ? flat('old_logp', 'f32') : undefined; // (B·T)
  const ref = o.ref ? flat('ref_logp', 'f32') : undefined; // (B·T)
  const { logits } = gptForward(g, c, idx, { train: true }); // (B·T, V)
  const logp = g.tokenLogProbs(logits, targets); // (B·T)
  const { loss, kl, clipFrac } = policyLoss(g, { logp, advantages, weights, old, ref }, o);
  g.output('logp', g.reshape(logp, [B, T])); // (B, T)
  if (kl) g.output('kl', kl);
  if (clipFrac) g.output('clip_frac', clipFrac);
  return { graph: g, spec: addOptimizer(g, loss, opt) };
}

/**
 * Forward only: logp (B, T) of the targets under a model, for the reference model's ref_logp (or the
 * sampling policy's old_logp when the first update does not come first).
 */
export function buildGptLogProbGraph(c: GptConfig): Graph {
  const g = new Graph({ name: 'gpt-logprobs', target: c.target ?? 'cpu' });
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const idx = g.input('idx', 'i64', [B, T]); // (B, T)
  const targets = g.input('targets', 'i64', [B, T]); // (B, T)
  const { logits } = gptForward(g, c, idx); // (B·T, V)
  g.output('logp', g.reshape(g.tokenLogProbs(logits, g.reshape(targets, [B * T])), [B, T])); // (B, T)
  return g;
}

/**
 * How the loss is normalised, as per-token weights from the answer mask (B, T) (1 on the answer's own
 * tokens, 0 on the prompt, padding and forced tool output):
 *   'token'     1 / (answer tokens in the batch): every token counts the same (nanochat; TRL's 'dapo'/'bnpo')
 *   'sequence'  1 / (B · the row's answer tokens): each answer counts the same (the GRPO paper; TRL's 'grpo')
 *   'constant'  1 / (B · maxLen): a fixed constant (Dr. GRPO; TRL's 'dr_grpo' with maxLen = max_completion_length)
 * `total` overrides the token count of 'token' (the whole accumulated batch when it runs in micro-batches).
 *
 *   lossWeights(Float32Array.of(0, 1, 1, 0, 0, 1), 2, 3).data   // [0, 1/3, 1/3, 0, 0, 1/3]
 */
export function lossWeights(
  mask: ArrayLike<number>,
  B: number,
  T: number,
  o: { kind?: 'token' | 'sequence' | 'constant'; maxLen?: number; total?: number } = {},
): HostTensor {
  if (mask.length !== B * T)
    throw new Error(`lossWeights: the mask has ${mask.length} values, expected B·T = ${B}·${T}`);
  const kind = o.kind ?? 'token';
  const w = new Float32Array(B * T);
  if (kind === 'token') {
    let n = o.total ?? 0;
    if (o.total === undefined) for (let i = 0; i < w.length; i++) n += mask[i];
    for (let i = 0; i < w.length; i++) w[i] = n > 0 ? mask[i] / n : 0;
  } else if (kind === 'sequence') {
    for (let b = 0; b < B; b++) {
      let n = 0;
      for (let t = 0; t < T; t++) n += mask[b * T + t];
      for (let t = 0; t < T; t++) w[b * T + t] = n > 0 ? mask[b * T + t] / (B * n) : 0;
    }
  } else {
    const L = o.maxLen ?? T;
    if (!(L > 0)) throw new Error(`lossWeights: maxLen must be positive, got ${o.maxLen}`);
    for (let i = 0; i < w.length; i++) w[i] = mask[i] / (B * L);
  }
  return { dtype: 'f32', shape: [B, T], data: w };
}
