/**
 * Chat jobs inside the worker: a conversation rendered for a checkpoint, answered by sampler sessions.
 * With chat tokens it is ChatML with the generation prompt `<|im_start|>assistant\n`, and answers end at
 * `<|im_end|>`; a tokenizer.json with its own chat template renders with it (as transformers.js does),
 * and answers end at its eos_token; without either (a base model) it is a "User: …\nAssistant:"
 * transcript that the model simply continues.
 */
import { plainChatText, tokenizerChatTemplate } from '../engine/chat/chatPrompt';
import { renderChatML } from '../engine/chat/chatml';
import { renderChatTemplateTokens } from '../engine/chat/chatTemplate';
import { chatTokensOf } from '../engine/chat/chatTokenizer';
import type { Role } from '../engine/chat/conversation';
import type { RenderedChat } from '../engine/chat/chatml';
import { preparePrompt } from '../engine/sample/generate';
import type { Tokenizer } from '../engine/tokenizer/tokenizer';
import type { ChatJob, ChatJobResult, ChatMessage, ChatPrompt } from '../protocol/chat';
import { loadModel, startSessions, toolHooks, type LoadedModel } from './samplerJobs';

/**
 * Special-token text typed by a user stays text: it must not open or close a turn. A tokenizer that
 * always splits its special tokens out (a tokenizer.json's added tokens) cannot, so the text is refused.
 */
const encoder = (tok: Tokenizer) => {
  const specials = new Map([...tok.specialTokens].map(([text, id]) => [id, text]));
  return (text: string) => {
    const ids = tok.encode(text, { disallowedSpecial: new Set() });
    const special = ids.find((id) => specials.has(id));
    if (special !== undefined)
      throw new Error(
        `the conversation contains the text of the special token ${specials.get(special)}, which ${tok.name} cannot encode as plain text: remove it from the message`,
      );
    return ids;
  };
};

type Rendered = Pick<RenderedChat, 'ids' | 'roles'> & { format: ChatPrompt['format'] };

function render(tok: Tokenizer, messages: readonly ChatMessage[]): Rendered {
  const encode = encoder(tok);
  const chat = chatTokensOf(tok);
  if (chat)
    return { ...renderChatML(messages, chat, encode, { addGenerationPrompt: true }), format: 'chatml' };
  const hub = tokenizerChatTemplate(tok);
  if (hub) {
    const o = { addGenerationPrompt: true, specialTokens: hub.specialTokens };
    return { ...renderChatTemplateTokens(hub.template, messages, tok, o), format: 'template' };
  }
  try {
    return { ...plainChat(tok, messages), format: 'base' };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `this base model has no chat tokens, so it gets the conversation as a "User: …\\nAssistant:" transcript, which its tokenizer cannot encode: ${why}`,
      { cause: e },
    );
  }
}

/**
 * The plain transcript a base model continues (plainChatText, as `llm-lens chat` gives it), with the
 * role of the message each token starts in: message i starts where the transcript of the ones before
 * it ends, less its closing "Assistant:".
 */
function plainChat(tok: Tokenizer, messages: readonly ChatMessage[]): Pick<RenderedChat, 'ids' | 'roles'> {
  const prompt = 'Assistant:'.length;
  const starts = messages.map((_, i) => plainChatText(messages.slice(0, i)).length - prompt);
  const end = plainChatText(messages).length - prompt;
  const spans = tok.encodeWithOffsets(plainChatText(messages), { disallowedSpecial: new Set() });
  // starts never decrease: the message a position is in is the last one starting at or before it
  const roleAt = (at: number): Role =>
    at >= end ? 'assistant' : messages[Math.max(0, starts.filter((s) => s <= at).length - 1)].role;
  return { ids: spans.map((s) => s.id), roles: spans.map((s) => roleAt(s.start)) };
}

/** The conversation + generation prompt as the model sees it (the last blockSize tokens). */
export function renderChat(m: LoadedModel, messages: readonly ChatMessage[]): ChatPrompt {
  const { ids, roles, format } = render(m.tokenizer, messages);
  for (const id of ids)
    if (id >= m.info.vocabSize)
      throw new Error(`token id ${id} is outside the model's vocabulary (${m.info.vocabSize})`);
  const p = preparePrompt(ids, m.info.blockSize, m.start);
  const specials = new Set(m.tokenizer.specialTokens.values());
  return {
    ids: p.ids,
    texts: p.ids.map((id) => m.tokenizer.decode([id])),
    special: p.ids.map((id) => specials.has(id)),
    roles: roles.slice(-p.ids.length),
    format,
    notes: p.notes,
  };
}

export async function runChatJob(job: ChatJob): Promise<ChatJobResult> {
  const m = await loadModel(job.checkpoint);
  switch (job.kind) {
    case 'chatLoad':
      return {
        kind: 'chatLoad',
        model: {
          ...m.info,
          chatTokens: !!(chatTokensOf(m.tokenizer) ?? tokenizerChatTemplate(m.tokenizer)),
        },
      };
    case 'chatStart': {
      const prompt = renderChat(m, job.messages);
      const eot = m.tokenizer.specialTokens.get('<|endoftext|>');
      const ends = [chatTokensOf(m.tokenizer)?.imEnd, tokenizerChatTemplate(m.tokenizer)?.stop, eot];
      const stops = [...new Set(ends.filter((id) => id !== undefined))];
      // a chat without tools bans the call token: the same model answers on its own
      const hooks = await toolHooks(m, job.tools ?? [], job.searchDir);
      const sessions = startSessions(m, prompt.ids, job.params, job.streams, stops, hooks);
      return { kind: 'chatStart', sessions, prompt };
    }
  }
}
