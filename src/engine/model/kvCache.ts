/**
 * GPT generation with a key/value cache: a prefill graph runs the prompt once and returns the last
 * position's logits and every layer's keys and values; a decode graph takes one token, its position
 * and the cached keys/values and returns the logits and that token's new key/value. The cost of a
 * new token stays flat instead of growing with the context. Both graphs are the model family's stack
 * (family.ts, gpt2.ts), the same blocks as the training step, with their own attention core: prefill's is
 * causal attention that also outputs every layer's keys and values, decode's (`cachedAttention`) attends
 * over the cache slots and the new token.
 *
 *   const m = await KvCacheModel.create(config, weights);
 *   const cache = m.newCache();
 *   let logits = await m.prefill(cache, promptIds);   // (V) after the prompt
 *   logits = await m.append(cache, nextId);            // (V) after one more token
 *   const l = await KvCacheModel.forFamily(llama, config, weights); // another family (llama.ts)
 *
 * Static shapes. The cache has a fixed capacity of blockSize slots per layer, (1, nh, blockSize, hd),
 * kept on the host. The decode graph attends over all slots plus the new token; an additive mask
 * input (1, blockSize) holds 0 for filled slots and -inf for empty ones, so one decode graph serves
 * every position (no graph per length, no cache copy in the graph: only the new token's key and
 * value come out, and the host writes them into slot `pos`). Prefill graphs come in power-of-two
 * buckets (16, 32, …, blockSize) padded after the prompt; causal attention never looks at the
 * padding, and the padded slots are masked out later.
 *
 * Batches: `prefillBatch` + `appendBatch` decode B streams of one prompt together (a group of RL answers,
 * sample/generateBatch.ts): the prompt is prefilled once and copied into each stream's cache, then one
 * decode graph with B rows runs every step; all streams sit at the same position, so pos and the mask are
 * shared, and a batch does not slide. A batch cache holds `capacity` slots, a power of two (16, 32, …,
 * blockSize) just above its length, and doubles when full, with a decode graph per capacity: attention
 * reads the cache's slots, and reading all blockSize of them at every step was most of a step's time
 * (8.5 of 17 ms at 6L/384, B = 8, 1 thread, when 40 of 256 slots were filled).
 *
 * Sliding: when the context outgrows blockSize, `append` drops the oldest tokens and refills the
 * cache from the last `slideKeep` tokens (default ¾·blockSize), because positions shift and every
 * cached key would change. With slideKeep = blockSize every token past the block re-prefills a
 * full window: exactly nanoGPT's crop (`idx[:, -block_size:]`) at the cost of a recompute.
 */
import { Graph, targetOf, type GraphTarget } from '../graph/graph';
import { emitOnnx } from '../graph/emit';
import type { Tensor } from '../graph/tensor';
import type { ExecutionProvider } from '../runtime/ort';
import { GraphRunner, toHost, type HostTensor } from '../runtime/session';
import {
  causalAttention,
  declareParams,
  groupSize,
  stack,
  type Attend,
  type FamilyConfig,
  type ModelFamily,
} from './family';
import { gpt2 } from './gpt2';
import type { GptModelConfig } from './inference';

export interface KvCacheOptions {
  ep?: ExecutionProvider;
  threads?: number;
  /** Tokens kept when the context slides past blockSize (1 … blockSize; default ¾·blockSize). */
  slideKeep?: number;
  /**
   * Intra-op threads of the one-token decode graph. Default: 1 for models under 30M parameters (a decode
   * step is a few million multiply-adds: thread hand-offs cost more than they save; measured 5 ms/token
   * on 1 thread vs 13 ms on 2 at 6L/384), else `threads`. Batched decode graphs too (G = 8 at 4L/256: 1.5k
   * tokens/s on 1 thread, 0.5k on 2, on 2 shared cores).
   */
  decodeThreads?: number;
}

/** One sequence's cache: keys and values per layer, (1, nh, blockSize, hd) each, and the tokens in it. */
export interface KvCache {
  k: Float32Array[];
  v: Float32Array[];
  /** The whole context so far (may be longer than the window). */
  tokens: number[];
  /** Filled slots: the window is tokens.slice(-length). */
  length: number;
  /** How many times the window slid (each one a re-prefill). */
  slides: number;
}

/**
 * B streams that share a prompt and advance together (G answers to one prompt): per layer keys and values
 * (B, nh, capacity, hd), and the filled slots, the same for every stream. No sliding: a batch stops at
 * blockSize (see `appendBatch`).
 */
