/**
 * What training moved: relative change ‖a − b‖ / ‖a‖ between tensors of two checkpoints, streamed.
 *
 *   const step0 = await openSafetensors('run/checkpoints/step-0/model.safetensors');
 *   const step500 = await openSafetensors('run/checkpoints/step-500/model.safetensors');
 *   const cmp = await compareCheckpoints(step0, step500);
 *   cmp.changes[0]  // { name: 'transformer.h.3.mlp.c_proj.weight', relChange: 0.41, ... } (largest first)
 */
import { CheckpointError, throwIfAborted } from './errors';
import type { TensorInfo } from './header';
import { DEFAULT_CHUNK_ELEMENTS, type SafetensorsFile } from './safetensors';

export interface TensorChange {
  name: string;
  /** ‖a − b‖₂ / ‖a‖₂; 0 when both are zero, Infinity when only a is; NaN when either holds NaN/Inf. */
  relChange: number;
  normA: number;
  normB: number;
  normDiff: number;
  maxAbsDiff: number;
}

/** ‖a − b‖/‖a‖ and friends over two equal-length streams of values. */
export class ChangeAccumulator {
  private sa = 0;
  private sb = 0;
  private sd = 0;
  private maxAbs = 0;

  add(a: ArrayLike<number>, b: ArrayLike<number>): void {
    if (a.length !== b.length) throw new CheckpointError('bad-input', 'chunks of different lengths');
    let sa = 0,
      sb = 0,
      sd = 0,
      m = this.maxAbs;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = b[i];
      const d = x - y;
      sa += x * x;
      sb += y * y;
      sd += d * d;
      const ad = Math.abs(d);
      if (ad > m || ad !== ad) m = ad > m ? ad : NaN;
    }
    this.sa += sa;
    this.sb += sb;
    this.sd += sd;
    this.maxAbs = m;
  }

  result(name: string): TensorChange {
    const normA = Math.sqrt(this.sa);
    const normDiff = Math.sqrt(this.sd);
    const relChange = normA === 0 ? changeFromZero(normDiff) : normDiff / normA;
    return { name, relChange, normA, normB: Math.sqrt(this.sb), normDiff, maxAbsDiff: this.maxAbs };
  }
}

/** Relative change of a tensor that was all zeros: 0 if it still is, ∞ if it moved, NaN if not finite. */
function changeFromZero(normDiff: number): number {
  if (normDiff === 0) return 0;
  return Number.isNaN(normDiff) ? NaN : Infinity;
}

/** Relative change of tensor `name` (in a) against `nameB` (in b, default the same name). Shapes must match. */
export async function relativeChange(
  a: SafetensorsFile,
  b: SafetensorsFile,
  name: string,
  options: { nameB?: string; chunkElements?: number; signal?: AbortSignal } = {},
): Promise<TensorChange> {
  const ta = a.tensor(name);
  const tb = b.tensor(options.nameB ?? name);
  if (!sameShape(ta, tb)) {
    throw new CheckpointError(
      'shape-mismatch',
      `'${name}' has shape [${ta.shape}] in ${a.name} but [${tb.shape}] in ${b.name}; only tensors of the same shape compare`,
    );
  }
  const step = Math.max(1, Math.floor(options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS));
  const acc = new ChangeAccumulator();
  for (let s = 0; s < ta.elements; s += step) {
    throwIfAborted(options.signal);
    const n = Math.min(step, ta.elements - s);
    const [x, y] = await Promise.all([a.readNumbers(ta.name, s, n), b.readNumbers(tb.name, s, n)]);
    acc.add(x, y);
  }
  return acc.result(name);
}

export interface CheckpointComparison {
  /** Tensors in both with the same shape and decodable dtypes, largest relative change first (NaN last). */
  changes: TensorChange[];
  onlyInA: string[];
  onlyInB: string[];
  /** Same name, different shape, or a dtype that is not decoded. */
  incomparable: Array<{ name: string; reason: string }>;
}

/** Per-tensor relative change of every tensor the two checkpoints share. */
export async function compareCheckpoints(
  a: SafetensorsFile,
  b: SafetensorsFile,
  options: {
    chunkElements?: number;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<CheckpointComparison> {
  const shared = a.tensors.filter((t) => b.has(t.name));
  const out: CheckpointComparison = {
    changes: [],
    onlyInA: a.tensors.filter((t) => !b.has(t.name)).map((t) => t.name),
    onlyInB: b.tensors.filter((t) => !a.has(t.name)).map((t) => t.name),
    incomparable: [],
  };
  let done = 0;
  for (const ta of shared) {
    const tb = b.tensor(ta.name);
    if (!sameShape(ta, tb))
      out.incomparable.push({ name: ta.name, reason: `shape [${ta.shape}] vs [${tb.shape}]` });
    else if (!ta.supported || !tb.supported)
      out.incomparable.push({ name: ta.name, reason: `dtype ${ta.dtype} vs ${tb.dtype} not decoded` });
    else out.changes.push(await relativeChange(a, b, ta.name, options));
    options.onProgress?.(++done, shared.length);
  }
  const key = (c: TensorChange) => (Number.isNaN(c.relChange) ? -1 : c.relChange);
  out.changes.sort((x, y) => key(y) - key(x) || (x.name < y.name ? -1 : 1));
  return out;
}

function sameShape(a: TensorInfo, b: TensorInfo): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}
