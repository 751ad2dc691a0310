/**
 * What a knowledge probe is given, read and checked before anything runs (the CLI's `probe` and
 * `eval-refusal`, and the editor's Probe Knowledge…): the questions of a JSONL file, and the settings.
 *
 *   parseProbeQuestions('{"question":"Who is Zorbin?"}\n', 'q.jsonl')   // [{ question: 'Who is Zorbin?' }]
 *   await taskProbeQuestions('refusal', 20)   // held-out questions about made-up people (no right answer)
 *   probeSettingsError('samples', '1')   // 'samples must be an integer from 2 to 1000 …'
 *   probeSettingsError('threshold', '0.5')   // undefined: fine
 *
 * A question line is {"question": "…", "answer": "…"} (answer optional: the right answer, when known) or a
 * conversation {"messages": […]} (its first user message, and its last message as the answer).
 */
import { generateChatDataAsync, type ChatTask } from './chatData';
import { parseConversation } from './conversation';
import { expectedResult } from './evalTask';
import type { ProbeQuestion } from './probe';

/** The questions of a JSONL file's text; an Error names the file, the line and the expected form. */
export function parseProbeQuestions(text: string, file: string): ProbeQuestion[] {
  const out: ProbeQuestion[] = [];
  const expected = 'expected {"question": "…", "answer": "…" (optional)} or {"messages": […]}';
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    if (!raw.trim()) continue;
    let v: { question?: unknown; answer?: unknown; messages?: unknown };
    try {
      v = JSON.parse(raw) as typeof v;
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message}); ${expected}`, {
        cause: e,
      });
    }
    if (v && typeof v === 'object' && 'messages' in v) {
      const c = parseConversation(raw, file, i + 1);
      const question = c.messages.find((m) => m.role === 'user')?.content;
      if (question === undefined) throw new Error(`${file}:${i + 1}: the conversation has no user message`);
      out.push({ question, answer: c.messages.at(-1)!.content });
    } else if (
      v &&
      typeof v === 'object' &&
      typeof v.question === 'string' &&
      v.question.trim() &&
      (v.answer === undefined || typeof v.answer === 'string')
    )
      out.push({ question: v.question, ...(v.answer !== undefined ? { answer: v.answer as string } : {}) });
    else throw new Error(`${file}:${i + 1}: ${expected}`);
  }
  if (!out.length) throw new Error(`${file}: no questions; ${expected}, one a line`);
  return out;
}

/** The settings of a probe with their ranges (the CLI's flags have the same). */
export const PROBE_SETTINGS = {
  samples: { min: 2, max: 1000, integer: true, default: 8, why: 'answers per question; agreement needs 2' },
  temperature: { min: 0, max: 10, integer: false, default: 1, why: 'sampling temperature; 0 is greedy' },
  threshold: {
    min: 0.01,
    max: 1,
    integer: false,
    default: 0.5,
    why: "share of answers agreeing for 'knows'",
  },
} as const;
export type ProbeSetting = keyof typeof PROBE_SETTINGS;

/** Why `text` is not a valid value of the setting, or undefined when it is. */
export function probeSettingsError(name: ProbeSetting, text: string): string | undefined {
  const s = PROBE_SETTINGS[name];
  const kind = s.integer ? 'an integer' : 'a number';
  const v = Number(text.trim());
  const ok = text.trim() !== '' && Number.isFinite(v) && (!s.integer || Number.isInteger(v));
  if (!ok || v < s.min || v > s.max)
    return `${name} must be ${kind} from ${s.min} to ${s.max} (${s.why}); got "${text}"`;
  return undefined;
}

/** The held-out questions of a chat-data task, with the right answer except for refusal (made-up people). */
export async function taskProbeQuestions(
  task: ChatTask,
  count: number,
  seed = 1337,
): Promise<ProbeQuestion[]> {
  const convs = await generateChatDataAsync({ task, count, split: 'heldout', seed });
  return convs.map((c) => ({
    question: c.messages[0].content,
    ...(task === 'refusal' ? {} : { answer: expectedResult(c, task) }),
  }));
}
