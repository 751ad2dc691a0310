/**
 * Reads an ONNX model as data, for the inspector: the graph's inputs and outputs, opset imports, op
 * counts, and the initializers as tensors with the same stats, histograms and heatmaps as safetensors.
 *
 *   const m = readOnnx(await readFile('model.onnx'), 'model.onnx');
 *   m.inputs[0]          // { name: 'input_ids', dtype: 'I64', shape: ['batch', 'seq'] }
 *   m.opCounts[0]        // { op: 'MatMul', count: 48 }
 *   const { stats, histogram } = onnxTensorStats(m, 'transformer.h.0.attn.c_attn.weight');
 *
 * Initializers stored outside the file (external data) or of dtypes we do not decode are listed with
 * `supported: false`, never fatal.
 */
import {
  OnnxDataType,
  decodeModel,
  type OnnxModel,
  type OnnxTensor,
  type OnnxValueInfo,
} from '../graph/onnxProto';
import { bf16ToF32, decodeNumbers, f16ToF32, type NumericValues } from './dtypes';
import { CheckpointError } from './errors';
import { HeatmapAccumulator, matrixShape, type Heatmap, type HeatmapOptions } from './heatmap';
import { HistogramAccumulator, StatsAccumulator, type Histogram, type TensorStats } from './stats';

/** ONNX TensorProto.DataType → the safetensors-style dtype names used across the inspector. */
const DTYPE_NAMES: Readonly<Record<number, string>> = {
  [OnnxDataType.FLOAT]: 'F32',
  [OnnxDataType.UINT8]: 'U8',
  [OnnxDataType.INT8]: 'I8',
  [OnnxDataType.UINT16]: 'U16',
  [OnnxDataType.INT16]: 'I16',
  [OnnxDataType.INT32]: 'I32',
  [OnnxDataType.INT64]: 'I64',
  [OnnxDataType.STRING]: 'STRING',
  [OnnxDataType.BOOL]: 'BOOL',
  [OnnxDataType.FLOAT16]: 'F16',
  [OnnxDataType.DOUBLE]: 'F64',
  [OnnxDataType.UINT32]: 'U32',
  [OnnxDataType.UINT64]: 'U64',
  14: 'C64',
  15: 'C128',
  [OnnxDataType.BFLOAT16]: 'BF16',
  17: 'F8_E4M3FN',
  18: 'F8_E4M3FNUZ',
  19: 'F8_E5M2',
  20: 'F8_E5M2FNUZ',
  21: 'U4',
  22: 'I4',
};

/** Bytes per element of the dtypes this module decodes. */
const ITEM_BYTES: Readonly<Record<string, number>> = {
  F32: 4,
  U8: 1,
  I8: 1,
  U16: 2,
  I16: 2,
  I32: 4,
  I64: 8,
  BOOL: 1,
  F16: 2,
  F64: 8,
  U32: 4,
  U64: 8,
  BF16: 2,
};

export function onnxDtypeName(dataType: number): string {
  return DTYPE_NAMES[dataType] ?? `ONNX type ${dataType}`;
}

export interface OnnxValue {
  name: string;
  dtype: string;
  /** Fixed sizes as numbers, symbolic ones by name ('batch'), '?' when unknown. */
  shape: (number | string)[];
}

export interface OnnxInitializer {
  name: string;
  dtype: string;
  shape: number[];
  elements: number;
  /** Bytes of its data when decodable (elements × item size), else 0. */
  byteLength: number;
  /** False for dtypes we do not decode and for data stored outside the model file. */
  supported: boolean;
  /** Why it is not supported. */
  reason?: string;
}

export interface OnnxFile {
  name: string;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** Op type ('MatMul', or 'com.microsoft.Attention' outside the default domain) → count, most frequent first. */
  opCounts: { op: string; count: number }[];
  nodeCount: number;
  initializers: OnnxInitializer[];
  /** Values of a supported initializer as numbers (64-bit integers as Float64Array). */
  values(name: string): NumericValues;
}

const toNumber = (v: number | bigint | string | undefined): number => (v === undefined ? 0 : Number(v));

function valueOf(v: OnnxValueInfo): OnnxValue {
  const t = v.type?.tensorType;
  const dims = t?.shape?.dim ?? [];
  return {
    name: v.name,
    dtype: t ? onnxDtypeName(t.elemType) : 'unknown',
    shape: dims.map((d) => d.dimParam || (d.dimValue !== undefined ? toNumber(d.dimValue) : '?')),
  };
}

