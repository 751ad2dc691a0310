/**
 * The Llama family (Hugging Face LlamaForCausalLM and close relatives: SmolLM2, TinyLlama, Llama 3.2,
 * Qwen2): token embedding without positions, pre-norm blocks of RMSNorm, grouped-query causal attention
 * with rotary position embeddings (RoPE, Hugging Face's rotate-half layout, rope_theta and the llama3
 * `rope_scaling`), RMSNorm and a SwiGLU MLP; a final RMSNorm and the lm_head, tied to the embedding or not.
 * Tensor names and layouts are Hugging Face's (`model.layers.0.self_attn.q_proj.weight`, nn.Linear
 * [out, in]), so the weights are the hub's safetensors as they are (model/pretrained.ts loads them).
 *
 *   const c = llamaConfigFromJson(JSON.parse(fs.readFileSync('SmolLM2-135M/config.json', 'utf8')), 'config.json');
 *   const P = declareParams(g, llama.params(c));
 *   const x = stack(g, llama, c, P, idx, { B, T }, causalAttention(g, T)); // (B·T, C)
 *   const logits = llama.logits(g, c, P, x);                                // (B·T, V)
 *
 * Like modeling_llama.py, RoPE's inverse frequencies are computed once (here on the host, as float32)
 * and the angles position × frequency in float32 in the graph; the key/value cache holds keys after RoPE.
 * Training: every op of the block has its gradient rule (graph/ops), model/gpt.ts's buildTrainGraph builds
 * the step, and initLlamaWeights is LlamaPreTrainedModel._init_weights. RoPE's tables take the rows'
 * dtype, so the block also builds in float64 (the finite-difference tests).
 */
import type { Graph } from '../graph/graph';
import type { Tensor } from '../graph/tensor';
import { gaussian } from '../train/rng';
import { param, type FamilyConfig, type ModelFamily, type ParamInfo, type Params, type Rows } from './family';

/** Hugging Face's llama3 rope_scaling (Llama 3.1 / 3.2), or `linear` (positions divided by factor). */
export type RopeScaling =
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | { type: 'linear'; factor: number };

export interface LlamaConfig extends FamilyConfig {
  /** Key/value heads (grouped-query attention); nHead for plain multi-head attention. */
  nKvHead: number;
  /** Size of one head (config.json head_dim, default hidden_size / num_attention_heads). */
  headDim: number;
  /** The MLP's width. */
  intermediateSize: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  rmsNormEps: number;
  /** lm_head is the token embedding (no lm_head.weight). */
  tieWordEmbeddings: boolean;
  /** Biases on q, k, v (Qwen2), on all four projections (Llama's attention_bias), or none. */
  attentionBias: 'none' | 'qkv' | 'all';
}

/** Hugging Face Llama's parameter names. */
export const llamaNames = {
  embed: 'model.embed_tokens.weight',
  norm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  layer: (l: number) => {
    const p = `model.layers.${l}`;
    return {
      inputNorm: `${p}.input_layernorm.weight`,
      q: `${p}.self_attn.q_proj`,
      k: `${p}.self_attn.k_proj`,
      v: `${p}.self_attn.v_proj`,
      o: `${p}.self_attn.o_proj`,
      postNorm: `${p}.post_attention_layernorm.weight`,
      gate: `${p}.mlp.gate_proj.weight`,
      up: `${p}.mlp.up_proj.weight`,
      down: `${p}.mlp.down_proj.weight`,
    };
  },
};

