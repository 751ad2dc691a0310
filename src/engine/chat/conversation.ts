/**
 * Conversations for fine-tuning, one per line of a JSONL file, in the format every tool uses:
 *
 *   {"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]}
 *
 *   for await (const c of readConversations('chat.jsonl')) c.messages   // streamed, line by line
 *   parseConversation('{"messages": []}', 'chat.jsonl', 3)
 *   // throws ConversationError "chat.jsonl:3: "messages" is empty; a conversation needs at least one assistant message"
 *
 * Tool use (tools/toolLoop.ts) is written as the common chat formats write it: an assistant message lists
 * its calls in "tool_calls", and one "tool" message per call follows with what the tool printed, then the
 * assistant goes on:
 *
 *   {"messages": [{"role": "user", "content": "What is 347 * 582?"},
 *     {"role": "assistant", "content": "", "tool_calls": [{"name": "calculator", "input": "347 * 582"}]},
 *     {"role": "tool", "content": "201954"},
 *     {"role": "assistant", "content": "347 * 582 = 201954."}]}
 *
 * A call is {"name", "input"}, or OpenAI's {"type": "function", "function": {"name", "arguments"}}
 * with the arguments string as the input. A tool message's "name", when given, must be its call's.
 *
 * Roles are system, user, assistant and tool. A line is refused with its
 * file:line and the reason, never dropped: broken JSON, no "messages" list, an unknown role, content that
 * is not a string, no assistant message. Blank lines (and a byte-order mark) carry nothing and are
 * passed over; a file with no conversation at all is refused. Other keys of a line or a message are
 * ignored. readConversations reads on after a bad line, yields only good conversations and, at the end,
 * throws one ConversationFileError that lists every bad line: a caller builds nothing from a file with
 * a bad line, and the user fixes them all in one go.
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';

export const ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type Role = (typeof ROLES)[number];

/** Other names for the tool role, which other tools write: refused with the name to use. */
const OTHER_TOOL_ROLES = new Set(['function', 'ipython']);

/** A tool call an assistant message makes: the tool's name and the text it runs on. */
export interface ToolCall {
  name: string;
  input: string;
}

export interface Message {
  role: Role;
  content: string;
  /** Assistant messages only: the calls made after the content, each answered by the next tool message. */
  toolCalls?: ToolCall[];
}

/** A tool name: lower-case letters, digits and underscores (it is written into the token stream). */
const TOOL_NAME = /^[a-z][a-z0-9_]*$/;

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
  if (OTHER_TOOL_ROLES.has(role))
    return `message ${k} has role "${role}": write a tool's output as a message with role "tool"`;
  if (!(ROLES as readonly string[]).includes(role))
    return `message ${k} has unknown role "${role}"; expected system, user, assistant or tool`;
  const calls = (value as { tool_calls?: unknown }).tool_calls;
  if (typeof content !== 'string' && !(content === null && role === 'assistant' && calls !== undefined))
    return `message ${k} (${role}): "content" must be a string, got ${describe(content)}`;
  if (calls !== undefined && role !== 'assistant')
    return `message ${k} (${role}): only assistant messages make "tool_calls"`;
  return undefined;
}

/** The tool calls of message k's "tool_calls" value, or the reason they are refused. */
function toolCalls(value: unknown, k: number): ToolCall[] | string {
  if (!Array.isArray(value) || !value.length)
    return `message ${k}: "tool_calls" must be a non-empty list of {"name": …, "input": …}`;
  const out: ToolCall[] = [];
  for (let j = 0; j < value.length; j++) {
    const c = value[j] as {
      name?: unknown;
      input?: unknown;
      function?: { name?: unknown; arguments?: unknown };
    };
    const where = `message ${k}, tool call ${j + 1}`;
    if (typeof c !== 'object' || c === null) return `${where} is not an object {"name": …, "input": …}`;
    const fn = typeof c.function === 'object' && c.function !== null ? c.function : undefined;
    const name = fn ? fn.name : c.name;
    const input = fn ? fn.arguments : c.input;
    if (typeof name !== 'string' || !TOOL_NAME.test(name))
      return `${where}: "name" must be a tool name such as "calculator" (lower-case letters, digits, _), got ${JSON.stringify(name) ?? 'nothing'}`;
    if (typeof input !== 'string')
      return `${where} (${name}): "${fn ? 'arguments' : 'input'}" must be a string, got ${describe(input)}`;
    out.push({ name, input });
  }
  return out;
}

/**
 * Why the order of tool calls and tool messages is wrong, or undefined: each call is answered by one
 * tool message, in order, right after the message that made it, and the assistant speaks after them.
 */
function toolOrderProblem(messages: readonly Message[]): string | undefined {
  let open: ToolCall[] = [];
  let callerAt = 0;
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k];
    if (m.role === 'tool') {
      const call = open.shift();
      if (!call)
        return `message ${k + 1} is a tool output with no tool call before it (the assistant message before it must list the call in "tool_calls")`;
      const named = (m as Message & { name?: unknown }).name;
      if (named !== undefined && named !== call.name)
        return `message ${k + 1} is the output of "${String(named)}", but the call it answers (message ${callerAt}) is to "${call.name}"`;
      continue;
    }
    if (open.length)
      return `message ${callerAt} makes ${open.length} more tool call${open.length > 1 ? 's' : ''} than the tool messages after it answer; add a {"role": "tool", "content": …} message for each`;
    if (k > 0 && messages[k - 1].role === 'tool' && m.role !== 'assistant')
      return `message ${k + 1} (${m.role}) follows a tool output: the assistant must speak after its tools (add an assistant message)`;
    if (m.toolCalls) {
      open = [...m.toolCalls];
      callerAt = k + 1;
    }
  }
  if (open.length)
    return `message ${callerAt} makes ${open.length} more tool call${open.length > 1 ? 's' : ''} than the tool messages after it answer; add a {"role": "tool", "content": …} message for each`;
  if (messages.at(-1)?.role === 'tool')
    return 'the conversation ends with a tool output: add the assistant message that uses it';
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
  const out: Message[] = [];
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k] as { role: Role; content: string | null; tool_calls?: unknown; name?: unknown };
    const message: Message & { name?: unknown } = { role: m.role, content: m.content ?? '' };
    if (m.tool_calls !== undefined) {
      const calls = toolCalls(m.tool_calls, k + 1);
      if (typeof calls === 'string') throw fail(calls);
      message.toolCalls = calls;
    }
    if (m.role === 'tool' && m.name !== undefined) message.name = m.name;
    out.push(message);
  }
  const order = toolOrderProblem(out);
  if (order) throw fail(order);
  for (const m of out) delete (m as { name?: unknown }).name;
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

/** Whether any conversation of `files` has a tool output (its fine-tuning needs the tool tokens). */
export async function conversationsUseTools(
  files: readonly string[],
  o: { signal?: AbortSignal } = {},
): Promise<boolean> {
  for (const f of files)
    for await (const c of readConversations(f, o)) if (c.messages.some((m) => m.role === 'tool')) return true;
  return false;
}
