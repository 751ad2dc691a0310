/**
 * The tasks RL trains on, behind one interface: a name, a line that says what it is, its prompts with
 * their answers for a split (train or held-out: disjoint, the same for the same seed), and a checker
 * (text, answer) → reward, 1 or 0. The shipped tasks (RL_TASK_NAMES) come from chat-data, so that
 * `llm-lens chat-data → sft → rl` works for each; a user's task is a JSONL file of {"prompt", "answer"}
 * lines checked by one of CHECKERS.
 *
 *   const t = rlTask('word-problems');
 *   const [item] = t.items('heldout', 1, 1337);
 *   // { prompt: 'Zoe has 12 cards. She buys 4 packs with 6 cards in each. How many cards …?', answer: '36' }
 *   t.check('She buys 4 * 6 = 24 cards.\nShe has 12 + 24 = 36 cards.\nThe answer is 36.', '36')   // 1
 *   rlTask('qa.jsonl', { checker: 'regex' })    // every 10th line held out; a bad pattern refused here
 *
 * The checkers, each small and strict about one thing:
 *   contains     the answer as a whole word, case aside (addition; --checker contains)
 *   exact        the text, trimmed, is the answer, trimmed
 *   numeric      the last number of the text equals the answer (arithmetic, multiplication,
 *                word-problems: their work has many numbers, and only the last is the result)
 *   regex        the answer is a pattern (JavaScript syntax) found in the text
 *   count        the count the text states last ("there are 3 r's", "there are no x's") (spelling)
 *   named        the number the last comparison names first ("9.9 is bigger than 9.11") (compare)
 *   polite       preferences.ts's trueCheck: polite, short and right (polite)
 * addition keeps `contains`, the check eval-task and demo:rl have always used; it passes a wrong sum that
 * holds the answer elsewhere ("0 + 33 = 34." for 33), rare with one-line answers.
 * A user's file: blank lines are skipped; a held-out file (--heldout) or else every 10th prompt (the
 * 10th, 20th, …) is held out, and a training prompt that is also held out is dropped from training.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHECKERS, RL_TASK_NAMES } from '../../protocol/rlOptions';
import { generateChatData, type ChatTask } from '../chat/chatData';
import { ConversationError, ConversationFileError, type Conversation } from '../chat/conversation';
import { expectedResult } from '../chat/evalTask';
import { Rng } from '../train/rng';
import { politeQuestions, trueCheck } from './preferences';

export type RlSplit = 'train' | 'heldout';
export type Checker = (typeof CHECKERS)[number];
export type RlTaskName = (typeof RL_TASK_NAMES)[number];

/** A prompt and the answer its checker compares the model's text with. */
export interface RlItem {
  prompt: string;
  answer: string;
}

export interface RlTask {
  /** A shipped task's name, or the task file's path. */
  name: string;
  description: string;
  /** The checker's name, for messages (one of the header's). */
  checker: string;
  /** `count` items of a split (fewer when a user's file has fewer), the same for the same seed. */
  items(split: RlSplit, count: number, seed: number): RlItem[];
  /** The reward of `text` (the model's answer, its stop token left out) for an item's answer: 1 or 0. */
  check(text: string, answer: string): number;
}

export interface RlTaskOptions {
  /** A task file's checker (default 'contains'). */
  checker?: Checker;
  /** A task file's held-out prompts (default: every 10th line of the task file). */
  heldout?: string;
  /** addition, arithmetic, multiplication: the most digits of a number. */
  maxDigits?: number;
}

