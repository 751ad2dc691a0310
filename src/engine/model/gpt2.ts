/**
 * The GPT-2 family: token + learned position embeddings, pre-LN blocks of causal self-attention and a 4x
 * GELU MLP, final LayerNorm, lm_head tied to the token embedding. Tensor names are Hugging Face GPT-2's
 * (`transformer.h.0.attn.c_attn.weight`, `gpt2Names`) in Conv1D [in, out] layout, so weights load from
 * and save to the same safetensors files as transformers / nanoGPT / gpt_ref.py. The training step, the
 * key/value-cache decoder and the inspection pass all run this block (family.ts).
 *
 *   const P = declareParams(g, gpt2.params(c));
 *   let x = gpt2.embed(g, c, P, idx, { B, T });                               // (B·T, C)
 *   x = gpt2.block(g, c, P, 0, x, { B, T }, causalAttention(g, T));           // (B·T, C)
 */
import type { Graph } from '../graph/graph';
import type { Tensor } from '../graph/tensor';
import {
  param,
  type Attend,
  type BlockOptions,
  type ModelFamily,
  type Params,
  type ParamInfo,
  type Rows,
} from './family';
import type { GptModelConfig } from './inference';

/** Hugging Face GPT-2's parameter names: `.weight` / `.bias` follow each module's. */
export const gpt2Names = {
  wte: 'transformer.wte.weight',
  wpe: 'transformer.wpe.weight',
  lnF: 'transformer.ln_f',
  layer: (l: number) => {
    const h = `transformer.h.${l}`;
    return {
      h,
      ln1: `${h}.ln_1`,
      attn: `${h}.attn`,
      cAttn: `${h}.attn.c_attn`,
      attnProj: `${h}.attn.c_proj`,
      ln2: `${h}.ln_2`,
      mlp: `${h}.mlp`,
      cFc: `${h}.mlp.c_fc`,
      mlpProj: `${h}.mlp.c_proj`,
    };
  },
};

/** Every parameter in Conv1D [in, out] layout, in torch's named_parameters() order; biases when c.bias. */
function params(c: GptModelConfig): ParamInfo[] {
  const C = c.nEmbd;
  const out: ParamInfo[] = [
    { name: gpt2Names.wte, shape: [c.vocabSize, C] },
    { name: gpt2Names.wpe, shape: [c.blockSize, C] },
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
    const n = gpt2Names.layer(l);
    out.push(...ln(n.ln1), ...lin(n.cAttn, C, 3 * C), ...lin(n.attnProj, C, C));
    out.push(...ln(n.ln2), ...lin(n.cFc, C, 4 * C), ...lin(n.mlpProj, 4 * C, C));
  }
  out.push(...ln(gpt2Names.lnF));
  return out;
}

type Fold = NonNullable<BlockOptions['foldNorms']>;
interface Affine {
  w: Tensor;
  b?: Tensor;
}
const affine = (P: Params, n: string): Affine => ({ w: param(P, `${n}.weight`), b: P.get(`${n}.bias`) });

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
  ln: Affine,
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

/** Causal self-attention of the rows x (B·T, C): LayerNorm, c_attn, heads, the caller's core, c_proj. */
function attention(
  g: Graph,
  c: GptModelConfig,
  P: Params,
  l: number,
  x: Tensor,
  s: Rows,
  attend: Attend,
  fold: Fold,
): Tensor {
  const { B, T } = s;
  const C = c.nEmbd;
  const nh = c.nHead;
  const hd = C / nh;
  const n = gpt2Names.layer(l);
  const { w, b } = affine(P, n.cAttn);
  const qkv = lnLinear(g, x, affine(P, n.ln1), w, b, { fold }); // (B·T, 3C) from LayerNorm(x)
  // one transpose puts q, k, v and the heads in place; splitting the leading axis is a contiguous copy
  const qkv5 = g.transpose(g.reshape(qkv, [B, T, 3, nh, hd]), [2, 0, 3, 1, 4]); // (3, B, nh, T, hd)
  const [q, k, v] = g.split(qkv5, [1, 1, 1], 0).map((t) => g.reshape(t, [B, nh, T, hd])); // (B, nh, T, hd) each
  const y = attend(q, k, v, l); // (B, nh, T, hd)
  const merged = g.reshape(g.transpose(y, [0, 2, 1, 3]), [B * T, C]); // (B·T, C)
  const proj = affine(P, n.attnProj);
  return g.linear(merged, proj.w, proj.b); // (B·T, C)
}

/** The MLP of the rows x (B·T, C): LayerNorm, c_fc, GELU, c_proj. */
function mlp(g: Graph, c: GptModelConfig, P: Params, l: number, x: Tensor, fold: Fold): Tensor {
  const n = gpt2Names.layer(l);
  const fc = affine(P, n.cFc);
  const hidden = g.gelu(lnLinear(g, x, affine(P, n.ln2), fc.w, fc.b, { fold }), c.gelu ?? 'none'); // (B·T, 4C) from LayerNorm(x)
  const proj = affine(P, n.mlpProj);
  return g.linear(hidden, proj.w, proj.b); // (B·T, C)
}

/** The rows of wpe (blockSize, C) at the positions of s: (T, C). */
function positionEmbedding(g: Graph, wpe: Tensor, s: Rows): Tensor {
  if (s.pos) return g.gather(wpe, s.pos); // (T, C)
  return s.T === wpe.shape[0] ? wpe : g.slice(wpe, 0, 0, s.T); // (T, C) positions 0…T-1
}

export const gpt2: ModelFamily<GptModelConfig> = {
  params,

  kvHeads: (c) => ({ heads: c.nHead, headSize: c.nEmbd / c.nHead }),

  /** wte[idx] + wpe[positions]: (B·T, C). */
  embed(g, c, P, idx, s) {
    const wpe = param(P, gpt2Names.wpe);
    const pos = positionEmbedding(g, wpe, s); // (T, C)
    const tok = g.gather(param(P, gpt2Names.wte), idx); // (B, T, C)
    return g.reshape(g.add(tok, pos), [s.B * s.T, c.nEmbd]); // (B, T, C) -> (B·T, C)
  },

  /** x + attn(ln_1(x)), then + mlp(ln_2(·)); nodes named under h.{l}.attn/ and h.{l}.mlp/. */
  block(g, c, P, l, x, s, attend, o = {}) {
    const fold = o.foldNorms ?? 'never';
    const x1 = g.add(
      x,
      g.scope(`h.${l}.attn`, () => attention(g, c, P, l, x, s, attend, fold)),
    ); // (B·T, C)
    return g.add(
      x1,
      g.scope(`h.${l}.mlp`, () => mlp(g, c, P, l, x1, fold)),
    ); // (B·T, C)
  },

  /** ln_f, then the lm_head tied to wte: (N, V). */
  logits(g, _c, P, x, o = {}) {
    const wte = param(P, gpt2Names.wte);
    return lnLinear(g, x, affine(P, gpt2Names.lnF), wte, undefined, {
      fold: o.foldNorms ?? 'never',
      transB: true,
    }); // (N, V)
  },
};
