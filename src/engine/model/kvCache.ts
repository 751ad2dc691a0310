/**
 * GPT generation with a key/value cache: a prefill graph runs the prompt once and returns the last
 * position's logits and every layer's keys and values; a decode graph takes one token, its position
 * and the cached keys/values and returns the logits and that token's new key/value. The cost of a
 * new token stays flat instead of growing with the context.
 *
 *   const m = await KvCacheModel.create(config, weights);
 *   const cache = m.newCache();
 *   let logits = await m.prefill(cache, promptIds);   // (V) after the prompt
 *   logits = await m.append(cache, nextId);            // (V) after one more token
 *
 * Static shapes. The cache has a fixed capacity of blockSize slots per layer, (1, nh, blockSize, hd),
 * kept on the host. The decode graph attends over all slots plus the new token; an additive mask
 * input (1, blockSize) holds 0 for filled slots and -inf for empty ones, so one decode graph serves
 * every position (no graph per length, no cache copy in the graph: only the new token's key and
 * value come out, and the host writes them into slot `pos`). Prefill graphs come in power-of-two
 * buckets (16, 32, …, blockSize) padded after the prompt; causal attention never looks at the
 * padding, and the padded slots are masked out later.
 *
 * Sliding: when the context outgrows blockSize, `append` drops the oldest tokens and refills the
 * cache from the last `slideKeep` tokens (default ¾·blockSize), because positions shift and every
 * cached key would change. With slideKeep = blockSize every token past the block re-prefills a
 * full window: exactly nanoGPT's crop (`idx[:, -block_size:]`) at the cost of a recompute.
 */
import { Graph } from '../graph/graph';
import { emitOnnx } from '../graph/emit';
import type { Tensor } from '../graph/tensor';
import type { ExecutionProvider } from '../runtime/ort';
import { GraphRunner, toHost, type HostTensor } from '../runtime/session';
import { gptParams } from './gpt';
import type { GptModelConfig } from './inference';

