/**
 * What LLM Lens: Start RL… offers and checks, without VS Code: the shipped tasks with a line each, the
 * checkers of a task file, whether a checkpoint can start RL (it must have chat tokens: a fine-tuned one),
 * and whether a workspace JSONL is a task file ({"prompt", "answer"} a line).
 *
 *   rlCheckpointProblem('/ws/runs/base/checkpoints/step-600')
 *   // { kind: 'base', message: 'RL starts from a fine-tuned (SFT) checkpoint: fine-tune it first (step-600 …)' }
 *   taskFileProblem('{"prompt": "2+2?"}\n', 'math.jsonl')
 *   // 'math.jsonl line 1: "answer" is missing: each line is {"prompt": "…", "answer": "…"}'
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chatFormatOf } from '../../engine/chat/chatPrompt';
import { loadCheckpointTokenizer } from '../../engine/train/runTokenizer';
import { CHECKERS, RL_TASK_NAMES } from '../../protocol/rlOptions';

export type RlTaskName = (typeof RL_TASK_NAMES)[number];
export type CheckerName = (typeof CHECKERS)[number];

/** One line per shipped task, for the task quick pick. */
export const RL_TASK_DESCRIPTIONS: Record<RlTaskName, string> = {
  addition: 'sums of two numbers ("47 + 38 = 85."): right when the answer holds the sum',
  arithmetic: '+, − and × of small numbers: right when the answer holds the result',
  multiplication: 'products of two numbers: right when the answer holds the product',
  spelling: 'spell a word or count a letter in it: right when the count or spelling is',
  compare: 'which of two numbers is larger: right when the answer names it',
  'word-problems': 'short word problems with a number for an answer',
  polite: 'polite and short answers scored by a reward model, with a loophole it learns to game',
};

/** One line per checker, for a task file's checker quick pick. */
export const CHECKER_DESCRIPTIONS: Record<CheckerName, string> = {
  exact: 'right when the answer is exactly "answer"',
  numeric: 'right when the answer\'s number equals "answer" as a number',
  contains: 'right when the answer contains "answer"',
  regex: 'right when the answer matches "answer", a regular expression',
};

/** Why a checkpoint cannot start RL: gone, unreadable, or a base model without chat tokens. */
export interface RlCheckpointProblem {
  kind: 'missing' | 'unreadable' | 'base';
  message: string;
}

/** Whether `dir` (a checkpoint folder) can start RL: undefined when it can. */
export function rlCheckpointProblem(dir: string): RlCheckpointProblem | undefined {
  const name = path.basename(dir);
  if (!fs.existsSync(path.join(dir, 'model.safetensors')))
    return {
      kind: 'missing',
      message: `${dir} holds no model.safetensors: pick a checkpoint folder (…/checkpoints/step-N)`,
    };
  let hasChat: boolean;
  try {
    hasChat = chatFormatOf(loadCheckpointTokenizer(dir))?.stop !== undefined;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { kind: 'unreadable', message: `Cannot read the tokenizer of ${name}: ${why}` };
  }
  if (hasChat) return undefined;
  return {
    kind: 'base',
    message: `RL starts from a fine-tuned (SFT) checkpoint: fine-tune it first (${name} has no chat tokens).`,
  };
}

const TASK_LINE = '{"prompt": "…", "answer": "…"}';

/**
 * Why `text` (a task file) cannot be an RL task, naming the file, line and field; undefined when every line
 * is {"prompt": string, "answer": string or number} (and, for the regex checker, the answer compiles).
 */
export function taskFileProblem(text: string, file: string, checker?: CheckerName): string | undefined {
  const name = path.basename(file);
  const lines = text.split('\n');
  let count = 0;
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    const at = `${name} line ${i + 1}`;
    let j: unknown;
    try {
      j = JSON.parse(line);
    } catch {
      return `${at} is not JSON: each line is ${TASK_LINE}`;
    }
    if (typeof j !== 'object' || j === null || Array.isArray(j)) return `${at}: each line is ${TASK_LINE}`;
    const o = j as Record<string, unknown>;
    for (const k of ['prompt', 'answer'])
      if (o[k] === undefined) return `${at}: "${k}" is missing: each line is ${TASK_LINE}`;
    if (typeof o.prompt !== 'string' || !o.prompt.trim()) return `${at}: "prompt" must be a non-empty string`;
    if (typeof o.answer !== 'string' && typeof o.answer !== 'number')
      return `${at}: "answer" must be a string or a number, got ${JSON.stringify(o.answer)}`;
    if (checker === 'regex') {
      try {
        new RegExp(String(o.answer));
      } catch (e) {
        return `${at}: "answer" is not a regular expression (checker regex): ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    count++;
  }
  return count ? undefined : `${name} has no lines: each line is ${TASK_LINE}`;
}
