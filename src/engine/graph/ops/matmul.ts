/**
 * Matrix products. `matmul` picks the ONNX op that runs fastest on ORT: Gemm for 2-D operands
 * (transposes and the scale folded into its attributes), com.microsoft FusedMatMul for batched
 * operands with a transpose or scale, plain MatMul otherwise. `linear` is Gemm with a bias.
 *
 * Gradient of Y = α·A'·B' (A' = Aᵀ if transA, B' = Bᵀ if transB):
 *   dA' = α·dY·B'ᵀ,  dB' = α·A'ᵀ·dY, transposed back where the operand was transposed,
 *   and summed over broadcast batch dims.
 */
import type { Graph } from '../graph';
import {
  broadcastShapes,
  fmt,
  GraphError,
  isFloat,
  sameShape,
  type Attrs,
  type OpDef,
  type Tensor,
} from '../tensor';
import { constScalar, sumTo } from './elementwise';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
}

function matmulGrad(
  g: Graph,
  a: Tensor,
  b: Tensor,
  dy: Tensor,
  o: Required<MatmulOptions>,
  need: boolean[],
): (Tensor | undefined)[] {
  const { transA, transB, alpha } = o;
  let da: Tensor | undefined;
  let db: Tensor | undefined;
  if (need[0]) {
    // dX = dY·Wᵀ for a 2-D weight W much smaller than dY: MLAS runs dY·(Wᵀ materialised) ~10% faster
    // than its transB kernel at GPT shapes, and the transpose of W is cheap
    if (!transA && !transB && a.rank === 2 && b.rank === 2 && 4 * b.size <= dy.size)
      da = g.matmul(dy, g.transpose(b, [1, 0]), { alpha });
    else
      da = transA
        ? g.matmul(b, dy, { transA: transB, transB: true, alpha })
        : g.matmul(dy, b, { transB: !transB, alpha }); // shape of A
  }
  if (need[1]) {
    // batched Aᵀ·dY = (dYᵀ·A)ᵀ: MLAS transposes the A operand of each product, so hand it the smaller one
    // (attention: dV = Pᵀ·dY with P (T, T) and dY (T, hd)); the Transpose merges into the next one
    if (!transA && !transB && a.rank > 2 && a.shape[a.rank - 1] > dy.shape[dy.rank - 1])
      db = swapLast(g, g.matmul(dy, a, { transA: true, alpha }));
    else
      db = transB
        ? g.matmul(dy, a, { transA: true, transB: transA, alpha })
        : g.matmul(a, dy, { transA: !transA, alpha }); // shape of B
  }
  return [da && sumTo(g, da, a.shape), db && sumTo(g, db, b.shape)];
}

const swapLast = (g: Graph, t: Tensor): Tensor =>
  g.transpose(
    t,
    [...t.shape.keys()].map((i) => (i < t.rank - 2 ? i : 2 * t.rank - 3 - i)),
  );

const opts = (attrs: Attrs): Required<MatmulOptions> => ({
  transA: attrs.transA === 1,
  transB: attrs.transB === 1,
  alpha: typeof attrs.alpha === 'object' && 'f' in attrs.alpha ? attrs.alpha.f : 1,
});

const MatMulOp: OpDef = {
  type: 'MatMul',
  grad: (g, n, [dy], need) =>
    matmulGrad(g, n.inputs[0], n.inputs[1], dy!, { transA: false, transB: false, alpha: 1 }, need),
};
const FusedMatMulOp: OpDef = {
  type: 'FusedMatMul',
  domain: 'com.microsoft',
  grad: (g, n, [dy], need) => matmulGrad(g, n.inputs[0], n.inputs[1], dy!, opts(n.attrs), need),
};
const GemmOp: OpDef = {
  type: 'Gemm',
  grad: (g, n, [dy], need) => {
    const [a, b, c] = n.inputs;
    const [da, db] = matmulGrad(g, a, b, dy!, opts(n.attrs), need);
    return [da, db, c && need[2] ? sumTo(g, dy!, c.shape) : undefined]; // bias: dy summed over rows
  },
};