export interface KvCacheOptions {
  ep?: ExecutionProvider;
  threads?: number;
  /** Tokens kept when the context slides past blockSize (1 … blockSize; default ¾·blockSize). */
  slideKeep?: number;
  /**
   * Intra-op threads of the one-token decode graph. Default: 1 for models under 30M parameters (a decode
   * step is a few million multiply-adds: thread hand-offs cost more than they save; measured 5 ms/token
   * on 1 thread vs 13 ms on 2 at 6L/384), else `threads`.
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

type Params = Map<string, Tensor>;

/** Declares the GPT-2 parameters on g (same names as gpt.ts, so the same weights feed every graph). */
export function declareParams(g: Graph, c: GptModelConfig): Params {
  return new Map(gptParams({ ...c, batchSize: 1 }).map((p) => [p.name, g.param(p.name, p.shape)]));
}

const lnOf = (g: Graph, P: Params, n: string, x: Tensor): Tensor =>
  g.layerNorm(x, P.get(`${n}.weight`)!, P.get(`${n}.bias`)); // (N, C)

function mlp(g: Graph, c: GptModelConfig, P: Params, h: string, x: Tensor): Tensor {
  const hidden = g.gelu(
    g.linear(x, P.get(`${h}.mlp.c_fc.weight`)!, P.get(`${h}.mlp.c_fc.bias`)),
    c.gelu ?? 'none',
  ); // (N, 4C)
  return g.linear(hidden, P.get(`${h}.mlp.c_proj.weight`)!, P.get(`${h}.mlp.c_proj.bias`)); // (N, C)
}

/** q, k, v of T rows x (T, C), heads split: (1, nh, T, hd) each. */
export function qkvHeads(g: Graph, c: GptModelConfig, P: Params, h: string, x: Tensor, T: number): Tensor[] {
  const nh = c.nHead;
  const hd = c.nEmbd / nh;
  const qkv = g.linear(x, P.get(`${h}.attn.c_attn.weight`)!, P.get(`${h}.attn.c_attn.bias`)); // (T, 3C)
  const qkv5 = g.transpose(g.reshape(qkv, [1, T, 3, nh, hd]), [2, 0, 3, 1, 4]); // (3, 1, nh, T, hd)
  return g.split(qkv5, [1, 1, 1], 0).map((t) => g.reshape(t, [1, nh, T, hd])); // (1, nh, T, hd) each
}

/** Heads (1, nh, T, hd) merged and projected: (T, C). */
export function attnOut(g: Graph, c: GptModelConfig, P: Params, h: string, y: Tensor, T: number): Tensor {
  const merged = g.reshape(g.transpose(y, [0, 2, 1, 3]), [T, c.nEmbd]); // (T, C)
  return g.linear(merged, P.get(`${h}.attn.c_proj.weight`)!, P.get(`${h}.attn.c_proj.bias`)); // (T, C)
}

/** Token + position embeddings of a (1, T) batch: (T, C). */
function embed(g: Graph, c: GptModelConfig, P: Params, idx: Tensor, T: number): Tensor {
  const wpe = P.get('transformer.wpe.weight')!;
  const pos = T === c.blockSize ? wpe : g.slice(wpe, 0, 0, T); // (T, C)
  return g.reshape(g.add(g.gather(P.get('transformer.wte.weight')!, idx), pos), [T, c.nEmbd]); // (1, T, C) -> (T, C)
}

/**
 * Prefill graph for T (padded) tokens: inputs idx (1, T) and last (1) = index of the last real
 * token; outputs logits (1, V) at `last` and `k.{l}`, `v.{l}` (1, nh, T, hd) for every layer.
 */
export function buildPrefillGraph(c: GptModelConfig, T: number): Graph {
  const g = new Graph({ name: `gpt-prefill-${T}` });
  const idx = g.input('idx', 'i64', [1, T]); // (1, T)
  const last = g.input('last', 'i64', [1]); // (1)
  const P = declareParams(g, c);
  const hd = c.nEmbd / c.nHead;
  const mask = g.causalMask(T); // (T, T)
  let x = embed(g, c, P, idx, T); // (T, C)
  for (let l = 0; l < c.nLayer; l++) {
    const h = `transformer.h.${l}`;
    const [q, k, v] = qkvHeads(g, c, P, h, lnOf(g, P, `${h}.ln_1`, x), T); // (1, nh, T, hd) each
    const p = g.softmax(g.add(g.matmul(q, k, { transB: true, alpha: 1 / Math.sqrt(hd) }), mask), -1); // (1, nh, T, T)
    x = g.add(x, attnOut(g, c, P, h, g.matmul(p, v), T)); // (T, C)
    x = g.add(x, mlp(g, c, P, h, lnOf(g, P, `${h}.ln_2`, x))); // (T, C)
    g.output(`k.${l}`, k);
    g.output(`v.${l}`, v);
  }
  const xl = lnOf(g, P, 'transformer.ln_f', g.gather(x, last)); // (1, C)
  g.output('logits', g.matmul(xl, P.get('transformer.wte.weight')!, { transB: true })); // (1, V) tied lm_head
  return g;
}

/**
 * One-token decode graph: inputs idx (1, 1), pos (1), mask (1, S) additive over the S = blockSize
 * cache slots, `past_k.{l}` / `past_v.{l}` (1, nh, S, hd); outputs logits (1, V) and the token's
 * `k.{l}` / `v.{l}` (1, nh, 1, hd).
 */
export function buildDecodeGraph(c: GptModelConfig): Graph {
  const S = c.blockSize;
  const nh = c.nHead;
  const hd = c.nEmbd / nh;
  const g = new Graph({ name: 'gpt-decode' });
  const idx = g.input('idx', 'i64', [1, 1]); // (1, 1)
  const pos = g.input('pos', 'i64', [1]); // (1)
  const mask = g.input('mask', 'f32', [1, S]); // (1, S) 0 filled, -inf empty
  const P = declareParams(g, c);
  const tok = g.reshape(g.gather(P.get('transformer.wte.weight')!, idx), [1, c.nEmbd]); // (1, 1, C) -> (1, C)
  let x = g.add(tok, g.gather(P.get('transformer.wpe.weight')!, pos)); // (1, C)
  for (let l = 0; l < c.nLayer; l++) {
    const h = `transformer.h.${l}`;
    const pastK = g.input(`past_k.${l}`, 'f32', [1, nh, S, hd]); // (1, nh, S, hd)
    const pastV = g.input(`past_v.${l}`, 'f32', [1, nh, S, hd]); // (1, nh, S, hd)
    const [q, k, v] = qkvHeads(g, c, P, h, lnOf(g, P, `${h}.ln_1`, x), 1); // (1, nh, 1, hd) each
    const scale = 1 / Math.sqrt(hd);
    const past = g.add(g.matmul(q, pastK, { transB: true, alpha: scale }), mask); // (1, nh, 1, S)
    const self = g.mul(g.reduceSum(g.mul(q, k), [-1], true), scale); // (1, nh, 1, 1)
    const p = g.softmax(g.concat([past, self], -1), -1); // (1, nh, 1, S + 1)
    const y = g.add(g.matmul(g.slice(p, 3, 0, S), pastV), g.mul(g.slice(p, 3, S, S + 1), v)); // (1, nh, 1, hd)
    x = g.add(x, attnOut(g, c, P, h, y, 1)); // (1, C)
    x = g.add(x, mlp(g, c, P, h, lnOf(g, P, `${h}.ln_2`, x))); // (1, C)
    g.output(`k.${l}`, k);
    g.output(`v.${l}`, v);
  }
  const xl = lnOf(g, P, 'transformer.ln_f', x); // (1, C)
  g.output('logits', g.matmul(xl, P.get('transformer.wte.weight')!, { transB: true })); // (1, V)
  return g;
}

/** Prefill bucket for n tokens: the smallest power of two ≥ max(n, 16), capped at blockSize. */
export function prefillBucket(n: number, blockSize: number): number {
  let T = 16;
  while (T < n) T *= 2;
  return Math.min(T, blockSize);
}

export class KvCacheModel {
  private readonly runners = new Map<string, Promise<GraphRunner>>();
  readonly slideKeep: number;

