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
 *
 * Tool use (conversation.ts writes it as tool_calls and tool messages) stays inside the assistant's turn,
 * with four more special tokens, after nanochat's <|python_start|> … <|output_end|>:
 *
 *   <|im_start|>assistant\n{content}<|tool_start|>{name}\n{input}<|tool_end|><|output_start|>{output}<|output_end|>{more content}<|im_end|>\n
 *
 * The model writes the call (weight 1: it learns when and how to call); the sampler, seeing <|tool_end|>,
 * runs the tool and forces <|output_start|>{output}<|output_end|> into the context (weight 0: the model
 * never learns to write a tool's output, only to use it), then the model goes on. Those tokens have the
 * role 'tool'. A message list with tool calls needs a tokenizer with the tool tokens (withChatTokens's
 * `tools` option).
 */
import type { Message, Role, ToolCall } from './conversation';

/** The tool tokens, or an error that says how to get them. */
function toolTokens(tokens: ChatTokens): ToolTokens {
  if (tokens.tools) return tokens.tools;
  throw new Error(
    `the conversation has tool calls, but the tokenizer has no tool tokens (${TOOL_START}, ${TOOL_END}, ${OUTPUT_START}, ${OUTPUT_END}); fine-tune on tool conversations to add them`,
  );
}

/** The ids of the special tokens that mark turns (the tokenizer extension assigns them). */
export interface ChatTokens {
  /** `<|im_start|>`: opens a turn. */
  imStart: number;
  /** `<|im_end|>`: closes a turn; the assistant learns to emit it, and sampling stops on it. */
  imEnd: number;
  /** The tool tokens, when the tokenizer has all four. */
  tools?: ToolTokens;
}

/** The ids of the tokens around a tool call and its output. */
export interface ToolTokens {
  toolStart: number;
  toolEnd: number;
  outputStart: number;
  outputEnd: number;
}

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';
export const TOOL_START = '<|tool_start|>';
export const TOOL_END = '<|tool_end|>';
export const OUTPUT_START = '<|output_start|>';
export const OUTPUT_END = '<|output_end|>';
/** The tool tokens' texts, in ToolTokens' order. */
export const TOOL_TOKEN_TEXTS = [TOOL_START, TOOL_END, OUTPUT_START, OUTPUT_END] as const;

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

/**
 * CHATML_TEMPLATE with tool calls (messages' `tool_calls` and tool messages, rendered as chatMLText does);
 * on a conversation without them it renders exactly what CHATML_TEMPLATE does. A tokenizer with the tool
 * tokens is saved with it.
 */
export const CHATML_TOOLS_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'tool' %}{{ '<|output_start|>' + message['content'] + '<|output_end|>' }}" +
  "{% else %}{% if not (message['role'] == 'assistant' and loop.index0 > 0 and messages[loop.index0 - 1]['role'] == 'tool') %}" +
  "{{ '<|im_start|>' + message['role'] + '\n' }}{% endif %}{{ message['content'] }}" +
  "{% if message['tool_calls'] %}{% for call in message['tool_calls'] %}{{ '<|tool_start|>' + call['name'] + '\n' + call['input'] + '<|tool_end|>' }}{% endfor %}" +
  "{% else %}{{ '<|im_end|>' + '\n' }}{% endif %}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** The text of a tool call as the model writes it between <|tool_start|> and <|tool_end|>. */
export const toolCallText = (c: ToolCall) => `${c.name}\n${c.input}`;

/**
 * The ChatML text of a conversation (what CHATML_TEMPLATE renders for one without tool calls). Each
 * message is one piece of its turn: the header before it when it opens the turn, the close after it
 * when the turn ends with it.
 */
export function chatMLText(messages: readonly Message[], o: { addGenerationPrompt?: boolean } = {}): string {
  let text = '';
  messages.forEach((m, k) => {
    const opens = m.role !== 'tool' && !(m.role === 'assistant' && messages[k - 1]?.role === 'tool');
    if (m.role === 'tool') text += `${OUTPUT_START}${m.content}${OUTPUT_END}`;
    else text += `${opens ? `${IM_START}${m.role}\n` : ''}${m.content}`;
    for (const c of m.toolCalls ?? []) text += `${TOOL_START}${toolCallText(c)}${TOOL_END}`;
    if (m.role !== 'tool' && !m.toolCalls?.length) text += `${IM_END}\n`;
  });
  return text + (o.addGenerationPrompt ? `${IM_START}assistant\n` : '');
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
  messages.forEach((m, k) => {
    if (m.role === 'tool') {
      const t = toolTokens(tokens);
      push([t.outputStart, ...encode(m.content), t.outputEnd], 0, 'tool'); // forced by the sampler
      return;
    }
    const learn = m.role === 'assistant' ? 1 : 0;
    // an assistant message after a tool's output goes on in the same turn
    if (!(m.role === 'assistant' && messages[k - 1]?.role === 'tool'))
      push([tokens.imStart, ...encode(`${m.role}\n`)], 0, m.role); // header
    push(encode(m.content), learn, m.role);
    if (m.toolCalls?.length) {
      const t = toolTokens(tokens);
      for (const c of m.toolCalls) push([t.toolStart, ...encode(toolCallText(c)), t.toolEnd], learn, m.role);
      return; // the turn goes on after the outputs
    }
    push([tokens.imEnd], learn, m.role); // the closing token
    push(newline, 0, m.role);
  });
  if (o.addGenerationPrompt) push([tokens.imStart, ...encode('assistant\n')], 0, 'assistant');
  return out;
}
