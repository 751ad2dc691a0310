/**
 * Neural-network ops: Softmax, LogSoftmax, LayerNormalization, RMS norm, Gelu (exact and tanh),
 * Trilu, the causal mask, softmax cross-entropy with an ignore index and per-token weights, and the
 * per-token log-probability of the targets (policy-gradient losses, rl/policyLoss.ts).
 */
import type { Graph } from '../graph';
import { fmt, GraphError, isFloat, normAxis, sameShape, type OpDef, type Tensor } from '../tensor';
import { scaleOutput } from './matmul';

function needFloat(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw new GraphError(`${op}: needs a float tensor, got ${fmt(x)}; Cast it first`);
}

// ---- Softmax / LogSoftmax -----------------------------------------------------------------------

// y = softmax(x): dx = y·(dy - Σ dy·y).
// Attention: when y's only use is O = y @ V, dy = α·dO·Vᵀ and Σ_j dy·y = α·Σ_d dO·O (FlashAttention's
// D term), a sum over the (…, T, hd) output instead of a pass over the (…, T, T) probabilities.
const SoftmaxOp: OpDef = {
  type: 'Softmax',
  grad: (g, n, [dy]) => {
    const y = n.outputs[0];
    const axis = n.attrs.axis as number;
    const rowDot = attentionRowDot(g, y, dy!, axis) ?? g.reduceSum(g.mul(dy!, y), [axis], true); // (…, 1) Σ dy·y
    return [g.mul(y, g.sub(dy!, rowDot))];
  },
};

/** Σ_j dy·y over the last axis as α·Σ dO·O when dy = α·dO·Vᵀ and O = y @ V is in the graph; else undefined. */
function attentionRowDot(g: Graph, y: Tensor, dy: Tensor, axis: number): Tensor | undefined {
  const m = dy.node;
  if (
    axis !== y.rank - 1 ||
    !m ||
    (m.def.type !== 'FusedMatMul' && m.def.type !== 'Gemm') ||
    m.inputs.length !== 2
  )
    return undefined;
  if (m.attrs.transB !== 1 || m.attrs.transA === 1 || !sameShape(dy.shape, y.shape)) return undefined;
  const [dO, v] = m.inputs;
  const alpha = typeof m.attrs.alpha === 'object' && 'f' in m.attrs.alpha ? m.attrs.alpha.f : 1;
  const plain = (k: Graph['nodes'][number]) =>
    k.def.type === 'MatMul' ||
    (k.def.type === 'Gemm' && k.inputs.length === 2 && !Object.keys(k.attrs).length);
  const o = g.nodes.find((k) => !k.def.domain && plain(k) && k.inputs[0] === y && k.inputs[1] === v)
    ?.outputs[0]; // O = y @ V
  if (!o || !sameShape(o.shape, dO.shape)) return undefined;
  const d = g.reduceSum(g.mul(dO, o), [-1], true); // (…, T, 1) Σ_d dO·O
  return alpha === 1 ? d : g.mul(d, alpha); // (…, T, 1)
}
export function softmax(g: Graph, x: Tensor, axis = -1): Tensor {
  needFloat('Softmax', x);
  return g.node(SoftmaxOp, [x], { axis: normAxis('Softmax', axis, x.rank) }, [
    { dtype: x.dtype, shape: x.shape },
  ])[0]; // (x.shape)
}

// y = log softmax(x): dx = dy - e^y·Σ dy
const LogSoftmaxOp: OpDef = {
  type: 'LogSoftmax',
  grad: (g, n, [dy]) => {
    const axis = n.attrs.axis as number;
    return [g.sub(dy!, g.mul(g.exp(n.outputs[0]), g.reduceSum(dy!, [axis], true)))];
  },
};
export function logSoftmax(g: Graph, x: Tensor, axis = -1): Tensor {
  needFloat('LogSoftmax', x);
  return g.node(LogSoftmaxOp, [x], { axis: normAxis('LogSoftmax', axis, x.rank) }, [
    { dtype: x.dtype, shape: x.shape },
  ])[0]; // (x.shape)
}

// ---- LayerNormalization (last axis) ------------------------------------------------------------