// ---- checkers --------------------------------------------------------------------------------------

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A number as written: 85, -2, 3.75, 12,195 (a minus after a letter or digit is an operator). */
const NUMBER = /(?:(?<![\w.])-)?\d+(?:,\d{3})*(?:\.\d+)?/g;
const value = (s: string) => Number(s.replace(/,/g, ''));
const sameNumber = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** The text holds the answer as a whole word (not inside a longer word or number), case aside. */
export function containsAnswer(text: string, answer: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9])${escape(answer.trim())}($|[^A-Za-z0-9])`, 'i').test(text);
}

/** The text, trimmed, is the answer, trimmed. */
export function exactAnswer(text: string, answer: string): boolean {
  return text.trim() === answer.trim();
}

/** The last number in the text, or undefined when it has none. */
export function lastNumber(text: string): number | undefined {
  const all = text.match(NUMBER);
  return all ? value(all[all.length - 1]) : undefined;
}

/** The last number of the text equals the answer's (12,195 = 12195; 17.0 = 17). */
export function numericAnswer(text: string, answer: string): boolean {
  const n = lastNumber(text);
  return n !== undefined && sameNumber(n, value(answer.trim()));
}

/** The answer is a pattern found in the text (JavaScript regular expression syntax). */
export function regexAnswer(text: string, answer: string): boolean {
  return new RegExp(answer).test(text);
}

/**
 * The count the text states last, "there is 1 r", "there are 3 r's", "there are no x's" (0), or without
 * such a phrase its last number, equals the answer.
 */
export function statedCount(text: string, answer: string): boolean {
  const stated = [...text.matchAll(/there (?:is|are) (no|\d+)\b/gi)].at(-1)?.[1];
  if (stated === undefined) return lastNumber(text) === value(answer);
  return (/^no$/i.test(stated) ? 0 : Number(stated)) === value(answer);
}

/**
 * The number the text names as the result of a comparison: the first of the last "A is bigger than B"
 * (bigger, larger, greater, smaller, less, lower), or the text's only number; equal to the answer.
 */
export function namedResult(text: string, answer: string): boolean {
  const said = [
    ...text.matchAll(/(-?\d+(?:\.\d+)?) is (?:the )?(?:bigger|larger|greater|smaller|less|lower)/gi),
  ];
  const numbers = text.match(NUMBER) ?? [];
  const only = numbers.length === 1 ? numbers[0] : undefined;
  const named = said.at(-1)?.[1] ?? only;
  return named !== undefined && sameNumber(value(named), value(answer));
}

/** A user's task file's checkers, by --checker name. */
export const CHECKS: Record<Checker, (text: string, answer: string) => boolean> = {
  exact: exactAnswer,
  numeric: numericAnswer,
  contains: containsAnswer,
  regex: regexAnswer,
};

// ---- shipped tasks ---------------------------------------------------------------------------------

/** The result a chat-data conversation's answer ends on, per task (what its checker compares with). */
function resultOf(task: RlTaskName, c: Conversation): string {
  const last = c.messages.at(-1)!.content;
  const line = last.split('\n').at(-1)!;
  const found = (m: RegExpExecArray | null, what: string) => {
    if (!m) throw new Error(`${task}: no ${what} in the answer "${line}"`);
    return m[1];
  };
  if (task === 'word-problems') return found(/The answer is (-?\d+)\.$/.exec(line), 'final answer');
  if (task === 'spelling') {
    const n = found(/there (?:is|are) (no|\d+)\b/.exec(line), 'count');
    return n === 'no' ? '0' : n;
  }
  if (task === 'compare') return found(/^So (-?\d+(?:\.\d+)?) is/.exec(line), 'comparison');
  return expectedResult(c, task as ChatTask);
}

const DESCRIPTIONS: Record<RlTaskName, [string, string, (text: string, answer: string) => boolean]> = {
  addition: ['Sums of two numbers answered in one line ("47 + 38 = 85.").', 'contains', containsAnswer],
  arithmetic: ['+, - and * with the work shown, column by column.', 'numeric', numericAnswer],
  multiplication: [
    'Multi-digit products without tools, every part times every part.',
    'numeric',
    numericAnswer,
  ],
  spelling: ['How many times a letter is in a word, spelled out one letter a line.', 'count', statedCount],
  compare: ['Which of two decimals is bigger (or smaller), as 9.11 and 9.9.', 'named', namedResult],
  'word-problems': [
    'GSM8K-style word problems from templates, worked one step a line.',
    'numeric',
    numericAnswer,
  ],
  polite: [
    'Short questions answered politely, briefly and right (the task RLHF runs on).',
    'polite',
    (text, answer) => trueCheck('', text, answer).pass,
  ],
};

/** A shipped task's one-line description (the Start RL… quick pick shows it). */
export const rlTaskDescription = (name: RlTaskName): string => DESCRIPTIONS[name][0];

function shippedTask(name: RlTaskName, o: RlTaskOptions): RlTask {
  const [description, checker, check] = DESCRIPTIONS[name];
  const items = (split: RlSplit, count: number, seed: number): RlItem[] => {
    if (name === 'polite') return politeQuestions({ count, seed, split });
    const conversations = generateChatData({
      task: name,
      count,
      seed,
      split,
      maxDigits: ['addition', 'arithmetic', 'multiplication'].includes(name) ? o.maxDigits : undefined,
      spelling: name === 'spelling' ? 'count' : undefined,
    });
    return conversations.map((c) => ({ prompt: c.messages[0].content, answer: resultOf(name, c) }));
  };
  return { name, description, checker, items, check: (text, answer) => (check(text, answer) ? 1 : 0) };
}

// ---- a user's task file ----------------------------------------------------------------------------

/** The items of a task file; throws naming file:line, the field and the fix for each bad line. */
export function readTaskFile(file: string, checker: Checker): RlItem[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the task file ${file}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  const items: RlItem[] = [];
  const errors: ConversationError[] = [];
  const shape = 'each line is {"prompt": "…", "answer": "…"}';
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    const bad = (why: string) => errors.push(new ConversationError(file, i + 1, why));
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      return bad(`not valid JSON (${e instanceof Error ? e.message : String(e)}); ${shape}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(`not an object: ${shape}`);
    const { prompt, answer } = v as Record<string, unknown>;
    if (typeof prompt !== 'string' || !prompt.trim())
      return bad(
        `"prompt" is ${prompt === undefined ? 'missing' : `not a non-empty string (${JSON.stringify(prompt)})`}: ${shape}`,
      );
    if (answer === undefined)
      return bad(
        `"answer" is missing: add the answer the checker (${checker}) compares the model's text with`,
      );
    if ((typeof answer !== 'string' || !answer.trim()) && typeof answer !== 'number')
      return bad(`"answer" must be a non-empty string or a number, got ${JSON.stringify(answer)}`);
    const a = String(answer);
    if (checker === 'regex')
      try {
        new RegExp(a);
      } catch (e) {
        return bad(`"answer" is not a valid regular expression for --checker regex: ${(e as Error).message}`);
      }
    if (checker === 'numeric' && !Number.isFinite(value(a.trim())))
      return bad(`"answer" ${JSON.stringify(a)} is not a number, and --checker numeric compares numbers`);
    items.push({ prompt, answer: a });
  });
  if (errors.length) throw new ConversationFileError(file, errors, items.length);
  if (!items.length)
    throw new Error(`${file} holds no prompts: write one {"prompt": "…", "answer": "…"} object a line`);
  return items;
}

