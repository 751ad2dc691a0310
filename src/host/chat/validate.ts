/** Runtime validation of the Chat webview's messages: they are untrusted input. */
import type { ChatMessage, ChatWebviewMessage } from '../../protocol/chat';
import {
  hasExactKeys,
  hasKeys,
  isInt,
  isRecord,
  isSamplerParams,
  isToolsToggle,
  SAMPLER_LIMITS,
} from '../sampler/validate';

/** Limits of a conversation the panel sends. */
export const CHAT_LIMITS = { messages: 200, content: 100_000, answers: SAMPLER_LIMITS.streams };

const ROLES = new Set(['system', 'user', 'assistant']);
const SLOTS = new Set(['main', 'compare']);

function isChatMessage(x: unknown): x is ChatMessage {
  return (
    isRecord(x) &&
    hasExactKeys(x, ['role', 'content']) &&
    typeof x.role === 'string' &&
    ROLES.has(x.role) &&
    typeof x.content === 'string' &&
    x.content.length <= CHAT_LIMITS.content
  );
}

/** An optional system message first, then turns that end with the user's: what a generation prompt follows. */
export function isConversation(x: unknown): x is ChatMessage[] {
  if (!Array.isArray(x) || !x.length || x.length > CHAT_LIMITS.messages || !x.every(isChatMessage))
    return false;
  return x.at(-1)!.role === 'user' && x.every((m, i) => m.role !== 'system' || i === 0);
}

/** True for exactly the shapes in ChatWebviewMessage. */
export function isChatWebviewMessage(x: unknown): x is ChatWebviewMessage {
  if (!isRecord(x)) return false;
  switch (x.type) {
    case 'ready':
    case 'stop':
    case 'endCompare':
      return hasExactKeys(x, ['type']);
    case 'send':
      return (
        hasKeys(x, ['type', 'messages', 'params', 'answers'], ['tools']) &&
        isToolsToggle(x.tools) &&
        isConversation(x.messages) &&
        isSamplerParams(x.params) &&
        isInt(x.answers, 1, CHAT_LIMITS.answers)
      );
    case 'pickCheckpoint':
      return hasExactKeys(x, ['type', 'slot']) && typeof x.slot === 'string' && SLOTS.has(x.slot);
    case 'openInSampler':
      return (
        hasExactKeys(x, ['type', 'answer', 'index']) && isInt(x.answer, 0, 1e9) && isInt(x.index, 0, 1e6)
      );
    default:
      return false;
  }
}
