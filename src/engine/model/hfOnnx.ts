/**
 * A GPT as one ONNX decoder graph in the layout of Hugging Face Optimum's GPT-2 export, which
 * transformers.js (`AutoModelForCausalLM`, `pipeline('text-generation')`) and any onnxruntime load:
 *
 *   inputs   input_ids (batch, seq) i64, attention_mask (batch, past + seq) i64 (1 = token, 0 = padding),
 *            position_ids (batch, seq) i64, past_key_values.{l}.key / .value (batch, n_head, past, head_dim) f32
 *   outputs  logits (batch, seq, vocab) f32, present.{l}.key / .value (batch, n_head, past + seq, head_dim) f32
 *
 * Every dimension but the model's is symbolic: the first call passes the prompt with an empty cache
 * (past = 0), later calls one token each with the previous call's `present` as `past_key_values`. The
 * weights are initializers under their GPT-2 names and shapes (gpt2.ts, the one list every graph of the
 * model declares); the graph is written node by node here because the builder's graphs (graph/) have
 * static shapes.
 *
 *   const bytes = encodeModel(buildHfDecoderModel(config, weights))   // → onnx/model.onnx
 */
import {
  OnnxAttributeType,
  OnnxDataType,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from '../graph/onnxProto';
import type { HostTensor } from '../runtime/session';
import { gpt2, gpt2Names } from './gpt2';
import type { GptModelConfig } from './inference';

/** Opset 17: LayerNormalization's first version, so older runtimes (onnxruntime-web in browsers) load it. */
export const HF_ONNX_OPSET = 17;

/** The most negative float32: masked attention scores (HF uses it rather than -inf, so padded rows stay finite). */
const MASKED = -3.4028234663852886e38;

type Attr = number | number[] | { f: number };

function attributeOf(name: string, v: Attr): OnnxAttribute {
  if (typeof v === 'number') return { name, type: OnnxAttributeType.INT, i: v };
  if (Array.isArray(v)) return { name, type: OnnxAttributeType.INTS, ints: v };
  return { name, type: OnnxAttributeType.FLOAT, f: v.f };
}

/** Writes nodes with readable, unique output names. */
class Nodes {
  readonly node: OnnxNode[] = [];
  readonly initializer: OnnxTensor[] = [];
  private n = 0;

  add(
    opType: string,
    input: string[],
    attrs: Record<string, Attr> = {},
    out?: string | string[],
    name?: string,
  ): string[] {
    const id = this.n++;
    const outputs = Array.isArray(out) ? out : [out ?? `${name ?? opType}_${id}`];
    const attribute = Object.entries(attrs).map(([k, v]) => attributeOf(k, v));
    this.node.push({ opType, input, output: outputs, name: `${name ?? opType}_${id}`, attribute });
    return outputs;
  }

  op(opType: string, input: string[], attrs: Record<string, Attr> = {}, name?: string): string {
    return this.add(opType, input, attrs, undefined, name)[0];
  }

  i64(name: string, values: number[], dims = [values.length]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    this.initializer.push({ name, dims, dataType: OnnxDataType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  f32(name: string, values: number[] | Float32Array, dims: number[]): string {
    const data = Float32Array.from(values);
    this.initializer.push({ name, dims, dataType: OnnxDataType.FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  }
}

const dim = (d: number | string) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
const info = (name: string, elemType: number, dims: (number | string)[]): OnnxValueInfo => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map(dim) } } },
});

/** The decoder graph with the weights inside. `weights` are f32 in GPT-2 naming and Conv1D [in, out] layout. */
export function buildHfDecoderModel(c: GptModelConfig, weights: Record<string, HostTensor>): OnnxModel {
  const C = c.nEmbd;
  const nh = c.nHead;
  if (C % nh) throw new Error(`ONNX export: n_embd ${C} is not divisible by n_head ${nh}`);
  const hd = C / nh;
  const g = new Nodes();
  const shapes = new Map(gpt2.params({ ...c, bias: true }).map((p) => [p.name, p.shape])); // biases are optional when !c.bias
  const weight = (name: string, optional = false): string | undefined => {
    const shape = shapes.get(name)!;
    const w = weights[name];
    if (!w) {
      if (optional) return undefined;
      throw new Error(`ONNX export: the checkpoint has no ${name}`);
    }
    if (!(w.data instanceof Float32Array))
      throw new Error(`ONNX export: ${name} is ${w.dtype}, expected f32`);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new Error(
        `ONNX export: ${name} has shape [${w.shape.join(', ')}], the config implies [${shape.join(', ')}]`,
      );
    }
    g.initializer.push({
      name,
      dims: shape,
      dataType: OnnxDataType.FLOAT,
      rawData: new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength).slice(),
    });
    return name;
  };
  const bias = (prefix: string) => weight(`${prefix}.bias`, !c.bias);
  const linear = (x: string, prefix: string): string => {
    const y = g.op('MatMul', [x, weight(`${prefix}.weight`)!], {}, prefix);
    const b = bias(prefix);
    return b ? g.op('Add', [y, b], {}, prefix) : y;
  };
  const layerNorm = (x: string, prefix: string): string => {
    const b = bias(prefix);
    return g.op(
      'LayerNormalization',
      [x, weight(`${prefix}.weight`)!, ...(b ? [b] : [])],
      { axis: -1, epsilon: { f: 1e-5 } },
      prefix,
    );
  };

  // shared constants
  const zero = g.i64('const/zero', [0], []);
  const one = g.i64('const/one', [1], []);
  const axis0 = g.i64('const/axes_0', [0]);
  const axis1 = g.i64('const/axes_1', [1]);
  const axes12 = g.i64('const/axes_1_2', [1, 2]);
  const headShape = g.i64('const/head_shape', [0, 0, nh, hd]); // (batch, seq, n_head, head_dim); 0 keeps the input's dim
  const mergedShape = g.i64('const/merged_shape', [0, 0, C]);
  const split = g.i64('const/qkv_split', [C, C, C]);
  const scale = g.f32('const/attn_scale', [1 / Math.sqrt(hd)], []);
  const fZero = g.f32('const/zero_f', [0], []);
  const fMasked = g.f32('const/masked', [MASKED], []);

  // additive attention bias (batch, 1, seq, past + seq): causal over absolute positions, and padding
  const total = g.op(
    'Squeeze',
    [g.add('Shape', ['attention_mask'], { start: 1, end: 2 }, undefined, 'mask/total')[0], axis0],
    {},
    'mask/total',
  ); // ()
  const seq = g.op(
    'Squeeze',
    [g.add('Shape', ['input_ids'], { start: 1, end: 2 }, undefined, 'mask/seq')[0], axis0],
    {},
    'mask/seq',
  ); // ()
  const rows = g.op('Range', [g.op('Sub', [total, seq], {}, 'mask/past'), total, one], {}, 'mask/rows'); // (seq) absolute query positions
  const cols = g.op('Range', [zero, total, one], {}, 'mask/cols'); // (past + seq)
  const causal = g.op(
    'LessOrEqual',
    [g.op('Unsqueeze', [cols, axis0], {}, 'mask/cols'), g.op('Unsqueeze', [rows, axis1], {}, 'mask/rows')],
    {},
    'mask/causal',
  ); // (seq, total)
  const keep = g.op(
    'Unsqueeze',
    [g.op('Cast', ['attention_mask'], { to: OnnxDataType.BOOL }, 'mask/keep'), axes12],
    {},
    'mask/keep',
  ); // (batch, 1, 1, total)
  const attnBias = g.op(
    'Where',
    [g.op('And', [causal, keep], {}, 'mask/allowed'), fZero, fMasked],
    {},
    'mask/bias',
  ); // (batch, 1, seq, total)

  const wte = weight(gpt2Names.wte)!;
  let x = g.op(
    'Add',
    [
      g.op('Gather', [wte, 'input_ids'], {}, 'wte'),
      g.op('Gather', [weight(gpt2Names.wpe)!, 'position_ids'], {}, 'wpe'),
    ],
    {},
    'embed',
  ); // (batch, seq, C)

  for (let l = 0; l < c.nLayer; l++) {
    const n = gpt2Names.layer(l);
    const qkv = linear(layerNorm(x, n.ln1), n.cAttn); // (batch, seq, 3C)
    const [q, k, v] = g.add('Split', [qkv, split], { axis: 2 }, [
      `${n.attn}/q`,
      `${n.attn}/k`,
      `${n.attn}/v`,
    ]);
    const heads = (t: string) =>
      g.op('Transpose', [g.op('Reshape', [t, headShape], {}, n.attn)], { perm: [0, 2, 1, 3] }, n.attn); // (batch, nh, seq, hd)
    const key = g.add('Concat', [`past_key_values.${l}.key`, heads(k)], { axis: 2 }, `present.${l}.key`)[0]; // (batch, nh, total, hd)
    const value = g.add(
      'Concat',
      [`past_key_values.${l}.value`, heads(v)],
      { axis: 2 },
      `present.${l}.value`,
    )[0];
    const scores = g.op(
      'Mul',
      [
        g.op(
          'MatMul',
          [heads(q), g.op('Transpose', [key], { perm: [0, 1, 3, 2] }, n.attn)],
          {},
          `${n.attn}/scores`,
        ),
        scale,
      ],
      {},
      n.attn,
    );
    const probs = g.op(
      'Softmax',
      [g.op('Add', [scores, attnBias], {}, `${n.attn}/masked`)],
      { axis: -1 },
      `${n.attn}/probs`,
    ); // (batch, nh, seq, total)
    const y = g.op(
      'Reshape',
      [
        g.op('Transpose', [g.op('MatMul', [probs, value], {}, n.attn)], { perm: [0, 2, 1, 3] }, n.attn),
        mergedShape,
      ],
      {},
      n.attn,
    );
    x = g.op('Add', [x, linear(y, n.attnProj)], {}, `${n.h}/residual`);
    const u = linear(layerNorm(x, n.ln2), n.cFc); // (batch, seq, 4C)
    x = g.op('Add', [x, linear(gelu(g, u, c.gelu ?? 'none', n.mlp), n.mlpProj)], {}, `${n.h}/residual`);
  }
  const xf = layerNorm(x, gpt2Names.lnF);
  g.add('MatMul', [xf, g.op('Transpose', [wte], { perm: [1, 0] }, 'lm_head')], {}, 'logits', 'lm_head'); // tied lm_head: wteᵀ, folded at load

  const f = OnnxDataType.FLOAT;
  const kv = (kind: 'past_key_values' | 'present', len: string) =>
    Array.from({ length: c.nLayer }, (_, l) =>
      ['key', 'value'].map((s) => info(`${kind}.${l}.${s}`, f, ['batch_size', nh, len, hd])),
    ).flat();
  return {
    irVersion: 8,
    producerName: 'llm-lens',
    opsetImport: [{ domain: '', version: HF_ONNX_OPSET }],
    docString:
      'GPT-2-style decoder with a key/value cache, exported by LLM Lens (Hugging Face Optimum input/output names).',
    graph: {
      name: 'llm-lens-gpt2-decoder',
      node: g.node,
      initializer: g.initializer,
      input: [
        info('input_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']),
        info('attention_mask', OnnxDataType.INT64, ['batch_size', 'total_sequence_length']),
        info('position_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']),
        ...kv('past_key_values', 'past_sequence_length'),
      ],
      output: [
        info('logits', f, ['batch_size', 'sequence_length', c.vocabSize]),
        ...kv('present', 'total_sequence_length'),
      ],
    },
  };
}

