/**
 * What a model is given to answer a conversation that ends with the user's turn, and when its answer
 * ends. With the chat tokens: the ChatML rendering with a generation prompt, stopping at <|im_end|>.
 * Without them (a base model): the conversation as plain text ending "Assistant:", which a base model
 * treats as a document to continue, not a question to answer, and that is the lesson.
 *
 *   chatPrompt(chatTok, [{ role: 'user', content: 'Who are you?' }])
 *   // { chat: { imStart, imEnd }, ids: <|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n,
 *   //   stopTokens: [imEnd] }
 *   chatPrompt(baseTok, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Who are you?' }])
 *   // { chat: undefined, text: 'Be brief.\n\nUser: Who are you?\nAssistant:', stopTokens: [<|endoftext|>] or [] }
 *
 * Message text is encoded as plain text: a user who types "<|im_end|>" does not end their turn.
 */
import type { Tokenizer } from '../tokenizer/tokenizer';
import { chatTokensOf } from './chatTokenizer';
import { renderChatML, type ChatTokens } from './chatml';
import type { Message } from './conversation';

export interface ChatPrompt {
  /** The chat tokens; undefined for a base model, which gets the plain-text prompt. */
  chat: ChatTokens | undefined;
  ids: number[];
  /** Tokens that end the answer: <|im_end|>, or a base model's <|endoftext|> when it has one. */
  stopTokens: number[];
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
  const chat = chatTokensOf(tok);
  if (chat) {
    const { ids } = renderChatML(messages, chat, plain, { addGenerationPrompt: true });
    return { chat, ids, stopTokens: [chat.imEnd] };
  }
  const eot = tok.specialTokens.get('<|endoftext|>');
  return { chat, ids: plain(plainChatText(messages)), stopTokens: eot === undefined ? [] : [eot] };
}
