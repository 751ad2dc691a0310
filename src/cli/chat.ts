/**
 * Chat commands of the llm-lens CLI:
 *   llm-lens chat-data --task identity|arithmetic|spelling|compare|refusal --count N --out FILE.jsonl
 *                      [--name NAME] [--maker M] [--max-digits D] [--seed S] [--split train|heldout]
 *       writes generated conversations, one {"messages": …} a line (chat/chatData.ts)
 *   llm-lens chat --checkpoint DIR [--system TEXT] [--prompt TEXT] [--num-samples N] [--json]
 *                 [--tools calculator,python,search|none] [--search-dir DIR] [--tool-timeout MS]
 *                 [--max-tokens N] [--temperature X] [--top-k N] [--top-p X] [--min-p X] [--seed N] …
 *       answers the prompt: the conversation in ChatML (or the tokenizer.json's own chat template) with a
 *       generation prompt, sampled on the KV cache until <|im_end|> (or its eos_token); a base checkpoint (no
 *       chat tokens) gets "User: …\nAssistant:" and continues it.
 *       A checkpoint with the tool tokens runs the tools it calls (all three unless --tools says which;
 *       --tools none: it cannot call one); --json lists each call, its input, output and time
 *   llm-lens tool NAME INPUT [--search-dir DIR] [--tool-timeout MS] [--json]
 *       runs one tool as the sampler would and prints what the model would see
 *   llm-lens eval-task --checkpoint DIR --task NAME|FILE.jsonl [--checker C] [--heldout FILE] [--count N]
 *                      [--tools LIST|none] [--json]
 *       accuracy on a task's held-out questions (chat/evalTask.ts); an RL task or task file is asked and
 *       checked as llm-lens rl does (rl/rlTasks.ts), so before and after RL are measured alike
 *   llm-lens probe --checkpoint DIR (--questions FILE.jsonl | --task NAME) [--samples N] [--out FILE.jsonl]
 *       asks each question N times, groups the answers, and writes refusals where the model is unsure
 *       (chat/probe.ts)
 *   llm-lens eval-refusal --checkpoint DIR (--unknown FILE.jsonl | --task refusal) --known FILE.jsonl
 *                         [--samples N] [--json]
 *       prints "made_up X.XX answered_known Y.YY": the shares of sampled answers that do not refuse
 * Their flags come from the option tables below (src/engine/options.ts parses and checks them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './main';
import { CHAT_TASKS, generateChatDataAsync, toJsonl, type ChatTask } from '../engine/chat/chatData';
import { chatPrompt } from '../engine/chat/chatPrompt';
import { evalChatTask, evalQuestions, type EvalItem } from '../engine/chat/evalTask';
import { isShippedTask, rlTask } from '../engine/rl/rlTasks';
import { RL_OPTIONS, RL_TASK_NAMES } from '../protocol/rlOptions';
import { evalRefusal, probeConversations, probeKnowledge, type ProbeQuestion } from '../engine/chat/probe';
import { parseProbeQuestions, taskProbeQuestions } from '../engine/chat/probeInput';
import { FACT_SEARCH_OPTIONS, LETTER_KINDS } from '../engine/chat/toolWork';
import { factDocuments } from '../engine/tools/factDocs';
import { IM_END, IM_START } from '../engine/chat/chatml';
import type { Message } from '../engine/chat/conversation';
import { defaultsOf, parseFlags } from '../engine/options';
import { generateTokens, preparePrompt } from '../engine/sample/generate';
import { kvCacheOf, openModelForInference } from '../engine/sample/openModel';
import { writeFileAtomic } from '../engine/train/data';
import { disposeTools, makeTools, parseToolList } from '../engine/tools/registry';
import { TOOL_NAMES, type ToolName } from '../engine/tools/tool';
import { runTool, toolForcer, toolsOff } from '../engine/tools/toolLoop';
import type { OptionTable, OptionValues } from '../protocol/options';
import { MAX_CONTEXT_OPTION, SAMPLING_OPTIONS } from '../protocol/samplingOptions';

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
  digits: { type: 'int', min: 1, max: 12, doc: 'tool-multiply: both numbers have this many digits.' },
  letters: { type: 'enum', values: LETTER_KINDS, doc: 'tool-letters: only this kind of question.' },
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
  if (task !== 'tool-multiply' && o.digits !== undefined)
    throw new UsageError(`${cmd}: --digits is for --task tool-multiply only`);
  if (task !== 'tool-letters' && o.letters !== undefined)
    throw new UsageError(`${cmd}: --letters is for --task tool-letters only`);
  if (task !== 'arithmetic' && task !== 'addition' && o.maxDigits !== undefined)
    throw new UsageError(`${cmd}: --max-digits is for --task arithmetic and addition only`);
  const conversations = await generateChatDataAsync({ ...o, task, count });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileAtomic(out, toJsonl(conversations));
  process.stderr.write(
    `wrote ${conversations.length} ${task} conversations (${o.split} split, seed ${o.seed}) to ${out}\n`,
  );
  return 0;
}

/** parseToolList's names, its refusal a usage error of `cmd` (`what` names the flag). */
function toolNamesOf(cmd: string, what: string, list: string): ToolName[] {
  try {
    return parseToolList(list);
  } catch (e) {
    throw new UsageError(`${cmd}: ${what}${(e as Error).message}`);
  }
}

