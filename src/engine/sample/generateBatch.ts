/**
 * G answers to one prompt decoded as one batch on the KV cache (the rollouts of group-relative RL): the
 * prompt is prefilled once, then every step runs one decode graph over the streams still going. Each
 * stream has its own RNG (seed `seeds[i]`, default seed + i) and draws exactly as generateTokens does, so
 * stream i's tokens equal generateTokens(m, prompt, { ...o, seed: seeds[i] }) — one uniform per sampled
 * token, the same sampling transform, the same stop rules — and stops on its own; a stopped stream is fed
 * a dummy token until the others are done (its rows are computed and ignored).
 *
 *   const answers = await generateBatch(m, promptIds, 8, { temperature: 1, maxTokens: 32, seed: 1, stopTokens: [imEnd] });
 *   answers[3].ids      // stream 3's tokens, as generateTokens with seed 4
 *   answers[3].finish   // 'stopToken'
 *
 * Limits: no tool hooks (forced tokens would put streams at different positions), and no sliding window:
 * prompt + answer must fit in blockSize, so maxTokens is capped at blockSize − prompt length + 1 (the
 * last token needs no forward pass) and an answer cut there ends with finish 'maxTokens'.
 */
import type { KvCacheModel } from '../model/kvCache';
import { Rng } from '../train/rng';
import type { GenerateOptions } from './generate';
import { applyRepetitionPenalty, nextTokenProbs, sampleFrom } from './sampling';

export interface BatchGenerateOptions extends Omit<GenerateOptions, 'topN'> {
  /** One seed per stream (default seed + i, seed defaulting to 1337). */
  seeds?: number[];
}

export interface BatchAnswer {
  /** The stream's sampled tokens (the stop token included, as generateTokens keeps it). */
  ids: number[];
  finish: 'stop' | 'stopToken' | 'maxTokens';
  /** Decoded text when `decode` is given. */
  text: string;
}

export async function generateBatch(
  m: KvCacheModel,
  prompt: readonly number[],
  G: number,
  o: BatchGenerateOptions = {},
  hooks: { decode?: (ids: readonly number[]) => string; signal?: AbortSignal } = {},
): Promise<BatchAnswer[]> {
  const S = m.config.blockSize;
  if (!prompt.length) throw new Error('generateBatch: the prompt is empty; start it with a token');
  if (prompt.length >= S)
    throw new Error(
      `generateBatch: the prompt has ${prompt.length} tokens, blockSize is ${S}; leave room for the answers`,
    );
  if (o.seeds && o.seeds.length !== G)
    throw new Error(`generateBatch: ${o.seeds.length} seeds for ${G} streams; give one seed per stream`);
  const maxTokens = Math.min(o.maxTokens ?? 100, S - prompt.length + 1);
  const rngs = Array.from({ length: G }, (_, i) => new Rng(o.seeds?.[i] ?? (o.seed ?? 1337) + i));
  const { cache, logits: first } = await m.prefillBatch(prompt, G);
  let logits: Float32Array[] = Array.from({ length: G }, () => first);
  const answers: (BatchAnswer & { done: boolean })[] = Array.from({ length: G }, () => ({
    ids: [],
    finish: 'maxTokens',
    text: '',
    done: false,
  }));
  for (let i = 0; i < maxTokens; i++) {
    hooks.signal?.throwIfAborted();
    const next = answers.map((a, b) => {
      if (a.done) return 0; // a dummy token for a stopped stream
      const id = draw(logits[b], [...prompt, ...a.ids], o, rngs[b]);
      a.ids.push(id);
      if (hooks.decode) a.text = hooks.decode(a.ids);
      const finish = finishReason(o, id, a.text, i === maxTokens - 1);
      if (finish) {
        a.finish = finish;
        a.done = true;
      }
      return id;
    });
    if (answers.every((a) => a.done)) break;
    logits = await m.appendBatch(cache, next); // no forward pass after the last token of every stream
  }
  return answers.map(({ ids, finish, text }) => ({ ids, finish, text }));
}

/** One token drawn as generateTokens draws it: repetition penalty, banned tokens, the sampling transform, one uniform. */
function draw(logits: Float32Array, context: readonly number[], o: BatchGenerateOptions, rng: Rng): number {
  let penalised: ArrayLike<number> =
    o.repetitionPenalty && o.repetitionPenalty !== 1
      ? applyRepetitionPenalty(logits, context, o.repetitionPenalty)
      : logits;
  if (o.bannedTokens?.length) {
    const banned = Float64Array.from(penalised);
    for (const b of o.bannedTokens) if (b >= 0 && b < banned.length) banned[b] = -Infinity;
    penalised = banned;
  }
  return sampleFrom(nextTokenProbs(penalised, { ...o, repetitionPenalty: 1 }), rng.next());
}

function finishReason(
  o: BatchGenerateOptions,
  id: number,
  text: string,
  last: boolean,
): BatchAnswer['finish'] | undefined {
  if (o.stopTokens?.includes(id)) return 'stopToken';
  if (o.stop?.some((s) => s && text.includes(s))) return 'stop';
  return last ? 'maxTokens' : undefined;
}
