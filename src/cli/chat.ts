/**
 * Chat commands of the llm-lens CLI:
 *   llm-lens chat-data --task identity|arithmetic|spelling|compare|refusal --count N --out FILE.jsonl
 *                      [--name NAME] [--maker M] [--seed S] [--split train|heldout]
 *       writes generated conversations, one {"messages": …} a line (chat/chatData.ts)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './main';
import { CHAT_TASKS, generateChatData, toJsonl, type ChatTask } from '../engine/chat/chatData';
import { writeFileAtomic } from '../engine/train/data';

/** `--flag value` (or `--flag=value`, the last one counts) and `--switch` options; anything else is refused. */
function options(
  cmd: string,
  args: readonly string[],
  valued: readonly string[],
  switches: readonly string[] = [],
) {
  const got = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const name = flag.startsWith('--') ? flag.slice(2) : '';
    if (switches.includes(name) && inline === undefined) got.set(name, 'true');
    else if (valued.includes(name)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`${cmd}: ${flag} needs a value`);
      got.set(name, value);
    } else throw new UsageError(`${cmd}: unknown ${name ? 'option' : 'argument'} ${args[i]}`);
  }
  return got;
}

/** A whole number ≥ min given to `--flag`, or the default. */
function wholeNumber(cmd: string, opts: Map<string, string>, flag: string, def: number, min = 1): number {
  const v = opts.get(flag);
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(
      `${cmd}: --${flag} must be ${min === 1 ? 'a positive integer' : `an integer ≥ ${min}`}, got ${JSON.stringify(v)}`,
    );
  return n;
}

export async function chatDataCommand(args: string[]): Promise<number> {
  const cmd = 'chat-data';
  const opts = options(cmd, args, ['task', 'name', 'maker', 'count', 'seed', 'split', 'out']);
  const task = opts.get('task');
  if (!task || !(CHAT_TASKS as readonly string[]).includes(task))
    throw new UsageError(
      `${cmd}: --task must be one of ${CHAT_TASKS.join(', ')}${task ? `, got ${JSON.stringify(task)}` : ''}`,
    );
  if (!opts.has('count')) throw new UsageError(`${cmd}: --count N is required (how many conversations)`);
  const count = wholeNumber(cmd, opts, 'count', 0);
  const seed = wholeNumber(cmd, opts, 'seed', 1337, 0);
  const split = opts.get('split') ?? 'train';
  if (split !== 'train' && split !== 'heldout')
    throw new UsageError(`${cmd}: --split must be train or heldout, got ${JSON.stringify(split)}`);
  const out = opts.get('out');
  if (!out) throw new UsageError(`${cmd}: --out FILE.jsonl is required`);
  const name = opts.get('name');
  if (task === 'identity' && !name?.trim())
    throw new UsageError(
      `${cmd}: --task identity needs --name NAME (the assistant's name; --maker M who made it)`,
    );
  if (task !== 'identity' && (opts.has('name') || opts.has('maker')))
    throw new UsageError(`${cmd}: --name and --maker are for --task identity only`);
  const conversations = generateChatData({
    task: task as ChatTask,
    count,
    seed,
    split,
    name,
    maker: opts.get('maker'),
  });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileAtomic(out, toJsonl(conversations));
  process.stderr.write(
    `wrote ${conversations.length} ${task} conversations (${split} split, seed ${seed}) to ${out}\n`,
  );
  return 0;
}