// x̂ = (x - μ)·r; y = x̂·w + b.  dw = Σ dy·x̂, db = Σ dy, dx = r·(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)) with dx̂ = dy·w.
const LayerNormOp: OpDef = {
  type: 'LayerNormalization',
  grad: (g, n, [dy], need) => {
    const [x, w, b] = n.inputs;
    const [mean, rstd] = layerNormStats(g, n); // (..., 1)
    const lead = x.shape.slice(0, -1).map((_, i) => i);
    const xhat = g.mul(g.sub(x, mean), rstd); // (..., C)
    const dw = need[1] ? g.reduceSum(g.mul(dy!, xhat), lead) : undefined; // (C)
    const db = b && need[2] ? g.reduceSum(dy!, lead) : undefined; // (C)
    if (!need[0]) return [undefined, dw, db];
    const dxhat = g.mul(dy!, w); // (..., C)
    const inner = g.sub(
      g.sub(dxhat, g.reduceMean(dxhat, [-1], true)),
      g.mul(xhat, g.reduceMean(g.mul(dxhat, xhat), [-1], true)),
    );
    return [g.mul(inner, rstd), dw, db];
  },
};
/**
 * Mean and 1/std of the forward pass: its saved outputs (ORT computes them in f32), or, for f64
 * inputs, recomputed in f64 so that double-precision gradients stay exact.
 */
function layerNormStats(
  g: Graph,
  n: { inputs: Tensor[]; outputs: Tensor[]; attrs: Record<string, unknown> },
): [Tensor, Tensor] {
  const x = n.inputs[0];
  if (x.dtype !== 'f64') return [g.cast(n.outputs[1], x.dtype), g.cast(n.outputs[2], x.dtype)];
  const mean = g.reduceMean(x, [-1], true); // (..., 1)
  const centered = g.sub(x, mean); // (..., C)
  const variance = g.reduceMean(g.mul(centered, centered), [-1], true); // (..., 1)
  return [mean, g.div(1, g.sqrt(g.add(variance, (n.attrs.epsilon as { f: number }).f)))];
}

/** LayerNorm over the last axis with weight w (C) and optional bias b (C). */
export function layerNorm(g: Graph, x: Tensor, w: Tensor, b: Tensor | undefined, eps = 1e-5): Tensor {
  needFloat('LayerNormalization', x);
  const C = x.shape[x.rank - 1];
  for (const p of b ? [w, b] : [w])
    if (p.rank !== 1 || p.shape[0] !== C || p.dtype !== x.dtype)
      throw new GraphError(
        `LayerNormalization: weight/bias must be ${x.dtype}[${C}] for input ${fmt(x)}, got ${fmt(p)}`,
      );
  const stats = x.shape.map((d, i) => (i === x.rank - 1 ? 1 : d)); // (..., 1)
  const statDtype = 'f32'; // ORT's LayerNormalization stashes stats in f32 (stash_type 1)
  const outs = [
    { dtype: x.dtype, shape: x.shape },
    { dtype: statDtype, shape: stats },
    { dtype: statDtype, shape: stats },
  ] as const;
  const ins = b ? [x, w, b] : [x, w];
  return g.node(LayerNormOp, ins, { axis: -1, epsilon: { f: eps }, stash_type: 1 }, [...outs])[0]; // (..., C)
}

// x̂ = (x - μ)·r, the output itself: dx = r·(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)), 7 passes over x's shape
// where LayerNormalization's rule needs 12 (it recomputes x̂ and scales dy by w, and reduces dw).
const NormalizeOp: OpDef = {
  type: 'LayerNormalization',
  grad: (g, n, [dy], need) => {
    if (!need[0]) return [undefined, undefined];
    const xhat = n.outputs[0];
    const [, rstd] = layerNormStats(g, n); // (..., 1)
    const inner = g.sub(
      g.sub(dy!, g.reduceMean(dy!, [-1], true)),
      g.mul(xhat, g.reduceMean(g.mul(dy!, xhat), [-1], true)),
    ); // (..., C)
    return [g.mul(inner, rstd), undefined];
  },
};

/**
 * LayerNorm without the affine part, x̂ = (x - μ)/σ over the last axis (ORT's LayerNormalization with a
 * constant scale of ones). A LayerNorm whose output only feeds a matrix product folds its weight and
 * bias into that product's weights (see gpt.ts): the backward pass then reads x̂, which the forward
 * pass saved, instead of recomputing it.
 */
export function normalize(g: Graph, x: Tensor, eps = 1e-5): Tensor {
  needFloat('LayerNormalization', x);
  const C = x.shape[x.rank - 1];
  const stats = x.shape.map((d, i) => (i === x.rank - 1 ? 1 : d)); // (..., 1)
  const ones = g.constant(new Array<number>(C).fill(1), x.dtype, [C], `ones_${C}_${x.dtype}`); // (C)
  const outs = [
    { dtype: x.dtype, shape: x.shape },
    { dtype: 'f32' as const, shape: stats },
    { dtype: 'f32' as const, shape: stats },
  ];
  return g.node(NormalizeOp, [x, ones], { axis: -1, epsilon: { f: eps }, stash_type: 1 }, outs)[0]; // (..., C)
}

