/**
 * Chat commands of the llm-lens CLI:
 *   llm-lens chat-data --task identity|arithmetic|spelling|compare|refusal --count N --out FILE.jsonl
 *                      [--name NAME] [--maker M] [--seed S] [--split train|heldout]
 *       writes generated conversations, one {"messages": …} a line (chat/chatData.ts)
 *   llm-lens chat --checkpoint DIR [--system TEXT] [--prompt TEXT] [--num-samples N] [--max-tokens N]
 *                 [--temperature X] [--top-k N] [--seed N] [--json]
 *       answers the prompt: the conversation in ChatML with a generation prompt, sampled on the KV cache
 *       until <|im_end|>; a base checkpoint (no chat tokens) gets "User: …\nAssistant:" and continues it
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './main';
import { CHAT_TASKS, generateChatData, toJsonl, type ChatTask } from '../engine/chat/chatData';
import { chatPrompt } from '../engine/chat/chatPrompt';
import { IM_END, IM_START } from '../engine/chat/chatml';
import type { Message } from '../engine/chat/conversation';
import { KvCacheModel } from '../engine/model/kvCache';
import { generateTokens, preparePrompt } from '../engine/sample/generate';
import { loadCheckpoint } from '../engine/train/checkpoint';
import { writeFileAtomic } from '../engine/train/data';
import { loadCheckpointTokenizer } from '../engine/train/runTokenizer';

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

export async function chatCommand(args: string[]): Promise<number> {
  const cmd = 'chat';
  const opts = options(
    cmd,
    args,
    ['checkpoint', 'system', 'prompt', 'num-samples', 'max-tokens', 'temperature', 'top-k', 'seed'],
    ['json'],
  );
  const dir = opts.get('checkpoint');
  if (!dir) throw new UsageError(`${cmd}: --checkpoint DIR is required`);
  const prompt =
    opts.get('prompt') ?? (process.stdin.isTTY ? '' : fs.readFileSync(0, 'utf8').replace(/\r?\n$/, ''));
  if (!prompt.trim())
    throw new UsageError(`${cmd}: give the user's message: --prompt TEXT (or on standard input)`);
  const temperature = Number(opts.get('temperature') ?? 0.8);
  if (!Number.isFinite(temperature) || temperature < 0)
    throw new UsageError(
      `${cmd}: --temperature must be a number ≥ 0 (0: greedy), got ${opts.get('temperature')}`,
    );
  const sampling = {
    temperature,
    topK: wholeNumber(cmd, opts, 'top-k', 200),
    maxTokens: wholeNumber(cmd, opts, 'max-tokens', 200),
    topN: 5,
  };
  const samples = wholeNumber(cmd, opts, 'num-samples', 1);
  const seed = wholeNumber(cmd, opts, 'seed', 1337, 0);
  const json = opts.has('json');

  const ckpt = await loadCheckpoint(dir);
  const tok = loadCheckpointTokenizer(ckpt.dir);
  if (tok.vocabSize > ckpt.config.vocabSize)
    throw new Error(
      `the tokenizer beside ${dir} has ${tok.vocabSize} ids but the model only ${ckpt.config.vocabSize} rows: copy the tokenizer it was trained with beside it`,
    );
  const system = opts.get('system');
  const messages: Message[] = [
    ...(system !== undefined ? [{ role: 'system' as const, content: system }] : []),
    { role: 'user', content: prompt },
  ];
  const p = chatPrompt(tok, messages);
  if (!p.chat)
    process.stderr.write(
      `(${dir} has no chat tokens (${IM_START}, ${IM_END}): it is a base model, so it gets the plain text ` +
        `"User: …\\nAssistant:" and continues the document rather than answering. Fine-tune it on conversations to make it a chat model.)\n`,
    );
  // p.ids is never empty (a prompt is required), so only cropping to the block can happen here
  const prepared = preparePrompt(p.ids, ckpt.config.blockSize, { id: 0, text: 'token 0' });
  for (const note of prepared.notes) process.stderr.write(`(${note})\n`);
  const specialIds = new Set(tok.specialTokens.values());
  const m = await KvCacheModel.create(ckpt.config, ckpt.weights);
  try {
    for (let n = 0; n < samples; n++) {
      const tokens: { id: number; text: string; p: number; special: boolean }[] = [];
      let finish: string | undefined;
      for await (const t of generateTokens(
        m,
        prepared.ids,
        { ...sampling, seed: seed + n, stopTokens: p.stopTokens },
        { decode: (ids) => tok.decode(ids) },
      )) {
        finish = t.finish;
        if (t.finish === 'stopToken') break; // the closing token is not part of the answer
        tokens.push({ id: t.id, text: t.text, p: t.prob, special: specialIds.has(t.id) });
        if (!json) process.stdout.write(t.text);
      }
      const answer = tok.decode(tokens.map((t) => t.id));
      if (json)
        process.stdout.write(
          JSON.stringify({
            chatTokens: !!p.chat,
            prompt: tok.decode(prepared.ids),
            promptIds: prepared.ids,
            answer,
            finish,
            tokens,
          }) + '\n',
        );
      else process.stdout.write(`\n${samples > 1 ? '---------------\n' : ''}`);
    }
  } finally {
    await m.release();
  }
  return 0;
}
