/**
 * One transformer definition, families as blocks. A model family says what its parameters are called
 * (its Hugging Face names and layouts) and how its embedding, one residual block and its head compute;
 * the graphs that run a model (the training step, the key/value-cache prefill and decode, the inspection
 * pass) are the same stack of the same block and differ only in the attention core they hand it, as
 * nanoGPT's one `Block` serves both `forward` and `generate`:
 *
 *   const P = declareParams(g, gpt2.params(c));
 *   const attend = causalAttention(g, T);                    // softmax(q·kᵀ/√hd + causal mask)·v
 *   const x = stack(g, gpt2, c, P, idx, { B, T }, attend);   // (B·T, C): embed, then every block
 *   const logits = gpt2.logits(g, c, P, x);                  // (B·T, V)
 *
 * The attention cores: `causalAttention` here (training, prefill, inspection; `probs` records the
 * probabilities) and the one-token cache core of kvCache.ts (decode); a core may output what it sees
 * (prefill outputs every layer's k and v). The graph builders take the family as an argument
 * (buildPrefillGraph, buildDecodeGraph, buildInspectGraph); gptForward and GptInspector pass gpt2,
 * KvCacheModel.forFamily and GptInference.forFamily any family (llama.ts's too).
 *
 * Adding a family (Llama, say) is writing one `ModelFamily` in its own file beside gpt2.ts, with a config
 * that extends FamilyConfig (nKvHead, intermediateSize, ropeTheta, rmsNormEps, tieWordEmbeddings):
 *   params   model.embed_tokens.weight; per layer model.layers.{l}. + input_layernorm.weight,
 *            self_attn.{q,k,v,o}_proj.weight, post_attention_layernorm.weight,
 *            mlp.{gate,up,down}_proj.weight; model.norm.weight; lm_head.weight unless tied. nn.Linear weights are [out, in], so each
 *            product is `g.linear(x, W, b, { transB: true })`
 *   embed    the token embedding alone (positions enter each block through RoPE)
 *   block    rmsNorm → q (B, nh, T, hd), k and v (B, nKvHead, T, hd); RoPE in Hugging Face's rotate-half
 *            layout on q and k at the rows' positions (`s.pos`, or 0…T-1); attend(q, k, v, l); o_proj;
 *            rmsNorm → down_proj(silu(gate_proj) · up_proj). gpt2.ts's LayerNorm fold (lnLinear) carries
 *            over to RMSNorm for the training graph: x̂ = x·r, and w folds into W
 *   logits   rmsNorm(model.norm), then lm_head
 *   kvHeads  nKvHead and hd: the cache holds keys after RoPE
 * Grouped-query attention belongs to the cores: given k, v with fewer heads than q, a core broadcasts
 * each key/value head over its nh / nKvHead query heads. Query heads h = kv·G … kv·G + G-1 share key/value
 * head kv (Hugging Face's repeat_kv), so q (B, nh, T, hd) reshapes for free to (B, nKv, G·T, hd), one
 * product per key/value head (`groupQueries`). llama.ts is such a family.
 */
import type { Graph } from '../graph/graph';
import type { Tensor } from '../graph/tensor';

/** A parameter in the family's Hugging Face naming and layout. */
export interface ParamInfo {
  name: string;
  shape: number[];
}

/** The declared parameters of a graph by name. */
export type Params = Map<string, Tensor>;

/** The config fields every family has (Hugging Face: vocab_size, n_positions, n_layer, n_head, n_embd). */
export interface FamilyConfig {
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
}

/**
 * The rows a graph runs: B sequences of T tokens each, flattened to B·T rows between blocks, at
 * positions `pos` ((T) i64, the same for every sequence) or 0…T-1 when absent. llama.ts also takes
 * (B, T) positions, one row per sequence.
 */
export interface Rows {
  B: number;
  T: number;
  pos?: Tensor;
}

/**
 * An attention core: q (B, nh, T, hd) and k, v (B, nKvHead, T, hd) of layer l → y (B, nh, T, hd), the
 * probability-weighted values of the keys this core attends to (the causal past, or the cache and itself).
 */
export type Attend = (q: Tensor, k: Tensor, v: Tensor, l: number) => Tensor;

/** How a graph uses the block: `foldNorms` folds each norm's weight into the product it feeds (training). */
export interface BlockOptions {
  foldNorms?: 'auto' | 'always' | 'never';
}

export interface ModelFamily<C extends FamilyConfig> {
  /** Every parameter, in torch's named_parameters() order. */
  params(c: C): ParamInfo[];
  /** Key/value heads per layer and their size: what a key/value cache holds. */
  kvHeads(c: C): { heads: number; headSize: number };
  /** The residual stream at the start of the stack for token ids idx (B, T): (B·T, C). */
  embed(g: Graph, c: C, P: Params, idx: Tensor, s: Rows): Tensor;
  /** Block l on the residual x (B·T, C) with the caller's attention core: (B·T, C). */
  block(g: Graph, c: C, P: Params, l: number, x: Tensor, s: Rows, attend: Attend, o?: BlockOptions): Tensor;
  /** The final norm and the lm_head on any rows of the residual (N, C): logits (N, V). */
  logits(g: Graph, c: C, P: Params, x: Tensor, o?: BlockOptions): Tensor;
}

