/**
 * A base model made ready for chat: its tokenizer gains the chat tokens (chatTokenizer.ts) and its token
 * embedding grows a row for each, which the tied lm_head shares, so the model can read and write them.
 *
 *   const ckpt = await loadCheckpoint('runs/base/checkpoints/step-5000');
 *   const chat = chatModel(ckpt, loadCheckpointTokenizer(ckpt.dir));
 *   // chat.config.vocabSize 67 (65 characters + 2), chat.weights['transformer.wte.weight'] (67, C),
 *   // chat.tokenizer, chat.chat = { imStart: 65, imEnd: 66 }
 *   growEmbedding(ckpt, 70)   // any larger vocabulary: rows 65…69 start at the mean of rows 0…64
 *
 * New rows start at the mean of the old ones, as Hugging Face's resize_token_embeddings(mean_resizing=True)
 * (after Hewitt, "Initializing new word embeddings for pretrained language models"). Why: with the head
 * tied, a row e is also the token's output vector, and its logit is h·e. For e = the mean of the old rows
 * the new logit is the mean of the old logits, and since exp(mean) ≤ mean(exp), each new token takes at
 * most 1/V of the probability the old V tokens had: the model's predictions over its old vocabulary
 * barely move (KL ≤ log(1 + k/V) for k new tokens), and the new tokens start unlikely but within reach
 * of the first gradient steps. A random N(0, 0.02²) row gives a logit anywhere relative to the trained
 * ones, and a zero row the logit 0, which can sit far above a trained model's typical logits. As an
 * input, the mean row is the "average token", a neutral start. Hugging Face adds noise (1e-9 of the rows'
 * covariance) to tell new rows apart; these are exactly equal, which keeps the result deterministic, and
 * fine-tuning tells them apart at its first step (<|im_start|> and <|im_end|> appear in different places).
 */
import type { GptModelConfig } from '../model/inference';
import { gpt2Names } from '../model/gpt2';
import type { HostTensor } from '../runtime/session';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { IM_END, IM_START, TOOL_TOKEN_TEXTS } from './chatml';
import { withChatTokens, type ChatTokenizer } from './chatTokenizer';

/** A model's config and weights in Hugging Face GPT-2 naming (a loaded Checkpoint is one). */
export interface ModelWeights {
  config: GptModelConfig;
  weights: Record<string, HostTensor>;
}

/**
 * The model with `vocabSize` rows of transformer.wte.weight: rows past the old vocabulary, and the
 * existing rows `fresh` (padding rows of a padded vocabulary, never trained, given to new tokens), start
 * at the mean of the other old rows. The other weights are shared, not copied.
 */
export function growEmbedding(
  m: ModelWeights,
  vocabSize: number,
  fresh: readonly number[] = [],
): ModelWeights {
  const V = m.config.vocabSize;
  const C = m.config.nEmbd;
  if (!Number.isInteger(vocabSize) || vocabSize < V)
    throw new Error(`the embedding can only grow: it has ${V} rows, and ${vocabSize} were asked for`);
  const wte = m.weights[gpt2Names.wte];
  if (!wte || wte.shape.join(',') !== `${V},${C}` || !(wte.data instanceof Float32Array))
    throw new Error(`${gpt2Names.wte} must be f32 (${V}, ${C}), the config's vocab_size by n_embd`);
  const redo = new Set(fresh);
  for (const id of redo)
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
      throw new Error(`row ${id} to start afresh is outside the embedding's ${vocabSize} rows`);
  const kept = [...Array(V).keys()].filter((r) => !redo.has(r));
  if (!kept.length) throw new Error('no old row is left to take the mean of');
  const mean = new Float64Array(C);
  for (const r of kept) for (let c = 0; c < C; c++) mean[c] += wte.data[r * C + c];
  const row = Float32Array.from(mean, (s) => s / kept.length);
  const data = new Float32Array(vocabSize * C); // (V', C)
  data.set(wte.data);
  for (let r = V; r < vocabSize; r++) data.set(row, r * C);
  for (const r of redo) data.set(row, r * C);
  return {
    config: { ...m.config, vocabSize },
    weights: { ...m.weights, [gpt2Names.wte]: { dtype: 'f32', shape: [vocabSize, C], data } },
  };
}

/** The model and its tokenizer with the chat tokens, and the tool tokens with `tools` (as they were when it has them). */
export function chatModel(
  m: ModelWeights,
  tokenizer: Tokenizer,
  o: { tools?: boolean } = {},
): ModelWeights & ChatTokenizer {
  const t = withChatTokens(tokenizer, o);
  const added = [IM_START, IM_END, ...TOOL_TOKEN_TEXTS]
    .filter((s) => !tokenizer.specialTokens.has(s) && t.tokenizer.specialTokens.has(s))
    .map((s) => t.tokenizer.specialTokens.get(s)!);
  const vocabSize = Math.max(m.config.vocabSize, t.tokenizer.vocabSize);
  if (!added.length && vocabSize === m.config.vocabSize) return { ...m, ...t };
  return { ...growEmbedding(m, vocabSize, added), ...t };
}
