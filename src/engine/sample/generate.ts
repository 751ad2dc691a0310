/**
 * Streaming generation on the KV cache: an async generator of tokens, each with what the model
 * thought at that step (top of the distribution before and after the sampling transform, the
 * chosen token's probability and rank, entropy).
 *
 *   const m = await KvCacheModel.create(config, weights);
 *   const prompt = preparePrompt(tokenizer.encode('ROMEO:'), config.blockSize, eot);
 *   for await (const t of generateTokens(m, prompt.ids, { temperature: 0.8, topK: 200, seed: 1, maxTokens: 100 }, { decode: (ids) => tokenizer.decode(ids) }))
 *     process.stdout.write(t.text);
 *
 * Every step draws exactly one uniform number from the seeded RNG (greedy too), so a fixed seed gives
 * the same tokens as GptInference.generate with `new Rng(seed).next`.
 *
 * Tools (tools/toolLoop.ts) hook in with `hooks.force`: after each sampled token it may return tokens to
 * force into the context (a tool's output), which are appended one by one without a draw and yielded
 * with `forced: true` (and what the model would have given them: their probability under the plain
 * softmax), the first carrying `tool`, the call's record. Forced tokens do not count towards maxTokens.
 * `bannedTokens` are never drawn (the tool-call token when tools are off).
 */
import type { FamilyConfig } from '../model/family';
import type { KvCache, KvCacheModel } from '../model/kvCache';
import { Rng } from '../train/rng';
import { applyRepetitionPenalty, nextTokenProbs, sampleFrom, type SamplingOptions } from './sampling';
import { summarizeStep, type StepSummary } from './stepStats';

export interface GenerateOptions extends SamplingOptions {
  /** New tokens at most (default 100). */
  maxTokens?: number;
  /** RNG seed (default 1337). */
  seed?: number;
  /** Generation ends once the generated text contains one of these (the token that completes it is kept). */
  stop?: string[];
  /** Token ids that end generation (e.g. <|endoftext|>); the id itself is kept. */
  stopTokens?: number[];
  /** Tokens listed in each step's summary (default 20). */
  topN?: number;
  /** Token ids never drawn (probability 0), e.g. <|tool_start|> when tools are off. */
  bannedTokens?: number[];
}

/** Tokens a hook forces into the context, and the record of the tool call that produced them. */
export interface ForcedTokens {
  ids: number[];
  tool?: ToolCallRecord;
}

/** One tool call as it ran: what the model asked for and what went back into its context. */
export interface ToolCallRecord {
  name: string;
  input: string;
  ok: boolean;
  output: string;
  ms: number;
}

export interface GenerateHooks {
  /** Text of ids, needed for stop strings and for `text` (default: no text). */
  decode?: (ids: readonly number[]) => string;
  signal?: AbortSignal;
  /** Continue in this cache (already prefilled with the prompt) instead of prefilling a new one. */
  cache?: KvCache;
  /** The logits after the prompt when `cache` is given. */
  logits?: Float32Array;
  /** After each sampled token that does not end generation: tokens to force next (see the file's header). */
  force?: (generated: readonly number[]) => Promise<ForcedTokens | undefined>;
}

export interface GeneratedToken extends StepSummary {
  /** 0-based index among the generated tokens. */
  index: number;
  /** Position of the token in the whole context (prompt + generated). */
  position: number;
  /** Text added by this token (the difference of the decoded text before and after it). */
  text: string;
  /** Why generation ended after this token, if it did. */
  finish?: 'stop' | 'stopToken' | 'maxTokens';
  /** True when the context slid (the cache was refilled) to make room for this token's successor. */
  slid?: boolean;
  /** Put into the context by a hook (a tool's output), not drawn. */
  forced?: true;
  /** On the first forced token of a tool's output: the call. */
  tool?: ToolCallRecord;
}

/** A prompt ready for the model, with what was done to it (for the user). */
export interface PreparedPrompt {
  ids: number[];
  /** Said to the user: cropped to blockSize, or started from a start token. */
  notes: string[];
}