/** RMS norm over the last axis: x / sqrt(mean(x²) + eps) · w, composed from primitives (autodiff derives its rule). */
export function rmsNorm(g: Graph, x: Tensor, w: Tensor, eps = 1e-6): Tensor {
  needFloat('RMSNorm', x);
  const ms = g.reduceMean(g.mul(x, x), [-1], true); // (..., 1)
  return g.mul(g.div(x, g.sqrt(g.add(ms, eps))), w); // (..., C)
}

// ---- Gelu ----------------------------------------------------------------------------------------

// tanh: y = ½x(1+t), t = tanh(k(x + 0.044715x³)): dy/dx = ½(1+t) + ½x(1-t²)·k(1 + 3·0.044715x²)
function geluTanhGrad(g: Graph, x: Tensor): Tensor {
  const k = Math.sqrt(2 / Math.PI);
  const x2 = g.mul(x, x);
  const t = g.tanh(g.mul(g.mul(x, g.add(g.mul(x2, 0.044715), 1)), k));
  const du = g.mul(g.add(g.mul(x2, 3 * 0.044715), 1), k);
  return g.add(g.mul(g.add(t, 1), 0.5), g.mul(g.mul(g.mul(x, 0.5), g.sub(1, g.mul(t, t))), du));
}
const GeluOp: OpDef = { type: 'Gelu', grad: (g, n, [dy]) => [g.mul(dy!, geluTanhGrad(g, n.inputs[0]))] };

/**
 * Exact GELU from Erf (ORT's Erf kernel is vectorised; its Gelu kernel is several times slower), in a
 * form whose forward pass is 4 elementwise passes and whose backward pass is 5 instead of 11:
 *   u = x/√2,  c = (√π/2)·(1 + erf(u)),  t = u·c,  gelu(x) = √2·u·(1 + erf(u))/2 = t·√2/√π
 *   d t/du = c + u·e^(-u²)
 * u is folded into the Gemm that produces x when there is one (its alpha, see matmul's scaleOutput;
 * a Gemm whose output is also used elsewhere then runs twice, so apply gelu to a Gemm used only here),
 * the last Mul by √2/√π into the Gemm that consumes it (matmul's folded scales), and so is the
 * backward's; the rule on t = u·c returns the whole derivative through u and none through c, so
 * autodiff does not differentiate the Erf chain again.
 */
const GeluErfMulOp: OpDef = {
  type: 'Mul',
  grad: (g, n, [dy]) => {
    const [u, c] = n.inputs;
    const w = g.add(c, g.div(u, g.exp(g.mul(u, u)))); // (u.shape) c + u·e^(-u²), = 0 tail when e^(u²) overflows
    return [g.mul(dy!, w), undefined];
  },
};

export function gelu(g: Graph, x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  needFloat('Gelu', x);
  if (approximate === 'tanh')
    return g.node(GeluOp, [x], { approximate }, [{ dtype: x.dtype, shape: x.shape }])[0]; // (x.shape)
  const u = scaleOutput(g, x, Math.SQRT1_2); // (x.shape) x/√2
  const c = g.mul(g.add(g.erf(u), 1), Math.sqrt(Math.PI) / 2); // (x.shape) (√π/2)(1 + erf(u))
  const t = g.node(GeluErfMulOp, [u, c], { gelu_: 1 }, [{ dtype: x.dtype, shape: x.shape }])[0]; // (x.shape) u·c
  return g.mul(t, Math.SQRT2 / Math.sqrt(Math.PI)); // (x.shape) gelu(x)
}

// ---- Trilu and the causal mask -----------------------------------------------------------------

const TriluOp: OpDef = {
  type: 'Trilu',
  grad: (g, n, [dy]) => [g.trilu(dy!, n.attrs.upper === 1, n.attrs.k_ as number), undefined],
};
/** Keeps the lower (or upper) triangle of the last two axes, offset by k diagonals. */
export function trilu(g: Graph, x: Tensor, upper = false, k = 0): Tensor {
  if (x.rank < 2) throw new GraphError(`Trilu: needs rank ≥ 2, got ${fmt(x)}`);
  return g.node(TriluOp, [x, g.constI64([k], [])], { upper: upper ? 1 : 0, k_: k }, [
    { dtype: x.dtype, shape: x.shape },
  ])[0]; // (x.shape)
}

