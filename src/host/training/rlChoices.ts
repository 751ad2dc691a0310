/**
 * What LLM Lens: Start RL… checks, without VS Code: whether a checkpoint can start RL (it must have chat
 * tokens: a fine-tuned one), and whether a workspace JSONL is a task file ({"prompt", "answer"} a line),
 * with a line per checker for the quick pick.
 *
 *   rlCheckpointProblem('/ws/runs/base/checkpoints/step-600')
 *   // { kind: 'base', message: 'RL starts from a fine-tuned (SFT) checkpoint: fine-tune it first (step-600 …)' }
 *   taskFileProblem('/ws/math.jsonl', 'numeric')
 *   // '/ws/math.jsonl: 1 bad line (11 good); … /ws/math.jsonl:1: "answer" is missing: add the answer …'
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chatFormatOf } from '../../engine/chat/chatPrompt';
import { rlTask } from '../../engine/rl/rlTasks';
import { loadCheckpointTokenizer } from '../../engine/train/runTokenizer';
import { CHECKERS } from '../../protocol/rlOptions';

export type CheckerName = (typeof CHECKERS)[number];

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

/**
 * Why `file` (a task file) cannot be an RL task with `checker`: the engine's reader (rlTask) checks every
 * line, naming the file, line and field, before anything runs; undefined when it can.
 */
export function taskFileProblem(file: string, checker?: CheckerName): string | undefined {
  try {
    rlTask(file, { checker });
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
