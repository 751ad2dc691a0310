/**
 * The Checkpoint Inspector's model, without VS Code: one opened file (safetensors or ONNX) and the
 * views the editor shows of it. Opening reads only the header (safetensors) and the run's small JSON
 * files beside it; tensor data is read when a tensor is inspected or compared. A sharded checkpoint
 * (model.safetensors.index.json, or any shard it names) opens whole: every shard's tensors, each with
 * its shard named, inspected from the shard that holds it.
 *
 *   const f = await openInspectedFile('/runs/a/checkpoints/step-100/model.safetensors');
 *   const s = await openInspectedFile('SmolLM2/model.safetensors.index.json');   // s.overview.shards
 *   f.overview.params                                  // 124439808
 *   const d = await f.inspect('transformer.wte.weight', signal);   // stats, histogram, heatmap
 *   const c = await f.compare('/runs/a/checkpoints/step-0/model.safetensors', signal);
 *   await f.close();
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { compareCheckpoints } from '../../engine/checkpoint/compare';
import { CheckpointError, throwIfAborted } from '../../engine/checkpoint/errors';
import { HeatmapAccumulator, matrixShape, type Heatmap } from '../../engine/checkpoint/heatmap';
import { onnxTensorHeatmap, onnxTensorStats, readOnnx, type OnnxFile } from '../../engine/checkpoint/onnx';
import {
  openSafetensors,
  type Chunk,
  type ChunkOptions,
  type SafetensorsFile,
} from '../../engine/checkpoint/safetensors';
import { openShardedSafetensors, shardIndexOf } from '../../engine/checkpoint/shards';
import type { TensorInfo } from '../../engine/checkpoint/header';
import {
  HistogramAccumulator,
  StatsAccumulator,
  type Histogram,
  type TensorStats,
} from '../../engine/checkpoint/stats';
import { summarizeCheckpoint, type ModuleNode, type TensorEntry } from '../../engine/checkpoint/summary';
import type {
  ChangeRow,
  CheckpointOverview,
  ComparisonView,
  HeatmapView,
  ModuleRow,
  TensorDetail,
  TensorStatsView,
  TrainingInfo,
} from '../../protocol/checkpoint';
import { requestFileOf } from '../training/runFiles';
import { readJsonObject } from './hfExport';

/** Bins of every histogram. */
export const HISTOGRAM_BINS = 64;
/** Heatmap cells at most (rows × cols). */
export const HEATMAP_MAX_ROWS = 128;
export const HEATMAP_MAX_COLS = 256;
/** ONNX files are parsed whole (protobuf); larger ones use external data files, which are listed only. */
export const MAX_ONNX_BYTES = 2 ** 31 - 1;

export interface InspectedFile {
  readonly path: string;
  readonly overview: CheckpointOverview;
  /** The safetensors file (undefined for ONNX). */
  readonly safetensors?: SafetensorsFile;
  /** The config.json found beside the checkpoint, parsed. */
  readonly config?: Record<string, unknown>;
  inspect(name: string, signal?: AbortSignal): Promise<TensorDetail>;
  /** Relative change of every shared tensor against another safetensors checkpoint. */
  compare(otherPath: string, signal?: AbortSignal): Promise<ComparisonView>;
  changedOnDisk(): Promise<boolean>;
  close(): Promise<void>;
}

const fin = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function statsView(s: TensorStats): TensorStatsView {
  return {
    count: s.count,
    finite: s.finite,
    mean: fin(s.mean),
    std: fin(s.std),
    min: fin(s.min),
    max: fin(s.max),
    l2: fin(s.l2),
    zeros: s.zeros,
    zeroFraction: s.zeroFraction,
    nan: s.nan,
    posInf: s.posInf,
    negInf: s.negInf,
  };
}

function histogramView(h: Histogram | undefined): TensorDetail['histogram'] {
  return h ? { edges: Array.from(h.edges), counts: Array.from(h.counts) } : undefined;
}