export interface KvBatchCache {
  B: number;
  k: Float32Array[];
  v: Float32Array[];
  length: number;
  /** Slots per stream in k and v (grows by doubling up to blockSize). */
  capacity: number;
}

/**
 * Prefill graph for T (padded) tokens: inputs idx (1, T) and last (1) = index of the last real
 * token; outputs logits (1, V) at `last` and `k.{l}`, `v.{l}` (1, nh, T, hd) for every layer.
 */
export function buildPrefillGraph<C extends FamilyConfig>(
  c: C,
  fam: ModelFamily<C>,
  T: number,
  target: GraphTarget = 'cpu',
): Graph {
  const g = new Graph({ name: `gpt-prefill-${T}`, target });
  const idx = g.input('idx', 'i64', [1, T]); // (1, T)
  const last = g.input('last', 'i64', [1]); // (1)
  const P = declareParams(g, fam.params(c));
  const causal = causalAttention(g, T);
  const attend: Attend = (q, k, v, l) => {
    g.output(`k.${l}`, k); // (1, nh, T, hd)
    g.output(`v.${l}`, v); // (1, nh, T, hd)
    return causal(q, k, v, l); // (1, nh, T, hd)
  };
  const x = stack(g, fam, c, P, idx, { B: 1, T }, attend); // (T, C)
  g.output('logits', fam.logits(g, c, P, g.gather(x, last))); // (1, V) at the last real token
  return g;
}

/**
 * The decode graph's attention core for one new token per stream, q (B, nh, 1, hd) and k, v (B, nKv, 1, hd),
 * at slot `pos` of S cache slots: the scores over `past_k.{l}` (B, nKv, S, hd), masked by `mask` (1, S),
 * and over the token's own key, each key/value head shared by its nh / nKv query heads; outputs the token's
 * `k.{l}` / `v.{l}` (B, nKv, 1, hd) for the host to write into the cache.
 */
function cachedAttention(g: Graph, B: number, S: number, mask: Tensor): Attend {
  return (q, k, v, l) => {
    const G = groupSize(q, k);
    const [, nh, , hd] = k.shape; // key/value heads
    const pastK = g.input(`past_k.${l}`, 'f32', [B, nh, S, hd]); // (B, nh, S, hd)
    const pastV = g.input(`past_v.${l}`, 'f32', [B, nh, S, hd]); // (B, nh, S, hd)
    const qg = G === 1 ? q : g.reshape(q, [B, nh, G, hd]); // (B, nh, G, hd) grouped-query: G query heads per key/value head
    const scale = 1 / Math.sqrt(hd);
    const past = g.add(g.matmul(qg, pastK, { transB: true, alpha: scale }), mask); // (B, nh, G, S)
    const self = g.mul(g.reduceSum(g.mul(qg, k), [-1], true), scale); // (B, nh, G, 1)
    const p = g.softmax(g.concat([past, self], -1), -1); // (B, nh, G, S + 1)
    const y = g.add(g.matmul(g.slice(p, 3, 0, S), pastV), g.mul(g.slice(p, 3, S, S + 1), v)); // (B, nh, G, hd)
    g.output(`k.${l}`, k); // (B, nh, 1, hd)
    g.output(`v.${l}`, v); // (B, nh, 1, hd)
    return G === 1 ? y : g.reshape(y, [B, nh * G, 1, hd]); // (B, nh·G, 1, hd) the query heads
  };
}

/**
 * One-token decode graph for B streams at the same position (a group of answers to one prompt): inputs
 * idx (B, 1), pos (1), mask (1, S) additive over S cache slots (default blockSize), `past_k.{l}` /
 * `past_v.{l}` (B, nh, S, hd); outputs logits (B, V) and each stream's new `k.{l}` / `v.{l}` (B, nh, 1, hd).
 */
export function buildDecodeGraph<C extends FamilyConfig>(
  c: C,
  fam: ModelFamily<C>,
  B = 1,
  S = c.blockSize,
  target: GraphTarget = 'cpu',
): Graph {
  const name = B === 1 && S === c.blockSize ? 'gpt-decode' : `gpt-decode-${B}x${S}`;
  const g = new Graph({ name, target });
  const idx = g.input('idx', 'i64', [B, 1]); // (B, 1)
  const pos = g.input('pos', 'i64', [1]); // (1)
  const mask = g.input('mask', 'f32', [1, S]); // (1, S) 0 filled, -inf empty
  const P = declareParams(g, fam.params(c));
  const x = stack(g, fam, c, P, idx, { B, T: 1, pos }, cachedAttention(g, B, S, mask)); // (B, C)
  g.output('logits', fam.logits(g, c, P, x)); // (B, V)
  return g;
}

