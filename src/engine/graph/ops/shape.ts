/**
 * Shape ops: Reshape, Transpose, Slice, Split, Concat, Expand, Unsqueeze, Squeeze, Gather, and
 * ConstantOfShape for zeros. Their gradients move dy back into the input's layout.
 */
import type { Graph } from '../graph';
import { fmt, GraphError, normAxis, sizeOf, sameShape, type OpDef, type Tensor } from '../tensor';
import { sumTo } from './elementwise';

const ReshapeOp: OpDef = {
  type: 'Reshape',
  grad: (g, n, [dy]) => [g.reshape(dy!, [...n.inputs[0].shape]), undefined],
};
/** Reshape with at most one -1; the element count must match. */
export function reshape(g: Graph, x: Tensor, shape: number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const free = shape.length - known.length;
  if (free > 1) throw new GraphError(`Reshape: at most one -1 in [${shape.join(', ')}]`);
  const out = free ? shape.map((d) => (d === -1 ? x.size / sizeOf(known) : d)) : shape;
  if (sizeOf(out) !== x.size || out.some((d) => !Number.isInteger(d)))
    throw new GraphError(`Reshape: cannot reshape ${fmt(x)} (${x.size} elements) to [${shape.join(', ')}]`);
  if (sameShape(out, x.shape)) return x;
  return g.node(ReshapeOp, [x, g.constI64(out)], {}, [{ dtype: x.dtype, shape: out }])[0]; // (out)
}

const TransposeOp: OpDef = {
  type: 'Transpose',
  grad: (g, n, [dy]) => {
    const perm = n.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(dy!, inv)];
  },
};
export function transpose(g: Graph, x: Tensor, perm: number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i))
    throw new GraphError(
      `Transpose: perm [${perm.join(', ')}] is not a permutation of the ${x.rank} axes of ${fmt(x)}`,
    );
  if (perm.every((p, i) => p === i)) return x;
  return g.node(TransposeOp, [x], { perm }, [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }])[0]; // permuted
}

// Slice's gradient pads dy with zeros back to the input's extent.
const PadOp: OpDef = { type: 'Pad' };
const SliceOp: OpDef = {
  type: 'Slice',
  grad: (g, n, [dy]) => {
    const x = n.inputs[0];
    const starts = n.attrs.starts_ as number[];
    const before = x.shape.map((_, i) => starts[i]);
    const after = x.shape.map((d, i) => d - starts[i] - dy!.shape[i]);
    const pads = g.constI64([...before, ...after]);
    return [g.node(PadOp, [dy!, pads], {}, [{ dtype: dy!.dtype, shape: x.shape }])[0]]; // (x.shape)
  },
};
/** x[start:end] along `axis` (step 1; negative indices count from the end). */
export function slice(g: Graph, x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxis('Slice', axis, x.rank);
  const d = x.shape[ax];
  const s = Math.min(Math.max(start < 0 ? start + d : start, 0), d);
  const e = Math.min(Math.max(end < 0 ? end + d : end, 0), d);
  if (e <= s) throw new GraphError(`Slice: [${start}:${end}] on axis ${axis} of ${fmt(x)} is empty`);
  const shape = x.shape.map((v, i) => (i === ax ? e - s : v)); // x with axis cut to e - s
  const starts_ = x.shape.map((_, i) => (i === ax ? s : 0)); // kept for the gradient; not emitted
  const ins = [x, g.constI64([s]), g.constI64([e]), g.constI64([ax])];
  return g.node(SliceOp, ins, { starts_ }, [{ dtype: x.dtype, shape }])[0];
}

const SplitOp: OpDef = {
  type: 'Split',
  grad: (g, n, dys) => {
    const axis = n.attrs.axis as number;
    const parts = n.outputs.map((o, i) => dys[i] ?? g.zeros(o.shape, o.dtype));
    return [g.concat(parts, axis), undefined];
  },
};
export function split(g: Graph, x: Tensor, sizes: number[], axis: number): Tensor[] {
  const ax = normAxis('Split', axis, x.rank);
  if (sizes.reduce((a, b) => a + b, 0) !== x.shape[ax])
    throw new GraphError(`Split: sizes [${sizes.join(', ')}] do not add up to dim ${ax} of ${fmt(x)}`);
  const outs = sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === ax ? s : d)) })); // each piece
  return g.node(SplitOp, [x, g.constI64(sizes)], { axis: ax }, outs);
}

const ConcatOp: OpDef = {
  type: 'Concat',
  grad: (g, n, [dy], need) => {
    const axis = n.attrs.axis as number;
    const parts =
      n.inputs.length === 1
        ? [dy!]
        : g.split(
            dy!,
            n.inputs.map((t) => t.shape[axis]),
            axis,
          );
    return parts.map((p, i) => (need[i] ? p : undefined));
  },
};
export function concat(g: Graph, xs: Tensor[], axis: number): Tensor {
  if (!xs.length) throw new GraphError('Concat: needs at least one tensor');
  const ax = normAxis('Concat', axis, xs[0].rank);
  for (const t of xs)
    if (
      t.rank !== xs[0].rank ||
      t.dtype !== xs[0].dtype ||
      t.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])
    )
      throw new GraphError(`Concat: ${xs.map(fmt).join(', ')} differ outside axis ${ax}`);
  const shape = xs[0].shape.map((d, i) => (i === ax ? xs.reduce((s, t) => s + t.shape[ax], 0) : d)); // summed along axis
  return g.node(ConcatOp, xs, { axis: ax }, [{ dtype: xs[0].dtype, shape }])[0];
}

