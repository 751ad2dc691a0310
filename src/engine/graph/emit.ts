/**
 * ONNX emit: a Graph's outputs and everything they depend on, as a ModelProto (opset 20, plus
 * com.microsoft when FusedMatMul is used). Unused nodes are dropped; constants become initializers;
 * tensor names are the builder's (`h.3.attn.c_attn.weight`, `grad/h.3.attn.c_attn.weight`) so the
 * file reads well in Netron.
 */
import type { Graph } from './graph';
import {
  encodeModel,
  OnnxAttributeType,
  OnnxDataType,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './onnxProto';
import { GraphError, type Attr, type ConstData, type DType, type Tensor } from './tensor';

export const OPSET = 20;

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, f64: 8, i64: 8, i32: 4, bool: 1 };

export const ONNX_DTYPE: Record<DType, number> = {
  f32: OnnxDataType.FLOAT,
  f16: OnnxDataType.FLOAT16,
  f64: OnnxDataType.DOUBLE,
  i64: OnnxDataType.INT64,
  i32: OnnxDataType.INT32,
  bool: OnnxDataType.BOOL,
};

function tensorProto(c: ConstData, name?: string): OnnxTensor {
  const raw = new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  return { name, dims: c.shape, dataType: ONNX_DTYPE[c.dtype], rawData: raw.slice() };
}

function toAttribute(name: string, v: Attr): OnnxAttribute {
  if (typeof v === 'number') return { name, type: OnnxAttributeType.INT, i: v };
  if (typeof v === 'string') return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: OnnxAttributeType.INTS, ints: v };
  if ('f' in v) return { name, type: OnnxAttributeType.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: OnnxAttributeType.FLOATS, floats: v.floats };
  return { name, type: OnnxAttributeType.TENSOR, t: tensorProto(v.tensor) };
}

const valueInfo = (name: string, t: Tensor): OnnxValueInfo => ({
  name,
  type: {
    tensorType: { elemType: ONNX_DTYPE[t.dtype], shape: { dim: t.shape.map((d) => ({ dimValue: d })) } },
  },
});

/** Builds the ModelProto object for the graph's declared outputs. */
export function toOnnxModel(g: Graph): OnnxModel {
  if (!g.outputs.length)
    throw new GraphError('emit: the graph has no outputs; call g.output(name, tensor) first');
  const needed = new Set<number>();
  const used = new Set<number>();
  const stack = g.outputs.map((o) => o.tensor);
  while (stack.length) {
    const t = stack.pop()!;
    if (used.has(t.id)) continue;
    used.add(t.id);
    if (t.node && !needed.has(t.node.id)) {
      needed.add(t.node.id);
      stack.push(...t.node.inputs);
    }
  }
  // Output names: rename the producing tensor when it is free, else add an Identity.
  const rename = new Map<number, string>();
  const extra: { name: string; tensor: Tensor }[] = [];
  const taken = new Set(
    g.tensors.filter((t) => t.kind !== 'op' || needed.has(t.node!.id)).map((t) => t.name),
  );
  for (const { name, tensor } of g.outputs) {
    if (tensor.name === name && !rename.has(tensor.id)) continue;
    if (
      tensor.kind === 'op' &&
      !rename.has(tensor.id) &&
      !taken.has(name) &&
      !g.outputs.some((o) => o.tensor !== tensor && o.tensor.name === name)
    ) {
      rename.set(tensor.id, name);
    } else {
      if (taken.has(name) && g.tensors.some((t) => t.name === name && used.has(t.id) && t !== tensor))
        throw new GraphError(`emit: output name ${name} is already a tensor of the graph`);
      extra.push({ name, tensor });
    }
  }
  const nameOf = (t: Tensor) => rename.get(t.id) ?? t.name;
  const nodes: OnnxNode[] = [];
  let msDomain = false;
  for (const n of g.nodes) {
    if (!needed.has(n.id)) continue;
    if (n.def.domain) msDomain = true;
    const attribute = Object.entries(n.attrs)
      .filter(([k]) => !k.endsWith('_'))
      .map(([k, v]) => toAttribute(k, v));
    nodes.push({
      opType: n.def.type,
      domain: n.def.domain ?? '',
      input: n.inputs.map(nameOf),
      output: n.outputs.map(nameOf),
      name: n.name,
      attribute,
    });
  }
  for (const e of extra)
    nodes.push({ opType: 'Identity', input: [nameOf(e.tensor)], output: [e.name], name: `output/${e.name}` });
  const sources = g.tensors.filter((t) => used.has(t.id) && (t.kind === 'input' || t.kind === 'param'));
  const consts = g.tensors.filter((t) => used.has(t.id) && t.kind === 'const');
  return {
    irVersion: 9,
    producerName: 'llm-lens',
    opsetImport: [
      { domain: '', version: OPSET },
      ...(msDomain ? [{ domain: 'com.microsoft', version: 1 }] : []),
    ],
    graph: {
      name: g.options.name,
      node: nodes,
      initializer: consts.map((t) => tensorProto(t.value!, t.name)),
      input: sources.map((t) => valueInfo(t.name, t)),
      output: g.outputs.map((o) => valueInfo(o.name, o.tensor)),
    },
  };
}

/** The graph as ONNX bytes, ready for onnxruntime (`createSession`) or a `.onnx` file. */
export function emitOnnx(g: Graph): Uint8Array {
  return encodeModel(toOnnxModel(g));
}
