/**
 * The Checkpoint Inspector's messages (host <-> webview), for safetensors checkpoints and ONNX models.
 * Numbers that may be NaN or ±Inf travel as `number | null` (null: not finite) with a display string,
 * since webview messages are JSON-like.
 */

/** One row of the tensor table. */
export interface TensorRow {
  name: string;
  dtype: string;
  shape: number[];
  elements: number;
  bytes: number;
  /** False when the dtype is listed but not decoded (no stats), or an ONNX initializer with external data. */
  supported: boolean;
  /** The shard file that holds it (a sharded checkpoint). */
  shard?: string;
}

/** A module of the parameter tree ('transformer.h.0.attn'), with its share of all parameters. */
export interface ModuleRow {
  name: string;
  path: string;
  params: number;
  share: number;
  tensorCount: number;
  /** Set on leaves: the tensor's full name. */
  tensor?: string;
  /** Said beside the name: 'tied to model.embed_tokens.weight' for a tied lm_head (no parameters of its own). */
  note?: string;
  children: ModuleRow[];
}

/** What a GPT-2 / Llama-style checkpoint looks like, as far as names and config.json tell. */
export interface ArchitectureView {
  family: 'gpt2' | 'llama' | 'other';
  label: string;
  nLayer?: number;
  nHead?: number;
  nEmbd?: number;
  vocabSize?: number;
  blockSize?: number;
  /** Llama-style: key/value heads (grouped-query attention), the MLP's width, lm_head tied to the embedding. */
  nKvHead?: number;
  intermediateSize?: number;
  tiedEmbeddings?: boolean;
  evidence: string[];
}

/** Read from the run's files beside the checkpoint (trainer.json, config.json). */
export interface TrainingInfo {
  step?: number;
  /** Training loss (trainer.json's trainLoss or loss). */
  loss?: number;
  valLoss?: number;
  tokensSeen?: number;
  /** The file(s) the values came from, e.g. 'trainer.json'. */
  source: string;
}

/** ONNX-specific facts: the graph's interface and ops. */
export interface OnnxInfo {
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; dtype: string; shape: (number | string)[] }[];
  outputs: { name: string; dtype: string; shape: (number | string)[] }[];
  /** Op type → count, most frequent first. */
  opCounts: { op: string; count: number }[];
  nodeCount: number;
}

/** Everything the inspector shows at open: no tensor data has been read yet. */
export interface CheckpointOverview {
  kind: 'safetensors' | 'onnx';
  /** File name and absolute path. */
  fileName: string;
  path: string;
  fileBytes: number;
  architecture: ArchitectureView;
  params: number;
  /** Bytes of tensor data. */
  bytes: number;
  dtypes: { dtype: string; tensors: number; params: number; bytes: number }[];
  tree: ModuleRow;
  tensors: TensorRow[];
  /** Names of tensors whose dtype is listed but not decoded (shown, not fatal). */
  unsupported: string[];
  warnings: string[];
  metadata: Record<string, string>;
  training?: TrainingInfo;
  /** Export for Hugging Face and sampling are offered (GPT-2 names). */
  canExportHf: boolean;
  /** The file is a checkpoint of an LLM Lens run (checkpoints/step-N/ with trainer state): it can continue training. */
  canContinue: boolean;
  onnx?: OnnxInfo;
  /** A sharded checkpoint (opened by its index or one shard): the index file and every shard. */
  shards?: { index: string; files: { name: string; tensors: number; bytes: number }[] };
}

/** Statistics of one tensor over its finite values; null where a value is not finite (e.g. no finite values). */
export interface TensorStatsView {
  count: number;
  finite: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  l2: number | null;
  zeros: number;
  zeroFraction: number;
  nan: number;
  posInf: number;
  negInf: number;
}

/** A downsampled matrix picture of a tensor of 2 or more dimensions (row-major, NaN for empty cells). */
export interface HeatmapView {
  rows: number;
  cols: number;
  sourceRows: number;
  sourceCols: number;
  rowBlock: number;
  colBlock: number;
  values: Float32Array;
}

export interface TensorDetail {
  name: string;
  dtype: string;
  shape: number[];
  /** The shard file it was read from (a sharded checkpoint). */
  shard?: string;
  stats: TensorStatsView;
  /** numpy-style equal-width bins: edges has counts.length + 1 entries. */
  histogram?: { edges: number[]; counts: number[] };
  heatmap?: HeatmapView;
  ms: number;
}

/** One tensor's relative change ‖a − b‖/‖a‖ against the other checkpoint. */
export interface ChangeRow {
  name: string;
  /** null when not finite (see `display`). */
  relChange: number | null;
  display: string;
  normA: number | null;
  normDiff: number | null;
  maxAbsDiff: number | null;
}

export interface ComparisonView {
  /** The other checkpoint's file name and path. */
  otherName: string;
  otherPath: string;
  /** Largest change first. */
  changes: ChangeRow[];
  onlyHere: string[];
  onlyThere: string[];
  incomparable: { name: string; reason: string }[];
  ms: number;
}

/** Host -> Checkpoint webview. */
export type CheckpointHostMessage =
  /** The file's header was read: the summary, tree and table. */
  | { type: 'overview'; overview: CheckpointOverview }
  /** The file could not be opened (not safetensors, truncated …): the whole editor shows this. */
  | { type: 'openError'; fileName: string; message: string; code?: string }
  /** Work in progress (stats of a tensor, a comparison, an export). */
  | { type: 'busy'; task: 'inspect' | 'compare' | 'export'; label: string }
  | { type: 'tensor'; detail: TensorDetail }
  | { type: 'comparison'; comparison: ComparisonView }
  /** A task failed (or was cancelled); the rest of the view stays. */
  | { type: 'taskError'; task: 'inspect' | 'compare' | 'export'; message: string }
  /** An export finished. */
  | { type: 'exported'; folder: string; files: string[] }
  /** The file changed on disk since it was opened: offer a reload. */
  | { type: 'changedOnDisk' };

/** Checkpoint webview -> host. */
export type CheckpointWebviewMessage =
  | { type: 'ready' }
  /** Compute stats, histogram and heatmap of one tensor (a name from the overview). */
  | { type: 'inspect'; name: string }
  /** Pick another checkpoint and compare against it. */
  | { type: 'compare' }
  /** Write a Hugging Face folder (GPT-2 checkpoints). */
  | { type: 'exportHf' }
  /** Write prefill.onnx + decoder.onnx (KV cache, weights inside) for a GPT-2 checkpoint with its config.json. */
  | { type: 'exportOnnx' }
  /** Open the sampler on this checkpoint. */
  | { type: 'sample' }
  /** Continue the run this checkpoint belongs to, from this checkpoint. */
  | { type: 'continueTraining' }
  /** Re-read the file after it changed on disk. */
  | { type: 'reload' };