function fileTask(file: string, o: RlTaskOptions): RlTask {
  const checker = o.checker ?? 'contains';
  const all = readTaskFile(file, checker);
  let held: RlItem[];
  let train: RlItem[];
  if (o.heldout) {
    held = readTaskFile(o.heldout, checker);
    const prompts = new Set(held.map((x) => x.prompt));
    train = all.filter((x) => !prompts.has(x.prompt));
    if (!train.length)
      throw new Error(
        `every prompt of ${file} is also in the held-out file ${o.heldout}: nothing is left to train on`,
      );
  } else {
    if (all.length < 10)
      throw new Error(
        `${file} has ${all.length} prompt${all.length === 1 ? '' : 's'}; every 10th is held out to measure the model, so it needs at least 10 (or give held-out prompts with --heldout FILE)`,
      );
    held = all.filter((_, i) => i % 10 === 9);
    const prompts = new Set(held.map((x) => x.prompt));
    train = all.filter((x, i) => i % 10 !== 9 && !prompts.has(x.prompt));
    if (!train.length)
      throw new Error(
        `every prompt of ${file} is also one of its held-out prompts (every 10th line; a prompt repeated there is held out everywhere): nothing is left to train on; write different prompts, or give held-out prompts with --heldout FILE`,
      );
  }
  const check = CHECKS[checker];
  return {
    name: file,
    description: `${path.basename(file)}: ${train.length} training and ${held.length} held-out prompts, checked by ${checker}`,
    checker,
    items: (split, count, seed) => {
      if (split === 'heldout') return held.slice(0, count);
      const rng = new Rng(seed);
      const order = train.slice();
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.randint(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      return order.slice(0, count);
    },
    check: (text, answer) => (check(text, answer) ? 1 : 0),
  };
}

/** Whether `task` names a shipped task (otherwise it is a task file's path). */
export const isShippedTask = (task: string): task is RlTaskName =>
  (RL_TASK_NAMES as readonly string[]).includes(task);

/**
 * The task `task` names: a shipped one, or a JSONL file read and checked now (every problem of the file,
 * a bad pattern for --checker regex among them, is refused here, before anything runs).
 */
export function rlTask(task: string, o: RlTaskOptions = {}): RlTask {
  if (isShippedTask(task)) {
    if (o.heldout)
      throw new Error(
        `--heldout is for a task file; ${task} has its own held-out split (leave --heldout out)`,
      );
    if (o.checker)
      throw new Error(
        `--checker is for a task file; ${task} is checked by its own checker (${DESCRIPTIONS[task][1]}): leave --checker out`,
      );
    return shippedTask(task, o);
  }
  if (!fs.existsSync(task) || !fs.statSync(task).isFile())
    throw new Error(
      `task ${JSON.stringify(task)} is neither a shipped task (${RL_TASK_NAMES.join(', ')}) nor a file: give a name, or a JSONL file of {"prompt", "answer"} lines`,
    );
  return fileTask(task, o);
}