/** Every parameter in nn.Linear [out, in] layout, in torch's named_parameters() order. */
function params(c: LlamaConfig): ParamInfo[] {
  const C = c.nEmbd;
  const [q, kv] = [c.nHead * c.headDim, c.nKvHead * c.headDim];
  const I = c.intermediateSize;
  const lin = (n: string, o: number, i: number, bias: boolean): ParamInfo[] => [
    { name: `${n}.weight`, shape: [o, i] },
    ...(bias ? [{ name: `${n}.bias`, shape: [o] }] : []),
  ];
  const qkvBias = c.attentionBias !== 'none';
  const out: ParamInfo[] = [{ name: llamaNames.embed, shape: [c.vocabSize, C] }];
  for (let l = 0; l < c.nLayer; l++) {
    const n = llamaNames.layer(l);
    out.push(...lin(n.q, q, C, qkvBias), ...lin(n.k, kv, C, qkvBias), ...lin(n.v, kv, C, qkvBias));
    out.push(...lin(n.o, C, q, c.attentionBias === 'all'));
    out.push({ name: n.gate, shape: [I, C] }, { name: n.up, shape: [I, C] }, { name: n.down, shape: [C, I] });
    out.push({ name: n.inputNorm, shape: [C] }, { name: n.postNorm, shape: [C] });
  }
  out.push({ name: llamaNames.norm, shape: [C] });
  if (!c.tieWordEmbeddings) out.push({ name: llamaNames.lmHead, shape: [c.vocabSize, C] });
  return out;
}

/**
 * RoPE's inverse frequencies (headDim / 2) as modeling_rope_utils.py computes them in float32:
 * 1 / theta^(2i / d), then llama3's scaling (long wavelengths slowed by `factor`, short ones kept, a smooth
 * blend between) or linear's (all divided by factor).
 */
export function ropeInvFreq(c: Pick<LlamaConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const d = c.headDim;
  const f = Math.fround;
  const inv = Float32Array.from({ length: d / 2 }, (_, i) => f(1 / f(c.ropeTheta ** f((2 * i) / d))));
  const s = c.ropeScaling;
  if (!s) return inv;
  if (s.type === 'linear') return inv.map((x) => f(x / s.factor));
  const old = s.originalMaxPositionEmbeddings;
  const lowWavelen = old / s.lowFreqFactor;
  const highWavelen = old / s.highFreqFactor;
  return inv.map((x) => {
    const wavelen = f((2 * Math.PI) / x);
    const scaled = wavelen > lowWavelen ? f(x / s.factor) : x;
    if (wavelen < highWavelen || wavelen > lowWavelen) return scaled;
    const smooth = f((old / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor));
    return f(f(((1 - smooth) * scaled) / s.factor) + f(smooth * scaled));
  });
}

/**
 * cos and sin of the rows' angles, (T, headDim) each, or (B, 1, T, headDim) when every sequence has its
 * own positions (`s.pos` (B, T)): one pair per graph's rows, shared by every layer.
 */
const ropeTables = new WeakMap<Rows, { cos: Tensor; sin: Tensor }>();

/**
 * Positions as float32. A GPU graph gathers them from a table of 0…blockSize-1: ORT's WebGPU provider
 * runs an int64 Cast on the CPU (runtime/webgpuKernels.json), and takes int64 only as Gather indices.
 */
function positionsAsFloat(g: Graph, pos: Tensor, blockSize: number): Tensor {
  if (g.options.target !== 'gpu' || pos.dtype !== 'i64') return g.cast(pos, 'f32');
  const table = g.constant(
    Array.from({ length: blockSize }, (_, i) => i),
    'f32',
    [blockSize],
    `positions_${blockSize}`,
  ); // (blockSize)
  return g.gather(table, pos); // (pos.shape)
}

function rope(g: Graph, c: LlamaConfig, s: Rows): { cos: Tensor; sin: Tensor } {
  let t = ropeTables.get(s);
  if (t) return t;
  const half = c.headDim / 2;
  const perRow = s.pos?.rank === 2;
  const pos = s.pos
    ? g.reshape(positionsAsFloat(g, s.pos, c.blockSize), perRow ? [s.B, 1, s.T, 1] : [s.T, 1]) // (T, 1) or (B, 1, T, 1)
    : g.constant(
        Array.from({ length: s.T }, (_, i) => i),
        'f32',
        [s.T, 1],
      ); // (T, 1) positions 0…T-1
  const inv = g.constant(ropeInvFreq(c), 'f32', [1, half]); // (1, hd/2)
  const freqs = g.mul(pos, inv); // (T, hd/2) or (B, 1, T, hd/2)
  const emb = g.concat([freqs, freqs], freqs.rank - 1); // (…, hd) as Hugging Face's cat((freqs, freqs), -1)
  t = { cos: g.cos(emb), sin: g.sin(emb) };
  ropeTables.set(s, t);
  return t;
}