/** Decodes a tensor's data from raw_data or the typed repeated fields. */
function decodeTensor(t: OnnxTensor, dtype: string, elements: number, file: string): NumericValues {
  const name = t.name ?? '';
  let out: NumericValues;
  if (t.rawData && t.rawData.byteLength > 0) {
    if (t.rawData.byteLength !== elements * ITEM_BYTES[dtype]) {
      throw new CheckpointError(
        'bad-tensor',
        `initializer '${name}' has ${t.rawData.byteLength} bytes of raw data, its shape needs ${elements * ITEM_BYTES[dtype]}`,
        file,
      );
    }
    // a fresh, 0-aligned copy: protobufjs hands out Node Buffers (whose slice() does not copy) at any offset
    out = decodeNumbers(dtype, Uint8Array.prototype.slice.call(t.rawData));
  } else if (t.floatData?.length) out = Float32Array.from(t.floatData);
  else if (t.doubleData?.length) out = Float64Array.from(t.doubleData);
  else if (t.int64Data?.length) out = Float64Array.from(t.int64Data, (x) => Number(x));
  else if (t.int32Data?.length) {
    // ONNX keeps INT8/16, UINT8/16, BOOL and the 16-bit floats' bits in int32_data
    if (dtype === 'F16') out = f16ToF32(Uint16Array.from(t.int32Data));
    else if (dtype === 'BF16') out = bf16ToF32(Uint16Array.from(t.int32Data));
    else out = Float64Array.from(t.int32Data);
  } else out = new Float32Array(0);
  if (out.length !== elements) {
    throw new CheckpointError(
      'bad-tensor',
      `initializer '${name}' holds ${out.length} values, its shape [${(t.dims ?? []).join(', ')}] needs ${elements}`,
      file,
    );
  }
  return out;
}

/** Parses ONNX bytes (the whole model file). Throws CheckpointError for a file that is not an ONNX model. */
export function readOnnx(bytes: Uint8Array, name = '<memory>'): OnnxFile {
  let model: OnnxModel;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new CheckpointError(
      'bad-header',
      `not an ONNX model (${e instanceof Error ? e.message : String(e)}); export it with torch.onnx.export or optimum`,
      name,
    );
  }
  if (!model.graph || !Array.isArray(model.graph.node)) {
    throw new CheckpointError(
      'bad-header',
      'not an ONNX model: it has no graph; export it with torch.onnx.export or optimum',
      name,
    );
  }
  const g = model.graph;
  const counts = new Map<string, number>();
  for (const n of g.node) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  const byName = new Map<string, { tensor: OnnxTensor; info: OnnxInitializer }>();
  const initializers: OnnxInitializer[] = [];
  for (const t of g.initializer ?? []) {
    const shape = (t.dims ?? []).map(toNumber);
    const elements = shape.reduce((a, b) => a * b, 1);
    const dtype = onnxDtypeName(t.dataType);
    const hasData =
      (t.rawData?.byteLength ?? 0) > 0 ||
      !!(t.floatData?.length || t.doubleData?.length || t.int64Data?.length || t.int32Data?.length);
    const decodable = ITEM_BYTES[dtype] !== undefined;
    const info: OnnxInitializer = {
      name: t.name ?? '',
      dtype,
      shape,
      elements,
      byteLength: decodable ? elements * ITEM_BYTES[dtype] : 0,
      supported: decodable && (hasData || elements === 0),
    };
    if (!decodable) info.reason = `dtype ${dtype} is listed but not decoded`;
    else if (!info.supported) info.reason = 'its data is stored outside the model file (external data)';
    initializers.push(info);
    byName.set(info.name, { tensor: t, info });
  }
  return {
    name,
    irVersion: toNumber(model.irVersion),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: (model.opsetImport ?? []).map((o) => ({
      domain: o.domain || 'ai.onnx',
      version: toNumber(o.version),
    })),
    inputs: (g.input ?? []).filter((v) => !byName.has(v.name)).map(valueOf),
    outputs: (g.output ?? []).map(valueOf),
    opCounts: [...counts]
      .map(([op, count]) => ({ op, count }))
      .sort((a, b) => b.count - a.count || (a.op < b.op ? -1 : 1)),
    nodeCount: g.node.length,
    initializers,
    values(tensorName: string): NumericValues {
      const e = byName.get(tensorName);
      if (!e) throw new CheckpointError('not-found', `no initializer named '${tensorName}'`, name);
      if (!e.info.supported)
        throw new CheckpointError('unsupported-dtype', `'${tensorName}': ${e.info.reason}`, name);
      return decodeTensor(e.tensor, e.info.dtype, e.info.elements, name);
    },
  };
}

/** Stats and an equal-width histogram (numpy's rules, like tensorStats) of one initializer. */
export function onnxTensorStats(
  file: OnnxFile,
  name: string,
  options: { bins?: number } = {},
): { stats: TensorStats; histogram?: Histogram } {
  const v = file.values(name);
  const acc = new StatsAccumulator();
  acc.add(v);
  const stats = acc.result();
  const bins = options.bins ?? 64;
  if (bins <= 0) return { stats };
  const hist = HistogramAccumulator.equalWidth(stats.min, stats.max, bins);
  hist.add(v);
  return { stats, histogram: hist.result() };
}

/** A downsampled heatmap of one initializer seen as a matrix (like tensorHeatmap). */
export function onnxTensorHeatmap(
  file: OnnxFile,
  name: string,
  options: Omit<HeatmapOptions, 'chunkElements' | 'signal'> = {},
): Heatmap {
  const info = file.initializers.find((t) => t.name === name);
  if (!info) throw new CheckpointError('not-found', `no initializer named '${name}'`, file.name);
  const [R, C] = matrixShape(info.shape);
  const acc = new HeatmapAccumulator(
    R,
    C,
    options.maxRows ?? 256,
    options.maxCols ?? 256,
    options.pooling ?? 'maxabs',
  );
  acc.add(file.values(name));
  return acc.result();
}
