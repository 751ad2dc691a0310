/**
 * Probing what a model knows, after the recipe of Llama 3's factuality work: ask each question several
 * times at a temperature, group the answers (normalised), and call the model sure when most answers
 * agree. What it is unsure of becomes a conversation answered "I don't know"; what it answers
 * consistently (and correctly, when the right answer is given) is kept as it answers. Fine-tuning on
 * the result teaches the model to refuse where it would otherwise make something up.
 *
 *   const results = await probeKnowledge(model, tok, [{ question: 'Who is Zorbin Quellfast?' }], { samples: 8 });
 *   // [{ question, groups: [{ answer: 'He is a painter from Vel.', count: 2 }, …], agreement: 0.25,
 *   //    verdict: 'unsure', … }]
 *   probeConversations(results, { seed: 1 })   // the SFT data: refusals for 'unsure', the majority answer for 'knows'
 *
 * normaliseAnswer lowercases, keeps only letters, digits and spaces, and cuts to the first sentence, so
 * "Marta was born in 1760." and "marta was born in 1760!" are one group. agreement = the largest
 * group's share; a question is 'knows' when agreement ≥ threshold (default 0.5) and, with a reference
 * answer, the majority answer contains it; 'wrong' when it agrees on an answer without the reference;
 * otherwise 'unsure'. 'wrong' questions are written with the reference answer when one is given.
 */
import { KvCacheModel } from '../model/kvCache';
import type { LoadedModel } from '../model/pretrained';
import { kvCacheOf } from '../sample/openModel';
import type { GptModelConfig } from '../model/inference';
import type { HostTensor } from '../runtime/session';
import { generateTokens } from '../sample/generate';
import type { SamplingOptions } from '../sample/sampling';
import { Rng } from '../train/rng';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { chatPrompt } from './chatPrompt';
import { pick } from './chatWork';
import type { Conversation } from './conversation';

export interface ProbeQuestion {
  question: string;
  /** The right answer, when known: a 'knows' verdict then needs the majority answer to contain it. */
  answer?: string;
}

export interface ProbeOptions extends SamplingOptions {
  /** Answers per question (default 8). */
  samples?: number;
  /** A question is answered consistently when its largest group has at least this share (default 0.5). */
  threshold?: number;
  maxTokens?: number;
  seed?: number;
  signal?: AbortSignal;
  onResult?: (r: ProbeResult, done: number, total: number) => void;
}

export type Verdict = 'knows' | 'wrong' | 'unsure';

export interface ProbeResult extends ProbeQuestion {
  /** Every answer, as sampled. */
  answers: string[];
  /** Answers grouped by normaliseAnswer, largest first (ties: first seen first). */
  groups: { answer: string; key: string; count: number }[];
  agreement: number;
  verdict: Verdict;
}

