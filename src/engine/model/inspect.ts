/**
 * An inspection pass over a text (B = 1) of any model family: the attention probabilities of every layer
 * and query head, the residual stream after every block, and the logit lens (the family's final norm and
 * lm_head applied to each layer's residual: what the model would predict if it stopped there).
 *
 *   const ins = await GptInspector.create(config, weights);                   // GPT-2
 *   const ins = await GptInspector.forFamily(m.fam, m.config, m.weights);     // any family (Llama: llama.ts)
 *   const r = await ins.inspect(ids);                   // ids.length ≤ blockSize
 *   r.attention[l][(h * n + i) * n + j]                 // how much token i attends to token j in layer l, head h
 *   r.lens.ids[(l * n + i) * k]                         // top prediction after block l-1 at position i (l = 0: embeddings)
 *   kvGroup(h, r.nHead, r.nKvHead)                      // the key/value head query head h reads (GQA)
 *
 * Residual rows: 0 is the embedding (GPT-2: wte + wpe; Llama: embed_tokens alone, RoPE acts inside each
 * block), l is after block l-1, nLayer after the last block, before the final norm; the lens of the last row
 * is the model's own next-token distribution. The graph is the model family's stack (family.ts), the same
 * blocks as training and decoding, under causal attention that outputs its probabilities per query head
 * (grouped-query attention: nKvHead < nHead, query heads kv·G … kv·G + G-1 share key/value head kv); the
 * lens is the family's own final norm (LayerNorm ln_f, RMSNorm model.norm) and lm_head, tied or not.
 */
import { Graph, targetOf, type GraphTarget } from '../graph/graph';
import { emitOnnx } from '../graph/emit';
import type { Tensor } from '../graph/tensor';
import type { ExecutionProvider } from '../runtime/ort';
import { GraphRunner, toHost, type HostTensor } from '../runtime/session';
import type { GptModelConfig } from './inference';
import { causalAttention, declareParams, stack, type FamilyConfig, type ModelFamily } from './family';
import { gpt2 } from './gpt2';
import { prefillBucket } from './kvCache';

export interface InspectOptions {
  /** Predictions kept per layer and position in the logit lens (default 5). */
  topK?: number;
  /** Also return the lens logits (L+1, n, V): large; for tests and small vocabularies. */
  lensLogits?: boolean;
}

export interface Inspection {
  tokens: number[];
  /** Tokens inspected (n). */
  n: number;
  nLayer: number;
  /** Query heads. */
  nHead: number;
  /** Key/value heads (nHead without grouped-query attention): see kvGroup. */
  nKvHead: number;
  /** Per layer: (nh, n, n), rows sum to 1, zero above the diagonal. */
  attention: Float32Array[];
  /** nLayer + 1 rows of (n, C): embeddings, then after each block. */
  residual: Float32Array[];
  lens: {
    k: number;
    /** (L+1, n, k) token ids, most likely first. */
    ids: Int32Array;
    /** (L+1, n, k) probabilities. */
    probs: Float32Array;
    logits?: Float32Array[];
  };
}

const TopKOp = { type: 'TopK' };

/**
 * The key/value head that query head h reads under grouped-query attention (Hugging Face's repeat_kv):
 * heads kv·G … kv·G + G-1 share head kv, G = nHead / nKvHead.
 *
 *   kvGroup(5, 8, 2)   // 1: query heads 4–7 share key/value head 1
 */
export function kvGroup(h: number, nHead: number, nKvHead: number): number {
  return Math.floor(h / (nHead / nKvHead));
}

/** Top-k probabilities and ids (T, k) of logits (T, V). */
function topK(g: Graph, logits: Tensor, k: number): { p: Tensor; id: Tensor } {
  const [T] = logits.shape;
  const [p, id] = g.node(
    TopKOp,
    [g.softmax(logits, -1), g.constI64([k])],
    { axis: -1, largest: 1, sorted: 1 },
    [
      { dtype: 'f32', shape: [T, k] },
      { dtype: 'i64', shape: [T, k] },
    ],
  ); // (T, k), (T, k)
  return { p, id };
}

/** Graph of the inspection pass for T (padded) tokens. */
export function buildInspectGraph<C extends FamilyConfig>(
  c: C,
  fam: ModelFamily<C>,
  T: number,
  k: number,
  lensLogits: boolean,
  target: GraphTarget = 'cpu',
): Graph {
  const g = new Graph({ name: `inspect-${T}`, target });
  const idx = g.input('idx', 'i64', [1, T]); // (1, T)
  const P = declareParams(g, fam.params(c));
  const attend = causalAttention(g, T, { probs: (p, l) => g.output(`att.${l}`, p) }); // (1, nh, T, T)
  const residual = (l: number, x: Tensor) => {
    g.output(`resid.${l}`, g.identity(x)); // (T, C)
    const logits = fam.logits(g, c, P, x); // (T, V) the lens: final norm and lm_head on this residual
    const lens = topK(g, logits, k); // (T, k), (T, k)
    g.output(`lens_p.${l}`, lens.p);
    g.output(`lens_id.${l}`, lens.id);
    if (lensLogits) g.output(`lens_logits.${l}`, logits);
  };
  stack(g, fam, c, P, idx, { B: 1, T }, attend, { residual });
  return g;
}