// prettier-ignore
const TOOL_OPTIONS = {
  tools: { type: 'str', meta: 'LIST', doc: `Tools a model with tool tokens may call: ${TOOL_NAMES.join(',')} (the default) or none.` },
  searchDir: { type: 'str', path: true, meta: 'DIR', doc: 'The folder the search tool indexes (default: the current folder).' },
  toolTimeout: { type: 'int', min: 1, max: 600_000, default: 5000, meta: 'MS', doc: "Each tool call's time limit." },
} as const satisfies OptionTable;

// prettier-ignore
const CHAT_OPTIONS = {
  checkpoint: { type: 'str', path: true, meta: 'DIR', doc: 'A checkpoint or Hugging Face model folder (gpt2, llama, qwen2); with the chat tokens it answers in ChatML, with a chat_template in it.' },
  maxContext: MAX_CONTEXT_OPTION,
  system: { type: 'str', doc: 'The system message.' },
  prompt: { type: 'str', doc: "The user's message (default: standard input)." },
  ...SAMPLING_OPTIONS,
  numSamples: { type: 'int', min: 1, default: 1, doc: 'Answers, the nth with seed + n.' },
  json: { type: 'bool', doc: 'One JSON line per answer: the prompt, its ids, each token and each tool call.' },
  ...TOOL_OPTIONS,
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
    tools: toolList,
    searchDir,
    toolTimeout,
    maxContext,
    ...sampling
  } = { ...defaultsOf(CHAT_OPTIONS), ...flags(cmd, args, CHAT_OPTIONS) };
  const toolNames = toolNamesOf(cmd, '--tools: ', toolList ?? TOOL_NAMES.join(','));
  if (!dir) throw new UsageError(`${cmd}: --checkpoint DIR is required`);
  const prompt = given ?? (process.stdin.isTTY ? '' : fs.readFileSync(0, 'utf8').replace(/\r?\n$/, ''));
  if (!prompt.trim())
    throw new UsageError(`${cmd}: give the user's message: --prompt TEXT (or on standard input)`);

  const opened = await openModelForInference(dir, { maxContext });
  const tok = opened.tokenizer;
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
  const prepared = preparePrompt(p.ids, opened.model.config.blockSize, { id: 0, text: 'token 0' });
  for (const note of prepared.notes) process.stderr.write(`(${note})\n`);
  const specialIds = new Set(tok.specialTokens.values());
  const toolTokens = p.chat?.tools;
  if (toolList !== undefined && toolNames.length && !toolTokens)
    process.stderr.write(
      `(${dir} has no tool tokens: it was not fine-tuned on tool calls, so --tools does nothing. Fine-tune it on tool conversations, e.g. llm-lens chat-data --task tool-multiply.)\n`,
    );
  const tools = toolTokens ? await makeTools(toolNames, { searchDir }) : [];
  const force =
    toolTokens && tools.length
      ? toolForcer({ tokens: toolTokens, tokenizer: tok, tools, timeoutMs: toolTimeout })
      : undefined;
  const banned = toolTokens && !tools.length ? toolsOff(toolTokens) : [];
  const m = await kvCacheOf(opened.model);
  try {
    for (let n = 0; n < samples; n++) {
      const tokens: { id: number; text: string; p: number; special: boolean; forced?: true }[] = [];
      const calls: { name: string; input: string; ok: boolean; output: string; ms: number }[] = [];
      let finish: string | undefined;
      for await (const t of generateTokens(
        m,
        prepared.ids,
        {
          ...sampling,
          topN: 5,
          seed: seed + n,
          stopTokens: p.stopTokens,
          vocabLimit: tok.vocabSize,
          bannedTokens: banned,
        },
        { decode: (ids) => tok.decode(ids), force },
      )) {
        finish = t.finish;
        if (t.finish === 'stopToken') break; // the closing token is not part of the answer
        tokens.push({
          id: t.id,
          text: t.text,
          p: t.prob,
          special: specialIds.has(t.id),
          ...(t.forced ? { forced: t.forced } : {}),
        });
        if (t.tool) {
          calls.push({ ...t.tool, ms: Math.round(t.tool.ms * 10) / 10 });
          if (!json)
            process.stderr.write(
              `\n[${t.tool.name} ran in ${t.tool.ms.toFixed(1)} ms${t.tool.ok ? '' : ', failed'}]\n`,
            );
        }
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
            calls,
            tokens,
          }) + '\n',
        );
      else process.stdout.write(`\n${samples > 1 ? '---------------\n' : ''}`);
    }
  } finally {
    await m.release();
    await disposeTools(tools);
  }
  return 0;
}

