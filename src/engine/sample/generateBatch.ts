/**
 * G answers to one prompt decoded as one batch on the KV cache (the rollouts of group-relative RL): the
 * prompt is prefilled once, then every step runs one decode graph over the streams still going. Each
 * stream has its own RNG (seed `seeds[i]`, default seed + i) and draws exactly as generateTokens does, so
 * stream i's answer equals generateTokens(m, prompt, { ...o, seed: seeds[i] }, { force }) — one uniform per
 * sampled token, the same sampling transform, the same stop rules, the same tool calls — and stops on its
 * own; a stopped stream is fed a dummy token until the others are done (its rows are computed and ignored).
 *
 *   const force = toolForcer({ tokens: chat.tools, tokenizer, tools: [calculator] });
 *   const answers = await generateBatch(m, promptIds, 8, { temperature: 1, maxTokens: 32, seed: 1, stopTokens: [imEnd] }, { force });
 *   answers[3].ids      // stream 3's tokens, as generateTokens with seed 4
 *   answers[3].forced   // [7, 8, 9, 10]: indices into ids of a tool's output (<|output_start|>201954<|output_end|>)
 *   answers[3].tools    // [{ index: 7, call: { name: 'calculator', input: '347*582', ok: true, output: '201954', ms: 0.1 } }]
 *   answers[3].finish   // 'stopToken'
 *
 * Tools: after each sampled token that does not end its answer, `hooks.force(ids, stream)` may return
 * tokens to force (a tool's output, tools/toolLoop.ts's toolForcer); the stream then takes them one per
 * decode step, without a draw, while the other streams go on sampling. Every stream still adds one token
 * per step, so all streams stay at one position and share the cache's mask; a stream's forced tokens
 * cost it the same decode steps as sampled ones would. Tool calls of one step run concurrently with that
 * step's decode run. Forced tokens do not count towards maxTokens.
 *
 * Limits: no sliding window: prompt + answer (sampled and forced tokens) must fit in blockSize, so an
 * answer is cut at blockSize − prompt length + 1 tokens (the last token needs no forward pass) with finish
 * 'maxTokens' (a tool's output cut there too), where generateTokens would slide and go on.
 */
import type { KvCacheModel } from '../model/kvCache';
import { Rng } from '../train/rng';
import type { ForcedTokens, GenerateOptions, ToolCallRecord } from './generate';
import { applyRepetitionPenalty, nextTokenProbs, sampleFrom } from './sampling';

export interface BatchGenerateOptions extends Omit<GenerateOptions, 'topN'> {
  /** One seed per stream (default seed + i, seed defaulting to 1337). */
  seeds?: number[];
}

export interface BatchAnswer {
  /** The stream's tokens, sampled and forced (the stop token included, as generateTokens keeps it). */
  ids: number[];
  /** Indices into `ids` of the tokens a hook forced (a tool's output): not drawn, no loss in RL. */
  forced: number[];
  /** The tool calls, each at the index in `ids` of its output's first token. */
  tools: { index: number; call: ToolCallRecord }[];
  finish: 'stop' | 'stopToken' | 'maxTokens';
  /** Decoded text when `decode` is given. */
  text: string;
}

export interface BatchGenerateHooks {
  decode?: (ids: readonly number[]) => string;
  signal?: AbortSignal;
  /** After each sampled token that does not end stream `stream`'s answer: tokens to force next. */
  force?: (generated: readonly number[], stream: number) => Promise<ForcedTokens | undefined>;
}

/** A stream's answer so far, and the forced tokens it has yet to take. */
interface Stream extends BatchAnswer {
  sampled: number;
  pending: number[];
  pendingTool?: ToolCallRecord;
  done: boolean;
}

export async function generateBatch(
  m: KvCacheModel,
  prompt: readonly number[],
  G: number,
  o: BatchGenerateOptions = {},
  hooks: BatchGenerateHooks = {},
): Promise<BatchAnswer[]> {
  const S = m.config.blockSize;
  if (!prompt.length) throw new Error('generateBatch: the prompt is empty; start it with a token');
  if (prompt.length >= S)
    throw new Error(
      `generateBatch: the prompt has ${prompt.length} tokens, blockSize is ${S}; leave room for the answers`,
    );
  if (o.seeds && o.seeds.length !== G)
    throw new Error(`generateBatch: ${o.seeds.length} seeds for ${G} streams; give one seed per stream`);
  const maxTokens = o.maxTokens ?? 100;
  const room = S - prompt.length + 1; // answer tokens that fit: the last needs no forward pass
  const rngs = Array.from({ length: G }, (_, i) => new Rng(o.seeds?.[i] ?? (o.seed ?? 1337) + i));
  const { cache, logits: first } = await m.prefillBatch(prompt, G);
  let logits: Float32Array[] = Array.from({ length: G }, () => first);
  const streams: Stream[] = Array.from({ length: G }, () => ({
    ids: [],
    forced: [],
    tools: [],
    finish: 'maxTokens',
    text: '',
    sampled: 0,
    pending: [],
    done: maxTokens <= 0,
  }));
  for (let step = 0; step < room && !streams.every((s) => s.done); step++) {
    hooks.signal?.throwIfAborted();
    const last = step === room - 1;
    const calls: Promise<void>[] = [];
    const next = streams.map((s, b) => {
      if (s.done) return 0; // a dummy token for a stopped stream
      const forced = s.pending.length > 0;
      const id = forced ? s.pending.shift()! : draw(logits[b], [...prompt, ...s.ids], o, rngs[b]);
      if (forced) {
        s.forced.push(s.ids.length);
        if (s.pendingTool) s.tools.push({ index: s.ids.length, call: s.pendingTool });
        s.pendingTool = undefined;
      } else s.sampled++;
      s.ids.push(id);
      if (hooks.decode) s.text = hooks.decode(s.ids);
      let finish = forced ? undefined : finishReason(o, id, s.text, s.sampled === maxTokens);
      if (last) finish ??= 'maxTokens'; // the block is full (a forced token ends an answer only there)
      if (finish) {
        s.finish = finish;
        s.done = true;
      } else if (!forced && hooks.force)
        calls.push(
          hooks.force(s.ids, b).then((f) => {
            s.pending = [...(f?.ids ?? [])];
            s.pendingTool = f?.ids.length ? f.tool : undefined; // as generateTokens: no output, no record
          }),
        );
      return id;
    });
    if (streams.every((s) => s.done)) break; // no forward pass after the last token of every stream
    [logits] = await Promise.all([m.appendBatch(cache, next), ...calls]);
  }
  return streams.map(({ ids, forced, tools, finish, text }) => ({ ids, forced, tools, finish, text }));
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
