/**
 * Group-relative policy gradient (GRPO) on tasks with checked answers: for each prompt the policy samples
 * G answers (one batch through the key/value cache, sample/generateBatch.ts), a checker rewards each, and
 * each answer's advantage is its reward minus its group's mean (`groupAdvantages`). Every token of an
 * answer gets its answer's advantage, except forced tool-output tokens, which the model did not choose;
 * the loss is then rl/policyLoss.ts's −Σ w·A·logp (+ clipping and KL when asked). A group whose answers all
 * got the same reward has advantage 0 everywhere: it gives no signal, and is counted so that it can be shown.
 *
 *   const { advantages, zeroSignal } = groupAdvantages([1, 0, 0, 1, 1, 1, 1, 1], 4);
 *   // advantages [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0], zeroSignal 1 (the second group all right)
 *   const A = tokenAdvantages(advantages, mask, T);        // (B, T) for the step graph
 *
 * Which variant the defaults are (GRPO_DEFAULTS): nanochat's (karpathy/nanochat scripts/chat_rl.py),
 * the simplest one that works:
 *   - advantage = reward − group mean, no division by the group's std (scaleByStd false);
 *   - on-policy: one update per batch of rollouts, so no ratio and no clipping (updatesPerBatch 1);
 *   - no KL penalty and no reference model (klBeta 0);
 *   - the loss normalised by the number of answer tokens in the batch (lossWeights 'token').
 * TRL's GRPOTrainer defaults for comparison (huggingface/trl trl/trainer/grpo_config.py, read at commit
 * 006d32c): num_generations 8, scale_rewards "group" (divide by the group's std, torch's unbiased std,
 * + 1e-4 as scaleByStd here), beta 0.0 (no KL: DeepSeek-R1 used 0.001), epsilon 0.2 (clipping, active when
 * num_iterations > 1; default 1, i.e. on-policy), loss_type "dapo" (normalised by active tokens in the
 * accumulated batch, as 'token' here; "grpo" is 'sequence' and "dr_grpo" is 'constant'). So TRL's defaults
 * differ from ours only in scaling by the std, which Dr. GRPO argues against (it up-weights questions whose
 * answers barely differ). The original GRPO paper (DeepSeekMath) used std scaling, per-sequence means and a
 * k3 KL penalty.
 */

/** The defaults of a GRPO run (see the file's header for where each comes from). */
export const GRPO_DEFAULTS = {
  groupSize: 8,
  scaleByStd: false,
  klBeta: 0,
  clipEps: 0.2,
  updatesPerBatch: 1,
  lossNorm: 'token',
} as const;

export interface GroupAdvantageOptions {
  /** Divide by the group's (unbiased, n − 1) standard deviation + eps, as TRL's scale_rewards "group". Default false. */
  scaleByStd?: boolean;
  /** Added to the std before dividing (default 1e-4, TRL's). */
  eps?: number;
}

export interface GroupAdvantages {
  /** One per answer, in the rewards' order: reward − group mean (÷ (std + eps)); exactly 0 in a zero-signal group. */
  advantages: Float64Array;
  /** Each group's mean reward. */
  means: Float64Array;
  /** Each group's (unbiased) standard deviation of rewards. */
  stds: Float64Array;
  /** Groups whose rewards are all equal: no gradient comes from them. */
  zeroSignal: number;
  groups: number;
}

/**
 * Advantages of `rewards` laid out group by group (G consecutive answers share a prompt). Throws on a
 * group size below 2 (no group to compare with), a length that is not a multiple of G, or a reward that is
 * not a finite number (a checker that failed).
 */
export function groupAdvantages(
  rewards: ArrayLike<number>,
  G: number,
  o: GroupAdvantageOptions = {},
): GroupAdvantages {
  if (!Number.isInteger(G) || G < 2)
    throw new Error(
      `GRPO: group size ${G} is too small; each prompt needs at least 2 answers to compare (use 8–16)`,
    );
  if (rewards.length % G)
    throw new Error(`GRPO: ${rewards.length} rewards are not whole groups of ${G} answers`);
  for (let i = 0; i < rewards.length; i++)
    if (!Number.isFinite(rewards[i]))
      throw new Error(
        `GRPO: reward ${i} is ${rewards[i]}; a reward must be a finite number (check the checker)`,
      );
  const eps = o.eps ?? 1e-4;
  const groups = rewards.length / G;
  const advantages = new Float64Array(rewards.length);
  const means = new Float64Array(groups);
  const stds = new Float64Array(groups);
  let zeroSignal = 0;
  for (let k = 0; k < groups; k++) {
    const r = Array.from({ length: G }, (_, j) => rewards[k * G + j]);
    const mean = r.reduce((a, b) => a + b, 0) / G;
    const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (G - 1));
    means[k] = mean;
    stds[k] = std;
    if (r.every((x) => x === r[0])) {
      zeroSignal++;
      continue; // advantages stay exactly 0 (the mean of equal numbers may round off them)
    }
    for (let j = 0; j < G; j++)
      advantages[k * G + j] = o.scaleByStd ? (r[j] - mean) / (std + eps) : r[j] - mean;
  }
  return { advantages, means, stds, zeroSignal, groups };
}

/**
 * Per-token advantages (B, T) f32 for the step graph: row b's answer advantage on the tokens where
 * mask (B, T) is 1 (the answer's own tokens), 0 elsewhere (prompt, padding, forced tool output).
 */
export function tokenAdvantages(
  advantages: ArrayLike<number>,
  mask: ArrayLike<number>,
  T: number,
): Float32Array {
  const B = advantages.length;
  if (mask.length !== B * T)
    throw new Error(`tokenAdvantages: the mask has ${mask.length} values, expected ${B} answers × ${T}`);
  const out = new Float32Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) out[b * T + t] = mask[b * T + t] ? advantages[b] : 0;
  return out;
}
