/**
 * Elementwise ops with numpy broadcasting, each with its gradient rule beside it.
 * A broadcast operand's gradient is summed back to its own shape (`sumTo`).
 */
import type { Graph } from '../graph';
import { broadcastShapes, fmt, GraphError, isFloat, sameShape, type OpDef, type Tensor } from '../tensor';

export type TensorOrNumber = Tensor | number;

/** Sums a broadcast gradient back to `shape`: ReduceSum over the broadcast axes, then Reshape. */
export function sumTo(g: Graph, dy: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(dy.shape, shape)) return dy;
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++)
    if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  const summed = axes.length ? g.reduceSum(dy, axes, true) : dy; // (1.., kept dims)
  return g.reshape(summed, [...shape]); // (shape)
}

/** Turns a number into a scalar constant of the other operand's dtype; checks that dtypes agree. */
export function operands(g: Graph, op: string, a: TensorOrNumber, b: TensorOrNumber): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number')
    throw new GraphError(`${op}: at least one operand must be a tensor`);
  const x = typeof a === 'number' ? g.scalar(a, (b as Tensor).dtype) : a;
  const y = typeof b === 'number' ? g.scalar(b, x.dtype) : b;
  if (x.dtype !== y.dtype)
    throw new GraphError(`${op}: operand dtypes differ (${fmt(x)} vs ${fmt(y)}); Cast one side to match`);
  return [x, y];
}

function binary(
  g: Graph,
  def: OpDef,
  a: TensorOrNumber,
  b: TensorOrNumber,
  outDtype?: Tensor['dtype'],
): Tensor {
  const [x, y] = operands(g, def.type, a, b);
  const shape = broadcastShapes(def.type, x.shape, y.shape); // broadcast(x, y)
  return g.node(def, [x, y], {}, [{ dtype: outDtype ?? x.dtype, shape }])[0];
}

function unary(g: Graph, def: OpDef, x: Tensor, floatOnly = true): Tensor {
  if (floatOnly && !isFloat(x.dtype))
    throw new GraphError(`${def.type}: needs a float tensor, got ${fmt(x)}; Cast it to f32 first`);
  return g.node(def, [x], {}, [{ dtype: x.dtype, shape: x.shape }])[0]; // same shape as x
}

/** The value of a one-element constant, or undefined. */
export function constScalar(t: Tensor): number | undefined {
  if (t.kind !== 'const' || t.size !== 1 || !t.value) return undefined;
  return Number(t.value.data[0]);
}

// ---- Add / Sub / Mul / Div / Pow -------------------------------------------------------------

const AddOp: OpDef = {
  type: 'Add',
  grad: (g, n, [dy], need) => [
    need[0] ? sumTo(g, dy!, n.inputs[0].shape) : undefined,
    need[1] ? sumTo(g, dy!, n.inputs[1].shape) : undefined,
  ],
};
export const add = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(g, AddOp, a, b);

const SubOp: OpDef = {
  type: 'Sub',
  grad: (g, n, [dy], need) => [
    need[0] ? sumTo(g, dy!, n.inputs[0].shape) : undefined,
    need[1] ? sumTo(g, g.neg(dy!), n.inputs[1].shape) : undefined,
  ],
};
export const sub = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(g, SubOp, a, b);

const MulOp: OpDef = {
  type: 'Mul',
  grad: (g, n, [dy], need) => {
    const [a, b] = n.inputs;
    return [
      need[0] ? sumTo(g, g.mul(dy!, b), a.shape) : undefined,
      need[1] ? sumTo(g, g.mul(dy!, a), b.shape) : undefined,
    ];
  },
};
export const mul = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(g, MulOp, a, b);

// d(a/b) = da/b - a·db/b² = da/b - y·db/b
const DivOp: OpDef = {
  type: 'Div',
  grad: (g, n, [dy], need) => {
    const [a, b] = n.inputs;
    const y = n.outputs[0];
    const da = need[0] ? sumTo(g, g.div(dy!, b), a.shape) : undefined;
    const db = need[1] ? sumTo(g, g.neg(g.div(g.mul(dy!, y), b)), b.shape) : undefined;
    return [da, db];
  },
};
export const div = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(g, DivOp, a, b);

// d(a^b) = b·a^(b-1)·da + a^b·ln(a)·db
const PowOp: OpDef = {
  type: 'Pow',
  grad: (g, n, [dy], need) => {
    const [a, b] = n.inputs;
    const c = constScalar(b);
    const dPowConst = (k: number) => (k === 2 ? g.mul(a, 2) : g.mul(g.pow(a, k - 1), k)); // k·a^(k-1)
    const dPow = c !== undefined ? dPowConst(c) : g.mul(b, g.pow(a, g.sub(b, 1))); // b·a^(b-1)
    const da = need[0] ? sumTo(g, g.mul(dy!, dPow), a.shape) : undefined;
    const db = need[1] ? sumTo(g, g.mul(dy!, g.mul(n.outputs[0], g.log(a))), b.shape) : undefined;
    return [da, db];
  },
};
export const pow = (g: Graph, a: Tensor, b: TensorOrNumber): Tensor => binary(g, PowOp, a, b);

// ---- unary -----------------------------------------------------------------------------------

const SqrtOp: OpDef = { type: 'Sqrt', grad: (g, n, [dy]) => [g.div(g.mul(dy!, 0.5), n.outputs[0])] }; // dy / (2·sqrt(x))
export const sqrt = (g: Graph, x: Tensor): Tensor => unary(g, SqrtOp, x);

const ExpOp: OpDef = { type: 'Exp', grad: (g, n, [dy]) => [g.mul(dy!, n.outputs[0])] }; // dy · e^x
export const exp = (g: Graph, x: Tensor): Tensor => unary(g, ExpOp, x);