/** Output shape of op(A)·op(B) with batch broadcasting; errors name both shapes. */
function productShape(op: string, a: Tensor, b: Tensor, o: Required<MatmulOptions>): number[] {
  if (a.rank < 2 || b.rank < 2)
    throw new GraphError(
      `${op}: operands must have rank ≥ 2, got ${fmt(a)} and ${fmt(b)}; unsqueeze a vector first`,
    );
  if (a.dtype !== b.dtype || !isFloat(a.dtype))
    throw new GraphError(`${op}: needs two float tensors of one dtype, got ${fmt(a)} and ${fmt(b)}`);
  const [m, k] = o.transA
    ? [a.shape[a.rank - 1], a.shape[a.rank - 2]]
    : [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [k2, n] = o.transB
    ? [b.shape[b.rank - 1], b.shape[b.rank - 2]]
    : [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  if (k !== k2)
    throw new GraphError(
      `${op}: inner dimensions differ: ${fmt(a)}${o.transA ? 'ᵀ' : ''} @ ${fmt(b)}${o.transB ? 'ᵀ' : ''} contracts ${k} with ${k2}`,
    );
  const batch = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  return [...batch, m, n]; // (..., M, N)
}

/**
 * Folded scales: an operand that is `t · s` (s a scalar constant) enters the product as t, and s
 * joins alpha, so the Mul is never run (it is pruned unless something else uses it).
 */
function unscaled(t: Tensor): [Tensor, number] {
  const n = t.node;
  if (!n || n.def.type !== 'Mul' || n.def.domain || n.attrs.gelu_) return [t, 1];
  const [x, y] = n.inputs;
  const s = constScalar(y);
  return s !== undefined && sameShape(x.shape, t.shape) ? [x, s] : [t, 1];
}

/** op(A) @ op(B) · alpha, batched with broadcasting. */
export function matmul(g: Graph, a0: Tensor, b0: Tensor, o: MatmulOptions = {}): Tensor {
  const [a, sa] = unscaled(a0);
  const [b, sb] = unscaled(b0);
  const full = { transA: !!o.transA, transB: !!o.transB, alpha: (o.alpha ?? 1) * sa * sb };
  const shape = productShape('MatMul', a, b, full); // (..., M, N)
  const attrs: Attrs = {};
  if (full.transA) attrs.transA = 1;
  if (full.transB) attrs.transB = 1;
  if (full.alpha !== 1) attrs.alpha = { f: full.alpha };
  if (a.rank === 2 && b.rank === 2) return g.node(GemmOp, [a, b], attrs, [{ dtype: a.dtype, shape }])[0];
  if (g.options.target === 'gpu' && (full.transA || full.transB)) {
    // GPU providers have no FusedMatMul (com.microsoft; runtime/webgpuKernels.json): explicit transposes
    const y = g.node(MatMulOp, [full.transA ? swapLast(g, a) : a, full.transB ? swapLast(g, b) : b], {}, [
      { dtype: a.dtype, shape },
    ])[0]; // (..., M, N)
    return full.alpha === 1 ? y : g.mul(y, full.alpha); // (..., M, N)
  }
  // FusedMatMul with only a scale was measured slower than MatMul followed by a Mul of its (smaller) output
  if (!full.transA && !full.transB && full.alpha !== 1)
    return g.mul(g.node(MatMulOp, [a, b], {}, [{ dtype: a.dtype, shape }])[0], full.alpha); // (..., M, N)
  const plain = !full.transA && !full.transB && full.alpha === 1;
  return g.node(plain ? MatMulOp : FusedMatMulOp, [a, b], attrs, [{ dtype: a.dtype, shape }])[0];
}

/**
 * x @ w + bias as one Gemm. x: (N, in); w: (in, out), or (out, in) with transB; bias: (out).
 * Rank-3 x is flattened to (B·T, in) and reshaped back.
 */
export function linear(g: Graph, x0: Tensor, w: Tensor, bias?: Tensor, o: { transB?: boolean } = {}): Tensor {
  const [x, s] = x0.rank === 2 ? unscaled(x0) : [x0, 1];
  if (x.rank > 2) {
    const lead = x.shape.slice(0, -1);
    const y = linear(g, g.reshape(x, [-1, x.shape[x.rank - 1]]), w, bias, o); // (B·T, out)
    return g.reshape(y, [...lead, y.shape[1]]); // (B, T, out)
  }
  if (w.rank !== 2) throw new GraphError(`Gemm: the weight must be 2-D, got ${fmt(w)}`);
  const full = { transA: false, transB: !!o.transB, alpha: s };
  const shape = productShape('Gemm', x, w, full); // (N, out)
  if (bias) broadcastShapes('Gemm bias', bias.shape, shape);
  if (bias && bias.dtype !== x.dtype)
    throw new GraphError(`Gemm: bias dtype ${fmt(bias)} differs from input ${fmt(x)}`);
  const attrs: Attrs = full.transB ? { transB: 1 } : {};
  if (s !== 1) attrs.alpha = { f: s }; // α·x·w + bias: the scale applies to the product only
  return g.node(GemmOp, bias ? [x, w, bias] : [x, w], attrs, [{ dtype: x.dtype, shape }])[0];
}

/**
 * t · s for a scalar s. When t is the output of a Gemm without bias, s goes into that Gemm's alpha
 * instead: a new Gemm node, so no elementwise pass runs; the unscaled Gemm is pruned unless something
 * else uses it. Otherwise (a bias, whose (A·B + C)·s would round differently as α·A·B + β·C) a Mul.
 */
export function scaleOutput(g: Graph, t: Tensor, s: number): Tensor {
  const n = t.node;
  if (!n || n.def !== GemmOp || n.inputs.length !== 2) return g.mul(t, s); // (t.shape)
  return g.node(GemmOp, n.inputs, { ...n.attrs, alpha: { f: opts(n.attrs).alpha * s } }, [
    { dtype: t.dtype, shape: t.shape },
  ])[0]; // (t.shape) s·α·A·B
}
