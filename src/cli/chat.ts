/**
 * Chat commands of the llm-lens CLI:
 *   llm-lens chat-data --task identity|arithmetic|spelling|compare|refusal --count N --out FILE.jsonl
 *                      [--name NAME] [--maker M] [--max-digits D] [--seed S] [--split train|heldout]
 *       writes generated conversations, one {"messages": …} a line (chat/chatData.ts)
 *   llm-lens chat --checkpoint DIR [--system TEXT] [--prompt TEXT] [--num-samples N] [--json]
 *                 [--max-tokens N] [--temperature X] [--top-k N] [--top-p X] [--min-p X] [--seed N] …
 *       answers the prompt: the conversation in ChatML (or the tokenizer.json's own chat template) with a
 *       generation prompt, sampled on the KV cache until <|im_end|> (or its eos_token); a base checkpoint (no chat tokens) gets "User: …\nAssistant:" and continues it
 * Their flags come from the option tables below (src/engine/options.ts parses and checks them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './main';
import { CHAT_TASKS, generateChatData, toJsonl } from '../engine/chat/chatData';
import { chatPrompt } from '../engine/chat/chatPrompt';
import { IM_END, IM_START } from '../engine/chat/chatml';
import type { Message } from '../engine/chat/conversation';
import { KvCacheModel } from '../engine/model/kvCache';
import { defaultsOf, parseFlags } from '../engine/options';
import { generateTokens, preparePrompt } from '../engine/sample/generate';
import { loadCheckpoint } from '../engine/train/checkpoint';
import { writeFileAtomic } from '../engine/train/data';
import { loadModelTokenizer } from '../engine/train/runTokenizer';
import type { OptionTable, OptionValues } from '../protocol/options';
import { SAMPLING_OPTIONS } from '../protocol/samplingOptions';

/** The values of a command's flags (the usage lists them, and main.ts answers --help with it); all problems at once. */
function flags<T extends OptionTable>(cmd: string, args: readonly string[], table: T): OptionValues<T> {
  const { values, rest, problems } = parseFlags(args, table);
  if (rest.length) problems.push(`unexpected argument ${rest[0]} (each value follows its --flag)`);
  if (problems.length) throw new UsageError(`${cmd}: ${problems.join('; ')}`);
  return values;
}

// prettier-ignore
const CHAT_DATA_OPTIONS = {
  task: { type: 'enum', values: CHAT_TASKS, doc: 'What the conversations teach.' },
  count: { type: 'int', min: 1, doc: 'How many conversations.' },
  out: { type: 'str', path: true, meta: 'FILE.jsonl', doc: 'The file to write, one {"messages": …} a line.' },
  name: { type: 'str', doc: "identity: the assistant's name." },
  maker: { type: 'str', doc: 'identity: who made it.' },
  maxDigits: { type: 'int', min: 1, max: 4, doc: 'arithmetic: the most digits of a number (default 4; 2 keeps answers short).' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of the draws.' },
  split: { type: 'enum', values: ['train', 'heldout'], default: 'train', doc: 'Held-out problems never appear in train.' },
} as const satisfies OptionTable;

export async function chatDataCommand(args: string[]): Promise<number> {
  const cmd = 'chat-data';
  const o = { ...defaultsOf(CHAT_DATA_OPTIONS), ...flags(cmd, args, CHAT_DATA_OPTIONS) };
  const missing = (['task', 'count', 'out'] as const).filter((k) => o[k] === undefined).map((k) => `--${k}`);
  if (missing.length)
    throw new UsageError(`${cmd}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required`);
  const { task, count, out } = o as Required<typeof o>;
  if (task === 'identity' && !o.name?.trim())
    throw new UsageError(
      `${cmd}: --task identity needs --name NAME (the assistant's name; --maker M who made it)`,
    );
  if (task !== 'identity' && (o.name !== undefined || o.maker !== undefined))
    throw new UsageError(`${cmd}: --name and --maker are for --task identity only`);
  if (task !== 'arithmetic' && o.maxDigits !== undefined)
    throw new UsageError(`${cmd}: --max-digits is for --task arithmetic only`);
  const conversations = generateChatData({ ...o, task, count });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileAtomic(out, toJsonl(conversations));
  process.stderr.write(
    `wrote ${conversations.length} ${task} conversations (${o.split} split, seed ${o.seed}) to ${out}\n`,
  );
  return 0;
}

// prettier-ignore
const CHAT_OPTIONS = {
  checkpoint: { type: 'str', path: true, meta: 'DIR', doc: 'A checkpoint folder; with the chat tokens it answers in ChatML.' },
  system: { type: 'str', doc: 'The system message.' },
  prompt: { type: 'str', doc: "The user's message (default: standard input)." },
  ...SAMPLING_OPTIONS,
  numSamples: { type: 'int', min: 1, default: 1, doc: 'Answers, the nth with seed + n.' },
  json: { type: 'bool', doc: 'One JSON line per answer: the prompt, its ids and each token.' },
} as const satisfies OptionTable;

export async function chatCommand(args: string[]): Promise<number> {
  const cmd = 'chat';
  const {
    checkpoint: dir,
    system,
    prompt: given,
    numSamples: samples,
    seed,
    json,
    ...sampling
  } = { ...defaultsOf(CHAT_OPTIONS), ...flags(cmd, args, CHAT_OPTIONS) };
  if (!dir) throw new UsageError(`${cmd}: --checkpoint DIR is required`);
  const prompt = given ?? (process.stdin.isTTY ? '' : fs.readFileSync(0, 'utf8').replace(/\r?\n$/, ''));
  if (!prompt.trim())
    throw new UsageError(`${cmd}: give the user's message: --prompt TEXT (or on standard input)`);

  const ckpt = await loadCheckpoint(dir);
  const tok = loadModelTokenizer(ckpt);
  const messages: Message[] = [
    ...(system !== undefined ? [{ role: 'system' as const, content: system }] : []),
    { role: 'user', content: prompt },
  ];
  const p = chatPrompt(tok, messages);
  if (!p.chat && !p.template)
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
        { ...sampling, topN: 5, seed: seed + n, stopTokens: p.stopTokens, vocabLimit: tok.vocabSize },
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