const LogOp: OpDef = { type: 'Log', grad: (g, n, [dy]) => [g.div(dy!, n.inputs[0])] }; // dy / x
export const log = (g: Graph, x: Tensor): Tensor => unary(g, LogOp, x);

const NegOp: OpDef = { type: 'Neg', grad: (g, _n, [dy]) => [g.neg(dy!)] };
export const neg = (g: Graph, x: Tensor): Tensor => unary(g, NegOp, x, false);

const TanhOp: OpDef = {
  type: 'Tanh',
  grad: (g, n, [dy]) => [g.mul(dy!, g.sub(1, g.mul(n.outputs[0], n.outputs[0])))],
}; // dy·(1-y²)
export const tanh = (g: Graph, x: Tensor): Tensor => unary(g, TanhOp, x);

const SigmoidOp: OpDef = {
  type: 'Sigmoid',
  grad: (g, n, [dy]) => [g.mul(dy!, g.mul(n.outputs[0], g.sub(1, n.outputs[0])))],
}; // dy·y(1-y)
export const sigmoid = (g: Graph, x: Tensor): Tensor => unary(g, SigmoidOp, x);

const CosOp: OpDef = { type: 'Cos', grad: (g, n, [dy]) => [g.neg(g.mul(dy!, g.sin(n.inputs[0])))] }; // -dy·sin(x)
export const cos = (g: Graph, x: Tensor): Tensor => unary(g, CosOp, x);

const SinOp: OpDef = { type: 'Sin', grad: (g, n, [dy]) => [g.mul(dy!, g.cos(n.inputs[0]))] }; // dy·cos(x)
export const sin = (g: Graph, x: Tensor): Tensor => unary(g, SinOp, x);

// d erf(x) = 2/√π · e^(-x²)
const ErfOp: OpDef = {
  type: 'Erf',
  grad: (g, n, [dy]) => {
    const x = n.inputs[0];
    return [g.mul(dy!, g.mul(g.exp(g.neg(g.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
};
export const erf = (g: Graph, x: Tensor): Tensor => unary(g, ErfOp, x);

const IdentityOp: OpDef = { type: 'Identity', grad: (_g, _n, [dy]) => [dy] };
export const identity = (g: Graph, x: Tensor): Tensor => unary(g, IdentityOp, x, false);
/** A distinct Identity of x (never merged with another), to give one value a second name. */
export const alias = (g: Graph, x: Tensor, tag: string): Tensor =>
  g.node(IdentityOp, [x], { tag_: tag }, [{ dtype: x.dtype, shape: x.shape }])[0];

// ---- Where / Cast / comparisons (no gradient through the condition) -----------------------------

const WhereOp: OpDef = {
  type: 'Where',
  grad: (g, n, [dy], need) => {
    const [cond, a, b] = n.inputs;
    const zero = g.scalar(0, dy!.dtype);
    return [
      undefined,
      need[1] ? sumTo(g, g.where(cond, dy!, zero), a.shape) : undefined,
      need[2] ? sumTo(g, g.where(cond, zero, dy!), b.shape) : undefined,
    ];
  },
};
/** Where(cond, a, b): a where cond is true, else b; all three broadcast. */
export function where(g: Graph, cond: Tensor, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  if (cond.dtype !== 'bool')
    throw new GraphError(
      `Where: the condition must be bool, got ${fmt(cond)}; compare with equal()/less() or Cast to bool`,
    );
  const [x, y] = operands(g, 'Where', a, b);
  const shape = broadcastShapes('Where', broadcastShapes('Where', cond.shape, x.shape), y.shape); // broadcast(cond, a, b)
  return g.node(WhereOp, [cond, x, y], {}, [{ dtype: x.dtype, shape }])[0];
}

const ONNX_TYPE = { f32: 1, f16: 10, f64: 11, i64: 7, i32: 6, bool: 9 } as const;
const CastOp: OpDef = {
  type: 'Cast',
  grad: (g, n, [dy]) => [isFloat(n.inputs[0].dtype) ? g.cast(dy!, n.inputs[0].dtype) : undefined],
};
export function cast(g: Graph, x: Tensor, to: Tensor['dtype']): Tensor {
  if (x.dtype === to) return x;
  return g.node(CastOp, [x], { to: ONNX_TYPE[to] }, [{ dtype: to, shape: x.shape }])[0]; // same shape, new dtype
}

const EqualOp: OpDef = { type: 'Equal' };
export const equal = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor =>
  binary(g, EqualOp, a, b, 'bool');
const LessOp: OpDef = { type: 'Less' };
export const less = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor =>
  binary(g, LessOp, a, b, 'bool');
// Min/Max route dy to the operand that was selected (the first one on ties).
function selectGrad(
  g: Graph,
  firstLoses: Tensor,
  dy: Tensor,
  a: Tensor,
  b: Tensor,
  need: boolean[],
): (Tensor | undefined)[] {
  const zero = g.scalar(0, dy.dtype);
  return [
    need[0] ? sumTo(g, g.where(firstLoses, zero, dy), a.shape) : undefined,
    need[1] ? sumTo(g, g.where(firstLoses, dy, zero), b.shape) : undefined,
  ];
}
const MinOp: OpDef = {
  type: 'Min',
  grad: (g, n, [dy], need) =>
    selectGrad(g, g.less(n.inputs[1], n.inputs[0]), dy!, n.inputs[0], n.inputs[1], need),
};
export const min = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(g, MinOp, a, b);
const MaxOp: OpDef = {
  type: 'Max',
  grad: (g, n, [dy], need) =>
    selectGrad(g, g.less(n.inputs[0], n.inputs[1]), dy!, n.inputs[0], n.inputs[1], need),
};
export const max = (g: Graph, a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(g, MaxOp, a, b);
