/**
 * GPT-2 as a graph: token + learned position embeddings, pre-LN blocks with causal self-attention
 * and a 4x GELU MLP, final LayerNorm, lm_head tied to the token embedding. Tensor names are Hugging
 * Face GPT-2's (`transformer.h.0.attn.c_attn.weight`) in Conv1D [in, out] layout, so weights load
 * from and save to the same safetensors files as transformers / nanoGPT / gpt_ref.py --init.
 *
 *   const { graph, spec } = buildGptTrainGraph(config, { kind: 'adamw', weightDecay: 0.1, beta2: 0.99, clip: 1 });
 *   const runner = await TrainRunner.create(emitOnnx(graph), spec, initGptWeights(config, 1337));
 *   const { loss } = await runner.step({ idx, targets }, 1e-3);
 */
import { Graph } from '../graph/graph';
import type { Tensor } from '../graph/tensor';
import type { GptConfigMessage } from '../../protocol/worker';
import { addOptimizer, type OptimizerOptions, type TrainStepSpec } from '../train/optim';
import { Rng } from '../train/rng';

/** A GPT's shape and the batch a graph is built for (fields documented on the protocol's message type). */
export interface GptConfig extends GptConfigMessage {
  /** How the embedding gradient is built; default one-hot MatMul (measured 4x faster than ScatterElements at nanoGPT shapes). */
  embeddingGrad?: 'scatter' | 'onehot';
  /**
   * Whether a training graph folds each LayerNorm's affine into the product it feeds (lnLinear):
   * 'auto' (default) where the weight is no larger than the activations, 'always', or 'never'.
   */
  foldNorms?: 'auto' | 'always' | 'never';
}

export interface ParamInfo {
  name: string;
  shape: number[];
}

/** Every parameter in Hugging Face GPT-2 naming and Conv1D [in, out] layout, in torch's named_parameters() order. */
export function gptParams(c: GptConfig): ParamInfo[] {
  const C = c.nEmbd;
  const out: ParamInfo[] = [
    { name: 'transformer.wte.weight', shape: [c.vocabSize, C] },
    { name: 'transformer.wpe.weight', shape: [c.blockSize, C] },
  ];
  const ln = (n: string) => [
    { name: `${n}.weight`, shape: [C] },
    ...(c.bias ? [{ name: `${n}.bias`, shape: [C] }] : []),
  ];
  const lin = (n: string, i: number, o: number) => [
    { name: `${n}.weight`, shape: [i, o] },
    ...(c.bias ? [{ name: `${n}.bias`, shape: [o] }] : []),
  ];
  for (let l = 0; l < c.nLayer; l++) {
    const h = `transformer.h.${l}`;
    out.push(...ln(`${h}.ln_1`), ...lin(`${h}.attn.c_attn`, C, 3 * C), ...lin(`${h}.attn.c_proj`, C, C));
    out.push(...ln(`${h}.ln_2`), ...lin(`${h}.mlp.c_fc`, C, 4 * C), ...lin(`${h}.mlp.c_proj`, 4 * C, C));
  }
  out.push(...ln('transformer.ln_f'));
  return out;
}

type Params = Map<string, Tensor>;

/**
 * linear(LayerNorm(x; ln), W, bias). For training (`fold`), the LayerNorm's affine folds into the product:
 * (x̂·w + b)·W + bias = x̂·(w ⊙ W) + (b·W + bias), so the backward pass reads x̂ as the forward pass saved
 * it and the per-row work of the LayerNorm's gradient drops from 12 passes to 7, for about 6 passes over
 * W: with 'auto', folded only where W is no larger than x (a GPT-2 vocabulary's lm_head is not). `transB`: W is
 * (N, C), as the tied lm_head's wte.
 */
function lnLinear(
  g: Graph,
  x: Tensor,
  ln: { w: Tensor; b?: Tensor },
  W: Tensor,
  bias: Tensor | undefined,
  o: { fold: Fold; transB?: boolean },
): Tensor {
  const transB = !!o.transB;
  if (o.fold === 'never' || (o.fold === 'auto' && W.size > x.size))
    return g.linear(g.layerNorm(x, ln.w, ln.b), W, bias, { transB }); // (rows, N)
  const xhat = g.normalize(x); // (rows, C)
  const folded = transB ? g.mul(W, ln.w) : g.mul(g.unsqueeze(ln.w, 1), W); // (N, C) or (C, N)
  const N = W.shape[transB ? 0 : 1];
  const shift = ln.b ? g.reshape(g.matmul(g.unsqueeze(ln.b, 0), W, { transB }), [N]) : undefined; // (N) b·W
  const c = shift && bias ? g.add(shift, bias) : (shift ?? bias); // (N)
  return g.linear(xhat, folded, c, { transB }); // (rows, N)
}
type Fold = NonNullable<GptConfig['foldNorms']>;
const lnOf = (P: Params, n: string) => ({ w: P.get(`${n}.weight`)!, b: P.get(`${n}.bias`) });

function attention(
  g: Graph,
  c: GptConfig,
  P: Params,
  h: string,
  x: Tensor,
  mask: Tensor,
  ln: { w: Tensor; b?: Tensor },
  fold: Fold,
): Tensor {
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const C = c.nEmbd;
  const nh = c.nHead;
  const hd = C / nh;
  const qkv = lnLinear(g, x, ln, P.get(`${h}.c_attn.weight`)!, P.get(`${h}.c_attn.bias`), { fold }); // (B·T, 3C) from LayerNorm(x)
  // one transpose puts q, k, v and the heads in place; splitting the leading axis is a contiguous copy
  const qkv5 = g.transpose(g.reshape(qkv, [B, T, 3, nh, hd]), [2, 0, 3, 1, 4]); // (3, B, nh, T, hd)
  const [q, k, v] = g.split(qkv5, [1, 1, 1], 0).map((t) => g.reshape(t, [B, nh, T, hd])); // (B, nh, T, hd) each
  const att = g.matmul(q, k, { transB: true, alpha: 1 / Math.sqrt(hd) }); // (B, nh, T, T) scale folded in
  const p = g.softmax(g.add(att, mask), -1); // (B, nh, T, T) additive causal mask
  const y = g.matmul(p, v); // (B, nh, T, hd)
  const merged = g.reshape(g.transpose(y, [0, 2, 1, 3]), [B * T, C]); // (B·T, C)
  return g.linear(merged, P.get(`${h}.c_proj.weight`)!, P.get(`${h}.c_proj.bias`)); // (B·T, C)
}