function heatmapView(h: Heatmap): HeatmapView {
  const { rows, cols, sourceRows, sourceCols, rowBlock, colBlock, values } = h;
  return { rows, cols, sourceRows, sourceCols, rowBlock, colBlock, values };
}

function moduleRow(n: ModuleNode): ModuleRow {
  const row: ModuleRow = {
    name: n.name,
    path: n.path,
    params: n.params,
    share: n.share,
    tensorCount: n.tensorCount,
    children: n.children.map(moduleRow),
  };
  if (n.tensor !== undefined) row.tensor = n.tensor;
  if (n.note !== undefined) row.note = n.note;
  return row;
}

/** Step and loss from the run's files beside the checkpoint: trainer.json ({step, trainLoss, valLoss} or {step, loss}) or HF trainer_state.json. */
export async function trainingInfo(dirs: string[]): Promise<TrainingInfo | undefined> {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  for (const dir of dirs) {
    const t = await readJsonObject(join(dir, 'trainer.json'));
    if (t && (num(t.step) !== undefined || num(t.loss) !== undefined)) {
      const info: TrainingInfo = {
        step: num(t.step),
        loss: num(t.trainLoss) ?? num(t.loss),
        valLoss: num(t.valLoss),
        tokensSeen: num(t.tokensSeen),
        source: join(dir, 'trainer.json'),
      };
      for (const k of Object.keys(info) as (keyof TrainingInfo)[]) if (info[k] === undefined) delete info[k];
      return info;
    }
    const hf = await readJsonObject(join(dir, 'trainer_state.json'));
    if (hf && num(hf.global_step) !== undefined) {
      const log = Array.isArray(hf.log_history)
        ? (hf.log_history as unknown[]).filter(
            (e): e is Record<string, unknown> => typeof e === 'object' && e !== null,
          )
        : [];
      const last = [...log].reverse().find((e) => num(e.loss) !== undefined);
      return {
        step: num(hf.global_step),
        loss: last ? num(last.loss) : undefined,
        source: join(dir, 'trainer_state.json'),
      };
    }
  }
  return undefined;
}

/** The checkpoint's folder, then its parent (a run folder holding checkpoints/step-N/). */
export function besideDirs(path: string): string[] {
  const dir = dirname(path);
  return [dir, dirname(dir)].filter((d, i, a) => a.indexOf(d) === i);
}

async function configBeside(dirs: string[]): Promise<Record<string, unknown> | undefined> {
  for (const d of dirs) {
    const c = await readJsonObject(join(d, 'config.json'));
    if (c) return c;
  }
  return undefined;
}

/** …/<run>/checkpoints/step-N/model.safetensors with trainer.json beside it and the run's request two folders up. */
export function isRunCheckpoint(file: string): boolean {
  const dir = dirname(file);
  return (
    basename(file) === 'model.safetensors' &&
    /^step-\d+$/.test(basename(dir)) &&
    basename(dirname(dir)) === 'checkpoints' &&
    existsSync(join(dir, 'trainer.json')) &&
    requestFileOf(dirname(dirname(dir))) !== undefined
  );
}

function overviewOf(
  kind: 'safetensors' | 'onnx',
  path: string,
  fileBytes: number,
  tensors: readonly (TensorEntry & { supported: boolean })[],
  config: Record<string, unknown> | undefined,
): CheckpointOverview {
  const s = summarizeCheckpoint(tensors, config);
  const a = s.architecture;
  const nHead = a.nHead ?? (typeof config?.nHead === 'number' ? config.nHead : undefined);
  return {
    kind,
    fileName: basename(path),
    path,
    fileBytes,
    architecture: {
      family: a.family,
      label: a.label,
      nLayer: a.nLayer,
      nHead,
      nEmbd: a.nEmbd,
      vocabSize: a.vocabSize,
      blockSize: a.blockSize,
      ...(a.family === 'llama'
        ? { nKvHead: a.nKvHead, intermediateSize: a.intermediateSize, tiedEmbeddings: a.tiedEmbeddings }
        : {}),
      evidence: a.evidence,
    },
    params: s.params,
    bytes: s.bytes,
    dtypes: Object.entries(s.dtypes)
      .map(([dtype, d]) => ({ dtype, ...d }))
      .sort((x, y) => y.params - x.params),
    tree: moduleRow(s.tree),
    tensors: tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: [...t.shape],
      elements: t.elements,
      bytes: t.byteLength,
      supported: t.supported,
    })),
    unsupported: tensors.filter((t) => !t.supported).map((t) => t.name),
    warnings: [],
    metadata: {},
    canExportHf:
      kind === 'safetensors' &&
      a.family === 'gpt2' &&
      tensors.some((t) => /(^|\.)h\.0\.attn\.c_attn\.weight$/.test(t.name)),
    canContinue: kind === 'safetensors' && isRunCheckpoint(path),
  };
}