/** Prefill bucket for n tokens: the smallest power of two ≥ max(n, 16), capped at blockSize. */
export function prefillBucket(n: number, blockSize: number): number {
  let T = 16;
  while (T < n) T *= 2;
  return Math.min(T, blockSize);
}

export class KvCacheModel<C extends FamilyConfig = GptModelConfig> {
  private readonly runners = new Map<string, Promise<GraphRunner>>();
  readonly slideKeep: number;

  private constructor(
    readonly fam: ModelFamily<C>,
    readonly config: C,
    public weights: Record<string, HostTensor>,
    private readonly o: KvCacheOptions,
  ) {
    this.slideKeep = o.slideKeep ?? Math.max(1, Math.floor((config.blockSize * 3) / 4));
    if (!(this.slideKeep >= 1 && this.slideKeep <= config.blockSize))
      throw new Error(`slideKeep must be between 1 and blockSize ${config.blockSize}, got ${this.slideKeep}`);
  }

  /** A GPT-2 (gpt2.ts). */
  static async create(
    config: GptModelConfig,
    weights: Record<string, HostTensor>,
    o: KvCacheOptions = {},
  ): Promise<KvCacheModel> {
    return KvCacheModel.forFamily(gpt2, config, weights, o);
  }

  /** A model of any family (llama.ts's, say). */
  static async forFamily<F extends FamilyConfig>(
    fam: ModelFamily<F>,
    config: F,
    weights: Record<string, HostTensor>,
    o: KvCacheOptions = {},
  ): Promise<KvCacheModel<F>> {
    for (const p of fam.params(config)) if (!weights[p.name]) throw new Error(`model weights lack ${p.name}`);
    return new KvCacheModel(fam, config, weights, o);
  }

  /** Other weights of the same shapes, keeping the compiled graphs (a training run's samples). */
  setWeights(weights: Record<string, HostTensor>): void {
    for (const p of this.fam.params(this.config)) {
      const w = weights[p.name];
      if (!w) throw new Error(`GPT weights lack ${p.name}`);
      if (w.data.length !== p.shape.reduce((x, y) => x * y, 1))
        throw new Error(`GPT weight ${p.name} has ${w.data.length} values, expected [${p.shape.join(', ')}]`);
    }
    this.weights = weights;
  }

  /** Key/value heads per layer and their size. */
  private get kv(): { heads: number; headSize: number } {
    return this.fam.kvHeads(this.config);
  }

  /** Floats per layer of a cache: (1, heads, blockSize, headSize). */
  private get layerSize(): number {
    return this.kv.heads * this.config.blockSize * this.kv.headSize;
  }

  /** An empty cache (blockSize slots per layer). */
  newCache(): KvCache {
    const L = this.config.nLayer;
    return {
      k: Array.from({ length: L }, () => new Float32Array(this.layerSize)),
      v: Array.from({ length: L }, () => new Float32Array(this.layerSize)),
      tokens: [],
      length: 0,
      slides: 0,
    };
  }

  /** A copy of a cache (for branching a generation). */
  forkCache(c: KvCache): KvCache {
    return {
      k: c.k.map((a) => a.slice()),
      v: c.v.map((a) => a.slice()),
      tokens: [...c.tokens],
      length: c.length,
      slides: c.slides,
    };
  }

  private get decodeThreads(): number | undefined {
    if (this.o.decodeThreads !== undefined) return this.o.decodeThreads;
    const params = this.fam.params(this.config).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    return params < 30e6 ? 1 : this.o.threads;
  }

  /** The graphs' target: the GPU variants on a GPU provider. */
  private get target(): GraphTarget {
    return targetOf(this.o.ep);
  }

  private runner(key: string, build: () => Graph): Promise<GraphRunner> {
    let r = this.runners.get(key);
    if (!r) {
      r = GraphRunner.create(emitOnnx(build()), {
        ep: this.o.ep,
        threads: key.startsWith('decode') ? this.decodeThreads : this.o.threads,
      });
      this.runners.set(key, r);
      r.catch(() => this.runners.delete(key));
    }
    return r;
  }