/** GELU from standard ops: exact ½x(1 + erf(x/√2)) or the tanh approximation. */
function gelu(g: Nodes, x: string, kind: 'none' | 'tanh', scope: string): string {
  const k = (name: string, v: number) => g.f32(`const/${name}`, [v], []);
  if (kind === 'tanh') {
    if (!g.initializer.some((t) => t.name === 'const/gelu_c')) {
      k('gelu_c', 0.044715);
      k('gelu_k', Math.sqrt(2 / Math.PI));
    }
    const cube = g.op('Mul', [g.op('Mul', [x, x], {}, scope), x], {}, scope);
    const inner = g.op(
      'Mul',
      [g.op('Add', [x, g.op('Mul', [cube, 'const/gelu_c'], {}, scope)], {}, scope), 'const/gelu_k'],
      {},
      scope,
    );
    return halfTimes(g, x, g.op('Tanh', [inner], {}, scope), scope);
  }
  if (!g.initializer.some((t) => t.name === 'const/sqrt1_2')) k('sqrt1_2', Math.SQRT1_2);
  return halfTimes(g, x, g.op('Erf', [g.op('Mul', [x, 'const/sqrt1_2'], {}, scope)], {}, scope), scope);
}

/** ½·x·(1 + t) */
function halfTimes(g: Nodes, x: string, t: string, scope: string): string {
  if (!g.initializer.some((i) => i.name === 'const/half')) {
    g.f32('const/half', [0.5], []);
    g.f32('const/one_f', [1], []);
  }
  return g.op(
    'Mul',
    [g.op('Mul', [x, 'const/half'], {}, scope), g.op('Add', [t, 'const/one_f'], {}, scope)],
    {},
    `${scope}/gelu`,
  );
}
