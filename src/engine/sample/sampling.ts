/**
 * Turning logits into the next token: repetition penalty, temperature, top-k, top-p (nucleus) and
 * min-p, in that order (as Hugging Face's logits processors), then one draw.
 *
 *   const probs = nextTokenProbs(logits, { temperature: 0.8, topK: 200, minP: 0.05 });   // Float64Array, sums to 1
 *   const id = sampleFrom(probs, rng.next());
 *   nextTokenProbs(logits, { repetitionPenalty: 1.3 }, context)    // tokens already in `context` are penalised
 *
 * temperature 0 means greedy (argmax of the penalised logits). Ties in top-k keep the lower ids, as
 * torch.topk does in practice.
 */
export interface SamplingOptions {
  /** > 0 divides the logits; 0 is greedy. Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0/undefined: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1/undefined: all). */
  topP?: number;
  /** Drop tokens whose probability is below minP · (the top token's probability), after top-p (0/undefined: off). */
  minP?: number;
  /** > 1 makes tokens already in the context less likely: positive logits ÷ penalty, negative × penalty (CTRL). Default 1. */
  repetitionPenalty?: number;
  /**
   * Only ids below this can be drawn: the tokenizer's vocabulary when the model's is larger (GPT-2's
   * 50257 rows under a character tokenizer, or nanoGPT's padding to 50304). Default: every logit.
   */
  vocabLimit?: number;
}

/**
 * Logits with the repetition penalty applied to every token id that occurs in `context` (a copy;
 * the input is left as it was). penalty 1 returns the logits unchanged.
 *
 *   applyRepetitionPenalty([2, -1, 0.5], [0, 1], 2)   // [1, -2, 0.5]
 */
export function applyRepetitionPenalty(
  logits: ArrayLike<number>,
  context: readonly number[],
  penalty: number,
): Float64Array {
  const out = Float64Array.from(logits as ArrayLike<number>);
  if (penalty === 1 || !context.length) return out;
  if (!(penalty > 0)) throw new Error(`repetition penalty must be > 0, got ${penalty}`);
  for (const id of new Set(context)) {
    if (id < 0 || id >= out.length) continue;
    out[id] = out[id] > 0 ? out[id] / penalty : out[id] * penalty;
  }
  return out;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Softmax of logits / temperature with top-k, top-p and min-p applied (filtered tokens get probability 0);
 * `context` is only read for the repetition penalty.
 */
export function nextTokenProbs(
  raw: ArrayLike<number>,
  o: SamplingOptions = {},
  context: readonly number[] = [],
): Float64Array {
  if (o.vocabLimit !== undefined && o.vocabLimit < raw.length) {
    if (!(Number.isInteger(o.vocabLimit) && o.vocabLimit > 0))
      throw new Error(`vocabLimit must be a whole number ≥ 1, got ${o.vocabLimit}`);
    const probs = new Float64Array(raw.length); // ids ≥ vocabLimit keep probability 0
    const kept = Float64Array.from({ length: o.vocabLimit }, (_, i) => raw[i]);
    probs.set(nextTokenProbs(kept, { ...o, vocabLimit: undefined }, context));
    return probs;
  }
  const logits =
    o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1
      ? applyRepetitionPenalty(raw, context, o.repetitionPenalty)
      : raw;
  const V = logits.length;
  const temperature = o.temperature ?? 1;
  const probs = new Float64Array(V);
  if (temperature <= 0) {
    probs[argmax(logits)] = 1;
    return probs;
  }
  let keep: Uint8Array | undefined;
  if (o.topK && o.topK > 0 && o.topK < V) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
    keep = new Uint8Array(V);
    for (let i = 0; i < o.topK; i++) keep[order[i]] = 1;
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) if ((!keep || keep[i]) && logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const p = !keep || keep[i] ? Math.exp((logits[i] - max) / temperature) : 0;
    probs[i] = p;
    sum += p;
  }
  for (let i = 0; i < V; i++) probs[i] /= sum;
  if (o.topP !== undefined && o.topP < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    let cum = 0;
    let cut = V;
    for (let r = 0; r < V; r++) {
      cum += probs[order[r]];
      if (cum >= o.topP) {
        cut = r + 1;
        break;
      }
    }
    let kept = 0;
    for (let r = 0; r < V; r++) {
      if (r >= cut) probs[order[r]] = 0;
      else kept += probs[order[r]];
    }
    for (let i = 0; i < V; i++) probs[i] /= kept;
  }
  if (o.minP && o.minP > 0) applyMinP(probs, o.minP);
  return probs;
}

/** Zeroes probabilities below minP · max and renormalises, in place. */
function applyMinP(probs: Float64Array, minP: number): void {
  let max = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > max) max = probs[i];
  const floor = minP * max;
  let kept = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] < floor) probs[i] = 0;
    else kept += probs[i];
  }
  for (let i = 0; i < probs.length; i++) probs[i] /= kept;
}

/** The token whose cumulative probability first exceeds u ∈ [0, 1). */
export function sampleFrom(probs: ArrayLike<number>, u: number): number {
  let cum = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    last = i;
    if (u < cum) return i;
  }
  return last;
}
