/**
 * What the model thought at one generation step: the top of the distribution before the sampling
 * transform (softmax of the raw logits) and after it (repetition penalty, temperature, top-k/p, min-p),
 * the chosen token's probabilities and rank, and the entropies.
 *
 *   summarizeStep(Float32Array.of(2, 1, 0), Float64Array.of(1, 0, 0), 0, 2)
 *   // { id: 0, prob: 1, rawProb: 0.665, logit: 2, rank: 1, entropy: 0.83, sampledEntropy: 0, top: [{ id: 0, p: 1, logit: 2 }, …], topRaw: […] }
 */
import type { StepSummaryOf, TokenProb } from '../../protocol/sampler';

export type { TokenProb };
export type StepSummary = StepSummaryOf<TokenProb>;

/** Softmax of raw logits (temperature 1, nothing filtered) in float64. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/** Entropy −Σ p ln p in nats (0·ln 0 = 0). */
export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * Math.log(p[i]);
  return h;
}

/** Indices of the n largest keys (ties: larger tiebreak, then lower index), largest first. */
export function topIndices(key: ArrayLike<number>, n: number, tiebreak: ArrayLike<number> = key): number[] {
  const out: number[] = [];
  const better = (a: number, b: number) =>
    key[a] > key[b] ||
    (key[a] === key[b] && (tiebreak[a] > tiebreak[b] || (tiebreak[a] === tiebreak[b] && a < b)));
  for (let i = 0; i < key.length; i++) {
    if (out.length === n && !better(i, out[n - 1])) continue;
    if (out.length < n) out.push(i);
    else out[n - 1] = i;
    for (let j = out.length - 1; j > 0 && better(out[j], out[j - 1]); j--)
      [out[j], out[j - 1]] = [out[j - 1], out[j]];
  }
  return out;
}

export function summarizeStep(
  logits: ArrayLike<number>,
  probs: ArrayLike<number>,
  id: number,
  topN = 20,
): StepSummary {
  const raw = softmax(logits);
  let rank = 1;
  for (let i = 0; i < logits.length; i++)
    if (logits[i] > logits[id] || (logits[i] === logits[id] && i < id)) rank++;
  const item =
    (p: ArrayLike<number>) =>
    (i: number): TokenProb => ({ id: i, p: p[i], logit: logits[i] });
  return {
    id,
    prob: probs[id],
    rawProb: raw[id],
    logit: logits[id],
    rank,
    entropy: entropy(raw),
    sampledEntropy: entropy(probs),
    top: topIndices(probs, topN, logits).map((i) => ({ ...item(probs)(i), raw: raw[i] })),
    topRaw: topIndices(logits, topN).map(item(raw)),
  };
}