/** Declares the parameters on g as graph inputs under their names: one set of weights feeds every graph. */
export function declareParams(g: Graph, params: readonly ParamInfo[]): Params {
  return new Map(params.map((p) => [p.name, g.param(p.name, p.shape)]));
}

/** The declared parameter `name`; an error names it when the graph lacks it. */
export function param(P: Params, name: string): Tensor {
  const t = P.get(name);
  if (!t) throw new Error(`model graph: no parameter ${name} is declared`);
  return t;
}

/**
 * The family's stack on token ids idx (B, T): the embedding, then every block with the caller's
 * attention core; `residual(l, x)` sees the stream before block l and, at l = nLayer, after the last.
 * Returns the last residual (B·T, C), before the final norm (`fam.logits` applies it).
 */
export function stack<C extends FamilyConfig>(
  g: Graph,
  fam: ModelFamily<C>,
  c: C,
  P: Params,
  idx: Tensor,
  s: Rows,
  attend: Attend,
  o: BlockOptions & { residual?: (l: number, x: Tensor) => void } = {},
): Tensor {
  let x = fam.embed(g, c, P, idx, s); // (B·T, C)
  o.residual?.(0, x);
  for (let l = 0; l < c.nLayer; l++) {
    x = fam.block(g, c, P, l, x, s, attend, o); // (B·T, C)
    o.residual?.(l + 1, x);
  }
  return x;
}

/**
 * Causal self-attention over T rows from position 0: softmax(q·kᵀ/√hd + mask)·v with the scale folded
 * into the product. `probs` sees each layer's probabilities (B, nh, T, T) (inspection).
 */
export function causalAttention(
  g: Graph,
  T: number,
  o: { probs?: (p: Tensor, l: number) => void } = {},
): Attend {
  const mask = g.causalMask(T); // (T, T) 0 on and below the diagonal, -inf above
  return (q, k, v, l) => {
    const [B, nh, , hd] = q.shape;
    const G = groupSize(q, k);
    const qg = G === 1 ? q : g.reshape(q, [B, k.shape[1], G * T, hd]); // (B, nKv, G·T, hd) query heads by group
    const scores = g.matmul(qg, k, { transB: true, alpha: 1 / Math.sqrt(hd) }); // (B, nKv, G·T, T) scale folded in
    const att = G === 1 ? scores : g.reshape(scores, [B, nh, T, T]); // (B, nh, T, T)
    const m = att.dtype === mask.dtype ? mask : g.cast(mask, att.dtype); // a float64 graph's (tests)
    const p = g.softmax(g.add(att, m), -1); // (B, nh, T, T) additive causal mask
    o.probs?.(p, l);
    if (G === 1) return g.matmul(p, v); // (B, nh, T, hd)
    const y = g.matmul(g.reshape(p, [B, k.shape[1], G * T, T]), v); // (B, nKv, G·T, hd)
    return g.reshape(y, [B, nh, T, hd]); // (B, nh, T, hd)
  };
}

/**
 * Query heads per key/value head (1 without grouped-query attention); refuses k, v whose heads do not
 * divide q's or whose head size differs.
 */
export function groupSize(q: Tensor, k: Tensor): number {
  const [nh, nKv] = [q.shape[1], k.shape[1]];
  if (nh % nKv || q.shape[3] !== k.shape[3])
    throw new Error(
      `attention: ${nKv} key/value heads of size ${k.shape[3]} for ${nh} query heads of size ${q.shape[3]}: ` +
        'the key/value heads must divide the query heads (grouped-query attention), with one head size',
    );
  return nh / nKv;
}

/**
 * Logits (B·T, V) of any family for token ids idx (B, T) from position 0, without gradients: declares the
 * parameters on g, stacks the blocks under causal attention, applies the head (inference.ts).
 */
export function familyForward<C extends FamilyConfig>(
  g: Graph,
  fam: ModelFamily<C>,
  c: C,
  idx: Tensor,
  s: { B: number; T: number },
): Tensor {
  if (s.T > c.blockSize) throw new Error(`model config: ${s.T} positions exceed blockSize ${c.blockSize}`);
  const P = declareParams(g, fam.params(c));
  const x = stack(g, fam, c, P, idx, { B: s.B, T: s.T }, causalAttention(g, s.T)); // (B·T, C)
  return g.named(fam.logits(g, c, P, x), 'logits'); // (B·T, V)
}
