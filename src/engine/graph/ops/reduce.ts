/**
 * Reductions (axes as an input, opset 18): ReduceSum, ReduceMean, ReduceMax, ReduceSumSquare.
 * Gradients broadcast dy back over the reduced axes (Expand); the mean divides by the count, the max
 * routes dy to the elements equal to the max (split evenly among ties).
 */
import type { Graph } from '../graph';
import { fmt, GraphError, isFloat, normAxis, sizeOf, type OpDef, type Tensor } from '../tensor';

/** dy reshaped to the keepdims shape, then expanded to x's shape. */
function spread(g: Graph, dy: Tensor, x: Tensor, axes: number[]): Tensor {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d)); // x with reduced axes at 1
  return g.expand(g.reshape(dy, kept), [...x.shape]); // (x.shape)
}

const axesOf = (n: { attrs: Record<string, unknown> }): number[] => n.attrs.axes_ as number[];

const ReduceSumOp: OpDef = {
  type: 'ReduceSum',
  grad: (g, n, [dy]) => [spread(g, dy!, n.inputs[0], axesOf(n)), undefined],
};
const ReduceMeanOp: OpDef = {
  type: 'ReduceMean',
  grad: (g, n, [dy]) => {
    const x = n.inputs[0];
    const count = sizeOf(axesOf(n).map((a) => x.shape[a]));
    return [spread(g, g.mul(dy!, 1 / count), x, axesOf(n)), undefined];
  },
};
const ReduceMaxOp: OpDef = {
  type: 'ReduceMax',
  grad: (g, n, [dy]) => {
    const x = n.inputs[0];
    const axes = axesOf(n);
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d)); // keepdims shape
    const isMax = g.cast(g.equal(x, g.reshape(n.outputs[0], kept)), x.dtype); // (x.shape) 1 where x == max
    const share = g.div(g.reshape(dy!, kept), g.reduceSum(isMax, axes, true)); // (kept) dy split among ties
    return [g.mul(isMax, share), undefined];
  },
};
const ReduceSumSquareOp: OpDef = {
  type: 'ReduceSumSquare',
  grad: (g, n, [dy]) => [g.mul(spread(g, dy!, n.inputs[0], axesOf(n)), g.mul(n.inputs[0], 2)), undefined],
};

function reduce(g: Graph, def: OpDef, x: Tensor, axes: number[] | undefined, keepdims: boolean): Tensor {
  if (!isFloat(x.dtype) && def.type !== 'ReduceSum' && def.type !== 'ReduceMax')
    throw new GraphError(`${def.type}: needs a float tensor, got ${fmt(x)}`);
  const ax = [...new Set((axes ?? x.shape.map((_, i) => i)).map((a) => normAxis(def.type, a, x.rank)))].sort(
    (a, b) => a - b,
  );
  const shape = keepdims
    ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !ax.includes(i)); // reduced
  return g.node(def, [x, g.constI64(ax)], { keepdims: keepdims ? 1 : 0, axes_: ax }, [
    { dtype: x.dtype, shape },
  ])[0];
}

/** Sum over `axes` (all when omitted). */
export const reduceSum = (g: Graph, x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce(g, ReduceSumOp, x, axes, keepdims);
export const reduceMean = (g: Graph, x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce(g, ReduceMeanOp, x, axes, keepdims);
export const reduceMax = (g: Graph, x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce(g, ReduceMaxOp, x, axes, keepdims);
export const reduceSumSquare = (g: Graph, x: Tensor, axes?: number[], keepdims = false): Tensor =>
  reduce(g, ReduceSumSquareOp, x, axes, keepdims);