const ExpandOp: OpDef = {
  type: 'Expand',
  grad: (g, n, [dy]) => [sumTo(g, dy!, n.inputs[0].shape), undefined],
};
export function expand(g: Graph, x: Tensor, shape: number[]): Tensor {
  const out = g.broadcastShape('Expand', x.shape, shape);
  if (sameShape(out, x.shape)) return x;
  return g.node(ExpandOp, [x, g.constI64(shape)], {}, [{ dtype: x.dtype, shape: out }])[0]; // (shape)
}

const UnsqueezeOp: OpDef = {
  type: 'Unsqueeze',
  grad: (g, n, [dy]) => [g.reshape(dy!, [...n.inputs[0].shape]), undefined],
};
export function unsqueeze(g: Graph, x: Tensor, axis: number): Tensor {
  const ax = normAxis('Unsqueeze', axis, x.rank + 1);
  const shape = [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)]; // size-1 dim inserted at ax
  return g.node(UnsqueezeOp, [x, g.constI64([ax])], {}, [{ dtype: x.dtype, shape }])[0];
}

/**
 * Gather along axis 0 (an embedding lookup): out = data[indices], shape indices.shape + data.shape[1:].
 * Gradient: dy rows added into a zero table at the looked-up rows, by ScatterElements(add) or by
 * one-hot(indices)ᵀ @ dy (Graph option `embeddingGrad`).
 */
const GatherOp: OpDef = {
  type: 'Gather',
  grad: (g, n, [dy], need) => [
    need[0] ? embeddingGrad(g, n.inputs[1], dy!, n.inputs[0].shape) : undefined,
    undefined,
  ],
};
export function gather(g: Graph, data: Tensor, indices: Tensor, axis = 0): Tensor {
  if (indices.dtype !== 'i64' && indices.dtype !== 'i32')
    throw new GraphError(`Gather: indices must be i64 or i32, got ${fmt(indices)}`);
  const ax = normAxis('Gather', axis, data.rank);
  if (ax !== 0 && g.isDifferentiable(data))
    throw new GraphError(
      `Gather: only axis 0 has a gradient rule; transpose ${fmt(data)} so the gathered axis comes first`,
    );
  const shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)]; // (…indices, …rest)
  return g.node(GatherOp, [data, indices], { axis: ax }, [{ dtype: data.dtype, shape }])[0];
}

const ScatterElementsOp: OpDef = { type: 'ScatterElements' };
const OneHotOp: OpDef = { type: 'OneHot' };
function embeddingGrad(g: Graph, idx: Tensor, dy: Tensor, shape: readonly number[]): Tensor {
  const V = shape[0];
  const R = sizeOf(shape.slice(1));
  const M = idx.size;
  const dy2 = g.reshape(dy, [M, R]); // (M, R)
  if (g.options.target === 'gpu' && dy.dtype === 'f32') {
    // GPU providers run OneHot, ScatterElements' int64 index arithmetic and int64 Reshape on the CPU
    // (runtime/webgpuKernels.json): the ids become floats through a Gather from a table of row numbers
    // (exact below 2^24 rows), and the one-hot is an Equal against the row numbers, as exact as OneHot's
    const rows = g.constant(
      Array.from({ length: V }, (_, i) => i),
      dy.dtype,
      [V],
      `embedding_rows_${V}`,
    ); // (V)
    const ids = g.reshape(g.gather(rows, idx), [M, 1]); // (M, 1) the ids as floats
    const oh = g.cast(g.equal(ids, g.reshape(rows, [1, V])), dy.dtype); // (M, V)
    return g.reshape(g.matmul(oh, dy2, { transA: true }), [...shape]); // (V, ...)
  }
  const flat = g.reshape(idx, [M]); // (M)
  let table: Tensor;
  if (g.options.embeddingGrad === 'onehot' && dy.dtype === 'f32') {
    // ORT's OneHot has float kernels only
    const depth = g.constI64([V]);
    const values = g.constant([0, 1], dy.dtype, [2]);
    const oh = g.node(OneHotOp, [flat, depth, values], { axis: -1 }, [{ dtype: dy.dtype, shape: [M, V] }])[0]; // (M, V)
    table = g.matmul(oh, dy2, { transA: true }); // (V, R)
  } else {
    const ind = g.expand(g.unsqueeze(flat, 1), [M, R]); // (M, R)
    const zeros = g.zeros([V, R], dy.dtype); // (V, R)
    table = g.node(ScatterElementsOp, [zeros, ind, dy2], { axis: 0, reduction: 'add' }, [
      { dtype: dy.dtype, shape: [V, R] },
    ])[0]; // (V, R)
  }
  return g.reshape(table, [...shape]); // (V, ...)
}

const ConstantOfShapeOp: OpDef = { type: 'ConstantOfShape' };
/** A tensor of zeros made at run time (ConstantOfShape), so large zero tables don't bloat the model. */
export function zeros(g: Graph, shape: readonly number[], dtype: Tensor['dtype']): Tensor {
  const value = { tensor: { dtype, shape: [1], data: g.typedArray(dtype, [0]) } };
  return g.node(ConstantOfShapeOp, [g.constI64([...shape])], { value }, [{ dtype, shape }])[0]; // (shape)
}