/** Additive causal mask (T, T): 0 on and below the diagonal, -inf above; add it to attention scores. */
export function causalMask(g: Graph, T: number, dtype: Tensor['dtype'] = 'f32'): Tensor {
  const m = new Array<number>(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) m[i * T + j] = j <= i ? 0 : -Infinity;
  return g.constant(m, dtype, [T, T], 'causal_mask'); // (T, T)
}

// ---- softmax cross-entropy -----------------------------------------------------------------------

// per-token loss l = -logp[t]; dlogits = (softmax - onehot(t))·dl, zero for ignored tokens
const SceOp: OpDef = {
  type: 'SoftmaxCrossEntropyLoss',
  grad: (g, n, [dl]) => {
    const [logits, targets] = n.inputs;
    const [N, V] = logits.shape;
    const valid = g.cast(
      g.node({ type: 'Not' }, [g.equal(targets, n.attrs.ignore_index as number)], {}, [
        { dtype: 'bool', shape: [N] },
      ])[0],
      logits.dtype,
    ); // (N)
    const classes = g.constant(
      Array.from({ length: V }, (_, i) => i),
      targets.dtype,
      [1, V],
    ); // (1, V)
    const onehot = g.cast(g.equal(g.unsqueeze(targets, 1), classes), logits.dtype); // (N, V)
    const scale = g.unsqueeze(g.mul(dl!, valid), 1); // (N, 1)
    return [g.mul(g.sub(g.exp(n.outputs[1]), onehot), scale), undefined];
  },
};

export interface CrossEntropyOptions {
  /** Targets equal to this are ignored (no loss, no gradient). Default -100, as PyTorch. */
  ignoreIndex?: number;
  /**
   * Per-token weights (N); the loss is Σ w·l / Σ w over tokens that are not ignored. Fine-tuning gives
   * 1 to the assistant's tokens and 0 elsewhere, which equals PyTorch's ignore_index on the others.
   * Σ w = 0 (no token to learn from) gives loss 0 and zero gradients, where PyTorch's mean is NaN.
   */
  weights?: Tensor;
}

/**
 * Mean softmax cross-entropy of logits (N, V) against integer targets (N). Its gradient, from SceOp's
 * rule and those of the Mul and Div that weigh it: dlogits = (softmax - onehot(t))·w/Σw per row, exactly
 * zero on rows with weight 0 or an ignored target.
 */
export function crossEntropy(g: Graph, logits: Tensor, targets: Tensor, o: CrossEntropyOptions = {}): Tensor {
  needFloat('SoftmaxCrossEntropyLoss', logits);
  if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0])
    throw new GraphError(
      `SoftmaxCrossEntropyLoss: expects logits (N, V) and targets (N), got ${fmt(logits)} and ${fmt(targets)}; reshape to (B·T, V) and (B·T)`,
    );
  if (targets.dtype !== 'i64' && targets.dtype !== 'i32')
    throw new GraphError(`SoftmaxCrossEntropyLoss: targets must be i64 or i32, got ${fmt(targets)}`);
  const ignore = o.ignoreIndex ?? -100;
  const [N] = targets.shape;
  if (g.options.target === 'gpu') {
    const { nll, valid } = gpuTokenNll(g, logits, targets, ignore); // (N), (N)
    const w = o.weights ? g.mul(checkWeights(o.weights, logits, N), valid) : valid; // (N)
    return g.div(g.reduceSum(g.mul(nll, w)), g.max(g.reduceSum(w), 1e-12)); // () mean over weighted tokens
  }
  const [perToken] = g.node(SceOp, [logits, targets], { reduction: 'none', ignore_index: ignore }, [
    { dtype: logits.dtype, shape: [N] },
    { dtype: logits.dtype, shape: logits.shape },
  ]); // (N), (N, V)
  const valid = g.cast(
    g.node({ type: 'Not' }, [g.equal(targets, ignore)], {}, [{ dtype: 'bool', shape: [N] }])[0],
    logits.dtype,
  ); // (N)
  const w = o.weights ? g.mul(checkWeights(o.weights, logits, N), valid) : valid; // (N)
  const total = g.reduceSum(g.mul(perToken, w)); // ()
  return g.div(total, g.max(g.reduceSum(w), 1e-12)); // () mean over weighted tokens
}

