/**
 * The graph builder: symbolic tensors with static shapes, ops added with build-time shape checks,
 * shared subexpressions reused (an op with the same inputs and attributes is built once).
 *
 *   const g = new Graph();
 *   const x = g.input('x', 'f32', [B, D]);            // (B, D)
 *   const w = g.param('fc.weight', [D, H]);           // (D, H) trainable
 *   const y = g.gelu(g.linear(x, w));                 // (B, H)
 *   g.output('y', y);
 *   const bytes = emitOnnx(g);                        // ONNX ModelProto for onnxruntime
 *
 * The op functions live in ops/*.ts, each beside its gradient rule; the methods here only forward to them.
 */
import {
  GraphError,
  broadcastShapes,
  isFloat,
  sameShape,
  Tensor,
  type Attrs,
  type ConstArray,
  type ConstData,
  type DType,
  type Node,
  type OpDef,
} from './tensor';
import * as ew from './ops/elementwise';
import * as mm from './ops/matmul';
import * as sh from './ops/shape';
import * as rd from './ops/reduce';
import * as nn from './ops/nn';

type TN = ew.TensorOrNumber;

export interface GraphOptions {
  name?: string;
  /** How Gather's gradient is built: ScatterElements(add) (default) or one-hot MatMul. */
  embeddingGrad?: 'scatter' | 'onehot';
  /**
   * Where the graph runs: 'cpu' (default) or 'gpu', whose variants avoid ops that ORT's GPU providers
   * run on the CPU (runtime/webgpuKernels.json): cross-entropy without SoftmaxCrossEntropyLoss, the
   * embedding gradient without OneHot or ScatterElements. CPU graphs stay as they were tuned.
   */
  target?: GraphTarget;
}

/** Where a graph runs: the CPU provider, or a GPU provider (webgpu, cuda). */
export type GraphTarget = 'cpu' | 'gpu';

/** The graph target of an execution provider ('cpu' or none: 'cpu'; any other: 'gpu'). */
export const targetOf = (ep: string | undefined): GraphTarget => (!ep || ep === 'cpu' ? 'cpu' : 'gpu');

export interface GraphOutput {
  name: string;
  tensor: Tensor;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly tensors: Tensor[] = [];
  readonly inputs: Tensor[] = [];
  readonly params: Tensor[] = [];
  readonly outputs: GraphOutput[] = [];
  readonly options: Required<GraphOptions>;
  private readonly byKey = new Map<string, Tensor[]>();
  private readonly names = new Set<string>();
  private prefix = '';

  constructor(options: GraphOptions = {}) {
    this.options = { name: 'llm-lens', embeddingGrad: 'scatter', target: 'cpu', ...options };
  }

  // ---- sources --------------------------------------------------------------------------------

  /** A data input fed at run time (token ids, targets, learning rate, …). */
  input(name: string, dtype: DType, shape: number[]): Tensor {
    const t = this.source('input', name, dtype, shape);
    this.inputs.push(t);
    return t;
  }

  /** A trainable parameter: a graph input whose gradient autodiff can derive. */
  param(name: string, shape: number[], dtype: DType = 'f32'): Tensor {
    if (!isFloat(dtype)) throw new GraphError(`param ${name}: parameters must be float, got ${dtype}`);
    const t = this.source('param', name, dtype, shape);
    this.params.push(t);
    return t;
  }

  /** A constant (an ONNX initializer); identical constants are shared. */
  constant(values: ArrayLike<number | bigint>, dtype: DType, shape: number[], name?: string): Tensor {
    const data = this.typedArray(dtype, values);
    if (data.length !== shape.reduce((a, b) => a * b, 1))
      throw new GraphError(`constant: ${data.length} values for shape [${shape.join(', ')}]`);
    const key = `const|${dtype}|${shape.join(',')}|${Array.from(data as ArrayLike<number | bigint>, String).join(',')}`;
    const hit = this.byKey.get(key);
    if (hit) return hit[0];
    const value: ConstData = { dtype, shape, data };
    const t = new Tensor(
      this,
      this.tensors.length,
      'const',
      dtype,
      shape,
      this.unique(name ?? `const_${this.tensors.length}`),
      undefined,
      0,
      value,
    );
    this.tensors.push(t);
    this.byKey.set(key, [t]);
    return t;
  }

  scalar(x: number, dtype: DType): Tensor {
    return this.constant([x], dtype, []); // ()
  }

  constI64(values: number[], shape: number[] = [values.length]): Tensor {
    return this.constant(values, 'i64', shape);
  }

