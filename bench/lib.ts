/** Shared helpers for benchmarks: medians of repeated timings and the BENCH result line. */

export function median(xs: number[]): number {
  if (!xs.length) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Times fn `runs` times (after `warmup` untimed runs); returns each run's milliseconds. */
export async function timeRuns(fn: () => unknown, runs: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Prints `BENCH <name> <ours> <unit> <peer> <theirs> <ratio>x`. `higherIsBetter` says how to read the unit
 * (MB/s: true; ms: false) so that ratio > 1 always means LLM Lens is better.
 */
export function benchLine(
  name: string,
  ours: number,
  unit: string,
  peer: string,
  theirs: number,
  higherIsBetter: boolean,
): string {
  const ratio = higherIsBetter ? ours / theirs : theirs / ours;
  const fmt = (x: number) => {
    if (Math.abs(x) >= 100) return x.toFixed(0);
    return Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3);
  };
  const line = `BENCH ${name} ${fmt(ours)} ${unit} ${peer} ${fmt(theirs)} ${ratio.toFixed(2)}x`;
  console.log(line);
  return line;
}
