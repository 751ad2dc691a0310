/**
 * A real GPT (one layer, KV cache and all) whose weights make it call a tool: a stochastic bigram grammar
 * written into its MLP, plus random attention that makes every logit depend a little on the whole cache.
 *
 *   const { config, weights, tok, chat } = toolCallingModel();
 *   // with temperature 1 after "?" it writes <|tool_start|>python\n12*7<|tool_end|>, and after the forced
 *   // <|output_start|>84<|output_end|> either <|im_end|> or another call
 *   toolCallingModel({ answerCalls: true })   // on chatVocab.tok, also after "\n", the end of a ChatML prompt
 *
 * Construction (C = 2V, token t's embedding u_t = e_t − e_{V+t}, zero mean, so every LayerNorm only scales
 * it): the MLP runs in GELU's linear range (c_fc = identity with bias 20, GELU(z + 20) = z + 20 for
 * |z| ≤ √(C/2)), so it is a linear map M with M·ln_2(u_t) = K·w_t − u_t, where w_t = Σ_j W[t][j]·u_j holds
 * the grammar's preferences W (+1 likely … −1 never); the residual becomes ≈ K·w_t, and the tied lm_head
 * after ln_f (weight γ) gives logit_j ≈ 2γ·W[t][j] / rms(w_t) (≈ ±6). `attention` scales the random
 * attention output projection (0: a pure bigram model).
 */
import { withChatTokens } from '../../src/engine/chat/chatTokenizer';
import { initGptWeights } from '../../src/engine/model/gpt';
import type { GptModelConfig } from '../../src/engine/model/inference';
import type { HostTensor } from '../../src/engine/runtime/session';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { calculator } from '../../src/engine/tools/calculator';
import type { Tool } from '../../src/engine/tools/tool';

/** A character tokenizer of `letters` with the chat and tool tokens. */
function vocab(letters: string) {
  const { tokenizer: tok, chat } = withChatTokens(new CharTokenizer('chars', [...letters]), { tools: true });
  return {
    tok,
    chat,
    tools: chat.tools!,
    plain: (s: string) => tok.encode(s, { disallowedSpecial: new Set() }),
  };
}
type Vocab = ReturnType<typeof vocab>;
/** The letters of python. */
const PLAIN = vocab('\n*=?0123456789hnopty');
export const { tok, chat, tools, plain } = PLAIN;
export const decode = (ids: readonly number[]) => tok.decode(ids);
/** With the letters of ChatML's role names too (user, assistant), for prompts made by chatPrompt. */
export const chatVocab = vocab('\n*=?0123456789aehinoprstuy');

/** A stand-in for the python tool that prints the value of an arithmetic expression (as `print(12*7)` does). */
export const pythonCalc: Tool = { name: 'python', run: (input, o) => calculator.run(input, o) };

/** The grammar: after token t, W[t][j] for the tokens j it may write (every other token −1). */
function grammar(v: Vocab, o: { answerCalls?: boolean }): Map<number, Map<number, number>> {
  const { tools, chat, plain } = v;
  const id = (s: string) => plain(s)[0];
  const W = new Map<number, Map<number, number>>();
  const allow = (from: number, to: number[], w = 1) => {
    const row = W.get(from) ?? new Map<number, number>();
    for (const t of to) row.set(t, w);
    W.set(from, row);
  };
  const digits = (s: string) => [...s].map(id);
  allow(id('?'), [tools.toolStart]);
  // a ChatML prompt ends "assistant\n": the answer then opens a call or writes digits
  if (o.answerCalls) allow(id('\n'), [tools.toolStart], 0.9);
  const name = [tools.toolStart, ...plain('python\n')];
  for (let i = 0; i + 1 < name.length; i++) allow(name[i], [name[i + 1]]);
  allow(id('\n'), digits('123456789'));
  for (const d of digits('0123456789')) {
    allow(d, [tools.toolEnd]);
    allow(d, [id('*')], 0.85);
    allow(d, digits('0123456789'), 0.6);
  }
  allow(id('*'), digits('123456789'));
  allow(tools.toolEnd, [chat.imEnd]); // forced output comes next: a model not fed it would stop here
  allow(tools.outputEnd, [chat.imEnd]);
  allow(tools.outputEnd, [tools.toolStart], 0.8);
  return W;
}

/** `answerCalls`: also open a call after "\n" (the end of a ChatML prompt), on chatVocab's tokenizer. */
export function toolCallingModel(o: { blockSize?: number; attention?: number; answerCalls?: boolean } = {}): {
  config: GptModelConfig;
  weights: Record<string, HostTensor>;
} {
  const v = o.answerCalls ? chatVocab : PLAIN;
  const V = v.tok.vocabSize;
  const C = 2 * V;
  const config: GptModelConfig = {
    vocabSize: V,
    blockSize: o.blockSize ?? 96,
    nLayer: 1,
    nHead: 2,
    nEmbd: C,
    bias: true,
  };
  const w = initGptWeights({ ...config, batchSize: 1 }, 7);
  const K = 5;
  const gamma = 3;
  const u = (t: number) => {
    const v = new Float64Array(C);
    v[t] = 1;
    v[V + t] = -1;
    return v;
  };
  w['transformer.wte.weight'].data.fill(0);
  for (let t = 0; t < V; t++) w['transformer.wte.weight'].data.set(u(t), t * C);
  for (const [n, k] of [
    ['transformer.h.0.attn.c_attn.weight', 12],
    ['transformer.h.0.attn.c_proj.weight', o.attention ?? 1],
  ] as const)
    for (let i = 0; i < w[n].data.length; i++) w[n].data[i] *= k;
  // M = Σ_t (K·w_t − u_t) u_tᵀ / (2s), s = 1 / √(2/C + eps): ln_2(u_t) = s·u_t and u_tᵀu_t = 2
  const s = 1 / Math.sqrt(2 / C + 1e-5);
  const W = grammar(v, o);
  const M = new Float64Array(C * C); // (out, in)
  for (let t = 0; t < V; t++) {
    const target = new Float64Array(C);
    for (let j = 0; j < V; j++) {
      const wj = W.get(t)?.get(j) ?? -1;
      target[j] += K * wj;
      target[V + j] -= K * wj;
    }
    const ut = u(t);
    for (let i = 0; i < C; i++) target[i] -= ut[i];
    for (let out = 0; out < C; out++)
      for (const inp of [t, V + t]) M[out * C + inp] += (target[out] * ut[inp]) / (2 * s);
  }
  const fc = w['transformer.h.0.mlp.c_fc.weight'].data; // [C, 4C]
  const fcb = w['transformer.h.0.mlp.c_fc.bias'].data; // [4C]
  const proj = w['transformer.h.0.mlp.c_proj.weight'].data; // [4C, C]
  const projb = w['transformer.h.0.mlp.c_proj.bias'].data; // [C]
  fc.fill(0);
  fcb.fill(0);
  proj.fill(0);
  for (let i = 0; i < C; i++) {
    fc[i * 4 * C + i] = 1;
    fcb[i] = 20;
  }
  for (let i = 0; i < C; i++)
    for (let out = 0; out < C; out++) {
      proj[i * C + out] = M[out * C + i];
      projb[out] -= 20 * M[out * C + i];
    }
  w['transformer.ln_f.weight'].data.fill(gamma);
  return { config, weights: w };
}