/**
 * Crops a prompt to the last blockSize tokens and replaces an empty one by `startId` (the end-of-text
 * token, or 0 for character vocabularies), saying so in `notes`.
 *
 *   preparePrompt([], 256, { id: 50256, text: '<|endoftext|>' })   // { ids: [50256], notes: ['empty prompt: starting from <|endoftext|>'] }
 */
export function preparePrompt(
  ids: readonly number[],
  blockSize: number,
  start: { id: number; text: string },
): PreparedPrompt {
  if (!ids.length) return { ids: [start.id], notes: [`empty prompt: starting from ${start.text}`] };
  if (ids.length > blockSize)
    return {
      ids: ids.slice(-blockSize),
      notes: [`the prompt has ${ids.length} tokens: the model sees the last ${blockSize} (its block size)`],
    };
  return { ids: [...ids], notes: [] };
}

/** Streams up to maxTokens new tokens after `prompt` (at most blockSize tokens; see preparePrompt). */
export async function* generateTokens(
  m: KvCacheModel<FamilyConfig>,
  prompt: readonly number[],
  o: GenerateOptions = {},
  hooks: GenerateHooks = {},
): AsyncGenerator<GeneratedToken> {
  const rng = new Rng(o.seed ?? 1337);
  const cache = hooks.cache ?? m.newCache();
  let logits = hooks.cache ? hooks.logits : undefined;
  if (!logits) logits = await m.prefill(cache, prompt.slice(-m.config.blockSize), prompt);
  const maxTokens = o.maxTokens ?? 100;
  const generated: number[] = [];
  let text = '';
  let index = 0;
  /** The text `id` adds to the decoded output. */
  const piece = (id: number) => {
    generated.push(id);
    const next = hooks.decode ? hooks.decode(generated) : '';
    const added = next.startsWith(text) ? next.slice(text.length) : next;
    text = next;
    return added;
  };
  for (let i = 0; i < maxTokens; i++) {
    hooks.signal?.throwIfAborted();
    let penalised: ArrayLike<number> =
      o.repetitionPenalty && o.repetitionPenalty !== 1
        ? applyRepetitionPenalty(logits, cache.tokens, o.repetitionPenalty)
        : logits;
    if (o.bannedTokens?.length) {
      const banned = Float64Array.from(penalised);
      for (const b of o.bannedTokens) if (b >= 0 && b < banned.length) banned[b] = -Infinity;
      penalised = banned;
    }
    const probs = nextTokenProbs(penalised, { ...o, repetitionPenalty: 1 });
    const id = sampleFrom(probs, rng.next());
    const step = summarizeStep(logits, probs, id, o.topN ?? 20);
    const position = cache.tokens.length;
    const added = piece(id);
    const finish = finishReason(o, id, text, i === maxTokens - 1);
    const token: GeneratedToken = {
      index: index++,
      position,
      text: added,
      ...step,
      ...(finish ? { finish } : {}),
    };
    if (finish) {
      yield token; // no forward pass for the last token: the cache ends before it
      return;
    }
    const slides = cache.slides;
    logits = await m.append(cache, id);
    if (cache.slides !== slides) token.slid = true;
    yield token;
    const forced = hooks.force ? await hooks.force(generated) : undefined;
    for (const [j, fid] of (forced?.ids ?? []).entries()) {
      hooks.signal?.throwIfAborted();
      const plain = nextTokenProbs(logits, {});
      const t: GeneratedToken = {
        index: index++,
        position: cache.tokens.length,
        text: piece(fid),
        ...summarizeStep(logits, plain, fid, o.topN ?? 20),
        forced: true,
        ...(j === 0 && forced!.tool ? { tool: forced!.tool } : {}),
      };
      const before = cache.slides;
      logits = await m.append(cache, fid);
      if (cache.slides !== before) t.slid = true;
      yield t;
    }
  }
}

/** Why generation ends after token `id` (whose text brought the decoded output to `text`), if it does. */
function finishReason(
  o: GenerateOptions,
  id: number,
  text: string,
  last: boolean,
): GeneratedToken['finish'] | undefined {
  if (o.stopTokens?.includes(id)) return 'stopToken';
  if (o.stop?.some((s) => s && text.includes(s))) return 'stop';
  return last ? 'maxTokens' : undefined;
}