  typedArray(dtype: DType, values: ArrayLike<number | bigint>): ConstArray {
    const nums = Array.from(values, Number);
    switch (dtype) {
      case 'f32':
        return Float32Array.from(nums);
      case 'f64':
        return Float64Array.from(nums);
      case 'i64':
        return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
      case 'i32':
        return Int32Array.from(nums);
      case 'bool':
        return Uint8Array.from(nums.map((v) => (v ? 1 : 0)));
      case 'f16':
        return Uint16Array.from(nums.map(toHalfBits));
    }
  }

  // ---- nodes ----------------------------------------------------------------------------------

  /**
   * Adds a node (or returns the outputs of an identical one: same op, inputs and attributes).
   * Op functions call this after checking shapes; `outs` are the output dtypes and shapes.
   */
  node(
    def: OpDef,
    inputs: Tensor[],
    attrs: Attrs,
    outs: readonly { dtype: DType; shape: readonly number[] }[],
  ): Tensor[] {
    for (const t of inputs)
      if (t.graph !== this) throw new GraphError(`${def.type}: input ${t.name} belongs to another graph`);
    const key = `${def.domain ?? ''}:${def.type}|${inputs.map((t) => t.id).join(',')}|${JSON.stringify(attrs)}`;
    const hit = this.byKey.get(key);
    if (hit) return hit;
    const id = this.nodes.length;
    const base = this.unique(`${this.prefix}${def.type}_${id}`);
    const node: Node = { id, def, inputs, attrs, outputs: [], name: base };
    outs.forEach((o, i) => {
      const name = outs.length === 1 ? base : this.unique(`${base}:${i}`);
      const t = new Tensor(this, this.tensors.length, 'op', o.dtype, [...o.shape], name, node, i);
      this.tensors.push(t);
      node.outputs.push(t);
    });
    this.nodes.push(node);
    this.byKey.set(key, node.outputs);
    return node.outputs;
  }

  /** Runs `fn` with names prefixed by `scope/` (e.g. `h.3.attn/`), so the emitted graph reads like the model. */
  scope<R>(scope: string, fn: () => R): R {
    const saved = this.prefix;
    this.prefix = `${saved}${scope}/`;
    try {
      return fn();
    } finally {
      this.prefix = saved;
    }
  }

  /** Gives an op's output a readable name (e.g. `h.0.attn.qkv`); returns the tensor. */
  named(t: Tensor, name: string): Tensor {
    if (t.kind !== 'op' || t.name === name) return t;
    this.names.delete(t.name);
    t.name = this.unique(name);
    return t;
  }

  /** Marks a tensor as a graph output under `name`. */
  output(name: string, t: Tensor): void {
    if (this.outputs.some((o) => o.name === name)) throw new GraphError(`output ${name} is declared twice`);
    this.outputs.push({ name, tensor: t });
  }

  /** True when t depends on a parameter (so autodiff may need its gradient). */
  isDifferentiable(t: Tensor): boolean {
    if (t.kind === 'param') return true;
    return !!t.node?.inputs.some((i) => this.isDifferentiable(i));
  }

  broadcastShape(op: string, a: readonly number[], b: readonly number[]): number[] {
    const out = broadcastShapes(op, a, b);
    if (!sameShape(out, b))
      throw new GraphError(`${op}: cannot expand [${a.join(', ')}] to [${b.join(', ')}]`);
    return out;
  }

  private source(kind: 'input' | 'param', name: string, dtype: DType, shape: number[]): Tensor {
    if (this.names.has(name)) throw new GraphError(`${kind} ${name}: the name is already used in this graph`);
    if (shape.some((d) => !Number.isInteger(d) || d <= 0))
      throw new GraphError(`${kind} ${name}: shape [${shape.join(', ')}] must be positive integers`);
    const t = new Tensor(this, this.tensors.length, kind, dtype, [...shape], name);
    this.names.add(name);
    this.tensors.push(t);
    return t;
  }

  private unique(name: string): string {
    let n = name;
    for (let i = 1; this.names.has(n); i++) n = `${name}.${i}`;
    this.names.add(n);
    return n;
  }

  // ---- ops (see ops/*.ts for shapes and gradient rules) -----------------------------------------

