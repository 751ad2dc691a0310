/**
 * Chat jobs inside the worker: a conversation rendered for a checkpoint, answered by sampler sessions.
 * With chat tokens it is ChatML with the generation prompt `<|im_start|>assistant\n`, and answers end at
 * `<|im_end|>`; without them (a base model) it is a "User: …\nAssistant:" transcript that the model
 * simply continues.
 */
import { baseChatPieces } from '../engine/chat/baseChat';
import { renderChatML } from '../engine/chat/chatml';
import { chatTokensOf } from '../engine/chat/chatTokenizer';
import type { Role } from '../engine/chat/conversation';
import { preparePrompt } from '../engine/sample/generate';
import type { Tokenizer } from '../engine/tokenizer/tokenizer';
import type { ChatJob, ChatJobResult, ChatMessage, ChatPrompt } from '../protocol/chat';
import { loadModel, startSessions, type LoadedModel } from './samplerJobs';

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

/** The conversation + generation prompt as the model sees it (the last blockSize tokens). */
export function renderChat(m: LoadedModel, messages: readonly ChatMessage[]): ChatPrompt {
  const encode = encoder(m.tokenizer);
  const chat = chatTokensOf(m.tokenizer);
  let ids: number[];
  let roles: Role[];
  if (chat) ({ ids, roles } = renderChatML(messages, chat, encode, { addGenerationPrompt: true }));
  else {
    ids = [];
    roles = [];
    for (const p of baseChatPieces(messages))
      for (const id of encode(p.text)) {
        ids.push(id);
        roles.push(p.role);
      }
  }
  for (const id of ids)
    if (id >= m.info.vocabSize)
      throw new Error(`token id ${id} is outside the model's vocabulary (${m.info.vocabSize})`);
  const p = preparePrompt(ids, m.info.blockSize, m.start);
  const kept = roles.slice(-p.ids.length);
  const specials = new Set(m.tokenizer.specialTokens.values());
  return {
    ids: p.ids,
    texts: p.ids.map((id) => m.tokenizer.decode([id])),
    special: p.ids.map((id) => specials.has(id)),
    roles: kept,
    format: chat ? 'chatml' : 'base',
    notes: p.notes,
  };
}

export async function runChatJob(job: ChatJob): Promise<ChatJobResult> {
  const m = await loadModel(job.checkpoint);
  switch (job.kind) {
    case 'chatLoad':
      return { kind: 'chatLoad', model: { ...m.info, chatTokens: chatTokensOf(m.tokenizer) !== undefined } };
    case 'chatStart': {
      const prompt = renderChat(m, job.messages);
      const eot = m.tokenizer.specialTokens.get('<|endoftext|>');
      const stops = [chatTokensOf(m.tokenizer)?.imEnd, eot].filter((id) => id !== undefined);
      const sessions = startSessions(m, prompt.ids, job.params, job.streams, stops);
      return { kind: 'chatStart', sessions, prompt };
    }
  }
}
