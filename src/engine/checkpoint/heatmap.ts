/**
 * A downsampled picture of a tensor as a matrix, for a <canvas> heatmap. A 2-D tensor [R, C] is shown
 * as is; N-D tensors as [prod(shape[:-1]), shape[-1]]; 1-D as one row. Blocks of rowBlock × colBlock
 * elements become one cell, so the output has at most maxRows × maxCols cells. Streams from the file.
 *
 *   const h = await tensorHeatmap(ckpt, 'transformer.wte.weight', { maxRows: 256, maxCols: 256 });
 *   // 50257 × 768 → rowBlock 197, colBlock 3 → h.rows 256, h.cols 256, h.values: Float32Array(256 * 256)
 */
import { CheckpointError } from './errors';
import type { ChunkOptions, SafetensorsFile } from './safetensors';

/** 'maxabs': the value of largest magnitude in the block (its sign kept); 'mean': the block's mean. */
export type Pooling = 'maxabs' | 'mean';

export interface Heatmap {
  /** The tensor seen as a matrix. */
  sourceRows: number;
  sourceCols: number;
  /** Elements per cell along each axis; the last row/column of cells may cover fewer. */
  rowBlock: number;
  colBlock: number;
  rows: number;
  cols: number;
  pooling: Pooling;
  /** rows × cols, row-major; NaN for a cell without finite values (NaN and ±Inf are ignored). */
  values: Float32Array;
}

export interface HeatmapOptions extends Omit<ChunkOptions, 'start' | 'count'> {
  maxRows?: number;
  maxCols?: number;
  pooling?: Pooling;
}

/** The tensor's shape as [rows, cols] for display. */
export function matrixShape(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  const cols = shape[shape.length - 1];
  return [shape.slice(0, -1).reduce((a, b) => a * b, 1), cols];
}

/** Pools a stream of values (row-major matrix rows × cols, chunks in order) into a heatmap. */
export class HeatmapAccumulator {
  readonly rowBlock: number;
  readonly colBlock: number;
  readonly rows: number;
  readonly cols: number;
  private readonly acc: Float64Array;
  private readonly n: Float64Array;
  private pos = 0;

  constructor(
    readonly sourceRows: number,
    readonly sourceCols: number,
    maxRows: number,
    maxCols: number,
    readonly pooling: Pooling,
  ) {
    if (!(maxRows >= 1 && maxCols >= 1))
      throw new CheckpointError('bad-input', 'maxRows and maxCols must be at least 1');
    this.rowBlock = Math.max(1, Math.ceil(sourceRows / maxRows));
    this.colBlock = Math.max(1, Math.ceil(sourceCols / maxCols));
    this.rows = Math.ceil(sourceRows / this.rowBlock);
    this.cols = Math.ceil(sourceCols / this.colBlock);
    this.acc = new Float64Array(this.rows * this.cols);
    this.n = new Float64Array(this.rows * this.cols);
  }

  add(v: ArrayLike<number>): void {
    const C = this.sourceCols;
    let i = 0;
    while (i < v.length) {
      const r = Math.floor(this.pos / C);
      const c0 = this.pos - r * C;
      const take = Math.min(C - c0, v.length - i); // the rest of this row that is in the chunk
      const base = Math.floor(r / this.rowBlock) * this.cols;
      for (let k = 0; k < take; k++) {
        const x = v[i + k];
        if (x - x !== 0) continue;
        const cell = base + Math.floor((c0 + k) / this.colBlock);
        if (this.pooling === 'mean') this.acc[cell] += x;
        else if (this.n[cell] === 0 || Math.abs(x) > Math.abs(this.acc[cell])) this.acc[cell] = x;
        this.n[cell]++;
      }
      i += take;
      this.pos += take;
    }
  }

  result(): Heatmap {
    const values = new Float32Array(this.acc.length);
    const mean = this.pooling === 'mean';
    for (let j = 0; j < values.length; j++) {
      if (this.n[j] === 0)
        values[j] = NaN; // no finite value in the cell
      else values[j] = mean ? this.acc[j] / this.n[j] : this.acc[j];
    }
    const { sourceRows, sourceCols, rowBlock, colBlock, rows, cols, pooling } = this;
    return { sourceRows, sourceCols, rowBlock, colBlock, rows, cols, pooling, values };
  }
}

/** Streams a tensor into a downsampled heatmap. */
export async function tensorHeatmap(
  file: SafetensorsFile,
  name: string,
  options: HeatmapOptions = {},
): Promise<Heatmap> {
  const [R, C] = matrixShape(file.tensor(name).shape);
  const acc = new HeatmapAccumulator(
    R,
    C,
    options.maxRows ?? 256,
    options.maxCols ?? 256,
    options.pooling ?? 'maxabs',
  );
  for await (const { values } of file.chunks(name, {
    chunkElements: options.chunkElements,
    signal: options.signal,
  }))
    acc.add(values);
  return acc.result();
}
