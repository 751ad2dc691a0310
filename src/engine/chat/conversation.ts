/**
 * Conversations for fine-tuning, one per line of a JSONL file, in the format every tool uses:
 *
 *   {"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]}
 *
 *   for await (const c of readConversations('chat.jsonl')) c.messages   // streamed, line by line
 *   parseConversation('{"messages": []}', 'chat.jsonl', 3)
 *   // throws ConversationError "chat.jsonl:3: "messages" is empty; a conversation needs at least one assistant message"
 *
 * Roles are system, user and assistant (tool roles come with tool calls). A line is refused with its
 * file:line and the reason, never dropped: broken JSON, no "messages" list, an unknown role, content that
 * is not a string, no assistant message. Blank lines (and a byte-order mark) carry nothing and are
 * passed over; a file with no conversation at all is refused. Other keys of a line or a message are
 * ignored. readConversations reads on after a bad line, yields only good conversations and, at the end,
 * throws one ConversationFileError that lists every bad line: a caller builds nothing from a file with
 * a bad line, and the user fixes them all in one go.
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';

export const ROLES = ['system', 'user', 'assistant'] as const;
export type Role = (typeof ROLES)[number];

/** Roles other tools write for tool calls and their output: refused until tool calls exist. */
const TOOL_ROLES = new Set(['tool', 'function', 'ipython']);

export interface Message {
  role: Role;
  content: string;
}

export interface Conversation {
  messages: Message[];
  /** Where the conversation was read, for messages about it (a packing error names it). */
  source?: { file: string; line: number };
}

/** A bad line: `file:line: reason`. */
export class ConversationError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'ConversationError';
  }
}

/** Every bad line of a file (the first `shown` in the message, all of them in `errors`). */
export class ConversationFileError extends Error {
  constructor(
    readonly file: string,
    readonly errors: ConversationError[],
    readonly good: number,
    shown = 10,
  ) {
    const more = errors.length > shown ? `\n  … and ${errors.length - shown} more` : '';
    const lines = errors.slice(0, shown).map((e) => `  ${e.message}`);
    super(
      `${file}: ${errors.length} bad line${errors.length === 1 ? '' : 's'} (${good} good); ` +
        `fix or remove them and try again:\n${lines.join('\n')}${more}`,
    );
    this.name = 'ConversationFileError';
  }
}

/** Why `value` is not a valid message, or undefined. `k` is its 1-based position. */
function messageProblem(value: unknown, k: number): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `message ${k} is not an object with "role" and "content"`;
  const { role, content } = value as { role?: unknown; content?: unknown };
  if (typeof role !== 'string') return `message ${k} has no "role" string`;
  if (TOOL_ROLES.has(role))
    return `message ${k} has role "${role}": tool messages are not supported yet (system, user, assistant)`;
  if (!(ROLES as readonly string[]).includes(role))
    return `message ${k} has unknown role "${role}"; expected system, user or assistant`;
  if (typeof content !== 'string')
    return `message ${k} (${role}): "content" must be a string, got ${describe(content)}`;
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list (content parts are not supported; join them into one string)';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** One JSONL line as a conversation; throws ConversationError naming file:line and the reason. */
export function parseConversation(text: string, file: string, line: number): Conversation {
  const fail = (reason: string) => new ConversationError(file, line, reason);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw fail(`not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const messages = (data as { messages?: unknown } | null)?.messages;
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !Array.isArray(messages))
    throw fail('expected an object {"messages": [{"role": …, "content": …}, …]}');
  if (!messages.length)
    throw fail('"messages" is empty; a conversation needs at least one assistant message');
  for (let k = 0; k < messages.length; k++) {
    const problem = messageProblem(messages[k], k + 1);
    if (problem) throw fail(problem);
  }
  const out = (messages as Message[]).map((m) => ({ role: m.role, content: m.content }));
  if (!out.some((m) => m.role === 'assistant'))
    throw fail(
      'no assistant message: nothing to learn from (add the answer as a message with role "assistant")',
    );
  return { messages: out, source: { file, line } };
}

/**
 * The conversations of `lines` (an array or a stream of a file's lines), in order; `file` names them in
 * errors. Bad lines are collected and thrown together at the end (ConversationFileError).
 */
export async function* parseConversations(
  lines: Iterable<string> | AsyncIterable<string>,
  file: string,
  o: { signal?: AbortSignal } = {},
): AsyncGenerator<Conversation> {
  const errors: ConversationError[] = [];
  let line = 0;
  let good = 0;
  for await (const raw of lines) {
    o.signal?.throwIfAborted();
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (!text.trim()) continue;
    try {
      const c = parseConversation(text, file, line);
      good++;
      yield c;
    } catch (e) {
      if (!(e instanceof ConversationError)) throw e;
      errors.push(e);
    }
  }
  if (errors.length) throw new ConversationFileError(file, errors, good);
  if (!good)
    throw new ConversationFileError(
      file,
      [new ConversationError(file, 1, 'no conversations: the file is empty')],
      0,
    );
}

/** The conversations of a JSONL file, read as a stream (see parseConversations). */
export async function* readConversations(
  file: string,
  o: { signal?: AbortSignal } = {},
): AsyncGenerator<Conversation> {
  const input = fs.createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    yield* parseConversations(lines, file, o);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e;
    throw new Error(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  } finally {
    lines.close();
    input.destroy();
  }
}
