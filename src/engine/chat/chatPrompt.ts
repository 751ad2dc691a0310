/**
 * What a model is given to answer a conversation that ends with the user's turn, and when its answer
 * ends. With the chat tokens: the ChatML rendering with a generation prompt, stopping at <|im_end|>.
 * With a tokenizer.json that carries its own chat template (and not the chat tokens): that template,
 * rendered as transformers.js does, stopping at its eos_token. Without either (a base model): the
 * conversation as plain text ending "Assistant:", which a base model treats as a document to continue,
 * not a question to answer, and that is the lesson.
 *
 *   chatPrompt(chatTok, [{ role: 'user', content: 'Who are you?' }])
 *   // { chat: { imStart, imEnd }, ids: <|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n,
 *   //   stopTokens: [imEnd] }
 *   chatPrompt(baseTok, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Who are you?' }])
 *   // { chat: undefined, text: 'Be brief.\n\nUser: Who are you?\nAssistant:', stopTokens: [<|endoftext|>] or [] }
 *   const format = chatFormatOf(tok)                  // { kind: 'chatml', … } | { kind: 'template', … } | undefined
 *   renderChat(format, messages, tok)                 // { ids, weights, roles }: what fine-tuning trains on
 *
 * ChatML message text is encoded as plain text: a user who types "<|im_end|>" does not end their turn.
 * A template's text is tokenized whole with its special tokens allowed, as transformers.js does.
 */
import { HuggingFaceTokenizer } from '../tokenizer/huggingface';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { chatTemplateOf, renderChatTemplateTokens, templateSpecialTokens } from './chatTemplate';
import { chatTokensOf } from './chatTokenizer';
import { renderChatML, type ChatTokens, type Encode, type RenderedChat } from './chatml';
import type { Message } from './conversation';

export interface ChatPrompt {
  /** The chat tokens; undefined for a base model or a tokenizer with its own template. */
  chat: ChatTokens | undefined;
  /** The tokenizer's own chat template, when it renders with one. */
  template?: string;
  ids: number[];
  /** Tokens that end the answer: <|im_end|>, a template's eos_token, or a base model's <|endoftext|>. */
  stopTokens: number[];
}

/** A tokenizer.json's own chat template (tokenizer_config.json), its special tokens and the id of its eos_token. */
export interface TokenizerTemplate {
  template: string;
  /** bos_token, eos_token, … as the template reads them. */
  specialTokens: Record<string, string>;
  /** The eos_token's id (answers end there); undefined when it has none or it is not a special token. */
  stop: number | undefined;
}

/** `tok`'s own chat template when it is a tokenizer.json whose tokenizer_config.json has one. */
export function tokenizerChatTemplate(tok: Tokenizer): TokenizerTemplate | undefined {
  if (!(tok instanceof HuggingFaceTokenizer)) return undefined;
  const template = chatTemplateOf({ ...tok.config });
  if (!template) return undefined;
  const specialTokens = templateSpecialTokens({ ...tok.config });
  const eos = specialTokens.eos_token;
  return { template, specialTokens, stop: eos === undefined ? undefined : tok.specialTokens.get(eos) };
}

/** How a chat model's tokenizer renders conversations (see the file's header). */
export type ChatFormat =
  { kind: 'chatml'; chat: ChatTokens; stop: number } | ({ kind: 'template' } & TokenizerTemplate);

/** The chat tokens first (ChatML), else the tokenizer's own template; undefined for a base tokenizer. */
export function chatFormatOf(tok: Tokenizer): ChatFormat | undefined {
  const chat = chatTokensOf(tok);
  if (chat) return { kind: 'chatml', chat, stop: chat.imEnd };
  const own = tokenizerChatTemplate(tok);
  return own && { kind: 'template', ...own };
}

/**
 * Ids, loss weights and roles of `messages` in `format`. ChatML encodes each message's text with `encode`
 * (default: `tok`'s, special-token text as plain text); a template tokenizes its whole text.
 */
export function renderChat(
  format: ChatFormat,
  messages: readonly Message[],
  tok: Tokenizer,
  o: { addGenerationPrompt?: boolean; encode?: Encode } = {},
): RenderedChat {
  const { addGenerationPrompt } = o;
  if (format.kind === 'chatml') {
    const encode = o.encode ?? ((text: string) => tok.encode(text, { disallowedSpecial: new Set() }));
    return renderChatML(messages, format.chat, encode, { addGenerationPrompt });
  }
  const t = { addGenerationPrompt, specialTokens: format.specialTokens };
  return renderChatTemplateTokens(format.template, messages, tok, t);
}

/** A conversation as the plain text a base model continues ("User: …\nAssistant:"). */
export function plainChatText(messages: readonly Message[]): string {
  const system = messages.filter((m) => m.role === 'system').map((m) => `${m.content}\n\n`);
  const turns = messages
    .filter((m) => m.role !== 'system')
    .map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}\n`);
  return `${system.join('')}${turns.join('')}Assistant:`;
}

/** The prompt ids for `messages` under `tok` (see the file's header). */
export function chatPrompt(tok: Tokenizer, messages: readonly Message[]): ChatPrompt {
  const plain = (text: string) => tok.encode(text, { disallowedSpecial: new Set() });
  const format = chatFormatOf(tok);
  const eot = tok.specialTokens.get('<|endoftext|>');
  if (format) {
    const { ids } = renderChat(format, messages, tok, { addGenerationPrompt: true, encode: plain });
    if (format.kind === 'chatml') return { chat: format.chat, ids, stopTokens: [format.stop] };
    const stops = [...new Set([format.stop, eot].filter((id) => id !== undefined))];
    return { chat: undefined, template: format.template, ids, stopTokens: stops };
  }
  return { chat: undefined, ids: plain(plainChatText(messages)), stopTokens: eot === undefined ? [] : [eot] };
}
