/**
 * Tensor statistics computed streaming over chunks, so a 1 GB tensor never sits in memory whole.
 * Mean, std, min, max and the L2 norm are over the finite values; NaN and ±Inf are counted apart.
 * Histograms follow numpy: `np.histogram(x, bins=n)` edges and bin rules, exactly.
 *
 *   const { stats, histogram } = await tensorStats(ckpt, 'transformer.h.0.attn.c_attn.weight', { bins: 64 });
 *   stats.std        // 0.0199…
 *   histogram.counts // 64 counts; histogram.edges has 65 edges
 *
 *   // or by hand over any arrays:
 *   const acc = new StatsAccumulator(); acc.add(chunk1); acc.add(chunk2); acc.result();
 */
import { CheckpointError } from './errors';
import type { ChunkOptions, SafetensorsFile } from './safetensors';

export interface TensorStats {
  /** All elements. */
  count: number;
  /** Elements that are neither NaN nor ±Inf. */
  finite: number;
  /** Over finite values; NaN when there are none. */
  mean: number;
  /** Population standard deviation (numpy's default ddof=0). */
  std: number;
  min: number;
  max: number;
  /** sqrt(sum of squares) of the finite values. */
  l2: number;
  /** Elements equal to 0 (including -0). */
  zeros: number;
  /** zeros / count (0 for an empty tensor). */
  zeroFraction: number;
  nan: number;
  posInf: number;
  negInf: number;
}

/** Streaming mean/variance (per-chunk two-pass, merged with Chan et al.'s formula), min, max, counts. */
export class StatsAccumulator {
  private count = 0;
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private sumSq = 0;
  private min = Infinity;
  private max = -Infinity;
  private zeros = 0;
  private nan = 0;
  private posInf = 0;
  private negInf = 0;

  add(v: ArrayLike<number>): void {
    const len = v.length;
    let k = 0;
    let s = 0;
    let sq = 0;
    let lo = Infinity;
    let hi = -Infinity;
    let zeros = 0;
    for (let i = 0; i < len; i++) {
      const x = v[i];
      if (x - x === 0) {
        k++;
        s += x;
        sq += x * x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        if (x === 0) zeros++;
      } else if (x !== x) this.nan++;
      else if (x > 0) this.posInf++;
      else this.negInf++;
    }
    this.count += len;
    this.zeros += zeros;
    this.sumSq += sq;
    if (k === 0) return;
    if (lo < this.min) this.min = lo;
    if (hi > this.max) this.max = hi;
    const cm = s / k;
    let c2 = 0;
    for (let i = 0; i < len; i++) {
      const d = v[i] - cm;
      if (d - d === 0) c2 += d * d;
    }
    if (this.n === 0) {
      this.mean = cm;
      this.m2 = c2;
      this.n = k;
      return;
    }
    const total = this.n + k;
    const delta = cm - this.mean;
    this.mean += delta * (k / total);
    this.m2 += c2 + delta * delta * ((this.n * k) / total);
    this.n = total;
  }

  result(): TensorStats {
    const none = this.n === 0;
    return {
      count: this.count,
      finite: this.n,
      mean: none ? NaN : this.mean,
      std: none ? NaN : Math.sqrt(this.m2 / this.n),
      min: none ? NaN : this.min,
      max: none ? NaN : this.max,
      l2: Math.sqrt(this.sumSq),
      zeros: this.zeros,
      zeroFraction: this.count ? this.zeros / this.count : 0,
      nan: this.nan,
      posInf: this.posInf,
      negInf: this.negInf,
    };
  }
}

export interface Histogram {
  /** bins + 1 increasing edges; bin i holds edges[i] <= x < edges[i+1], the last bin also x == edges[bins]. */
  edges: Float64Array;
  counts: Float64Array;
}

