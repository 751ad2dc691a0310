/**
 * A Hugging Face tokenizer's own chat template (`chat_template` in tokenizer_config.json), rendered with
 * `@huggingface/jinja` exactly as transformers.js's `apply_chat_template` does, and the loss weights of
 * the tokens it gives.
 *
 *   const template = chatTemplateOf(config);                  // tokenizer_config.json's chat_template
 *   renderChatTemplate(template, messages, { addGenerationPrompt: true, specialTokens: templateSpecialTokens(config) })
 *   // '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n' for a ChatML template
 *   renderChatTemplateTokens(template, messages, tokenizer)   // { ids, weights, roles } as chatml.ts's
 *
 * A template is a program, so where an assistant's answer lies in its text is found by rendering
 * prefixes of the conversation: answer i starts where `messages[0..i)` with a generation prompt ends and
 * stops where `messages[0..i]` ends, less trailing white space (ChatML's newline after <|im_end|>). The
 * tokens that start inside an answer get weight 1 (its content and the template's closing token). A
 * template whose prefixes are not prefixes of the whole (one that rewrites earlier turns) is refused.
 */
import type { Template as JinjaTemplate } from '@huggingface/jinja' with { 'resolution-mode': 'import' };
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { Message, Role } from './conversation';
import type { RenderedChat } from './chatml';

/** Loaded on first render: reading a config's template (chatTemplateOf) needs no Jinja. */
function jinja(): typeof JinjaTemplate {
  // The package is an ES module with a CommonJS build; require() keeps this file CommonJS like the rest.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@huggingface/jinja') as { Template: typeof JinjaTemplate }).Template;
}

/** The special tokens transformers.js hands a template (its SPECIAL_TOKEN_ATTRIBUTES). */
const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
];

/** tokenizer_config.json's chat template: its string, or the "default" of a list of named ones. */
export function chatTemplateOf(config: Record<string, unknown>): string | undefined {
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (!Array.isArray(t)) return undefined;
  const named = t.find((x: { name?: unknown }) => x?.name === 'default') as
    { template?: unknown } | undefined;
  if (typeof named?.template === 'string') return named.template;
  throw new Error(`tokenizer_config.json has ${t.length} named chat templates and none is called "default"`);
}

/** bos_token, eos_token, … of tokenizer_config.json (a string or an AddedToken's content). */
export function templateSpecialTokens(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const v = config[key] as string | { content?: unknown } | null | undefined;
    const text = typeof v === 'object' && v !== null ? v.content : v;
    if (typeof text === 'string' && text) out[key] = text;
  }
  return out;
}

export interface TemplateOptions {
  addGenerationPrompt?: boolean;
  /** bos_token, eos_token, … (templateSpecialTokens). */
  specialTokens?: Record<string, string>;
}

const compiled = new Map<string, JinjaTemplate>();

/** The text of messages under a Jinja chat template: apply_chat_template(messages, { tokenize: false }). */
export function renderChatTemplate(
  template: string,
  messages: readonly Message[],
  o: TemplateOptions = {},
): string {
  let t = compiled.get(template);
  if (!t) compiled.set(template, (t = new (jinja())(template)));
  return t.render({
    messages,
    add_generation_prompt: !!o.addGenerationPrompt,
    tools: null,
    documents: null,
    ...o.specialTokens,
  });
}

/**
 * Ids, loss weights and roles of messages rendered by a template and tokenized with every special token
 * allowed (as transformers.js tokenizes the rendered text).
 */
export function renderChatTemplateTokens(
  template: string,
  messages: readonly Message[],
  tok: Pick<Tokenizer, 'encodeWithOffsets'>,
  o: TemplateOptions = {},
): RenderedChat {
  const full = renderChatTemplate(template, messages, o);
  const prefixEnd = (n: number, addGenerationPrompt: boolean): number => {
    if (n === 0 && !addGenerationPrompt) return 0;
    const text = renderChatTemplate(template, messages.slice(0, n), { ...o, addGenerationPrompt });
    if (!full.startsWith(text))
      throw new Error(
        `this chat template renders the first ${n} messages as text that does not begin the whole ` +
          'conversation (it rewrites earlier turns), so the tokens of each answer cannot be found',
      );
    return text.length;
  };
  const turnStart = messages.map((_, i) => prefixEnd(i, false)); // where message i's turn begins
  const answers: [number, number][] = []; // [start, end) of each assistant answer in `full`
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const start = prefixEnd(i, true);
    let end = prefixEnd(i + 1, false);
    while (end > start && /\s/.test(full[end - 1])) end--;
    answers.push([start, end]);
  });
  const promptStart = o.addGenerationPrompt ? prefixEnd(messages.length, false) : Infinity;
  const out: RenderedChat = { ids: [], weights: [], roles: [] };
  for (const s of tok.encodeWithOffsets(full, { allowedSpecial: 'all' })) {
    out.ids.push(s.id);
    out.weights.push(answers.some(([a, b]) => s.start >= a && s.start < b) ? 1 : 0);
    out.roles.push(roleAt(messages, turnStart, promptStart, s.start));
  }
  return out;
}

/** The role of the turn that text position `at` belongs to (text before the first turn: the first's). */
function roleAt(messages: readonly Message[], turnStart: number[], promptStart: number, at: number): Role {
  if (at >= promptStart || !messages.length) return 'assistant';
  let i = 0;
  while (i + 1 < messages.length && turnStart[i + 1] <= at) i++;
  return messages[i].role;
}
