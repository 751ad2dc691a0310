/**
 * Training a reward model on preference pairs (rewardModel.ts's Bradley–Terry step), and scoring answers
 * with one. Each pair's prompt and answers are rendered as ChatML conversations ([user prompt, assistant
 * answer]) and scored at the answer's closing <|im_end|>; a checkpoint without the chat tokens gains them
 * first (chat/chatModel.ts), as fine-tuning does. Held-out pair accuracy (the share of pairs whose chosen
 * answer scores higher) is measured before the first step and after the last, on pairs never trained on.
 *
 *   const r = await trainRewardModel({ from: 'runs/sft/checkpoints/step-600', data: 'pairs.jsonl',
 *     heldout: 'pairs-heldout.jsonl', steps: 200, runDir: 'runs/reward' });
 *   // r.before.accuracy 0.61, r.after.accuracy 1, r.checkpoint 'runs/reward/checkpoints/step-200'
 *   const scorer = await RewardScorer.load(r.checkpoint);
 *   await scorer.score([{ prompt: 'What is 3 plus 14?', answer: 'Thank you thank you thank you' }]);   // [3.06]
 *
 * Without `heldout`, the pairs whose prompt hashes to the held-out tenth (chat/chatData.ts's isHeldOut)
 * are held out of `data`.
 *
 * `device` webgpu or cuda trains and scores on that GPU provider: the step and the scoring pass are built
 * as their GPU variants (rewardModel.ts; flat AdamW with maxJoin, as train/loop.ts builds it), the weights
 * and moments stay on the device between steps.
 *
 *   await trainRewardModel({ from, data: 'pairs.jsonl', device: 'webgpu' });
 *   await RewardScorer.load(dir, { ep: 'webgpu' });
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isHeldOut } from '../chat/chatData';
import { chatModel } from '../chat/chatModel';
import { chatFormatOf, renderChat, type ChatFormat } from '../chat/chatPrompt';
import { emitOnnx } from '../graph/emit';
import { targetOf } from '../graph/graph';
import type { GptModelConfig } from '../model/inference';
import { problemWith } from '../options';
import type { ExecutionProvider } from '../runtime/ort';
import { GraphRunner, toHost, type HostTensor } from '../runtime/session';
import { TrainRunner } from '../runtime/trainRunner';
import { saveTokenizer } from '../tokenizer/save';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { loadCheckpoint, saveCheckpoint, TRAINER_FORMAT, TRAINER_FORMAT_VERSION } from '../train/checkpoint';
import { loadCheckpointTokenizer, loadModelTokenizer } from '../train/runTokenizer';
import { GPU_MAX_JOIN } from '../train/optim';
import { Rng } from '../train/rng';
import { LOOP_OPTIONS, type DeviceName } from '../../protocol/trainOptions';
import { readPreferencePairs, type PreferencePair } from './preferences';
import {
  buildRewardScoreGraph,
  buildRewardTrainGraph,
  initScoreHead,
  REWARD_CONFIG,
  requireScoreHead,
  SCORE_WEIGHT,
} from './rewardModel';

export interface RewardTrainOptions {
  /** A checkpoint folder (SFT or base) to start from. */
  from: string;
  /** Training pairs: a JSONL file (preferences.ts's format) or the pairs. */
  data: string | PreferencePair[];
  /** Held-out pairs (default: the held-out tenth of `data` by prompt). */
  heldout?: string | PreferencePair[];
  /** Optimizer steps (default 200). */
  steps?: number;
  /** AdamW learning rate (default 3e-4). */
  lr?: number;
  /** Pairs per step (default 8). */
  batchSize?: number;
  /** Seed of the head's initialisation and the batches (default 1337). */
  seed?: number;
  /** Where checkpoints/step-N goes; none: nothing is saved. */
  runDir?: string;
  /** Where to train and score: cpu (default), webgpu or cuda. */
  device?: DeviceName;
  threads?: number;
  /** Called after each step and each evaluation. */
  onEvent?: (e: RewardEvent) => void;
}

export type RewardEvent =
  | { kind: 'step'; step: number; loss: number; accuracy: number; ms: number }
  | { kind: 'eval'; step: number; accuracy: number; margin: number; pairs: number }
  | { kind: 'checkpoint'; step: number; dir: string };