function changeRow(c: {
  name: string;
  relChange: number;
  normA: number;
  normDiff: number;
  maxAbsDiff: number;
}): ChangeRow {
  const notFinite = Number.isNaN(c.relChange) ? 'NaN (non-finite values)' : '∞ (was all zeros)';
  const display = Number.isFinite(c.relChange) ? c.relChange.toPrecision(4) : notFinite;
  return {
    name: c.name,
    relChange: fin(c.relChange),
    display,
    normA: fin(c.normA),
    normDiff: fin(c.normDiff),
    maxAbsDiff: fin(c.maxAbsDiff),
  };
}

/** What inspectTensor reads: one safetensors file or all shards of one. */
interface TensorReader {
  tensor(name: string): TensorInfo;
  chunks(name: string, options?: ChunkOptions): AsyncGenerator<Chunk>;
}

/** Stats, histogram and heatmap of one tensor, streamed in chunks (F16 / BF16 decoded to float32). */
async function inspectTensor(f: TensorReader, name: string, signal?: AbortSignal): Promise<TensorDetail> {
  const t0 = Date.now();
  const t = f.tensor(name);
  // pass 1: stats and the heatmap; pass 2: the histogram between the finite min and max
  const stats = new StatsAccumulator();
  const [R, C] = matrixShape(t.shape);
  const heat =
    t.shape.length >= 2
      ? new HeatmapAccumulator(R, C, HEATMAP_MAX_ROWS, HEATMAP_MAX_COLS, 'maxabs')
      : undefined;
  for await (const { values } of f.chunks(name, { signal })) {
    stats.add(values);
    heat?.add(values);
  }
  const s = stats.result();
  const hist = HistogramAccumulator.equalWidth(s.min, s.max, HISTOGRAM_BINS);
  for await (const { values } of f.chunks(name, { signal })) hist.add(values);
  const detail: TensorDetail = {
    name,
    dtype: t.dtype,
    shape: [...t.shape],
    stats: statsView(s),
    histogram: histogramView(hist.result()),
    ms: 0,
  };
  if ('shard' in t && typeof t.shard === 'string') detail.shard = t.shard;
  if (heat) detail.heatmap = heatmapView(heat.result());
  detail.ms = Date.now() - t0;
  return detail;
}

/** A sharded checkpoint by its index: every shard's tensors, the config.json beside them. */
async function openShardedInspected(path: string, indexPath: string): Promise<InspectedFile> {
  const m = await openShardedSafetensors(indexPath);
  try {
    const dirs = besideDirs(indexPath);
    const config = await configBeside(dirs);
    const overview = overviewOf('safetensors', path, m.size, m.tensors, config);
    overview.tensors.forEach((row, i) => (row.shard = m.tensors[i].shard));
    overview.warnings = [...m.warnings];
    const meta = m.index.metadata;
    overview.metadata = Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)]));
    overview.training = await trainingInfo(dirs);
    overview.canExportHf = false;
    overview.canContinue = false;
    overview.shards = {
      index: basename(indexPath),
      files: [...m.shards].map(([name, f]) => ({
        name,
        tensors: m.tensors.filter((t) => t.shard === name).length,
        bytes: f.size,
      })),
    };
    return {
      path,
      overview,
      config,
      inspect: (name, signal) => inspectTensor(m, name, signal),
      async compare() {
        throw new CheckpointError(
          'bad-input',
          'comparing is offered for single-file safetensors checkpoints: open one shard of each alone to compare them',
        );
      },
      changedOnDisk: () => m.changedOnDisk(),
      close: () => m.close(),
    };
  } catch (e) {
    await m.close();
    throw e;
  }
}