/** numpy's `np.histogram_bin_edges(x, bins)` for data with this finite min and max. */
export function histogramEdges(min: number, max: number, bins: number): Float64Array {
  if (!Number.isSafeInteger(bins) || bins < 1)
    throw new CheckpointError('bad-input', `bins must be a positive integer, got ${bins}`);
  let first = Number.isFinite(min) ? min : 0;
  let last = Number.isFinite(max) ? max : 1;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const step = (last - first) / bins; // np.linspace: i * step + start, last edge = stop
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i < bins; i++) edges[i] = i * step + first;
  edges[bins] = last;
  return edges;
}

/** Counts values into fixed bins; non-finite values and values outside [edges[0], edges[last]] are skipped. */
export class HistogramAccumulator {
  readonly edges: Float64Array;
  readonly counts: Float64Array;
  private readonly norm: number;

  /** `uniform` selects numpy's fast equal-width rule (index guess, then ±1 correction against the edges). */
  constructor(
    edges: ArrayLike<number>,
    private readonly uniform = false,
  ) {
    this.edges = Float64Array.from(edges);
    const nb = this.edges.length - 1;
    if (nb < 1) throw new CheckpointError('bad-input', 'a histogram needs at least two edges');
    for (let i = 0; i < nb; i++) {
      if (!(this.edges[i] <= this.edges[i + 1]))
        throw new CheckpointError('bad-input', 'histogram edges must increase monotonically');
    }
    this.counts = new Float64Array(nb);
    this.norm = nb / (this.edges[nb] - this.edges[0]);
  }

  /** Equal-width bins over [min, max], like np.histogram(x, bins, range=(min, max)). */
  static equalWidth(min: number, max: number, bins: number): HistogramAccumulator {
    return new HistogramAccumulator(histogramEdges(min, max, bins), true);
  }

  add(v: ArrayLike<number>): void {
    const e = this.edges;
    const c = this.counts;
    const nb = c.length;
    const first = e[0];
    const last = e[nb];
    const norm = this.norm;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (!(x >= first && x <= last)) continue; // also drops NaN
      let j: number;
      if (this.uniform) {
        j = Math.trunc((x - first) * norm);
        if (j >= nb) j = nb - 1;
        if (x < e[j]) j--;
        else if (j !== nb - 1 && x >= e[j + 1]) j++;
      } else {
        let lo = 0; // largest j with e[j] <= x, capped at nb - 1
        let hi = nb - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (e[mid] <= x) lo = mid;
          else hi = mid - 1;
        }
        j = lo;
      }
      c[j]++;
    }
  }

  result(): Histogram {
    return { edges: this.edges, counts: this.counts };
  }
}

export interface StatsOptions extends ChunkOptions {
  /** Equal-width bins between the finite min and max (a second pass over the data). Default 64; 0 for none. */
  bins?: number;
  /** Explicit edges instead of `bins`, e.g. to share one x-axis between two checkpoints (one pass). */
  edges?: ArrayLike<number>;
  /** Called after each chunk with elements done and total (both passes counted). */
  onProgress?: (done: number, total: number) => void;
}

/** Stats and a histogram of one tensor, streamed from the file. */
export async function tensorStats(
  file: SafetensorsFile,
  name: string,
  options: StatsOptions = {},
): Promise<{ stats: TensorStats; histogram?: Histogram }> {
  const t = file.tensor(name);
  const count = options.count ?? t.elements - (options.start ?? 0);
  const bins = options.edges ? 0 : (options.bins ?? 64);
  const passes = bins > 0 ? 2 : 1;
  const acc = new StatsAccumulator();
  let hist = options.edges ? new HistogramAccumulator(options.edges) : undefined;
  let done = 0;
  for await (const { values } of file.chunks(name, options)) {
    acc.add(values);
    hist?.add(values);
    options.onProgress?.((done += values.length), count * passes);
  }
  const stats = acc.result();
  if (bins > 0) {
    hist = HistogramAccumulator.equalWidth(stats.min, stats.max, bins);
    for await (const { values } of file.chunks(name, options)) {
      hist.add(values);
      options.onProgress?.((done += values.length), count * passes);
    }
  }
  return { stats, histogram: hist?.result() };
}
