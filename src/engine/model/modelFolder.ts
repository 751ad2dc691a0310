/**
 * Checks a Hugging Face model folder before it is opened (LLM Lens: Open Model Folder…), without reading
 * its weights: config.json of a supported, unquantized model_type (pretrained.ts readModelConfig), the
 * safetensors weights, the tokenizer.json a Llama-family model needs, and whether it can chat (a
 * chat_template in tokenizer_config.json, or the ChatML tokens in tokenizer.json).
 *
 *   checkModelFolder('models/SmolLM2-135M-Instruct')
 *   // { dir, family: 'llama', modelType: 'llama', tokenizer: true, chat: true }
 *   checkModelFolder('models/mistral-7b')   // throws: model_type "mistral" is not supported: LLM Lens runs …
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chatTemplateOf } from '../chat/chatTemplate';
import { IM_END, IM_START } from '../chat/chatml';
import { readModelConfig } from './pretrained';

export interface ModelFolderCheck {
  dir: string;
  family: 'gpt2' | 'llama';
  modelType: string | undefined;
  /** The folder has a tokenizer.json. */
  tokenizer: boolean;
  /** The folder's tokenizer has a chat template or the chat tokens. */
  chat: boolean;
}

/** Why a Llama-family folder without tokenizer.json cannot be opened. */
export function noTokenizerMessage(dir: string, modelType: string | undefined): string {
  return `${dir} has no tokenizer.json: a ${modelType ?? 'Llama-family'} model reads text only with the tokenizer it was trained with; download its tokenizer.json (and tokenizer_config.json) beside config.json`;
}

/** The folder's config, weights and tokenizer files checked (see the file's header); throws what is wrong. */
export function checkModelFolder(dir: string): ModelFolderCheck {
  const c = readModelConfig(dir);
  const at = (f: string) => path.join(c.dir, f);
  if (!fs.existsSync(at('model.safetensors')) && !fs.existsSync(at('model.safetensors.index.json')))
    throw new Error(
      `${c.dir} has neither model.safetensors nor model.safetensors.index.json: download the model's safetensors weights beside config.json (.bin and .gguf files are not read)`,
    );
  const tokenizer = fs.existsSync(at('tokenizer.json'));
  if (c.family !== 'gpt2' && !tokenizer) throw new Error(noTokenizerMessage(c.dir, c.modelType));
  return { dir: c.dir, family: c.family, modelType: c.modelType, tokenizer, chat: canChat(c.dir) };
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const j: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return typeof j === 'object' && j !== null ? (j as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // absent or unreadable: loading the tokenizer says what is wrong
  }
}

/** A chat_template in tokenizer_config.json, or <|im_start|> and <|im_end|> among tokenizer.json's added tokens. */
function canChat(dir: string): boolean {
  const config = readJson(path.join(dir, 'tokenizer_config.json'));
  try {
    if (config && chatTemplateOf(config)) return true;
  } catch {
    return true; // named templates without a "default": the chat panel says which to pick
  }
  const added = readJson(path.join(dir, 'tokenizer.json'))?.added_tokens;
  const texts = new Set(Array.isArray(added) ? added.map((t: { content?: unknown }) => t?.content) : []);
  return texts.has(IM_START) && texts.has(IM_END);
}