  /**
   * Fills the cache with `ids` (at most blockSize; the caller crops) and returns the logits (V) after
   * the last one. Replaces whatever the cache held; `context` (default ids) is the full history kept in `tokens`.
   */
  async prefill(
    cache: KvCache,
    ids: readonly number[],
    context: readonly number[] = ids,
  ): Promise<Float32Array> {
    const c = this.config;
    if (!ids.length) throw new Error('prefill needs at least one token');
    if (ids.length > c.blockSize)
      throw new Error(
        `prefill: ${ids.length} tokens exceed blockSize ${c.blockSize}; keep the last ${c.blockSize}`,
      );
    const T = prefillBucket(ids.length, c.blockSize);
    const r = await this.runner(`prefill:${T}`, () => buildPrefillGraph(c, this.fam, T, this.target));
    const idx = new BigInt64Array(T); // padded with token 0: causal attention never looks ahead
    ids.forEach((t, i) => (idx[i] = BigInt(t)));
    const out = await r.run({
      ...this.weights,
      idx: { dtype: 'i64', shape: [1, T], data: idx },
      last: { dtype: 'i64', shape: [1], data: BigInt64Array.of(BigInt(ids.length - 1)) },
    });
    const { heads, headSize: hd } = this.kv;
    for (let l = 0; l < c.nLayer; l++) {
      const k = (await toHost(out[`k.${l}`])).data as Float32Array; // (1, nh, T, hd)
      const v = (await toHost(out[`v.${l}`])).data as Float32Array; // (1, nh, T, hd)
      for (let h = 0; h < heads; h++) {
        const n = ids.length * hd;
        cache.k[l].set(k.subarray(h * T * hd, h * T * hd + n), h * c.blockSize * hd);
        cache.v[l].set(v.subarray(h * T * hd, h * T * hd + n), h * c.blockSize * hd);
      }
    }
    cache.tokens = [...context];
    cache.length = ids.length;
    return ((await toHost(out.logits)).data as Float32Array).slice();
  }

  /** Appends one token and returns the logits (V) after it; slides the window when the cache is full. */
  async append(cache: KvCache, token: number): Promise<Float32Array> {
    const c = this.config;
    if (cache.length === 0) return this.prefill(cache, [token], [...cache.tokens, token]);
    if (cache.length >= c.blockSize) {
      const context = [...cache.tokens, token];
      cache.slides++;
      return this.prefill(cache, context.slice(-this.slideKeep), context);
    }
    const pos = cache.length;
    const r = await this.runner('decode', () => buildDecodeGraph(c, this.fam, 1, c.blockSize, this.target));
    const mask = new Float32Array(c.blockSize).fill(-Infinity, pos); // per call: sequences may decode concurrently
    const feeds: Record<string, HostTensor> = {
      ...this.weights,
      idx: { dtype: 'i64', shape: [1, 1], data: BigInt64Array.of(BigInt(token)) },
      pos: { dtype: 'i64', shape: [1], data: BigInt64Array.of(BigInt(pos)) },
      mask: { dtype: 'f32', shape: [1, c.blockSize], data: mask },
    };
    const { heads, headSize: hd } = this.kv;
    const shape = [1, heads, c.blockSize, hd];
    for (let l = 0; l < c.nLayer; l++) {
      feeds[`past_k.${l}`] = { dtype: 'f32', shape, data: cache.k[l] };
      feeds[`past_v.${l}`] = { dtype: 'f32', shape, data: cache.v[l] };
    }
    const out = await r.run(feeds);
    for (let l = 0; l < c.nLayer; l++) {
      const k = (await toHost(out[`k.${l}`])).data as Float32Array; // (1, nh, 1, hd)
      const v = (await toHost(out[`v.${l}`])).data as Float32Array; // (1, nh, 1, hd)
      for (let h = 0; h < heads; h++) {
        cache.k[l].set(k.subarray(h * hd, (h + 1) * hd), (h * c.blockSize + pos) * hd);
        cache.v[l].set(v.subarray(h * hd, (h + 1) * hd), (h * c.blockSize + pos) * hd);
      }
    }
    cache.tokens.push(token);
    cache.length++;
    return ((await toHost(out.logits)).data as Float32Array).slice();
  }

  /**
   * Prefills `ids` once and copies the cache into B streams: the start of a batched rollout. Returns the
   * batch cache and the logits (V) after the prompt, the same for every stream.
   */
  async prefillBatch(
    ids: readonly number[],
    B: number,
  ): Promise<{ cache: KvBatchCache; logits: Float32Array }> {
    if (!(Number.isInteger(B) && B >= 1))
      throw new Error(`prefillBatch: B must be a positive integer, got ${B}`);
    const one = this.newCache();
    const logits = await this.prefill(one, ids);
    const single = { B: 1, k: one.k, v: one.v, length: one.length, capacity: this.config.blockSize };
    const capacity = prefillBucket(one.length + 1, this.config.blockSize);
    return { cache: this.resized(single, capacity, B), logits };
  }