export interface PairEval {
  /** Share of pairs with r_chosen > r_rejected. */
  accuracy: number;
  /** Mean r_chosen − r_rejected. */
  margin: number;
  pairs: number;
}

export interface RewardTrainResult {
  before: PairEval;
  after: PairEval;
  losses: number[];
  checkpoint?: string;
  trainPairs: number;
  seqLen: number;
}

/** Token rows of conversations and the position each is scored at. */
interface Row {
  ids: number[];
  last: number;
}

/** A model's chat rendering of [user prompt, assistant answer], ending at the answer's stop token. */
export function rewardRow(format: ChatFormat, tok: Tokenizer, prompt: string, answer: string): Row {
  const { ids } = renderChat(
    format,
    [
      { role: 'user', content: prompt },
      { role: 'assistant', content: answer },
    ],
    tok,
  );
  const at = format.stop === undefined ? -1 : ids.lastIndexOf(format.stop);
  const end = at >= 0 ? at + 1 : ids.length;
  return { ids: ids.slice(0, end), last: end - 1 };
}

/** Rows (B, T) i64 padded with 0 after each row's last token, and the last positions (B) i64. */
function batchOf(rows: readonly Row[], T: number): { idx: HostTensor; last: HostTensor } {
  const B = rows.length;
  const idx = new BigInt64Array(B * T);
  const last = new BigInt64Array(B);
  rows.forEach((r, b) => {
    for (let t = 0; t < r.ids.length; t++) idx[b * T + t] = BigInt(r.ids[t]);
    last[b] = BigInt(r.last);
  });
  return { idx: { dtype: 'i64', shape: [B, T], data: idx }, last: { dtype: 'i64', shape: [B], data: last } };
}

const pairsOf = (p: string | PreferencePair[]) => (typeof p === 'string' ? readPreferencePairs(p) : p);
const nameOf = (p: string | PreferencePair[], what: string) => (typeof p === 'string' ? p : what);

/** The model ready for chat and its rendering (the chat tokens added when the checkpoint lacks them). */
function chatReady(ckpt: { dir: string; config: GptModelConfig; weights: Record<string, HostTensor> }) {
  const baseTok = loadModelTokenizer(ckpt);
  const own = chatFormatOf(baseTok)?.kind === 'template';
  const m = own
    ? { config: ckpt.config, weights: ckpt.weights, tokenizer: baseTok }
    : chatModel(ckpt, baseTok);
  const format = chatFormatOf(m.tokenizer);
  if (!format) throw new Error(`${ckpt.dir}: its tokenizer cannot render chats`);
  return { ...m, format };
}

/** Scores rows through a scoring graph of batch B, padding the last batch with copies of the first row. */
async function scoreRows(
  runner: GraphRunner,
  weights: Record<string, HostTensor>,
  rows: readonly Row[],
  B: number,
  T: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += B) {
    const chunk = rows.slice(i, i + B);
    while (chunk.length < B) chunk.push(rows[0]);
    const { idx, last } = batchOf(chunk, T);
    const r = (await toHost((await runner.run({ ...weights, idx, last })).reward)).data as Float32Array;
    out.push(...Array.from(r.subarray(0, Math.min(B, rows.length - i))));
  }
  return out;
}

