/**
 * Every op's gradient rule against central finite differences. Each case builds
 * L = Σ f(params) ⊙ R (R a fixed random tensor), derives grad/<p> by autodiff, and compares with
 * (L(p + h) - L(p - h)) / 2h per element, run by onnxruntime itself.
 *
 * Float64 where ORT's CPU kernels support the op in double (h = 1e-6; agreement to 1e-6 relative).
 * Float32 otherwise (exact Gelu and Erf have no double kernel; one-hot has none; LayerNormalization's saved
 * stats are f32; Cast round-trips through f32): h = 1e-2,
 * tolerance 2e-3·(1 + |numeric|). Justification: float32 rounding of L (≈ 1e-7·|L|, |L| ≲ 10) divided by 2h
 * gives ≲ 1e-4, and the truncation error h²·|f'''|/6 is ≲ 1e-4 for these smooth ops on inputs of order 1;
 * 2e-3 leaves 10x margin while a wrong rule (a dropped term or factor) is off by ≥ 1e-1.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/train/rng';
import { gradients } from '../../src/engine/graph/autodiff';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import type { DType, Tensor } from '../../src/engine/graph/tensor';
import { policyLoss } from '../../src/engine/rl/policyLoss';
import { GraphRunner, toHost, type HostTensor } from '../../src/engine/runtime/session';

/** Deterministic uniform [0, 1): the engine's mulberry32. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

interface ParamSpec {
  shape: number[];
  /** 'normal'-ish values in [-1, 1), or positive in [0.5, 1.5). */
  positive?: boolean;
}
interface Case {
  name: string;
  dtype: DType;
  params: ParamSpec[];
  /** Builds the op under test from the params; returns the output whose weighted sum is the loss. */
  f: (g: Graph, p: Tensor[]) => Tensor;
  options?: ConstructorParameters<typeof Graph>[0];
}

async function check(c: Case): Promise<void> {
  const r = rng(c.name.length * 7919 + c.name.charCodeAt(0));
  const g = new Graph(c.options);
  const ps = c.params.map((s, i) => g.param(`p${i}`, s.shape, c.dtype));
  const y = c.f(g, ps);
  const R = g.constant(
    Array.from({ length: y.size }, () => r() * 2 - 1),
    y.dtype,
    [...y.shape],
  );
  const loss = g.reduceSum(g.mul(y, R)); // ()
  const grads = gradients(g, loss, ps);
  g.output('loss', loss);
  ps.forEach((p) => g.output(`grad/${p.name}`, grads.get(p)!));
  const runner = await GraphRunner.create(emitOnnx(g), { threads: 1 });
  const Arr = c.dtype === 'f64' ? Float64Array : Float32Array;
  const vals = c.params.map((s) =>
    Arr.from(
      Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () =>
        s.positive ? 0.5 + r() : r() * 2 - 1,
      ),
    ),
  );
  const feeds = (): Record<string, HostTensor> =>
    Object.fromEntries(ps.map((p, i) => [p.name, { dtype: c.dtype, shape: [...p.shape], data: vals[i] }]));
  const lossAt = async () => Number((await toHost((await runner.run(feeds())).loss)).data[0]);
  const out = await runner.run(feeds());
  const f64 = c.dtype === 'f64';
  const h = f64 ? 1e-6 : 1e-2;
  const [atol, rtol] = f64 ? [1e-7, 1e-6] : [2e-3, 2e-3];
  for (let i = 0; i < ps.length; i++) {
    const analytic = (await toHost(out[`grad/p${i}`])).data as Float32Array | Float64Array;
    for (let k = 0; k < vals[i].length; k++) {
      const x0 = vals[i][k];
      vals[i][k] = x0 + h;
      const up = await lossAt();
      vals[i][k] = x0 - h;
      const down = await lossAt();
      vals[i][k] = x0;
      const numeric = (up - down) / (2 * h);
      const err = Math.abs(analytic[k] - numeric);
      assert.ok(
        err <= atol + rtol * Math.abs(numeric),
        `${c.name}: d/dp${i}[${k}] autodiff ${analytic[k]} vs finite difference ${numeric} (err ${err.toExponential(2)})`,
      );
    }
  }
  await runner.release();
}