// prettier-ignore
const TOOL_COMMAND_OPTIONS = {
  searchDir: TOOL_OPTIONS.searchDir,
  toolTimeout: TOOL_OPTIONS.toolTimeout,
  json: { type: 'bool', doc: 'One JSON line: {name, input, ok, output, ms}.' },
} as const satisfies OptionTable;

export async function toolCommand(args: string[]): Promise<number> {
  const cmd = 'tool';
  const [name, input, ...rest] = args;
  if (!name || input === undefined || name.startsWith('--') || input.startsWith('--'))
    throw new UsageError(
      `${cmd}: give the tool and its input: llm-lens tool NAME INPUT (tools: ${TOOL_NAMES.join(', ')})`,
    );
  const o = { ...defaultsOf(TOOL_COMMAND_OPTIONS), ...flags(cmd, rest, TOOL_COMMAND_OPTIONS) };
  const names = toolNamesOf(cmd, '', name);
  if (names.length !== 1) throw new UsageError(`${cmd}: name one tool (${TOOL_NAMES.join(', ')})`);
  const tools = await makeTools(names, { searchDir: o.searchDir });
  try {
    const r = await runTool(tools, names[0], input, { timeoutMs: o.toolTimeout });
    if (o.json) process.stdout.write(JSON.stringify({ name: names[0], input, ...r }) + '\n');
    else process.stdout.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
    return r.ok ? 0 : 1;
  } finally {
    await disposeTools(tools);
  }
}

/** The names eval-task knows: the chat-data tasks and the RL tasks. */
const EVAL_TASK_NAMES: readonly string[] = [...new Set<string>([...CHAT_TASKS, ...RL_TASK_NAMES])];

// prettier-ignore
const EVAL_TASK_OPTIONS = {
  checkpoint: CHAT_OPTIONS.checkpoint,
  maxContext: MAX_CONTEXT_OPTION,
  task: { type: 'str', path: true, names: EVAL_TASK_NAMES, meta: 'NAME|FILE.jsonl', doc: "A chat-data task, an RL task (llm-lens rl's, checked by its checker) or a JSONL of {\"prompt\", \"answer\"} lines." },
  checker: RL_OPTIONS.checker,
  heldout: RL_OPTIONS.heldout,
  count: { type: 'int', min: 1, default: 100, doc: 'Held-out questions asked.' },
  digits: CHAT_DATA_OPTIONS.digits,
  letters: CHAT_DATA_OPTIONS.letters,
  maxDigits: CHAT_DATA_OPTIONS.maxDigits,
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of the questions and of sampling.' },
  temperature: { ...SAMPLING_OPTIONS.temperature, default: 0 },
  maxTokens: { ...SAMPLING_OPTIONS.maxTokens, default: 200 },
  ...TOOL_OPTIONS,
  json: { type: 'bool', doc: 'One JSON line per question, then the summary.' },
} as const satisfies OptionTable;