/** Trains a reward model (see the file's header); refuses pairs that do not fit the model's context. */
export async function trainRewardModel(o: RewardTrainOptions): Promise<RewardTrainResult> {
  const steps = o.steps ?? 200;
  const lr = o.lr ?? 3e-4;
  const B = o.batchSize ?? 8;
  const seed = o.seed ?? 1337;
  if (!Number.isInteger(steps) || steps < 0)
    throw new Error(`steps must be a whole number ≥ 0, got ${steps}`);
  if (!(lr > 0)) throw new Error(`lr must be positive, got ${lr}`);
  if (!Number.isInteger(B) || B < 1) throw new Error(`batchSize must be a whole number ≥ 1, got ${B}`);
  const device = o.device ?? 'cpu';
  const badDevice = problemWith(LOOP_OPTIONS.device, device);
  if (badDevice)
    throw new Error(`device ${badDevice}: use cpu, or a GPU provider that loads here (llm-lens env)`);
  const all = pairsOf(o.data);
  const dataName = nameOf(o.data, 'the training pairs');
  const train = o.heldout ? all : all.filter((p) => !isHeldOut(p.prompt));
  const held = o.heldout ? pairsOf(o.heldout) : all.filter((p) => isHeldOut(p.prompt));
  const heldName = o.heldout ? nameOf(o.heldout, 'the held-out pairs') : `the held-out tenth of ${dataName}`;
  if (!train.length)
    throw new Error(`${dataName}: no training pairs are left after holding out a tenth; give more`);
  if (!held.length)
    throw new Error(
      `${heldName}: no held-out pairs; give --heldout FILE or more pairs (a tenth is held out)`,
    );

  const ckpt = await loadCheckpoint(o.from);
  const m = chatReady(ckpt);
  const toRows = (pairs: PreferencePair[], name: string) =>
    pairs.map((p, i) => {
      const c = rewardRow(m.format, m.tokenizer, p.prompt, p.chosen);
      const r = rewardRow(m.format, m.tokenizer, p.prompt, p.rejected);
      const n = Math.max(c.ids.length, r.ids.length);
      if (n > m.config.blockSize)
        throw new Error(
          `${name}: pair ${i + 1} (prompt ${JSON.stringify(p.prompt.slice(0, 40))}) is ${n} tokens, more than the model's context of ${m.config.blockSize}: shorten or remove it, or start from a model with a longer context`,
        );
      return { chosen: c, rejected: r };
    });
  const trainRows = toRows(train, dataName);
  const heldRows = toRows(held, heldName);
  const T = Math.max(
    ...[...trainRows, ...heldRows].flatMap((p) => [p.chosen.ids.length, p.rejected.ids.length]),
  );
  const gc = { ...m.config, batchSize: B, seqLen: T, target: targetOf(device) };

  // a WebGPU shader binds each Concat/Split input and output: stay under the adapter's 16 (as loop.ts)
  const maxJoin = device === 'cpu' ? undefined : GPU_MAX_JOIN;
  const { graph, spec } = buildRewardTrainGraph(gc, { kind: 'adamw', weightDecay: 0, clip: 1, maxJoin });
  const head = ckpt.score ?? initScoreHead(m.config.nEmbd, seed);
  const init = { ...m.weights, [SCORE_WEIGHT]: head };
  const ep = { ep: device, threads: o.threads };
  const runner = await TrainRunner.create(emitOnnx(graph), spec, init, {
    ...ep,
    graphName: 'the reward-model step',
  });
  const scorer = await GraphRunner.create(emitOnnx(buildRewardScoreGraph({ ...gc, batchSize: B })), {
    ...ep,
    graphName: 'the reward-model scoring pass',
  });
  const weightsNow = async () => {
    const w: Record<string, HostTensor> = {};
    for (const s of spec.state) if (s.init === 'param') w[s.name] = await runner.get(s.name);
    return w;
  };
  const evaluate = async (step: number): Promise<PairEval> => {
    const w = await weightsNow();
    const rc = await scoreRows(
      scorer,
      w,
      heldRows.map((p) => p.chosen),
      B,
      T,
    );
    const rr = await scoreRows(
      scorer,
      w,
      heldRows.map((p) => p.rejected),
      B,
      T,
    );
    const accuracy = rc.filter((r, i) => r > rr[i]).length / rc.length;
    const margin = rc.reduce((s, r, i) => s + r - rr[i], 0) / rc.length;
    const e: PairEval = { accuracy, margin, pairs: rc.length };
    o.onEvent?.({ kind: 'eval', step, ...e });
    return e;
  };
  try {
    const before = await evaluate(0);
    const rng = new Rng(seed);
    const losses: number[] = [];
    for (let step = 1; step <= steps; step++) {
      const picked = Array.from({ length: B }, () => trainRows[rng.randint(trainRows.length)]);
      const c = batchOf(
        picked.map((p) => p.chosen),
        T,
      );
      const r = batchOf(
        picked.map((p) => p.rejected),
        T,
      );
      const res = await runner.step(
        { chosen: c.idx, chosen_last: c.last, rejected: r.idx, rejected_last: r.last },
        lr,
      );
      const accuracy = ((await toHost(res.extra.accuracy)).data as Float32Array)[0];
      losses.push(res.loss);
      o.onEvent?.({ kind: 'step', step, loss: res.loss, accuracy, ms: res.ms });
    }
    const after = await evaluate(steps);
    let checkpoint: string | undefined;
    if (o.runDir) {
      const weights = await weightsNow();
      const tokenizerFiles = saveTokenizer(m.tokenizer, path.join(o.runDir, 'tokenizer'));
      checkpoint = await saveCheckpoint({
        runDir: o.runDir,
        config: m.config,
        weights,
        moments: await runner.moments(),
        trainer: {
          format: TRAINER_FORMAT,
          version: TRAINER_FORMAT_VERSION,
          step: steps,
          rngState: rng.state,
          seed,
          trainLoss: losses.at(-1),
          tokensSeen: steps * 2 * B * T,
          elapsedMs: 0,
        },
        tokenizerFiles,
        configExtra: { stage: 'reward', from: ckpt.dir, heldoutAccuracy: after.accuracy },
        configTop: REWARD_CONFIG,
      });
      o.onEvent?.({ kind: 'checkpoint', step: steps, dir: checkpoint });
    }
    return { before, after, losses, checkpoint, trainPairs: train.length, seqLen: T };
  } finally {
    await runner.release();
    await scorer.release();
  }
}