/** Rows [0, n) of the last two axes of a (H, T, T) array: (H, n, n). */
function cropSquare(a: Float32Array, H: number, T: number, n: number): Float32Array {
  const out = new Float32Array(H * n * n);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < n; i++) out.set(a.subarray((h * T + i) * T, (h * T + i) * T + n), (h * n + i) * n);
  return out;
}

export class GptInspector<C extends FamilyConfig = GptModelConfig> {
  private readonly runners = new Map<string, Promise<GraphRunner>>();

  private constructor(
    readonly fam: ModelFamily<C>,
    readonly config: C,
    private readonly weights: Record<string, HostTensor>,
    private readonly o: { ep?: ExecutionProvider; threads?: number },
  ) {}

  /** A GPT-2 inspector. */
  static async create(
    config: GptModelConfig,
    weights: Record<string, HostTensor>,
    o: { ep?: ExecutionProvider; threads?: number } = {},
  ): Promise<GptInspector<GptModelConfig>> {
    return new GptInspector(gpt2, config, weights, o);
  }

  /** An inspector of any family's model (loadModel's fam, config and weights). */
  static async forFamily<F extends FamilyConfig>(
    fam: ModelFamily<F>,
    config: F,
    weights: Record<string, HostTensor>,
    o: { ep?: ExecutionProvider; threads?: number } = {},
  ): Promise<GptInspector<F>> {
    return new GptInspector(fam, config, weights, o);
  }

  /** Runs the inspection pass over ids (1 … blockSize tokens). */
  async inspect(ids: readonly number[], o: InspectOptions = {}): Promise<Inspection> {
    const c = this.config;
    const n = ids.length;
    if (!n) throw new Error('inspect needs at least one token');
    if (n > c.blockSize)
      throw new Error(
        `inspect: ${n} tokens exceed blockSize ${c.blockSize}; inspect the last ${c.blockSize}`,
      );
    const k = Math.min(o.topK ?? 5, c.vocabSize);
    const T = prefillBucket(n, c.blockSize);
    const key = `${T}:${k}:${!!o.lensLogits}`;
    let r = this.runners.get(key);
    if (!r) {
      r = GraphRunner.create(
        emitOnnx(buildInspectGraph(c, this.fam, T, k, !!o.lensLogits, targetOf(this.o.ep))),
        {
          ep: this.o.ep,
          threads: this.o.threads,
        },
      );
      this.runners.set(key, r);
      r.catch(() => this.runners.delete(key));
    }
    const idx = new BigInt64Array(T);
    ids.forEach((t, i) => (idx[i] = BigInt(t)));
    const out = await (await r).run({ ...this.weights, idx: { dtype: 'i64', shape: [1, T], data: idx } });
    const get = async (name: string) => (await toHost(out[name])).data;
    const L = c.nLayer;
    const C = c.nEmbd;
    const V = c.vocabSize;
    const attention: Float32Array[] = [];
    for (let l = 0; l < L; l++)
      attention.push(cropSquare((await get(`att.${l}`)) as Float32Array, c.nHead, T, n));
    const residual: Float32Array[] = [];
    const ids32 = new Int32Array((L + 1) * n * k);
    const probs = new Float32Array((L + 1) * n * k);
    const logits: Float32Array[] = [];
    for (let l = 0; l <= L; l++) {
      residual.push(((await get(`resid.${l}`)) as Float32Array).slice(0, n * C));
      probs.set(((await get(`lens_p.${l}`)) as Float32Array).subarray(0, n * k), l * n * k);
      const lid = (await get(`lens_id.${l}`)) as BigInt64Array;
      for (let i = 0; i < n * k; i++) ids32[l * n * k + i] = Number(lid[i]);
      if (o.lensLogits) logits.push(((await get(`lens_logits.${l}`)) as Float32Array).slice(0, n * V));
    }
    return {
      tokens: [...ids],
      n,
      nLayer: L,
      nHead: c.nHead,
      nKvHead: this.fam.kvHeads(c).heads,
      attention,
      residual,
      lens: { k, ids: ids32, probs, ...(o.lensLogits ? { logits } : {}) },
    };
  }

  async release(): Promise<void> {
    for (const r of this.runners.values()) await (await r).release();
    this.runners.clear();
  }
}