/** The form answers are compared in (see the file's header). */
export function normaliseAnswer(text: string): string {
  const first = /^[\s\S]*?[.!?](?=\s|$)/.exec(text.trim())?.[0] ?? text;
  return first
    .toLowerCase()
    .replace(/[^a-z0-9\s]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Groups, agreement and verdict of a question's answers (no model needed: the rule of the file's header). */
export function judge(q: ProbeQuestion, answers: readonly string[], threshold = 0.5): ProbeResult {
  const groups: ProbeResult['groups'] = [];
  for (const a of answers) {
    const key = normaliseAnswer(a);
    const g = groups.find((x) => x.key === key);
    if (g) g.count++;
    else groups.push({ answer: a.trim(), key, count: 1 });
  }
  groups.sort((x, y) => y.count - x.count); // stable: ties keep the order first seen
  const agreement = answers.length ? groups[0].count / answers.length : 0;
  let verdict: Verdict = 'unsure';
  if (agreement >= threshold) {
    const right = q.answer === undefined || groups[0].key.includes(normaliseAnswer(q.answer));
    verdict = right ? 'knows' : 'wrong';
  }
  return { ...q, answers: [...answers], groups, agreement, verdict };
}

/**
 * A model to probe: a GPT-2 checkpoint (loadCheckpoint) or any family openModelForInference opens (a Llama
 * instruct model answers through its own chat template).
 */
export type ProbeModel = LoadedModel | { config: GptModelConfig; weights: Record<string, HostTensor> };

/** Asks each question `samples` times and judges the answers (see the file's header). */
export async function probeKnowledge(
  model: ProbeModel,
  tok: Tokenizer,
  questions: readonly ProbeQuestion[],
  o: ProbeOptions = {},
): Promise<ProbeResult[]> {
  const samples = o.samples ?? 8;
  if (!Number.isInteger(samples) || samples < 2)
    throw new Error(`samples must be an integer ≥ 2 (agreement needs several answers), got ${samples}`);
  const threshold = o.threshold ?? 0.5;
  if (!(threshold > 0 && threshold <= 1)) throw new Error(`threshold must be in (0, 1], got ${threshold}`);
  // every prompt first: a question the tokenizer cannot encode fails before any sampling
  const prompts = questions.map((q, i) => {
    try {
      return chatPrompt(tok, [{ role: 'user', content: q.question }]);
    } catch (e) {
      throw new Error(`question ${i + 1} ("${q.question.slice(0, 60)}"): ${(e as Error).message}`, {
        cause: e,
      });
    }
  });
  const m = 'fam' in model ? await kvCacheOf(model) : await KvCacheModel.create(model.config, model.weights);
  const out: ProbeResult[] = [];
  try {
    for (const [i, q] of questions.entries()) {
      const p = prompts[i];
      const answers: string[] = [];
      for (let n = 0; n < samples; n++) {
        const ids: number[] = [];
        for await (const t of generateTokens(
          m,
          p.ids.slice(-model.config.blockSize),
          {
            temperature: 1,
            ...o,
            maxTokens: o.maxTokens ?? 100,
            seed: (o.seed ?? 1337) + i * samples + n,
            stopTokens: p.stopTokens,
            vocabLimit: tok.vocabSize,
            bannedTokens: p.chat?.tools ? [p.chat.tools.toolStart] : [],
          },
          { signal: o.signal },
        )) {
          if (t.finish === 'stopToken') break;
          ids.push(t.id);
        }
        answers.push(tok.decode(ids));
      }
      const r = judge(q, answers, threshold);
      out.push(r);
      o.onResult?.(r, i + 1, questions.length);
    }
  } finally {
    await m.release();
  }
  return out;
}

const REFUSALS = [
  "I don't know. I'm not sure about this, so I won't guess.",
  "I don't know the answer to that, and I'd rather not make something up.",
  "Sorry, I don't know. I don't have reliable information about this.",
  "I don't know; I can't answer that reliably.",
];

/**
 * Fine-tuning data from a probe: 'unsure' questions answered with a refusal, 'knows' with the model's
 * majority answer, 'wrong' with the reference answer (left out without one).
 */
export function probeConversations(
  results: readonly ProbeResult[],
  o: { seed?: number } = {},
): Conversation[] {
  const rng = new Rng(o.seed ?? 1337);
  const out: Conversation[] = [];
  for (const r of results) {
    let answer: string | undefined;
    if (r.verdict === 'unsure') answer = pick(rng, REFUSALS);
    else if (r.verdict === 'knows') answer = r.groups[0].answer;
    else answer = r.answer;
    if (answer === undefined) continue;
    out.push({
      messages: [
        { role: 'user', content: r.question },
        { role: 'assistant', content: answer },
      ],
    });
  }
  return out;
}

/** Whether an answer refuses ("I don't know", "not sure", …). */
export const refuses = (answer: string): boolean =>
  /\b(i don'?t know|i do not know|not sure|can'?t answer|no reliable information)\b/i.test(answer);

/** The effect of "I don't know" training: how often a model makes up answers, and how often it still answers. */
export interface RefusalEval {
  /** Share of the answers to questions it cannot know (made-up people) that do not refuse. */
  madeUp: number;
  /** Share of the answers to questions it should know that do not refuse. */
  answeredKnown: number;
  unknown: ProbeResult[];
  known: ProbeResult[];
}

/** Share of all sampled answers that do not refuse (0 with no answers). */
export function answeredShare(results: readonly ProbeResult[]): number {
  const all = results.flatMap((r) => r.answers);
  return all.length ? all.filter((a) => !refuses(a)).length / all.length : 0;
}

/** Samples each question `samples` times (as probeKnowledge) and counts the answers that do not refuse. */
export async function evalRefusal(
  model: ProbeModel,
  tok: Tokenizer,
  unknown: readonly ProbeQuestion[],
  known: readonly ProbeQuestion[],
  o: ProbeOptions = {},
): Promise<RefusalEval> {
  const u = await probeKnowledge(model, tok, unknown, o);
  const k = await probeKnowledge(model, tok, known, o);
  return { madeUp: answeredShare(u), answeredKnown: answeredShare(k), unknown: u, known: k };
}
