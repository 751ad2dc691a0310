/**
 * ChatML: a conversation as one token stream, with the loss weight of every token. Each message is a turn
 *
 *   <|im_start|>{role}\n{content}<|im_end|>\n
 *
 * where <|im_start|> and <|im_end|> are single special tokens and the rest is ordinary text. Only the
 * assistant's content and its closing <|im_end|> carry loss (weight 1): the model learns to answer and
 * to stop, not to write the user's text or the role headers. The text is CHATML_TEMPLATE's, as
 * `@huggingface/jinja` and transformers.js render it.
 *
 *   const tokens = { imStart: 65, imEnd: 66 };            // ids of the special tokens
 *   renderChatML([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }], tokens, encode)
 *   // with one token per word and per newline, for the picture:
 *   // tokens   <|im_start|> user \n hi <|im_end|> \n <|im_start|> assistant \n yo <|im_end|> \n
 *   // weights       0        0   0  0      0      0       0           0      0  1      1      0
 *   renderChatML(messages, tokens, encode, { addGenerationPrompt: true })   // … ends <|im_start|>assistant\n
 *
 * The header `{role}\n` and the content are encoded apart (as the model sees them when it answers a
 * generation prompt), so a BPE never merges a content token with the header's newline. A template
 * renderer that tokenizes the whole text (transformers.js) gives the same ids unless a content starts
 * with characters the tokenizer's split pattern joins to that newline (more newlines, say).
 * `encode` must treat special-token text as ordinary text (or refuse it): a user who types
 * "<|im_end|>" must not end their turn.
 */
import type { Message, Role } from './conversation';

/** The ids of the special tokens that mark turns (the tokenizer extension assigns them). */
export interface ChatTokens {
  /** `<|im_start|>`: opens a turn. */
  imStart: number;
  /** `<|im_end|>`: closes a turn; the assistant learns to emit it, and sampling stops on it. */
  imEnd: number;
}

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';

/** Text → token ids, special-token text encoded as ordinary text. */
export type Encode = (text: string) => number[];

/** A rendered conversation: one entry per token. */
export interface RenderedChat {
  ids: number[];
  /** 1 on the assistant's content and its closing <|im_end|>, 0 elsewhere. */
  weights: number[];
  /** The role of the turn each token belongs to (its header and its closing newline too). */
  roles: Role[];
}

/** The standard ChatML chat template (as in Hugging Face's chat templating guide), for tokenizer_config.json. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** The ChatML text of a conversation (what CHATML_TEMPLATE renders). */
export function chatMLText(messages: readonly Message[], o: { addGenerationPrompt?: boolean } = {}): string {
  const turns = messages.map((m) => `${IM_START}${m.role}\n${m.content}${IM_END}\n`);
  return turns.join('') + (o.addGenerationPrompt ? `${IM_START}assistant\n` : '');
}

/** Token ids and loss weights of a conversation; `addGenerationPrompt` appends `<|im_start|>assistant\n`. */
export function renderChatML(
  messages: readonly Message[],
  tokens: ChatTokens,
  encode: Encode,
  o: { addGenerationPrompt?: boolean } = {},
): RenderedChat {
  const out: RenderedChat = { ids: [], weights: [], roles: [] };
  const push = (ids: readonly number[], weight: number, role: Role) => {
    for (const id of ids) {
      out.ids.push(id);
      out.weights.push(weight);
      out.roles.push(role);
    }
  };
  const newline = encode('\n');
  for (const m of messages) {
    const learn = m.role === 'assistant' ? 1 : 0;
    push([tokens.imStart, ...encode(`${m.role}\n`)], 0, m.role); // header
    push([...encode(m.content), tokens.imEnd], learn, m.role); // content and the closing token
    push(newline, 0, m.role);
  }
  if (o.addGenerationPrompt) push([tokens.imStart, ...encode('assistant\n')], 0, 'assistant');
  return out;
}