async function openSafetensorsInspected(path: string): Promise<InspectedFile> {
  const f = await openSafetensors(path);
  const dirs = besideDirs(path);
  const config = await configBeside(dirs);
  const overview = overviewOf('safetensors', path, f.size, f.tensors, config);
  overview.warnings = [...f.warnings];
  overview.metadata = { ...f.metadata };
  overview.training = await trainingInfo(dirs);
  return {
    path,
    overview,
    safetensors: f,
    config,
    inspect: (name, signal) => inspectTensor(f, name, signal),
    async compare(otherPath, signal) {
      const t0 = Date.now();
      const other = await openSafetensors(otherPath);
      try {
        const c = await compareCheckpoints(f, other, { signal });
        return {
          otherName: basename(otherPath),
          otherPath,
          changes: c.changes.map(changeRow),
          onlyHere: c.onlyInA,
          onlyThere: c.onlyInB,
          incomparable: c.incomparable,
          ms: Date.now() - t0,
        };
      } finally {
        await other.close();
      }
    },
    changedOnDisk: () => f.changedOnDisk(),
    close: () => f.close(),
  };
}

async function openOnnxInspected(path: string): Promise<InspectedFile> {
  const s0 = await stat(path);
  if (s0.size > MAX_ONNX_BYTES)
    throw new CheckpointError(
      'header-too-large',
      `the ONNX file has ${s0.size} bytes; protobuf models stop at 2 GB (larger ones keep weights in external data files)`,
      path,
    );
  const m: OnnxFile = readOnnx(await readFile(path), path);
  const tensors = m.initializers.map((t) => ({ ...t }));
  const overview = overviewOf('onnx', path, s0.size, tensors, await configBeside([dirname(path)]));
  overview.unsupported = m.initializers.filter((t) => !t.supported).map((t) => `${t.name} (${t.reason})`);
  overview.onnx = {
    irVersion: m.irVersion,
    producer: m.producer,
    opsets: m.opsets,
    inputs: m.inputs,
    outputs: m.outputs,
    opCounts: m.opCounts,
    nodeCount: m.nodeCount,
  };
  return {
    path,
    overview,
    async inspect(name, signal) {
      const t0 = Date.now();
      throwIfAborted(signal);
      const info = m.initializers.find((t) => t.name === name);
      if (!info) throw new CheckpointError('not-found', `no initializer named '${name}'`, path);
      const { stats, histogram } = onnxTensorStats(m, name, { bins: HISTOGRAM_BINS });
      const detail: TensorDetail = {
        name,
        dtype: info.dtype,
        shape: info.shape,
        stats: statsView(stats),
        histogram: histogramView(histogram),
        ms: 0,
      };
      if (info.shape.length >= 2)
        detail.heatmap = heatmapView(
          onnxTensorHeatmap(m, name, { maxRows: HEATMAP_MAX_ROWS, maxCols: HEATMAP_MAX_COLS }),
        );
      detail.ms = Date.now() - t0;
      return detail;
    },
    async compare() {
      throw new CheckpointError('bad-input', 'comparing is offered for safetensors checkpoints');
    },
    async changedOnDisk() {
      const s = await stat(path).catch(() => undefined);
      return !s || s.size !== s0.size || s.mtimeMs !== s0.mtimeMs;
    },
    async close() {},
  };
}

/**
 * Opens a safetensors checkpoint or an ONNX model (by extension) for the inspector; a shard index, or a
 * shard that an index beside it names, opens every shard.
 */
export function openInspectedFile(path: string): Promise<InspectedFile> {
  if (/\.onnx$/i.test(path)) return openOnnxInspected(path);
  const index = shardIndexOf(path);
  return index ? openShardedInspected(path, index) : openSafetensorsInspected(path);
}
