/**
 * A base model's tokenizer given the ChatML tokens <|im_start|> and <|im_end|>, which pretraining never
 * saw: new special tokens with ids after the tokenizer's largest id (the model's embedding grows to match,
 * growEmbedding.ts). Every kind LLM Lens pretrains with takes them:
 *
 *   withChatTokens(getEncoding('gpt2'))
 *   // { tokenizer: gpt2+chatml, chat: { imStart: 50257, imEnd: 50258 }, added: 2 }   (<|endoftext|> is 50256)
 *   withChatTokens(charVocab)          // 65 characters → imStart 65, imEnd 66
 *   withChatTokens(hfTokenizer)        // added_tokens gain both; config.chat_template = CHATML_TEMPLATE
 *   saveTokenizer(result.tokenizer, dir)   // the files loadCheckpointTokenizer reads back (tokenizer/save.ts)
 *
 * The new tokens are special: encode gives their one id only when asked (allowedSpecial), so text a
 * user types ("<|im_end|>") stays text; decode gives their text back. A tokenizer that already has both
 * is returned as it is (added 0). Where tokens cannot be added the error names the tokenizer and the fix:
 * a vocabulary in which "<|im_start|>" is already an ordinary token, a tokenizer.json that carries its
 * own chat template (fine-tune with that template), a kind of tokenizer LLM Lens does not extend.
 *
 * `withChatTokens(tok, { tools: true })` also adds the four tool tokens (<|tool_start|>, <|tool_end|>,
 * <|output_start|>, <|output_end|>; chatml.ts), after the chat tokens, for data with tool calls; a
 * chat tokenizer without them gains them the same way.
 *
 * Why not OpenAI's cl100k ids (100264, 100265, in the gap below <|endofprompt|>): a model pretrained
 * here has rows for those ids that training only ever pushed down (never a target), so they would start
 * as the least likely tokens; fresh rows after the largest id start at the mean (growEmbedding.ts).
 */
import { BpeTokenizer } from '../tokenizer/bpe';
import { CharTokenizer } from '../tokenizer/charLevel';
import { HuggingFaceTokenizer, huggingFaceTokenizerFromJson } from '../tokenizer/huggingface';
import { specialAddedToken } from '../tokenizer/toHuggingFace';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { chatTemplateOf } from './chatTemplate';
import {
  CHATML_TEMPLATE,
  CHATML_TOOLS_TEMPLATE,
  IM_END,
  IM_START,
  TOOL_TOKEN_TEXTS,
  type ChatTokens,
} from './chatml';

export interface ChatTokenizer {
  /** The tokenizer with both chat tokens. */
  tokenizer: Tokenizer;
  chat: ChatTokens;
  /** How many ids were added (0 when it had both already). */
  added: number;
}

/** The ids of the chat tokens, when the tokenizer has both as special tokens (and of the tool tokens, with all four). */
export function chatTokensOf(tok: Pick<Tokenizer, 'specialTokens'>): ChatTokens | undefined {
  const imStart = tok.specialTokens.get(IM_START);
  const imEnd = tok.specialTokens.get(IM_END);
  if (imStart === undefined || imEnd === undefined) return undefined;
  const [toolStart, toolEnd, outputStart, outputEnd] = TOOL_TOKEN_TEXTS.map((t) => tok.specialTokens.get(t));
  if ([toolStart, toolEnd, outputStart, outputEnd].some((id) => id === undefined)) return { imStart, imEnd };
  return {
    imStart,
    imEnd,
    tools: { toolStart: toolStart!, toolEnd: toolEnd!, outputStart: outputStart!, outputEnd: outputEnd! },
  };
}

/** `tok` with the chat tokens, and the tool tokens with `tools` (see the file's header). */
export function withChatTokens(tok: Tokenizer, o: { tools?: boolean } = {}): ChatTokenizer {
  const have = chatTokensOf(tok);
  if (have && (have.tools || !o.tools)) return { tokenizer: tok, chat: have, added: 0 };
  const wanted = [IM_START, IM_END, ...(o.tools ? TOOL_TOKEN_TEXTS : [])];
  const missing = wanted.filter((t) => !tok.specialTokens.has(t));
  for (const t of missing) refuseOrdinary(tok, t);
  const added = new Map(missing.map((t, i) => [t, tok.vocabSize + i]));
  const specials = new Map([...tok.specialTokens, ...added]);
  const name = `${tok.name}+chatml`;
  let tokenizer: Tokenizer;
  if (tok instanceof CharTokenizer) tokenizer = new CharTokenizer(name, tok.chars, specials);
  else if (tok instanceof BpeTokenizer)
    tokenizer = new BpeTokenizer({ name, ranks: tok.ranks, specialTokens: specials, pattern: tok.pattern });
  else if (tok instanceof HuggingFaceTokenizer) tokenizer = huggingFaceWithTokens(tok, name, added);
  else
    throw new Error(
      `${tok.name} cannot take new tokens: LLM Lens adds the chat tokens ${IM_START} and ${IM_END} to character vocabularies, its own BPE tokenizers, the built-in encodings and tokenizer.json files; pretrain with one of those`,
    );
  return { tokenizer, chat: chatTokensOf(tokenizer)!, added: added.size };
}

/** A chat token that the vocabulary already spells as one ordinary token would come back from plain text. */
function refuseOrdinary(tok: Tokenizer, text: string): void {
  let ids: number[];
  try {
    ids = tok.encode(text, { disallowedSpecial: new Set() });
  } catch {
    return; // characters it cannot encode: no ordinary token spells it (one that drops them gives another text)
  }
  if (ids.length === 1 && tok.decode(ids) === text)
    throw new Error(
      `${tok.name} cannot take the chat token ${text}: its vocabulary already has ${text} as an ordinary token (id ${ids[0]}), which plain text would still produce. Use a tokenizer without it${tok instanceof HuggingFaceTokenizer ? `, or mark it "special": true in tokenizer.json's added_tokens` : ''}`,
    );
}

/** A tokenizer.json with `added` appended to its added_tokens, and the ChatML template in its config. */
function huggingFaceWithTokens(
  tok: HuggingFaceTokenizer,
  name: string,
  added: ReadonlyMap<string, number>,
): HuggingFaceTokenizer {
  const own = chatTemplateOf(tok.config);
  if (own !== undefined && own !== CHATML_TEMPLATE && own !== CHATML_TOOLS_TEMPLATE)
    throw new Error(
      `${tok.source} has its own chat template (chat_template in tokenizer_config.json) and not the ChatML tokens ${IM_START} and ${IM_END}: fine-tune with its template, or remove chat_template from tokenizer_config.json to use ChatML`,
    );
  const json = {
    ...tok.json,
    added_tokens: [...tok.added, ...[...added].map(([content, id]) => specialAddedToken(content, id))],
  };
  const tools = TOOL_TOKEN_TEXTS.every((t) => tok.specialTokens.has(t) || added.has(t));
  const config = { ...tok.config, chat_template: tools ? CHATML_TOOLS_TEMPLATE : CHATML_TEMPLATE };
  return huggingFaceTokenizerFromJson(JSON.stringify(json), name, config, `${tok.source} + chat tokens`);
}
