/**
 * nanoGPT's learning-rate schedule: linear warmup for `warmupIters`, cosine decay to `minLr` at
 * `lrDecayIters`, then `minLr`.
 *
 *   learningRate(0,   { lr: 1e-3, minLr: 1e-4, warmupIters: 100, lrDecayIters: 2000 })  // 1e-5  (warmup: lr·(it+1)/(warmup+1))
 *   learningRate(100, …)                                                              // 1e-3
 *   learningRate(2000, …)                                                             // 1e-4
 */
export interface LrSchedule {
  lr: number;
  minLr: number;
  warmupIters: number;
  lrDecayIters: number;
  /** false: constant lr. */
  decay?: boolean;
}

export function learningRate(it: number, s: LrSchedule): number {
  if (s.decay === false) return s.lr;
  if (it < s.warmupIters) return (s.lr * (it + 1)) / (s.warmupIters + 1);
  if (it > s.lrDecayIters) return s.minLr;
  const ratio = (it - s.warmupIters) / Math.max(1, s.lrDecayIters - s.warmupIters);
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return s.minLr + coeff * (s.lr - s.minLr);
}