/** The tables in x's dtype: float32 as modeling_llama.py computes them, cast for a float64 graph. */
function ropeFor(g: Graph, t: { cos: Tensor; sin: Tensor }, x: Tensor): { cos: Tensor; sin: Tensor } {
  if (x.dtype === t.cos.dtype) return t;
  return { cos: g.cast(t.cos, x.dtype), sin: g.cast(t.sin, x.dtype) };
}

/** x·cos + rotate_half(x)·sin on x (B, heads, T, hd), rotate_half(x) = cat(-x[hd/2:], x[:hd/2]). */
function applyRope(g: Graph, x: Tensor, r: { cos: Tensor; sin: Tensor }): Tensor {
  const hd = x.shape[3];
  const x1 = g.slice(x, 3, 0, hd / 2); // (B, heads, T, hd/2)
  const x2 = g.slice(x, 3, hd / 2, hd); // (B, heads, T, hd/2)
  const rotated = g.concat([g.neg(x2), x1], 3); // (B, heads, T, hd)
  const { cos, sin } = ropeFor(g, r, x);
  return g.add(g.mul(x, cos), g.mul(rotated, sin)); // (B, heads, T, hd)
}

/** x (B·T, C) → heads (B, heads, T, hd) through the projection `n` ([heads·hd, C], bias when held). */
function headsOf(g: Graph, P: Params, n: string, x: Tensor, s: Rows, heads: number, hd: number): Tensor {
  const y = g.linear(x, param(P, `${n}.weight`), P.get(`${n}.bias`), { transB: true }); // (B·T, heads·hd)
  return g.transpose(g.reshape(y, [s.B, s.T, heads, hd]), [0, 2, 1, 3]); // (B, heads, T, hd)
}

export const llama: ModelFamily<LlamaConfig> = {
  params,

  kvHeads: (c) => ({ heads: c.nKvHead, headSize: c.headDim }),

  /** embed_tokens[idx]: (B·T, C); positions enter each block through RoPE. */
  embed(g, c, P, idx, s) {
    return g.reshape(g.gather(param(P, llamaNames.embed), idx), [s.B * s.T, c.nEmbd]); // (B, T, C) -> (B·T, C)
  },

  /** x + o_proj(attend(RoPE(q), RoPE(k), v)) on input_layernorm(x), then + down(silu(gate)·up) on post_attention_layernorm. */
  block(g, c, P, l, x, s, attend) {
    const n = llamaNames.layer(l);
    const { B, T } = s;
    const hd = c.headDim;
    const x1 = g.add(
      x,
      g.scope(`layers.${l}.self_attn`, () => {
        const h = g.rmsNorm(x, param(P, n.inputNorm), c.rmsNormEps); // (B·T, C)
        const r = rope(g, c, s);
        const q = applyRope(g, headsOf(g, P, n.q, h, s, c.nHead, hd), r); // (B, nh, T, hd)
        const k = applyRope(g, headsOf(g, P, n.k, h, s, c.nKvHead, hd), r); // (B, nKv, T, hd)
        const v = headsOf(g, P, n.v, h, s, c.nKvHead, hd); // (B, nKv, T, hd)
        const y = attend(q, k, v, l); // (B, nh, T, hd)
        const merged = g.reshape(g.transpose(y, [0, 2, 1, 3]), [B * T, c.nHead * hd]); // (B·T, nh·hd)
        return g.linear(merged, param(P, `${n.o}.weight`), P.get(`${n.o}.bias`), { transB: true }); // (B·T, C)
      }),
    ); // (B·T, C)
    return g.add(
      x1,
      g.scope(`layers.${l}.mlp`, () => {
        const h = g.rmsNorm(x1, param(P, n.postNorm), c.rmsNormEps); // (B·T, C)
        const gate = g.linear(h, param(P, n.gate), undefined, { transB: true }); // (B·T, I)
        const up = g.linear(h, param(P, n.up), undefined, { transB: true }); // (B·T, I)
        const act = g.mul(g.mul(gate, g.sigmoid(gate)), up); // (B·T, I) silu(gate)·up
        return g.linear(act, param(P, n.down), undefined, { transB: true }); // (B·T, C)
      }),
    ); // (B·T, C)
  },

  /** model.norm, then lm_head (the embedding when tied): (N, V). */
  logits(g, c, P, x) {
    const head = param(P, c.tieWordEmbeddings ? llamaNames.embed : llamaNames.lmHead); // (V, C)
    return g.linear(g.rmsNorm(x, param(P, llamaNames.norm), c.rmsNormEps), head, undefined, { transB: true }); // (N, V)
  },
};