function mlp(
  g: Graph,
  c: GptConfig,
  P: Params,
  h: string,
  x: Tensor,
  ln: { w: Tensor; b?: Tensor },
  fold: Fold,
): Tensor {
  const hidden = g.gelu(
    lnLinear(g, x, ln, P.get(`${h}.c_fc.weight`)!, P.get(`${h}.c_fc.bias`), { fold }),
    c.gelu ?? 'none',
  ); // (B·T, 4C) from LayerNorm(x)
  return g.linear(hidden, P.get(`${h}.c_proj.weight`)!, P.get(`${h}.c_proj.bias`)); // (B·T, C)
}

function block(g: Graph, c: GptConfig, P: Params, l: number, x: Tensor, mask: Tensor, fold: Fold): Tensor {
  const h = `transformer.h.${l}`;
  const x1 = g.add(
    x,
    g.scope(`h.${l}.attn`, () => attention(g, c, P, `${h}.attn`, x, mask, lnOf(P, `${h}.ln_1`), fold)),
  ); // (B·T, C)
  return g.add(
    x1,
    g.scope(`h.${l}.mlp`, () => mlp(g, c, P, `${h}.mlp`, x1, lnOf(P, `${h}.ln_2`), fold)),
  ); // (B·T, C)
}

/**
 * Logits (B·T, V) of a GPT for token ids idx (B, T); declares the parameters on g. `train`: a backward
 * pass will follow, so LayerNorms fold into the products they feed (lnLinear, c.foldNorms).
 */
export function gptForward(
  g: Graph,
  c: GptConfig,
  idx: Tensor,
  o: { train?: boolean } = {},
): { logits: Tensor; params: Params } {
  const fold: Fold = o.train ? (c.foldNorms ?? 'auto') : 'never';
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const C = c.nEmbd;
  if (C % c.nHead) throw new Error(`GPT config: nEmbd ${C} is not divisible by nHead ${c.nHead}`);
  if (T > c.blockSize) throw new Error(`GPT config: seqLen ${T} exceeds blockSize ${c.blockSize}`);
  const P: Params = new Map(gptParams(c).map((p) => [p.name, g.param(p.name, p.shape)]));
  const wte = P.get('transformer.wte.weight')!;
  const wpe = P.get('transformer.wpe.weight')!;
  const pos = T === c.blockSize ? wpe : g.slice(wpe, 0, 0, T); // (T, C)
  let x = g.reshape(g.add(g.gather(wte, idx), pos), [B * T, C]); // (B, T, C) -> (B·T, C)
  const mask = g.causalMask(T); // (T, T)
  for (let l = 0; l < c.nLayer; l++) x = block(g, c, P, l, x, mask, fold);
  const logits = g.named(
    lnLinear(g, x, lnOf(P, 'transformer.ln_f'), wte, undefined, { fold, transB: true }),
    'logits',
  ); // (B·T, V) tied lm_head on ln_f(x)
  return { logits, params: P };
}

/**
 * One training step of a GPT as a graph: inputs idx, targets (B, T) i64, lr, step and the state;
 * outputs loss, grad_norm and the new state (see train/optim.ts).
 */
export function buildGptTrainGraph(
  c: GptConfig,
  opt: OptimizerOptions,
): { graph: Graph; spec: TrainStepSpec } {
  const g = new Graph({ name: 'gpt-train-step', embeddingGrad: c.embeddingGrad ?? 'onehot' });
  const B = c.batchSize;
  const T = c.seqLen ?? c.blockSize;
  const idx = g.input('idx', 'i64', [B, T]); // (B, T)
  const targets = g.input('targets', 'i64', [B, T]); // (B, T)
  const { logits } = gptForward(g, c, idx, { train: true });
  const loss = g.crossEntropy(logits, g.reshape(targets, [B * T])); // ()
  const spec = addOptimizer(g, loss, opt);
  return { graph: g, spec };
}

/** GPT-2 initialisation (as nanoGPT / gpt_ref.py): N(0, 0.02), residual projections N(0, 0.02/√(2·nLayer)), LN 1/0, biases 0. */
export function initGptWeights(
  c: GptConfig,
  seed: number,
): Record<string, { dtype: 'f32'; shape: number[]; data: Float32Array }> {
  const normal = gaussian(seed);
  const out: Record<string, { dtype: 'f32'; shape: number[]; data: Float32Array }> = {};
  for (const p of gptParams(c)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (p.shape.length === 2) {
      const std = p.name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < n; i++) data[i] = normal() * std;
    } else if (/ln_\d\.weight$|ln_f\.weight$/.test(p.name)) data.fill(1);
    out[p.name] = { dtype: 'f32', shape: p.shape, data };
  }
  return out;
}

/** Uniform samples in (0, 1), never 0 (Box–Muller takes the log): train/rng.ts's mulberry32 shifted by half a step. */
export function uniform(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next() + 0.5 / 4294967296;
}

/** Standard normal samples (Box–Muller). */
export function gaussian(seed: number): () => number {
  const u = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}