  /** The cache's filled slots in a cache of `capacity` slots and B streams (each copied from stream 0 when c has one). */
  private resized(c: KvBatchCache, capacity: number, B = c.B): KvBatchCache {
    const { heads, headSize: hd } = this.kv;
    const copy = (a: Float32Array) => {
      const out = new Float32Array(B * heads * capacity * hd); // (B, nh, capacity, hd)
      for (let b = 0; b < B; b++)
        for (let h = 0; h < heads; h++) {
          const from = ((c.B === 1 ? 0 : b) * heads + h) * c.capacity * hd;
          out.set(a.subarray(from, from + c.length * hd), (b * heads + h) * capacity * hd);
        }
      return out;
    };
    return { B, k: c.k.map(copy), v: c.v.map(copy), length: c.length, capacity };
  }

  /**
   * Appends one token to each stream (tokens[b] to stream b) in one decode run and returns each stream's
   * logits (V). All streams sit at the same position; a full cache grows to the next capacity; a batch does
   * not slide, so there must be room (length < blockSize): the caller caps the answer length.
   */
  async appendBatch(cache: KvBatchCache, tokens: readonly number[]): Promise<Float32Array[]> {
    const c = this.config;
    const B = cache.B;
    if (tokens.length !== B) throw new Error(`appendBatch: ${tokens.length} tokens for ${B} streams`);
    if (cache.length >= c.blockSize)
      throw new Error(
        `appendBatch: the batch cache is full (blockSize ${c.blockSize}); cap prompt + answer at blockSize`,
      );
    const pos = cache.length;
    if (pos >= cache.capacity) Object.assign(cache, this.resized(cache, prefillBucket(pos + 1, c.blockSize)));
    const S = cache.capacity;
    const r = await this.runner(`decode:${B}x${S}`, () => buildDecodeGraph(c, this.fam, B, S, this.target));
    const feeds: Record<string, HostTensor> = {
      ...this.weights,
      idx: { dtype: 'i64', shape: [B, 1], data: BigInt64Array.from(tokens, (t) => BigInt(t)) },
      pos: { dtype: 'i64', shape: [1], data: BigInt64Array.of(BigInt(pos)) },
      mask: { dtype: 'f32', shape: [1, S], data: new Float32Array(S).fill(-Infinity, pos) },
    };
    const { heads, headSize: hd } = this.kv;
    const shape = [B, heads, S, hd];
    for (let l = 0; l < c.nLayer; l++) {
      feeds[`past_k.${l}`] = { dtype: 'f32', shape, data: cache.k[l] };
      feeds[`past_v.${l}`] = { dtype: 'f32', shape, data: cache.v[l] };
    }
    const out = await r.run(feeds);
    for (let l = 0; l < c.nLayer; l++) {
      const k = (await toHost(out[`k.${l}`])).data as Float32Array; // (B, nh, 1, hd)
      const v = (await toHost(out[`v.${l}`])).data as Float32Array; // (B, nh, 1, hd)
      for (let bh = 0; bh < B * heads; bh++) {
        cache.k[l].set(k.subarray(bh * hd, (bh + 1) * hd), (bh * S + pos) * hd);
        cache.v[l].set(v.subarray(bh * hd, (bh + 1) * hd), (bh * S + pos) * hd);
      }
    }
    cache.length++;
    const logits = (await toHost(out.logits)).data as Float32Array; // (B, V)
    const V = c.vocabSize;
    return Array.from({ length: B }, (_, b) => logits.slice(b * V, (b + 1) * V));
  }

  /** Builds the decode graph and the prefill graph for `n` prompt tokens ahead of time. */
  async warm(n = 1): Promise<void> {
    const c = this.config;
    const T = prefillBucket(Math.min(n, c.blockSize), c.blockSize);
    await Promise.all([
      this.runner('decode', () => buildDecodeGraph(c, this.fam, 1, c.blockSize, this.target)),
      this.runner(`prefill:${T}`, () => buildPrefillGraph(c, this.fam, T, this.target)),
    ]);
  }

  async release(): Promise<void> {
    for (const r of this.runners.values()) await (await r).release();
    this.runners.clear();
  }
}
