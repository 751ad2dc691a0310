/**
 * One way to open a model folder for sampling and chat: LLM Lens's own GPT-2 checkpoints and Hugging Face
 * folders of any family pretrained.ts runs (gpt2, llama, qwen2), with the model's own tokenizer, the token
 * an empty prompt starts from and the tokens a sample stops at. The Sampler and Chat workers and the CLI's
 * sample / chat / eval-task all open models here.
 *
 *   const m = await openModelForInference('SmolLM2-135M', { maxContext: 2048 });
 *   // m.model.family 'llama', m.tokenizer (its tokenizer.json), m.start { id: 1, text: '<s>' }, m.stops [2]
 *   const kv = await kvCacheOf(m.model);            // KvCacheModel.forFamily for the model's family
 *
 * A Llama-family model reads text only with the tokenizer.json saved beside it: a folder without one is
 * refused (GPT-2 folders without tokenizer files fall back to GPT-2's encoding, as before). `maxContext`
 * (default DEFAULT_MAX_CONTEXT) caps the positions a long-context model runs, so its key/value cache is
 * not sized for 128k tokens.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { templateSpecialTokens } from '../chat/chatTemplate';
import { KvCacheModel, type KvCacheOptions } from '../model/kvCache';
import type { FamilyConfig } from '../model/family';
import { noTokenizerMessage } from '../model/modelFolder';
import { loadModel, readModelConfig, type LoadedModel } from '../model/pretrained';
import { HuggingFaceTokenizer } from '../tokenizer/huggingface';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { loadModelTokenizer } from '../train/runTokenizer';

/** The positions a long-context model runs unless asked otherwise (Llama 3.2 would size caches for 128k). */
export const DEFAULT_MAX_CONTEXT = 2048;

export interface InferenceModel {
  /** The model folder (absolute). */
  dir: string;
  model: LoadedModel;
  tokenizer: Tokenizer;
  /** What an empty prompt starts from: <|endoftext|>, the tokenizer's bos_token, or token 0. */
  start: { id: number; text: string };
  /** Where a sample ends: <|endoftext|> and the tokenizer's eos_token. */
  stops: number[];
}

export interface OpenModelOptions {
  /** The most positions a Llama-family model runs (default DEFAULT_MAX_CONTEXT). */
  maxContext?: number;
}

/** Opens a model folder (or its model.safetensors) with its tokenizer (see the file's header). */
export async function openModelForInference(
  dirOrFile: string,
  o: OpenModelOptions = {},
): Promise<InferenceModel> {
  const model = await loadModel(dirOrFile, { maxContext: o.maxContext ?? DEFAULT_MAX_CONTEXT });
  const dir = path.resolve(
    fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isFile() ? path.dirname(dirOrFile) : dirOrFile,
  );
  if (model.family !== 'gpt2' && !fs.existsSync(path.join(dir, 'tokenizer.json')))
    throw new Error(noTokenizerMessage(dir, readModelConfig(dir).modelType));
  const tokenizer = loadModelTokenizer({ dir, config: model.config });
  const specials =
    tokenizer instanceof HuggingFaceTokenizer ? templateSpecialTokens({ ...tokenizer.config }) : {};
  const idOf = (text: string | undefined) =>
    text === undefined ? undefined : tokenizer.specialTokens.get(text);
  const eot = idOf('<|endoftext|>');
  const bos = idOf(specials.bos_token);
  const start = startToken(tokenizer, eot, bos, specials.bos_token);
  const stops = [...new Set([eot, idOf(specials.eos_token)].filter((id) => id !== undefined))];
  return { dir, model, tokenizer, start, stops };
}

/** <|endoftext|> first (GPT-2), then the bos_token, else token 0. */
function startToken(
  tokenizer: Tokenizer,
  eot: number | undefined,
  bos: number | undefined,
  bosText: string | undefined,
): { id: number; text: string } {
  if (eot !== undefined) return { id: eot, text: '<|endoftext|>' };
  if (bos !== undefined && bosText !== undefined) return { id: bos, text: bosText };
  return {
    id: 0,
    text: `token 0 ${JSON.stringify(tokenizer.decode([0]))} (the vocabulary has no <|endoftext|>)`,
  };
}

/** A KV-cache decoder of the model's family. */
export async function kvCacheOf(m: LoadedModel, o: KvCacheOptions = {}): Promise<KvCacheModel<FamilyConfig>> {
  return m.family === 'gpt2'
    ? KvCacheModel.forFamily(m.fam, m.config, m.weights, o)
    : KvCacheModel.forFamily(m.fam, m.config, m.weights, o);
}