/**
 * Hugging Face LlamaPreTrainedModel._init_weights: every nn.Linear and the embedding N(0, 0.02)
 * (initializer_range), biases 0, RMSNorm weights 1. A tied lm_head is the embedding.
 */
export function initLlamaWeights(
  c: LlamaConfig,
  seed: number,
  std = 0.02,
): Record<string, { dtype: 'f32'; shape: number[]; data: Float32Array }> {
  const normal = gaussian(seed);
  const out: Record<string, { dtype: 'f32'; shape: number[]; data: Float32Array }> = {};
  for (const p of params(c)) {
    const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    if (p.shape.length === 2) for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    else if (p.name.endsWith('layernorm.weight') || p.name === llamaNames.norm) data.fill(1);
    out[p.name] = { dtype: 'f32', shape: p.shape, data };
  }
  return out;
}

/**
 * config.json in transformers' LlamaConfig fields (model_type llama, LlamaForCausalLM; Qwen2's q, k, v biases:
 * qwen2, Qwen2ForCausalLM); `extra` adds fields.
 */
export function llamaConfigJson(
  c: LlamaConfig,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const scaling = ropeScalingJson(c.ropeScaling);
  const qwen2 = c.attentionBias === 'qkv'; // q, k, v biases alone are Qwen2's
  return {
    architectures: [qwen2 ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen2 ? 'qwen2' : 'llama',
    vocab_size: c.vocabSize,
    max_position_embeddings: c.blockSize,
    hidden_size: c.nEmbd,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.nLayer,
    num_attention_heads: c.nHead,
    num_key_value_heads: c.nKvHead,
    head_dim: c.headDim,
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: scaling,
    attention_bias: c.attentionBias === 'all',
    mlp_bias: false,
    tie_word_embeddings: c.tieWordEmbeddings,
    initializer_range: 0.02,
    torch_dtype: 'float32',
    ...extra,
  };
}

/** rope_scaling as config.json holds it (null: none). */
function ropeScalingJson(s: RopeScaling | undefined): Record<string, unknown> | null {
  if (!s) return null;
  if (s.type === 'linear') return { rope_type: 'linear', factor: s.factor };
  return {
    rope_type: 'llama3',
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositionEmbeddings,
  };
}

/** The config.json model_types this family runs. */
export const LLAMA_MODEL_TYPES = ['llama', 'qwen2'] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A LlamaConfig from a Hugging Face config.json (LlamaConfig / Qwen2Config fields); each refusal names the
 * file, the field and what to set. `source` names the file in messages.
 */
export function llamaConfigFromJson(j: unknown, source: string): LlamaConfig {
  if (!isObject(j)) throw new Error(`${source} holds ${JSON.stringify(j)}, not an object of config fields`);
  const type = j.model_type;
  if (type !== 'llama' && type !== 'qwen2')
    throw new Error(
      `${source}: model_type ${JSON.stringify(type)} is not a Llama-family model (${LLAMA_MODEL_TYPES.join(', ')})`,
    );
  const int = (k: string, dflt?: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
    throw new Error(
      `${source}: "${k}" must be a positive integer, got ${v === undefined ? 'nothing' : JSON.stringify(v)}: set it as the model's ${type} config has it`,
    );
  };
  const num = (k: string, dflt: number, o: Record<string, unknown> = j, where = `"${k}"`): number => {
    const v = o[k] ?? dflt;
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
    throw new Error(`${source}: ${where} must be a positive number, got ${JSON.stringify(v)}`);
  };
  const nEmbd = int('hidden_size');
  const nHead = int('num_attention_heads');
  const nKvHead = int('num_key_value_heads', nHead);
  if (nHead % nKvHead)
    throw new Error(
      `${source}: "num_key_value_heads": ${nKvHead} does not divide "num_attention_heads": ${nHead}: grouped-query attention shares each key/value head among a whole number of query heads`,
    );
  const headDim = j.head_dim === undefined || j.head_dim === null ? nEmbd / nHead : int('head_dim');
  if (!Number.isInteger(headDim) || headDim % 2)
    throw new Error(
      `${source}: the head size ${headDim} ("hidden_size" / "num_attention_heads", or "head_dim") must be an even integer for RoPE: set "head_dim"`,
    );
  const act = j.hidden_act ?? 'silu';
  if (act !== 'silu')
    throw new Error(
      `${source}: "hidden_act": ${JSON.stringify(act)} is not supported: the Llama family's MLP is SwiGLU ("silu")`,
    );
  if (j.use_sliding_window === true)
    throw new Error(
      `${source}: "use_sliding_window": true (sliding-window attention) is not supported: LLM Lens's Llama family attends to the whole context`,
    );
  if (j.mlp_bias === true)
    throw new Error(`${source}: "mlp_bias": true is not supported: LLM Lens's Llama MLP has no biases`);
  if (j.attention_bias !== undefined && typeof j.attention_bias !== 'boolean')
    throw new Error(
      `${source}: "attention_bias" must be true or false, got ${JSON.stringify(j.attention_bias)}`,
    );
  const tie = j.tie_word_embeddings ?? false;
  if (typeof tie !== 'boolean')
    throw new Error(`${source}: "tie_word_embeddings" must be true or false, got ${JSON.stringify(tie)}`);
  return {
    vocabSize: int('vocab_size'),
    blockSize: int('max_position_embeddings', 2048),
    nLayer: int('num_hidden_layers'),
    nHead,
    nEmbd,
    nKvHead,
    headDim,
    intermediateSize: int('intermediate_size'),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling: ropeScalingFromJson(j.rope_scaling, source),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    tieWordEmbeddings: tie,
    attentionBias: attentionBias(type, j.attention_bias === true),
  };
}

/** Qwen2 has biases on q, k and v; a Llama with attention_bias on all four projections. */
function attentionBias(type: 'llama' | 'qwen2', llamaBias: boolean): LlamaConfig['attentionBias'] {
  if (type === 'qwen2') return 'qkv';
  return llamaBias ? 'all' : 'none';
}

function ropeScalingFromJson(s: unknown, source: string): RopeScaling | undefined {
  if (s === undefined || s === null) return undefined;
  if (!isObject(s))
    throw new Error(`${source}: "rope_scaling" must be an object or null, got ${JSON.stringify(s)}`);
  const type = s.rope_type ?? s.type;
  const num = (k: string): number => {
    const v = s[k];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
    throw new Error(
      `${source}: "rope_scaling": {"${k}": ${v === undefined ? 'nothing' : JSON.stringify(v)}} must be a positive number: set it as the model's config has it`,
    );
  };
  if (type === 'default') return undefined;
  if (type === 'linear') return { type, factor: num('factor') };
  if (type === 'llama3') {
    const r: RopeScaling = {
      type,
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
    };
    if (!(r.highFreqFactor > r.lowFreqFactor))
      throw new Error(
        `${source}: "rope_scaling": "high_freq_factor" (${r.highFreqFactor}) must be larger than "low_freq_factor" (${r.lowFreqFactor})`,
      );
    return r;
  }
  throw new Error(
    `${source}: "rope_scaling": {"rope_type": ${JSON.stringify(type)}} is not supported: LLM Lens computes RoPE scaling llama3 and linear (or none)`,
  );
}
