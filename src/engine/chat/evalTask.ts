/**
 * How often a chat model answers a task's held-out questions right: each question of
 * generateChatData(task, split 'heldout') is asked once (ChatML with a generation prompt, sampled on the
 * KV cache, with the tools the model calls run by the tool loop), and the answer is right when it
 * contains the expected result as a whole word: the tool's output for the tool tasks (the product, the
 * count, the letters), the fact for tool-facts, the number after "=" for arithmetic.
 *
 *   const r = await evalChatTask(ckpt, tokenizer, { task: 'tool-multiply', count: 100, digits: 3, tools: [calculator] });
 *   r.correct / r.total   // 0.97
 *   r.items[0]            // { question, expected, answer, right, calls: [{ name, input, output, … }] }
 *
 * `tools: []` on a model with the tool tokens bans <|tool_start|>: the same model answers without them.
 * Greedy by default (temperature 0): one answer per question, the model's most likely one.
 */
import { KvCacheModel } from '../model/kvCache';
import type { FamilyConfig } from '../model/family';
import type { GptModelConfig } from '../model/inference';
import type { LoadedModel } from '../model/pretrained';
import { kvCacheOf } from '../sample/openModel';
import type { HostTensor } from '../runtime/session';
import { generateTokens, type ToolCallRecord } from '../sample/generate';
import type { SamplingOptions } from '../sample/sampling';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { Tool } from '../tools/tool';
import { toolForcer, toolsOff } from '../tools/toolLoop';
import { generateChatDataAsync, type ChatDataOptions, type ChatTask } from './chatData';
import { chatPrompt } from './chatPrompt';
import type { Conversation } from './conversation';

export interface EvalTaskOptions extends Omit<ChatDataOptions, 'split'>, SamplingOptions {
  tools: readonly Tool[];
  maxTokens?: number;
  seed?: number;
  toolTimeoutMs?: number;
  signal?: AbortSignal;
  /** Called after each question. */
  onItem?: (item: EvalItem, done: number, total: number) => void;
}

export interface EvalItem {
  question: string;
  expected: string;
  answer: string;
  right: boolean;
  calls: ToolCallRecord[];
}

export interface EvalResult {
  correct: number;
  total: number;
  items: EvalItem[];
}

/**
 * The result a right answer contains: for tool-facts the answer after "…: ", for the other tool tasks the
 * last tool output, otherwise what follows the last "=".
 */
export function expectedResult(c: Conversation, task?: ChatTask): string {
  if (task === 'tool-facts') {
    const last = c.messages.at(-1)!.content;
    return last.slice(last.indexOf(': ') + 2).replace(/\.$/, '');
  }
  const tool = c.messages.filter((m) => m.role === 'tool').at(-1);
  if (tool) return tool.content.trim();
  const last = c.messages.at(-1)!.content;
  const m = /=\s*(-?\d+(?:\.\d+)?)\.?\s*$/.exec(last);
  if (!m) throw new Error(`no result to check in "${last}": evaluate tasks with a checkable result`);
  return m[1];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether `answer` contains `expected` as a whole word (not inside a longer number or word). */
export function containsResult(answer: string, expected: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9])${escape(expected)}($|[^A-Za-z0-9])`).test(answer);
}

/** A question and the result its right answer has (what the checker compares the answer with). */
export interface EvalQuestion {
  question: string;
  expected: string;
}

/** Options of evalQuestions: evalChatTask's, without the task's. */
export type EvalAskOptions = Omit<EvalTaskOptions, keyof ChatDataOptions> & { seed?: number };

/**
 * A GPT-2's config and weights (a Checkpoint), a model of any family (pretrained.ts loadModel), or a
 * KV-cache model already made (an RL run's, on its device): that one is used as it is and not released.
 */
export type EvalModel =
  { config: GptModelConfig; weights: Record<string, HostTensor> } | LoadedModel | KvCacheModel<FamilyConfig>;

/** The model's accuracy on the task's held-out questions (see the file's header). */
export async function evalChatTask(
  model: EvalModel,
  tok: Tokenizer,
  o: EvalTaskOptions,
): Promise<EvalResult> {
  const conversations = await generateChatDataAsync({ ...o, split: 'heldout' });
  const questions = conversations.map((c) => ({
    question: c.messages.find((x) => x.role === 'user')!.content,
    expected: expectedResult(c, o.task),
  }));
  return evalQuestions(model, tok, questions, containsResult, o);
}

/** The KV-cache model that answers, and whether it was made here (and is released here). */
async function kvModelOf(model: EvalModel): Promise<{ m: KvCacheModel<FamilyConfig>; own: boolean }> {
  if (model instanceof KvCacheModel) return { m: model, own: false };
  if ('family' in model) return { m: await kvCacheOf(model), own: true };
  return { m: await KvCacheModel.create(model.config, model.weights), own: true };
}

/**
 * Asks each question once as evalChatTask does (tools run, greedy unless a temperature is given) and
 * judges each answer's text after its last tool output with `check(text, expected, question)`: the RL tasks'
 * checkers (rl/rlTasks.ts) and a user's task file are measured this way.
 */
export async function evalQuestions(
  model: EvalModel,
  tok: Tokenizer,
  questions: readonly EvalQuestion[],
  check: (text: string, expected: string, question: string) => boolean,
  o: EvalAskOptions,
): Promise<EvalResult> {
  const { m, own } = await kvModelOf(model);
  const items: EvalItem[] = [];
  try {
    for (const [i, { question, expected }] of questions.entries()) {
      const p = chatPrompt(tok, [{ role: 'user', content: question }]);
      const tokens = p.chat?.tools;
      const force =
        tokens && o.tools.length
          ? toolForcer({
              tokens,
              tokenizer: tok,
              tools: o.tools,
              timeoutMs: o.toolTimeoutMs,
              signal: o.signal,
            })
          : undefined;
      const ids: number[] = [];
      const calls: ToolCallRecord[] = [];
      let afterTools = 0; // where the answer's text after its last tool output starts
      for await (const t of generateTokens(
        m,
        p.ids.slice(-model.config.blockSize),
        {
          temperature: 0,
          ...o,
          maxTokens: o.maxTokens ?? 200,
          seed: (o.seed ?? 1337) + i,
          stopTokens: p.stopTokens,
          vocabLimit: tok.vocabSize,
          bannedTokens: tokens && !o.tools.length ? toolsOff(tokens) : [],
        },
        { force, signal: o.signal },
      )) {
        if (t.finish === 'stopToken') break;
        ids.push(t.id);
        if (t.tool) calls.push(t.tool);
        if (t.forced) afterTools = ids.length;
      }
      const answer = tok.decode(ids);
      const item = {
        question,
        expected,
        answer,
        right: check(tok.decode(ids.slice(afterTools)), expected, question),
        calls,
      };
      items.push(item);
      o.onItem?.(item, i + 1, questions.length);
    }
  } finally {
    if (own) await m.release();
  }
  return { correct: items.filter((x) => x.right).length, total: items.length, items };
}