function checkWeights(w: Tensor, logits: Tensor, N: number): Tensor {
  if (w.dtype !== logits.dtype || w.rank !== 1 || w.shape[0] !== N)
    throw new GraphError(`SoftmaxCrossEntropyLoss: weights must be ${logits.dtype}[${N}], got ${fmt(w)}`);
  return w;
}

// A value that passes no gradient (the row max subtracted before exp: its derivative cancels exactly).
const StopGradOp: OpDef = { type: 'Identity', grad: () => [undefined] };

/**
 * The GPU providers' cross-entropy per token, without the ops ORT runs there on the CPU
 * (SoftmaxCrossEntropyLoss expands to LogSoftmax and int64 arithmetic; runtime/webgpuKernels.json):
 * the targets become floats through a Gather from a table of class numbers (int64 indices are the one
 * int64 input WebGPU kernels take), ignored targets -1; then
 *   z = x - max(x),  nll = log Σ exp(z) - Σ z·onehot(t),  0 where the target is ignored,
 * whose gradient autodiff derives as (softmax - onehot)·dnll, as SoftmaxCrossEntropyLoss's rule.
 * A target (B, T) reshaped to (B·T) is gathered before the reshape (an int64 Reshape runs on the CPU).
 */
function gpuTokenNll(
  g: Graph,
  logits: Tensor,
  targets: Tensor,
  ignore: number,
): { nll: Tensor; valid: Tensor } {
  const [N, V] = logits.shape;
  const r = targets.node;
  const src = r?.def.type === 'Reshape' && r.inputs[0].size === N ? r.inputs[0] : targets; // before an int64 Reshape
  const L = V + Math.max(0, -ignore); // ignore < 0 indexes from the end: entry V + ignore + |ignore| = V
  const classes = Array.from({ length: L }, (_, i) => (i < V && i !== ignore ? i : -1));
  const table = g.constant(classes, logits.dtype, [L], `target_classes_${V}_${ignore}`); // (L)
  const t = g.reshape(g.gather(table, src), [N, 1]); // (N, 1) the target as a float, -1 when ignored
  const row = g.constant(
    Array.from({ length: V }, (_, i) => i),
    logits.dtype,
    [1, V],
  ); // (1, V)
  const onehot = g.cast(g.equal(t, row), logits.dtype); // (N, V)
  const m = g.node(StopGradOp, [g.reduceMax(logits, [1], true)], { stop_: 1 }, [
    { dtype: logits.dtype, shape: [N, 1] },
  ])[0]; // (N, 1)
  const z = g.sub(logits, m); // (N, V)
  const lse = g.log(g.reduceSum(g.exp(z), [1])); // (N)
  const valid = g.cast(
    g.node({ type: 'Not' }, [g.less(g.reshape(t, [N]), 0)], {}, [{ dtype: 'bool', shape: [N] }])[0],
    logits.dtype,
  ); // (N)
  const nll = g.mul(g.sub(lse, g.reduceSum(g.mul(z, onehot), [1])), valid); // (N)
  return { nll, valid };
}

/**
 * Log-probability of each target under softmax(logits): logits (N, V), targets (N) → (N), i.e. −CE per
 * token (ORT's SoftmaxCrossEntropyLoss with reduction 'none', whose rule gives d logp/d logits =
 * onehot(t) − softmax). A target equal to `ignoreIndex` (default -100) gets 0 and no gradient.
 *
 *   const logp = g.tokenLogProbs(logits, g.reshape(targets, [B * T]));   // (B·T)
 */
export function tokenLogProbs(g: Graph, logits: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
  needFloat('SoftmaxCrossEntropyLoss', logits);
  if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0])
    throw new GraphError(
      `tokenLogProbs: expects logits (N, V) and targets (N), got ${fmt(logits)} and ${fmt(targets)}; reshape to (B·T, V) and (B·T)`,
    );
  if (targets.dtype !== 'i64' && targets.dtype !== 'i32')
    throw new GraphError(`tokenLogProbs: targets must be i64 or i32, got ${fmt(targets)}`);
  const [N] = targets.shape;
  if (g.options.target === 'gpu') return g.neg(gpuTokenNll(g, logits, targets, ignoreIndex).nll); // (N)
  const [perToken] = g.node(SceOp, [logits, targets], { reduction: 'none', ignore_index: ignoreIndex }, [
    { dtype: logits.dtype, shape: [N] },
    { dtype: logits.dtype, shape: logits.shape },
  ]); // (N) −log p(target), (N, V) log-probabilities
  return g.neg(perToken); // (N)
}
