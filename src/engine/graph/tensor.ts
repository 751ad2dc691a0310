/**
 * The builder's vocabulary: dtypes, symbolic tensors with static shapes, nodes and op definitions.
 * A Tensor is a value in a Graph (an input, a parameter, a constant or an op's output); it never holds
 * data except for constants. Shapes are plain number arrays, checked when an op is added.
 */
import type { Graph } from './graph';

export type DType = 'f32' | 'f16' | 'f64' | 'i64' | 'i32' | 'bool';
export const FLOAT_DTYPES: readonly DType[] = ['f32', 'f16', 'f64'];
export const isFloat = (d: DType): boolean => FLOAT_DTYPES.includes(d);

/** An attribute value: integer, integer list, string, {f: float}, {floats}, or a tensor constant. */
export type Attr = number | number[] | string | { f: number } | { floats: number[] } | { tensor: ConstData };
export type Attrs = Record<string, Attr>;

/** Constant payload: typed array matching the dtype (f16 as Uint16Array bits, bool as Uint8Array). */
export type ConstArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
export interface ConstData {
  dtype: DType;
  shape: number[];
  data: ConstArray;
}

export type TensorKind = 'input' | 'param' | 'const' | 'op';

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly kind: TensorKind,
    readonly dtype: DType,
    readonly shape: readonly number[],
    public name: string,
    readonly node?: Node,
    readonly index = 0,
    readonly value?: ConstData,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  toString(): string {
    return `${this.name} ${this.dtype}[${this.shape.join(', ')}]`;
  }
}

/**
 * A gradient rule: given the node and the gradients of its outputs (undefined where an output gets no
 * gradient), returns the gradient of each input (undefined where `need[i]` is false or none flows).
 */
export type GradRule = (
  g: Graph,
  node: Node,
  dy: (Tensor | undefined)[],
  need: boolean[],
) => (Tensor | undefined)[];

/** An ONNX op as the builder knows it: its type, domain and (for differentiable ops) its gradient rule. */
export interface OpDef {
  type: string;
  domain?: string;
  grad?: GradRule;
}

export interface Node {
  id: number;
  def: OpDef;
  inputs: Tensor[];
  attrs: Attrs;
  outputs: Tensor[];
  name: string;
}

/** A build-time error: says which op failed, on what shapes, and what to change. */
export class GraphError extends Error {
  override name = 'GraphError';
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const fmt = (t: Tensor): string => `${t.dtype}[${t.shape.join(', ')}]`;
export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Normalizes a possibly negative axis against a rank; throws naming the op when out of range. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw new GraphError(`${op}: axis ${axis} is out of range for a rank-${rank} tensor`);
  return a;
}

/** Numpy broadcasting of two shapes; throws naming the op and both shapes when they don't broadcast. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1)
      throw new GraphError(
        `${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast (dim ${i}: ${x} vs ${y}); reshape or expand one side`,
      );
    out.push(x === 1 ? y : x);
  }
  return out;
}