export async function evalTaskCommand(args: string[]): Promise<number> {
  const cmd = 'eval-task';
  const o = { ...defaultsOf(EVAL_TASK_OPTIONS), ...flags(cmd, args, EVAL_TASK_OPTIONS) };
  if (!o.checkpoint || !o.task) throw new UsageError(`${cmd}: --checkpoint DIR and --task NAME are required`);
  if (o.task === 'identity')
    throw new UsageError(`${cmd}: identity has no result to check; use a task with one`);
  if (!EVAL_TASK_NAMES.includes(o.task) && !fs.existsSync(o.task))
    throw new UsageError(
      `${cmd}: --task ${o.task} is neither a task (${EVAL_TASK_NAMES.join(', ')}) nor a file: give a name, or a JSONL file of {"prompt", "answer"} lines`,
    );
  // an RL task (or a task file) is asked and checked as llm-lens rl asks and checks it
  const rl =
    isShippedTask(o.task) || !EVAL_TASK_NAMES.includes(o.task)
      ? rlTask(o.task, { checker: o.checker, heldout: o.heldout, maxDigits: o.maxDigits })
      : undefined;
  const names = toolNamesOf(cmd, '--tools: ', o.tools ?? TOOL_NAMES.join(','));
  const opened = await openModelForInference(o.checkpoint, { maxContext: o.maxContext });
  const ckpt = opened.model;
  const tok = opened.tokenizer;
  // the facts task searches its own collection, as in its training data
  const facts =
    o.task === 'tool-facts' ? { searchDocuments: factDocuments(), searchOptions: FACT_SEARCH_OPTIONS } : {};
  const tools = await makeTools(names, { searchDir: o.searchDir, ...facts });
  try {
    const ask = {
      seed: o.seed,
      temperature: o.temperature,
      maxTokens: o.maxTokens,
      tools,
      toolTimeoutMs: o.toolTimeout,
      onItem: (item: EvalItem, done: number, total: number) => {
        if (o.json) process.stdout.write(JSON.stringify(item) + '\n');
        else if (done % 10 === 0 || done === total) process.stderr.write(`${done}/${total}\r`);
      },
    };
    const r = rl
      ? await evalQuestions(
          ckpt,
          tok,
          rl.items('heldout', o.count, o.seed).map((x) => ({ question: x.prompt, expected: x.answer })),
          (text, expected) => rl.check(text, expected) >= 1,
          ask,
        )
      : await evalChatTask(ckpt, tok, {
          ...ask,
          task: o.task as ChatTask,
          count: o.count,
          digits: o.digits,
          letters: o.letters,
          maxDigits: o.maxDigits,
        });
    const tools_ = names.length ? names.join(',') : 'none';
    const summary = {
      task: o.task,
      tools: tools_,
      correct: r.correct,
      total: r.total,
      accuracy: r.correct / r.total,
    };
    if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else
      process.stdout.write(
        `${o.task} (tools: ${tools_}): ${r.correct}/${r.total} = ${(summary.accuracy * 100).toFixed(1)}% right\n`,
      );
  } finally {
    await disposeTools(tools);
  }
  return 0;
}

// prettier-ignore
const PROBE_OPTIONS = {
  checkpoint: CHAT_OPTIONS.checkpoint,
  questions: { type: 'str', path: true, meta: 'FILE.jsonl', doc: 'One {"question", "answer"?} a line, or conversations (the first user message, the last answer).' },
  task: { ...CHAT_DATA_OPTIONS.task, doc: 'Or ask the held-out questions of a chat-data task.' },
  count: { type: 'int', min: 1, default: 50, doc: 'With --task: how many questions.' },
  samples: { type: 'int', min: 2, max: 1000, default: 8, doc: 'Answers per question.' },
  temperature: { ...SAMPLING_OPTIONS.temperature, default: 1 },
  threshold: { type: 'num', min: 0.01, max: 1, default: 0.5, doc: "Share of answers that must agree for 'knows'." },
  maxTokens: { ...SAMPLING_OPTIONS.maxTokens, default: 100 },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of sampling.' },
  out: { type: 'str', path: true, meta: 'FILE.jsonl', doc: 'Write the fine-tuning conversations: refusals where unsure.' },
  json: { type: 'bool', doc: 'One JSON line per question: its answers, groups, agreement and verdict.' },
  maxContext: MAX_CONTEXT_OPTION,
} as const satisfies OptionTable;