  private constructor(
    readonly config: GptModelConfig,
    readonly weights: Record<string, HostTensor>,
    private readonly o: KvCacheOptions,
  ) {
    this.slideKeep = o.slideKeep ?? Math.max(1, Math.floor((config.blockSize * 3) / 4));
    if (!(this.slideKeep >= 1 && this.slideKeep <= config.blockSize))
      throw new Error(`slideKeep must be between 1 and blockSize ${config.blockSize}, got ${this.slideKeep}`);
  }

  static async create(
    config: GptModelConfig,
    weights: Record<string, HostTensor>,
    o: KvCacheOptions = {},
  ): Promise<KvCacheModel> {
    for (const p of gptParams({ ...config, batchSize: 1 }))
      if (!weights[p.name]) throw new Error(`GPT weights lack ${p.name}`);
    return new KvCacheModel(config, weights, o);
  }

  private get headSize(): number {
    return this.config.nHead * this.config.blockSize * (this.config.nEmbd / this.config.nHead);
  }

  /** An empty cache (blockSize slots per layer). */
  newCache(): KvCache {
    const L = this.config.nLayer;
    return {
      k: Array.from({ length: L }, () => new Float32Array(this.headSize)),
      v: Array.from({ length: L }, () => new Float32Array(this.headSize)),
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
    const params = gptParams({ ...this.config, batchSize: 1 }).reduce(
      (n, p) => n + p.shape.reduce((a, b) => a * b, 1),
      0,
    );
    return params < 30e6 ? 1 : this.o.threads;
  }

  private runner(key: string, build: () => Graph): Promise<GraphRunner> {
    let r = this.runners.get(key);
    if (!r) {
      r = GraphRunner.create(emitOnnx(build()), {
        ep: this.o.ep,
        threads: key === 'decode' ? this.decodeThreads : this.o.threads,
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
    const r = await this.runner(`prefill:${T}`, () => buildPrefillGraph(c, T));
    const idx = new BigInt64Array(T); // padded with token 0: causal attention never looks ahead
    ids.forEach((t, i) => (idx[i] = BigInt(t)));
    const out = await r.run({
      ...this.weights,
      idx: { dtype: 'i64', shape: [1, T], data: idx },
      last: { dtype: 'i64', shape: [1], data: BigInt64Array.of(BigInt(ids.length - 1)) },
    });
    const hd = c.nEmbd / c.nHead;
    for (let l = 0; l < c.nLayer; l++) {
      const k = (await toHost(out[`k.${l}`])).data as Float32Array; // (1, nh, T, hd)
      const v = (await toHost(out[`v.${l}`])).data as Float32Array; // (1, nh, T, hd)
      for (let h = 0; h < c.nHead; h++) {
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
    const r = await this.runner('decode', () => buildDecodeGraph(c));
    const mask = new Float32Array(c.blockSize).fill(-Infinity, pos); // per call: sequences may decode concurrently
    const feeds: Record<string, HostTensor> = {
      ...this.weights,
      idx: { dtype: 'i64', shape: [1, 1], data: BigInt64Array.of(BigInt(token)) },
      pos: { dtype: 'i64', shape: [1], data: BigInt64Array.of(BigInt(pos)) },
      mask: { dtype: 'f32', shape: [1, c.blockSize], data: mask },
    };
    const hd = c.nEmbd / c.nHead;
    const shape = [1, c.nHead, c.blockSize, hd];
    for (let l = 0; l < c.nLayer; l++) {
      feeds[`past_k.${l}`] = { dtype: 'f32', shape, data: cache.k[l] };
      feeds[`past_v.${l}`] = { dtype: 'f32', shape, data: cache.v[l] };
    }
    const out = await r.run(feeds);
    for (let l = 0; l < c.nLayer; l++) {
      const k = (await toHost(out[`k.${l}`])).data as Float32Array; // (1, nh, 1, hd)
      const v = (await toHost(out[`v.${l}`])).data as Float32Array; // (1, nh, 1, hd)
      for (let h = 0; h < c.nHead; h++) {
        cache.k[l].set(k.subarray(h * hd, (h + 1) * hd), (h * c.blockSize + pos) * hd);
        cache.v[l].set(v.subarray(h * hd, (h + 1) * hd), (h * c.blockSize + pos) * hd);
      }
    }
    cache.tokens.push(token);
    cache.length++;
    return ((await toHost(out.logits)).data as Float32Array).slice();
  }

  /** Builds the decode graph and the prefill graph for `n` prompt tokens ahead of time. */
  async warm(n = 1): Promise<void> {
    const c = this.config;
    const T = prefillBucket(Math.min(n, c.blockSize), c.blockSize);
    await Promise.all([
      this.runner('decode', () => buildDecodeGraph(c)),
      this.runner(`prefill:${T}`, () => buildPrefillGraph(c, T)),
    ]);
  }

  async release(): Promise<void> {
    for (const r of this.runners.values()) await (await r).release();
    this.runners.clear();
  }
}