const cases: Case[] = [
  // elementwise (broadcast operands are summed back to their shape)
  {
    name: 'Add broadcast',
    dtype: 'f64',
    params: [{ shape: [2, 3] }, { shape: [3] }],
    f: (g, [a, b]) => g.add(a, b),
  },
  {
    name: 'Sub broadcast',
    dtype: 'f64',
    params: [{ shape: [2, 1] }, { shape: [2, 3] }],
    f: (g, [a, b]) => g.sub(a, b),
  },
  {
    name: 'Mul broadcast',
    dtype: 'f64',
    params: [{ shape: [2, 3] }, { shape: [1, 3] }],
    f: (g, [a, b]) => g.mul(a, b),
  },
  {
    name: 'Div',
    dtype: 'f64',
    params: [{ shape: [2, 3] }, { shape: [2, 3], positive: true }],
    f: (g, [a, b]) => g.div(a, b),
  },
  {
    name: 'Pow const exponent',
    dtype: 'f64',
    params: [{ shape: [5], positive: true }],
    f: (g, [a]) => g.pow(a, 3),
  },
  {
    name: 'Pow tensor exponent',
    dtype: 'f64',
    params: [{ shape: [4], positive: true }, { shape: [4] }],
    f: (g, [a, b]) => g.pow(a, b),
  },
  { name: 'Sqrt', dtype: 'f64', params: [{ shape: [5], positive: true }], f: (g, [a]) => g.sqrt(a) },
  { name: 'Exp', dtype: 'f64', params: [{ shape: [5] }], f: (g, [a]) => g.exp(a) },
  { name: 'Log', dtype: 'f64', params: [{ shape: [5], positive: true }], f: (g, [a]) => g.log(a) },
  { name: 'Neg', dtype: 'f64', params: [{ shape: [5] }], f: (g, [a]) => g.neg(a) },
  { name: 'Tanh', dtype: 'f64', params: [{ shape: [5] }], f: (g, [a]) => g.tanh(a) },
  { name: 'Sigmoid', dtype: 'f64', params: [{ shape: [5] }], f: (g, [a]) => g.sigmoid(g.mul(a, 3)) },
  { name: 'Cos', dtype: 'f64', params: [{ shape: [5] }], f: (g, [a]) => g.cos(g.mul(a, 3)) },
  { name: 'Sin', dtype: 'f64', params: [{ shape: [5] }], f: (g, [a]) => g.sin(g.mul(a, 3)) },
  { name: 'Erf', dtype: 'f32', params: [{ shape: [6] }], f: (g, [a]) => g.erf(a) },
  { name: 'Min', dtype: 'f64', params: [{ shape: [2, 3] }, { shape: [3] }], f: (g, [a, b]) => g.min(a, b) },
  {
    name: 'Max',
    dtype: 'f64',
    params: [{ shape: [2, 3] }, { shape: [2, 1] }],
    f: (g, [a, b]) => g.max(a, b),
  },
  {
    name: 'Where',
    dtype: 'f64',
    params: [{ shape: [2, 3] }, { shape: [3] }],
    f: (g, [a, b]) => g.where(g.less(a, 0), a, b),
  },
  {
    name: 'Cast f64 to f32 and back',
    dtype: 'f32',
    params: [{ shape: [4] }],
    f: (g, [a]) => g.mul(g.cast(g.cast(a, 'f64'), 'f32'), a),
  },
  // matrix products
  {
    name: 'Gemm',
    dtype: 'f64',
    params: [{ shape: [2, 3] }, { shape: [3, 4] }],
    f: (g, [a, b]) => g.matmul(a, b),
  },
  {
    name: 'Gemm transA transB alpha',
    dtype: 'f64',
    params: [{ shape: [3, 2] }, { shape: [4, 3] }],
    f: (g, [a, b]) => g.matmul(a, b, { transA: true, transB: true, alpha: 0.5 }),
  },
  {
    name: 'Gemm transB',
    dtype: 'f64',
    params: [{ shape: [2, 3] }, { shape: [4, 3] }],
    f: (g, [a, b]) => g.matmul(a, b, { transB: true }),
  },
  {
    name: 'Gemm, dX through a materialised Wᵀ (W small next to dY) with alpha',
    dtype: 'f64',
    params: [{ shape: [12, 3] }, { shape: [3, 2] }],
    f: (g, [x, w]) => g.matmul(x, w, { alpha: 0.7 }),
  },
  {
    name: 'Gemm with bias (linear)',
    dtype: 'f64',
    params: [{ shape: [3, 4] }, { shape: [4, 2] }, { shape: [2] }],
    f: (g, [x, w, b]) => g.linear(x, w, b),
  },
  {
    name: 'MatMul batched broadcast',
    dtype: 'f64',
    params: [{ shape: [2, 2, 3] }, { shape: [3, 2] }],
    f: (g, [a, b]) => g.matmul(a, b),
  },
  {
    name: 'MatMul batched with scale',
    dtype: 'f64',
    params: [{ shape: [2, 3, 4] }, { shape: [2, 4, 2] }],
    f: (g, [a, b]) => g.matmul(a, b, { alpha: 0.5 }),
  },
  {
    name: 'FusedMatMul transB alpha',
    dtype: 'f64',
    params: [{ shape: [2, 2, 3] }, { shape: [2, 4, 3] }],
    f: (g, [a, b]) => g.matmul(a, b, { transB: true, alpha: 0.7 }),
  },
  {
    name: 'FusedMatMul transA',
    dtype: 'f64',
    params: [{ shape: [2, 3, 2] }, { shape: [2, 3, 4] }],
    f: (g, [a, b]) => g.matmul(a, b, { transA: true }),
  },
  // shapes
  {
    name: 'Reshape',
    dtype: 'f64',
    params: [{ shape: [2, 3] }],
    f: (g, [a]) => g.mul(g.reshape(a, [3, 2]), g.reshape(a, [3, 2])),
  },
  {
    name: 'Transpose',
    dtype: 'f64',
    params: [{ shape: [2, 3, 2] }],
    f: (g, [a]) => g.mul(g.transpose(a, [2, 0, 1]), 1.5),
  },
  { name: 'Slice', dtype: 'f64', params: [{ shape: [3, 4] }], f: (g, [a]) => g.slice(a, 1, 1, 3) },
  {
    name: 'Split',
    dtype: 'f64',
    params: [{ shape: [2, 5] }],
    f: (g, [a]) => {
      const [x, , z] = g.split(a, [2, 1, 2], 1);
      return g.mul(x, z);
    },
  },
  {
    name: 'Concat',
    dtype: 'f64',
    params: [{ shape: [2, 2] }, { shape: [2, 3] }],
    f: (g, [a, b]) => g.concat([a, b, a], 1),
  },
  { name: 'Expand', dtype: 'f64', params: [{ shape: [3, 1] }], f: (g, [a]) => g.expand(a, [2, 3, 4]) },
  {
    name: 'Unsqueeze',
    dtype: 'f64',
    params: [{ shape: [3] }, { shape: [3, 2] }],
    f: (g, [a, b]) => g.mul(g.unsqueeze(a, 1), b),
  },
  {
    name: 'Gather (ScatterElements grad)',
    dtype: 'f64',
    params: [{ shape: [5, 3] }],
    f: (g, [a]) => g.gather(a, g.constant([4, 1, 1, 0, 4, 4], 'i64', [2, 3])),
  },
  {
    name: 'Gather (one-hot grad)',
    dtype: 'f32',
    params: [{ shape: [5, 3] }],
    f: (g, [a]) => g.gather(a, g.constant([4, 1, 1, 0, 4, 4], 'i64', [2, 3])),
    options: { embeddingGrad: 'onehot' },
  },
  // reductions
  {
    name: 'ReduceSum',
    dtype: 'f64',
    params: [{ shape: [2, 3, 2] }],
    f: (g, [a]) => g.reduceSum(g.mul(a, a), [0, 2]),
  },
  {
    name: 'ReduceMean keepdims',
    dtype: 'f64',
    params: [{ shape: [2, 3] }],
    f: (g, [a]) => g.mul(g.reduceMean(a, [1], true), a),
  },
  { name: 'ReduceMax', dtype: 'f64', params: [{ shape: [3, 4] }], f: (g, [a]) => g.reduceMax(a, [-1]) },
  {
    name: 'ReduceSumSquare',
    dtype: 'f64',
    params: [{ shape: [2, 3] }],
    f: (g, [a]) => g.reduceSumSquare(a, [1]),
  },
  // nn
  { name: 'Softmax', dtype: 'f64', params: [{ shape: [2, 4] }], f: (g, [a]) => g.softmax(a, -1) },
  { name: 'LogSoftmax', dtype: 'f64', params: [{ shape: [2, 4] }], f: (g, [a]) => g.logSoftmax(a, 1) },
  {
    name: 'LayerNormalization (saved f32 stats)',
    dtype: 'f32',
    params: [{ shape: [3, 4] }, { shape: [4] }, { shape: [4] }],
    f: (g, [x, w, b]) => g.layerNorm(x, w, b),
  },
  {
    name: 'LayerNormalization (recomputed f64 stats)',
    dtype: 'f64',
    params: [{ shape: [3, 4] }, { shape: [4] }, { shape: [4] }],
    f: (g, [x, w, b]) => g.layerNorm(x, w, b),
  },
  {
    name: 'normalize (x̂ saved by the forward pass, f32 stats)',
    dtype: 'f32',
    params: [{ shape: [3, 5] }],
    f: (g, [x]) => g.normalize(g.mul(x, 2)),
  },
  {
    name: 'normalize (f64)',
    dtype: 'f64',
    params: [{ shape: [3, 5] }],
    f: (g, [x]) => g.normalize(g.mul(x, 2)),
  },
  {
    name: 'RMS norm',
    dtype: 'f64',
    params: [{ shape: [2, 4] }, { shape: [4] }],
    f: (g, [x, w]) => g.rmsNorm(x, w),
  },
  {
    name: 'Gelu exact (Erf + x·Φ with its own rule)',
    dtype: 'f32',
    params: [{ shape: [6] }],
    f: (g, [a]) => g.gelu(g.mul(a, 2)),
  },
  {
    name: 'Gelu exact into a Gemm (1/√π folded into alpha)',
    dtype: 'f32',
    params: [{ shape: [3, 4] }, { shape: [4, 2] }, { shape: [2] }],
    f: (g, [x, w, b]) => g.linear(g.gelu(g.mul(x, 2)), w, b),
  },
  { name: 'Gelu tanh', dtype: 'f64', params: [{ shape: [6] }], f: (g, [a]) => g.gelu(g.mul(a, 2), 'tanh') },
  {
    name: 'Trilu + causal mask',
    dtype: 'f64',
    params: [{ shape: [2, 3, 3] }],
    f: (g, [a]) => g.softmax(g.add(g.trilu(a), g.causalMask(3, 'f64'))),
  },
  {
    name: 'SoftmaxCrossEntropyLoss ignore index + weights',
    dtype: 'f64',
    params: [{ shape: [4, 5] }, { shape: [4], positive: true }],
    f: (g, [logits, w]) =>
      g.crossEntropy(g.mul(logits, 2), g.constant([3, -100, 0, 4], 'i64', [4]), { weights: w }),
  },
  {
    name: 'SoftmaxCrossEntropyLoss with a 0/1 loss mask (fine-tuning)',
    dtype: 'f64',
    params: [{ shape: [5, 4] }],
    f: (g, [logits]) =>
      g.crossEntropy(g.mul(logits, 2), g.constant([3, 1, 0, 2, 1], 'i64', [5]), {
        weights: g.constant([0, 1, 1, 0, 1], 'f64', [5]),
      }),
  },
  {
    name: 'SoftmaxCrossEntropyLoss with every weight 0 (loss 0, no NaN)',
    dtype: 'f64',
    params: [{ shape: [3, 4] }],
    f: (g, [logits]) =>
      g.crossEntropy(logits, g.constant([3, 1, 0], 'i64', [3]), {
        weights: g.constant([0, 0, 0], 'f64', [3]),
      }),
  },
  {
    name: 'tokenLogProbs (−CE per token) with an ignored target',
    dtype: 'f64',
    params: [{ shape: [4, 5] }],
    f: (g, [logits]) => g.tokenLogProbs(g.mul(logits, 2), g.constant([3, -100, 0, 4], 'i64', [4])),
  },
  // policy-gradient loss (rl/policyLoss.ts): ratios exp(logp − old) of e^±0.4, e^±0.1 … on both clip sides
  {
    name: 'policyLoss plain −Σ w·A·logp',
    dtype: 'f64',
    params: [{ shape: [6] }],
    f: (g, [logp]) =>
      policyLoss(g, {
        logp,
        advantages: g.constant([0.5, -0.5, 1, 0, -1, 0.5], 'f64', [6]),
        weights: g.constant([0.2, 0.2, 0.2, 0, 0.2, 0.2], 'f64', [6]),
      }).loss,
  },
  {
    name: 'policyLoss with ratio clipping (ε 0.2) and the k3 KL penalty (β 0.3)',
    dtype: 'f64',
    params: [{ shape: [8] }],
    f: (g, [p]) => {
      const logp = g.mul(p, 0.3); // (8) ratios exp(logp) in [0.74, 1.35]: inside and outside [0.8, 1.2]
      const { loss, kl } = policyLoss(
        g,
        {
          logp,
          advantages: g.constant([0.5, -0.5, 0.5, -1, 0.5, -1, 0.5, -0.25], 'f64', [8]),
          weights: g.constant([0.1, 0.2, 0.1, 0.1, 0.2, 0.1, 0, 0.2], 'f64', [8]),
          old: g.constant(new Array<number>(8).fill(0), 'f64', [8]),
          ref: g.constant([0.3, -0.2, 0.5, 0.1, -0.6, 0.2, 0.4, -0.1], 'f64', [8]),
        },
        { clipEps: 0.2, klBeta: 0.3 },
      );
      return g.concat([g.reshape(loss, [1]), g.reshape(kl!, [1])], 0); // (2)
    },
  },
];

for (const c of cases)
  test(`${c.name}: gradient matches central finite differences (${c.dtype})`, () => check(c));