/** Questions of a JSONL file (chat/probeInput.ts), its errors as usage errors. */
function readProbeQuestions(file: string): ProbeQuestion[] {
  try {
    return parseProbeQuestions(fs.readFileSync(file, 'utf8'), file);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export async function probeCommand(args: string[]): Promise<number> {
  const cmd = 'probe';
  const o = { ...defaultsOf(PROBE_OPTIONS), ...flags(cmd, args, PROBE_OPTIONS) };
  if (!o.checkpoint) throw new UsageError(`${cmd}: --checkpoint DIR is required`);
  if ((o.questions === undefined) === (o.task === undefined))
    throw new UsageError(`${cmd}: give the questions: --questions FILE.jsonl or --task NAME (one of them)`);
  let questions: ProbeQuestion[];
  if (o.questions) questions = readProbeQuestions(o.questions);
  else questions = await taskProbeQuestions(o.task!, o.count, o.seed);
  const { model, tokenizer: tok } = await openModelForInference(o.checkpoint, { maxContext: o.maxContext });
  const results = await probeKnowledge(model, tok, questions, {
    samples: o.samples,
    temperature: o.temperature,
    threshold: o.threshold,
    maxTokens: o.maxTokens,
    seed: o.seed,
    onResult: (r, done, total) => {
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stderr.write(`${done}/${total}\r`);
    },
  });
  const count = (v: string) => results.filter((r) => r.verdict === v).length;
  const summary = `${results.length} questions: ${count('knows')} known, ${count('wrong')} answered wrongly with agreement, ${count('unsure')} unsure (agreement < ${o.threshold})`;
  if (o.out) {
    const convs = probeConversations(results, { seed: o.seed });
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    writeFileAtomic(o.out, toJsonl(convs));
    process.stderr.write(
      `${summary}\nwrote ${convs.length} conversations (refusals where unsure) to ${o.out}\n`,
    );
  } else process.stderr.write(`${summary}\n`);
  return 0;
}

// prettier-ignore
const EVAL_REFUSAL_OPTIONS = {
  checkpoint: CHAT_OPTIONS.checkpoint,
  unknown: { type: 'str', path: true, meta: 'FILE.jsonl', doc: 'Questions it cannot know (made-up people), as probe --questions.' },
  task: { ...CHAT_DATA_OPTIONS.task, doc: 'Or the unknown questions from a chat-data task: refusal (held-out made-up people).' },
  known: { type: 'str', path: true, meta: 'FILE.jsonl', doc: 'Questions it should know and answer, as probe --questions.' },
  count: { type: 'int', min: 1, default: 50, doc: 'With --task: how many questions.' },
  samples: PROBE_OPTIONS.samples,
  temperature: PROBE_OPTIONS.temperature,
  maxTokens: PROBE_OPTIONS.maxTokens,
  seed: PROBE_OPTIONS.seed,
  json: { type: 'bool', doc: 'One JSON line per question (set, question, answers), then the summary.' },
  maxContext: MAX_CONTEXT_OPTION,
} as const satisfies OptionTable;

/**
 * eval-refusal: samples each question N times; made_up = the share of answers to the unknown questions
 * that do not refuse (chat/probe.ts refuses), answered_known = the same share on the known questions.
 */
export async function evalRefusalCommand(args: string[]): Promise<number> {
  const cmd = 'eval-refusal';
  const o = { ...defaultsOf(EVAL_REFUSAL_OPTIONS), ...flags(cmd, args, EVAL_REFUSAL_OPTIONS) };
  if (!o.checkpoint) throw new UsageError(`${cmd}: --checkpoint DIR is required`);
  if ((o.unknown === undefined) === (o.task === undefined))
    throw new UsageError(
      `${cmd}: give the unknown questions: --unknown FILE.jsonl or --task refusal (one of them)`,
    );
  if (!o.known)
    throw new UsageError(`${cmd}: --known FILE.jsonl is required (questions the model should answer)`);
  const unknown = o.unknown
    ? readProbeQuestions(o.unknown)
    : await taskProbeQuestions(o.task!, o.count, o.seed);
  const known = readProbeQuestions(o.known);
  const { model, tokenizer: tok } = await openModelForInference(o.checkpoint, { maxContext: o.maxContext });
  const r = await evalRefusal(model, tok, unknown, known, {
    samples: o.samples,
    temperature: o.temperature,
    maxTokens: o.maxTokens,
    seed: o.seed,
  });
  if (o.json)
    for (const [set, rs] of [
      ['unknown', r.unknown],
      ['known', r.known],
    ] as const)
      for (const x of rs)
        process.stdout.write(JSON.stringify({ set, question: x.question, answers: x.answers }) + '\n');
  process.stdout.write(`made_up ${r.madeUp.toFixed(2)} answered_known ${r.answeredKnown.toFixed(2)}\n`);
  return 0;
}