/** A trained reward model that scores (prompt, answer) pairs; refuses a checkpoint without the head. */
export class RewardScorer {
  private constructor(
    private readonly runner: GraphRunner,
    private readonly weights: Record<string, HostTensor>,
    private readonly tokenizer: Tokenizer,
    private readonly format: ChatFormat,
    readonly config: GptModelConfig,
    private readonly batchSize: number,
  ) {}

  /**
   * `batchSize`: rows per run of the scoring graph (default 1); a short last batch is padded. `ep`: the
   * execution provider (default cpu); a GPU one runs the graph's GPU variant.
   */
  static async load(
    dir: string,
    o: { threads?: number; batchSize?: number; ep?: ExecutionProvider } = {},
  ): Promise<RewardScorer> {
    const B = o.batchSize ?? 1;
    if (!Number.isInteger(B) || B < 1) throw new Error(`batchSize must be a whole number ≥ 1, got ${B}`);
    const ckpt = await loadCheckpoint(dir);
    const file = fs.statSync(dir).isDirectory() ? path.join(dir, 'model.safetensors') : dir;
    const head = requireScoreHead(ckpt, file);
    const tokenizer = loadCheckpointTokenizer(ckpt.dir);
    const format = chatFormatOf(tokenizer);
    if (!format)
      throw new Error(
        `${ckpt.dir}: its tokenizer has no chat tokens (<|im_start|>, <|im_end|>) or template; a reward model saved by llm-lens reward-train has them`,
      );
    const T = ckpt.config.blockSize;
    const g = buildRewardScoreGraph({ ...ckpt.config, batchSize: B, seqLen: T, target: targetOf(o.ep) });
    const runner = await GraphRunner.create(emitOnnx(g), {
      ep: o.ep,
      threads: o.threads,
      graphName: 'the reward model',
    });
    const weights = { ...ckpt.weights, [SCORE_WEIGHT]: head };
    return new RewardScorer(runner, weights, tokenizer, format, ckpt.config, B);
  }

  /** The reward of each answer to its prompt. */
  async score(items: readonly { prompt: string; answer: string }[]): Promise<number[]> {
    const T = this.config.blockSize;
    const rows = items.map((it) => {
      const r = rewardRow(this.format, this.tokenizer, it.prompt, it.answer);
      if (r.ids.length > T)
        throw new Error(
          `the prompt and answer are ${r.ids.length} tokens, more than the model's context of ${T}`,
        );
      return r;
    });
    return rows.length ? scoreRows(this.runner, this.weights, rows, this.batchSize, T) : [];
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}
