/**
 * Synthetic sequence tasks for checking that training works end to end: copy or reverse a short
 * random sequence. A row is `a1 … aL SEP b1 … bL` (T = 2L positions of input); only the answer
 * positions carry a target, the rest are -100 (ignored by the loss).
 *
 *   reverse, L = 3, SEP = 5, row = 2 0 4 5 4 0 2
 *   idx     =    2    0    4 5 4 0      (row[0 : 2L])
 *   targets = -100 -100 -100 4 0 2      (row[1 : 2L+1], answer positions only)
 */
export interface ToyBatch {
  idx: BigInt64Array;
  targets: BigInt64Array;
}

/** A batch of B rows for a vocabulary of V tokens (V - 1 is the separator), T = 2L. */
export function toyBatch(
  task: 'copy' | 'reverse',
  B: number,
  T: number,
  V: number,
  random: () => number,
): ToyBatch {
  if (T % 2) throw new Error(`toyBatch: T must be even (a1…aL SEP b1…bL uses 2L inputs), got ${T}`);
  const L = T / 2;
  const sep = V - 1;
  const idx = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T).fill(-100n);
  for (let b = 0; b < B; b++) {
    const a = Array.from({ length: L }, () => Math.floor(random() * sep));
    const answer = task === 'copy' ? a : [...a].reverse();
    const row = [...a, sep, ...answer]; // 2L + 1 tokens
    for (let t = 0; t < T; t++) {
      idx[b * T + t] = BigInt(row[t]);
      if (t >= L) targets[b * T + t] = BigInt(row[t + 1]); // answer positions only
    }
  }
  return { idx, targets };
}