  add(a: TN, b: TN): Tensor {
    return ew.add(this, a, b);
  }
  sub(a: TN, b: TN): Tensor {
    return ew.sub(this, a, b);
  }
  mul(a: TN, b: TN): Tensor {
    return ew.mul(this, a, b);
  }
  div(a: TN, b: TN): Tensor {
    return ew.div(this, a, b);
  }
  pow(a: Tensor, b: TN): Tensor {
    return ew.pow(this, a, b);
  }
  sqrt(x: Tensor): Tensor {
    return ew.sqrt(this, x);
  }
  exp(x: Tensor): Tensor {
    return ew.exp(this, x);
  }
  log(x: Tensor): Tensor {
    return ew.log(this, x);
  }
  neg(x: Tensor): Tensor {
    return ew.neg(this, x);
  }
  tanh(x: Tensor): Tensor {
    return ew.tanh(this, x);
  }
  sigmoid(x: Tensor): Tensor {
    return ew.sigmoid(this, x);
  }
  cos(x: Tensor): Tensor {
    return ew.cos(this, x);
  }
  sin(x: Tensor): Tensor {
    return ew.sin(this, x);
  }
  erf(x: Tensor): Tensor {
    return ew.erf(this, x);
  }
  identity(x: Tensor): Tensor {
    return ew.identity(this, x);
  }
  where(cond: Tensor, a: TN, b: TN): Tensor {
    return ew.where(this, cond, a, b);
  }
  cast(x: Tensor, to: DType): Tensor {
    return ew.cast(this, x, to);
  }
  equal(a: TN, b: TN): Tensor {
    return ew.equal(this, a, b);
  }
  less(a: TN, b: TN): Tensor {
    return ew.less(this, a, b);
  }
  min(a: TN, b: TN): Tensor {
    return ew.min(this, a, b);
  }
  max(a: TN, b: TN): Tensor {
    return ew.max(this, a, b);
  }

  matmul(a: Tensor, b: Tensor, o?: mm.MatmulOptions): Tensor {
    return mm.matmul(this, a, b, o);
  }
  linear(x: Tensor, w: Tensor, bias?: Tensor, o?: { transB?: boolean }): Tensor {
    return mm.linear(this, x, w, bias, o);
  }

  reshape(x: Tensor, shape: number[]): Tensor {
    return sh.reshape(this, x, shape);
  }
  transpose(x: Tensor, perm: number[]): Tensor {
    return sh.transpose(this, x, perm);
  }
  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    return sh.slice(this, x, axis, start, end);
  }
  split(x: Tensor, sizes: number[], axis: number): Tensor[] {
    return sh.split(this, x, sizes, axis);
  }
  concat(xs: Tensor[], axis: number): Tensor {
    return sh.concat(this, xs, axis);
  }
  expand(x: Tensor, shape: number[]): Tensor {
    return sh.expand(this, x, shape);
  }
  unsqueeze(x: Tensor, axis: number): Tensor {
    return sh.unsqueeze(this, x, axis);
  }
  gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
    return sh.gather(this, data, indices, axis);
  }
  zeros(shape: readonly number[], dtype: DType): Tensor {
    return sh.zeros(this, shape, dtype);
  }

  reduceSum(x: Tensor, axes?: number[], keepdims = false): Tensor {
    return rd.reduceSum(this, x, axes, keepdims);
  }
  reduceMean(x: Tensor, axes?: number[], keepdims = false): Tensor {
    return rd.reduceMean(this, x, axes, keepdims);
  }
  reduceMax(x: Tensor, axes?: number[], keepdims = false): Tensor {
    return rd.reduceMax(this, x, axes, keepdims);
  }
  reduceSumSquare(x: Tensor, axes?: number[], keepdims = false): Tensor {
    return rd.reduceSumSquare(this, x, axes, keepdims);
  }

  softmax(x: Tensor, axis = -1): Tensor {
    return nn.softmax(this, x, axis);
  }
  logSoftmax(x: Tensor, axis = -1): Tensor {
    return nn.logSoftmax(this, x, axis);
  }
  layerNorm(x: Tensor, w: Tensor, b?: Tensor, eps = 1e-5): Tensor {
    return nn.layerNorm(this, x, w, b, eps);
  }
  normalize(x: Tensor, eps = 1e-5): Tensor {
    return nn.normalize(this, x, eps);
  }
  rmsNorm(x: Tensor, w: Tensor, eps = 1e-6): Tensor {
    return nn.rmsNorm(this, x, w, eps);
  }
  gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
    return nn.gelu(this, x, approximate);
  }
  trilu(x: Tensor, upper = false, k = 0): Tensor {
    return nn.trilu(this, x, upper, k);
  }
  causalMask(T: number, dtype: DType = 'f32'): Tensor {
    return nn.causalMask(this, T, dtype);
  }
  crossEntropy(logits: Tensor, targets: Tensor, o?: nn.CrossEntropyOptions): Tensor {
    return nn.crossEntropy(this, logits, targets, o);
  }
  tokenLogProbs(logits: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
    return nn.tokenLogProbs(this, logits, targets, ignoreIndex);
  }
}

/** IEEE half-precision bits of a number (round to nearest even). */
function toHalfBits(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (((u >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  const half = sign | (exp << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half;
}
