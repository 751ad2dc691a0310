/**
 * Turning logits into the next token: temperature, top-k and top-p (nucleus), then one draw.
 *
 *   const probs = nextTokenProbs(logits, { temperature: 0.8, topK: 200 });   // Float64Array, sums to 1
 *   const id = sampleFrom(probs, rng.next());
 *
 * temperature 0 means greedy (argmax). Ties in top-k keep the lower ids, as torch.topk does in practice.
 */
export interface SamplingOptions {
  /** > 0 divides the logits; 0 is greedy. Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0/undefined: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1/undefined: all). */
  topP?: number;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Softmax of logits / temperature with top-k and top-p applied (filtered tokens get probability 0). */
export function nextTokenProbs(logits: ArrayLike<number>, o: SamplingOptions = {}): Float64Array {
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
  return probs;
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
