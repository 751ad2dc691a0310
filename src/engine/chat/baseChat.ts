/**
 * A conversation as a plain document, for a base model that has no chat tokens: what it was trained on
 * is text, so the best it can be given is a transcript to continue.
 *
 *   baseChatText([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }])
 *   // 'Be brief.\n\nUser: hi\nAssistant:'
 *
 * A base model continues the document: it may answer, write the user's next line, or wander off. That
 * failure is the point of showing it beside a fine-tuned checkpoint.
 */
import type { Message, Role } from './conversation';

const NAMES: Record<Exclude<Role, 'system'>, string> = { user: 'User', assistant: 'Assistant' };

/** The transcript's pieces, each with the role it belongs to; joined they end with "Assistant:". */
export function baseChatPieces(messages: readonly Message[]): { text: string; role: Role }[] {
  const out: { text: string; role: Role }[] = [];
  for (const m of messages)
    out.push(
      m.role === 'system'
        ? { text: `${m.content}\n\n`, role: m.role }
        : { text: `${NAMES[m.role]}: ${m.content}\n`, role: m.role },
    );
  out.push({ text: `${NAMES.assistant}:`, role: 'assistant' });
  return out;
}

/** The transcript text of a conversation with the generation prompt "Assistant:" at its end. */
export function baseChatText(messages: readonly Message[]): string {
  return baseChatPieces(messages)
    .map((p) => p.text)
    .join('');
}
