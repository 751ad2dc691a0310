/**
 * nanoGPT's training loop on the engine: warmup + cosine lr, AdamW (decay on 2-D weights), gradient
 * clipping, eval on train and val every N steps, samples every N steps, checkpoints (the last few and
 * the best kept: retention.ts), resume.
 *
 *   for await (const e of trainGpt(config, { signal })) console.log(e);
 *
 * Events (TrainEvent) are also appended to the run's metrics.jsonl. A stop (AbortSignal) ends after the
 * current run of steps with a checkpoint. A NaN/Inf loss or gradient norm is not applied: the run stops
 * with an error that names the step, and the last good checkpoint stays.
 *
 * On CPU the steps run several at a time in one ONNX run (a step loop, stepLoop.ts), as many as fit in
 * about 5 s (`stepsPerRun`), never past an evaluation, a sample or a checkpoint. Stop, pause and
 * checkpoint requests take effect between runs. GPU providers run one step per run (the state stays
 * on the device there).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { emitOnnx } from '../graph/emit';
import { targetOf } from '../graph/graph';
import { emitTrainLoop } from './stepLoop';
import { buildTrainGraph, initModelWeights, trainParams, type TrainModel } from '../model/gpt';
import { GPU_MAX_JOIN } from './optim';
import type { FamilyConfig } from '../model/family';
import { GptInference } from '../model/inference';
import { KvCacheModel } from '../model/kvCache';
import { llama } from '../model/llama';
import { generateTokens } from '../sample/generate';
import type { RunEvent } from '../../protocol/training';
import { LOOP_OPTIONS, MODEL_OPTIONS, type LoopSettings } from '../../protocol/trainOptions';
import { checkOptions } from '../options';
import type { HostTensor } from '../runtime/session';
import { TrainRunner } from '../runtime/trainRunner';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { saveCheckpoint, TRAINER_FORMAT, TRAINER_FORMAT_VERSION, type TrainerState } from './checkpoint';
import { readDatasetMeta, sampleBatch, TokenFile, writeFileAtomic } from './data';
import { chatModel } from '../chat/chatModel';
import { chatFormatOf, renderChat } from '../chat/chatPrompt';
import { huggingFaceTokenizerFiles, loadCheckpointTokenizer } from './runTokenizer';
import { loadTrainCheckpoint } from './modelCheckpoint';
import { readSftMeta, SftRows } from './sftData';
import { pruneCheckpoints, removeDeadCheckpointTemps, valLossesOf } from './retention';
import { Rng } from './rng';
import { learningRate } from './schedule';

/**
 * A run's settings: the loop's options (LOOP_OPTIONS in src/protocol/trainOptions.ts, which documents
 * each one) with their defaults, and what prepareRun made of the data, tokenizer and model options.
 */
export type TrainConfig = LoopSettings & {
  /** Prepared dataset folder (train.bin, val.bin, meta.json; sft: sftData.ts's packed rows). */
  dataDir: string;
  model: RunModel;
  /** Files that make up the tokenizer (copied into each checkpoint), and how to name it. */
  tokenizerFiles: string[];
  tokenizerId: string;
  /** Written into each checkpoint's config.json beside the tokenizer (sft: the chat template). */
  configExtra?: Record<string, unknown>;
  /** Stop after this many steps of this session (tests: stop at k, resume, compare). */
  stopAfter?: number;
};

/** A run's model (model/gpt.ts's TrainModel: GPT-2 or a Llama), its vocabulary the tokenizer's when absent. */
export type RunModel = (TrainModel extends infer M
  ? M extends unknown
    ? Omit<M, 'vocabSize'>
    : never
  : never) & {
  vocabSize?: number;
};

/** What the loop asks of a model's inference (GptInference of either family). */
type Evaluator = Pick<GptInference, 'evalLoss' | 'generate' | 'setWeights' | 'release'>;

/** How long one run of several steps may take: stop and pause wait for it. */
export const TARGET_RUN_MS = 5000;
/** At most this many steps in one run (a tiny model's step takes milliseconds). */
export const MAX_STEPS_PER_RUN = 64;

/** Steps per run for a step of this many milliseconds: as many as fit in TARGET_RUN_MS, 1 before any step was timed. */
export function stepsPerRun(typicalStepMs: number | undefined): number {
  if (typicalStepMs === undefined || !(typicalStepMs > 0)) return 1;
  return Math.max(1, Math.min(MAX_STEPS_PER_RUN, Math.floor(TARGET_RUN_MS / typicalStepMs)));
}

/** Steps from `step` to the next multiple of `every` (Infinity when `every` is off). */
const untilMultiple = (step: number, every: number) => (every > 0 ? every - (step % every) : Infinity);

/** The events of a run (protocol's RunEvent, one per line of metrics.jsonl); 'start' also carries the config. */
export type TrainEvent =
  Exclude<RunEvent, { kind: 'start' }> | (Extract<RunEvent, { kind: 'start' }> & { config: TrainConfig });

/** Live controls from the host: pause between runs of steps, save a checkpoint after the run under way. */
export interface TrainControl {
  paused: boolean;
  checkpointNow: boolean;
}

export interface TrainOptions {
  tokenizer: Tokenizer;
  signal?: AbortSignal;
  control?: TrainControl;
}

const now = () => Date.now();

const MODEL_FIELDS = ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'bias'] as const;
/** A Llama's fields that shape its weights or its function (blockSize is the context trained, not a weight). */
const LLAMA_FIELDS = [
  'vocabSize',
  'nLayer',
  'nHead',
  'nEmbd',
  'nKvHead',
  'headDim',
  'intermediateSize',
  'ropeTheta',
  'rmsNormEps',
  'tieWordEmbeddings',
  'attentionBias',
] as const;
function fieldsOf(c: TrainModel): [string, unknown][] {
  if (c.family === 'llama')
    return [['family', 'llama'], ...LLAMA_FIELDS.map((k): [string, unknown] => [k, c[k]])];
  return [...MODEL_FIELDS.map((k): [string, unknown] => [k, c[k]]), ['gelu', c.gelu ?? 'none']];
}
function sameModel(a: TrainModel, b: TrainModel): boolean {
  const [fa, fb] = [fieldsOf(a), fieldsOf(b)];
  return (
    fa.length === fb.length &&
    fa.every(([k, v], i) => fb[i][0] === k && JSON.stringify(fb[i][1]) === JSON.stringify(v))
  );
}
function describe(c: TrainModel): string {
  return fieldsOf(c)
    .filter(([k]) => k !== 'gelu')
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

export function validateTrainConfig(
  c: TrainConfig,
  vocabSize: number,
  trainTokens: number,
  valTokens: number,
): void {
  const m = c.model;
  const { bias: _, ...llamaOptions } = MODEL_OPTIONS; // a Llama has no biases
  const modelOptions = m.family === 'llama' ? llamaOptions : MODEL_OPTIONS;
  const problems = [...checkOptions(LOOP_OPTIONS, c, true), ...checkOptions(modelOptions, m, true)];
  if (c.stopAfter !== undefined && !(Number.isSafeInteger(c.stopAfter) && c.stopAfter >= 0))
    problems.push(`stopAfter must be a whole number ≥ 0, got ${c.stopAfter}`);
  if (problems.length) throw new Error(problems.join('; '));
  if (m.nEmbd % m.nHead)
    throw new Error(
      `nEmbd ${m.nEmbd} is not divisible by nHead ${m.nHead}: pick nEmbd a multiple of nHead (e.g. ${m.nHead * Math.ceil(m.nEmbd / m.nHead)})`,
    );
  if (m.family === 'llama' && m.nHead % m.nKvHead)
    throw new Error(
      `nKvHead ${m.nKvHead} does not divide nHead ${m.nHead}: grouped-query attention shares each key/value head among a whole number of query heads; pick a divisor of ${m.nHead}`,
    );
  if (m.family === 'llama' && (m.headDim % 2 || m.headDim * m.nHead !== m.nEmbd))
    throw new Error(
      `the head size nEmbd / nHead = ${m.nEmbd / m.nHead} must be an even whole number for RoPE: pick nEmbd a multiple of ${2 * m.nHead}`,
    );
  if (m.vocabSize !== undefined && m.vocabSize < vocabSize)
    throw new Error(`the model's vocabulary (${m.vocabSize}) is smaller than the tokenizer's (${vocabSize})`);
  if (trainTokens <= m.blockSize)
    throw new Error(
      `the training data has ${trainTokens} tokens, not more than one block (${m.blockSize}): add data or lower blockSize`,
    );
  if (c.evalIters > 0 && valTokens <= m.blockSize)
    throw new Error(
      `the validation split has ${valTokens} tokens, not more than one block (${m.blockSize}): add data, lower blockSize or set evalIters to 0`,
    );
}

/** The sample prompt's ids; throws, naming the prompt, when the tokenizer cannot encode it. */
function samplePrompt(c: TrainConfig, tokenizer: Tokenizer): number[] {
  if (!c.prompt || !(c.sampleInterval > 0 && c.sampleTokens > 0)) return [];
  try {
    return tokenizer.encode(c.prompt, { disallowedSpecial: new Set() });
  } catch (e) {
    throw new Error(
      `the sample prompt ${JSON.stringify(c.prompt)} cannot be encoded (${e instanceof Error ? e.message : String(e)}): give a prompt (--prompt) in the tokenizer's vocabulary, or no samples (--sample-tokens 0)`,
      { cause: e },
    );
  }
}

/** Runs (or resumes) a training run, yielding events; see the module comment. */
export async function* trainGpt(c: TrainConfig, o: TrainOptions): AsyncGenerator<TrainEvent> {
  const sft = c.stage === 'sft';
  const meta = sft ? readSftMeta(c.dataDir) : readDatasetMeta(c.dataDir);
  if (meta.format === 'llm-lens-sft-data') {
    // rows of T + 1 tokens stand in for tokens: more than one block ⇔ at least one row
    const R = meta.blockSize + 1;
    validateTrainConfig(c, meta.vocabSize, meta.train.rows * R, meta.val.rows * R);
    if (meta.blockSize !== c.model.blockSize)
      throw new Error(
        `${c.dataDir} was packed for blocks of ${meta.blockSize}, the model's are ${c.model.blockSize}`,
      );
  } else validateTrainConfig(c, meta.vocabSize, meta.trainTokens, meta.valTokens);
  const config = { ...c.model, vocabSize: c.model.vocabSize ?? meta.vocabSize } as TrainModel;
  const chat = sft ? chatFormatOf(o.tokenizer) : undefined;
  if (sft && chat?.stop === undefined)
    throw new Error(
      `fine-tuning needs a tokenizer with the chat tokens (or its own chat template and eos_token); ${o.tokenizer.name} lacks them`,
    );
  if (sft && !c.initFrom && !c.resumeFrom)
    throw new Error('fine-tuning (stage sft) starts from a base checkpoint: give initFrom (--from)');
  const prompt = sft ? [] : samplePrompt(c, o.tokenizer); // refused before any step, not at the first sample
  fs.mkdirSync(c.runDir, { recursive: true });
  removeDeadCheckpointTemps(c.runDir); // a checkpoint write cut short by a kill (retention.ts)
  const metrics = path.join(c.runDir, 'metrics.jsonl');
  const log = (e: TrainEvent): TrainEvent => {
    fs.appendFileSync(metrics, JSON.stringify(e) + '\n');
    return e;
  };
  const resume = c.resumeFrom ? await loadTrainCheckpoint(c.resumeFrom) : undefined;
  /** Val loss by step, for keepCheckpoints' best: this session's evals and, resuming, the earlier ones. */
  const valLossAt = resume?.trainer ? valLossesOf(metrics, resume.trainer.step) : new Map<number, number>();
  let lastCheckpoint: string | undefined;
  // after each checkpoint, and after each eval (it may find a new best)
  const prune = () =>
    pruneCheckpoints(c.runDir, c.keepCheckpoints, valLossAt, [lastCheckpoint, c.resumeFrom]);
  if (resume && !resume.trainer)
    throw new Error(
      resume.trainerError ??
        `${c.resumeFrom} has no trainer state (trainer.json): it can be sampled, not resumed`,
    );
  if (resume && !Object.keys(resume.moments).length)
    throw new Error(
      `${c.resumeFrom} has no optimizer state (trainer.safetensors): it can be sampled, not resumed`,
    );
  if (resume && !sameModel(resume.model, config))
    throw new Error(
      `${c.resumeFrom} was trained with a different model config (${describe(resume.model)}) than this run asks for (${describe(config)})`,
    );
  // a Llama's checkpoint opens with transformers and openModelForInference: it needs tokenizer.json beside it
  const hfTokenizer =
    config.family === 'llama' && !c.tokenizerFiles.some((f) => path.basename(f) === 'tokenizer.json')
      ? huggingFaceTokenizerFiles(
          path.dirname(c.tokenizerFiles[0] ?? c.runDir),
          config.vocabSize,
          config.blockSize,
        )
      : undefined;
  if (hfTokenizer?.how === 'none')
    throw new Error(
      `a Llama-family checkpoint carries its tokenizer as tokenizer.json, and this run's tokenizer has none: ${hfTokenizer.why}. Train with a char, BPE or tokenizer.json tokenizer`,
    );
  if (!resume)
    writeFileAtomic(
      path.join(c.runDir, 'config.json'),
      JSON.stringify({ format: 'llm-lens-run', version: 1, ...c, model: config, dataset: meta }, null, 2) +
        '\n',
    );

  const rows = c.batchSize * c.gradAccum;
  const T = config.blockSize;
  const { graph, spec } = buildTrainGraph(
    config,
    { batchSize: rows, seqLen: T, target: targetOf(c.device) },
    {
      kind: 'adamw',
      beta1: c.beta1,
      beta2: c.beta2,
      weightDecay: c.weightDecay,
      clip: c.gradClip,
      // a WebGPU shader binds each Concat/Split input and output: stay under the adapter's 16 (lavapipe)
      maxJoin: c.device === 'cpu' ? undefined : GPU_MAX_JOIN,
    },
    { weighted: sft },
  );
  const base = c.initFrom && !resume ? await loadTrainCheckpoint(c.initFrom) : undefined;
  // fine-tuning: the base's embedding grows rows for the chat tokens its tokenizer lacks (chatModel.ts),
  // and for the tool tokens when the run's tokenizer has them, unless it renders with its own chat
  // template (a tokenizer.json's): then its ids stay as they are
  const baseTok = base && sft ? loadCheckpointTokenizer(base.dir) : undefined;
  const own = baseTok && chatFormatOf(baseTok)?.kind === 'template';
  const tools = chat?.kind === 'chatml' && !!chat.chat.tools;
  if (base && baseTok && !own && base.model.family === 'llama')
    throw new Error(
      `${c.initFrom}: a Llama-family model fine-tunes with its own chat template (tokenizer_config.json "chat_template" and "eos_token"), and its tokenizer has none: add them, or start from a model that has them`,
    );
  const grown =
    base && baseTok && !own && base.model.family !== 'llama'
      ? chatModel({ config: base.model, weights: base.weights }, baseTok, { tools })
      : undefined;
  const initial = base && (grown ? { ...base, model: grown.config, weights: grown.weights } : base);
  if (initial && !sameModel(initial.model, config))
    throw new Error(
      `${c.initFrom} has a different model config (${describe(initial.model)}) than this run asks for (${describe(config)})`,
    );
  const init =
    (resume ?? initial)?.weights ?? (initModelWeights(config, c.seed) as Record<string, HostTensor>);
  const model = c.device === 'cpu' ? emitTrainLoop(graph, spec) : emitOnnx(graph); // GPU: the state stays on the device
  const runner = await TrainRunner.create(
    model,
    spec,
    init,
    { ep: c.device, threads: c.threads },
    resume ? { moments: resume.moments, steps: resume.trainer!.step } : undefined,
  );
  const ep = { ep: c.device, threads: c.threads };
  const infer: Evaluator =
    config.family === 'llama'
      ? await GptInference.forFamily(llama, config, init, ep)
      : await GptInference.create(config, init, ep);
  const dtype = meta.format === 'llm-lens-data' ? meta.dtype : 'uint32';
  const train = sft ? undefined : new TokenFile(path.join(c.dataDir, 'train.bin'), dtype);
  const val = sft ? undefined : new TokenFile(path.join(c.dataDir, 'val.bin'), dtype);
  const trainRows = sft ? new SftRows(c.dataDir, 'train') : undefined;
  const valRows = sft ? new SftRows(c.dataDir, 'val') : undefined;
  const prompts = meta.format === 'llm-lens-sft-data' ? meta.prompts.slice(0, c.answerPrompts) : [];
  const offsetsFd = fs.openSync(path.join(c.runDir, 'offsets.i64'), resume ? 'a' : 'w');
  const params = trainParams(config).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  const tokensPerStep = rows * T;
  const rng = new Rng(c.seed, resume?.trainer?.rngState);
  let step = resume?.trainer?.step ?? 0;
  const startStep = step;
  let tokensSeen = resume?.trainer?.tokensSeen ?? 0;
  const elapsedBefore = resume?.trainer?.elapsedMs ?? 0;
  const t0 = now();
  let lastLoss: number | undefined;
  let lastVal: number | undefined;
  const stepMs: number[] = [];

  const weightsNow = async (): Promise<Record<string, HostTensor>> => {
    const w: Record<string, HostTensor> = {};
    for (const s of spec.state) if (s.init === 'param') w[s.name] = await runner.get(s.name);
    return w;
  };
  const momentsNow = (): Promise<Record<string, HostTensor>> => runner.moments();
  const checkpoint = async (): Promise<TrainEvent> => {
    const trainer: TrainerState = {
      format: TRAINER_FORMAT,
      version: TRAINER_FORMAT_VERSION,
      step,
      rngState: rng.state,
      seed: c.seed,
      trainLoss: lastLoss,
      valLoss: lastVal,
      tokensSeen,
      elapsedMs: elapsedBefore + now() - t0,
    };
    const dir = await saveCheckpoint({
      runDir: c.runDir,
      config,
      weights: await weightsNow(),
      moments: await momentsNow(),
      trainer,
      tokenizerFiles: c.tokenizerFiles,
      extraFiles: hfTokenizer?.files,
      configExtra: { tokenizer: c.tokenizerId, ...c.configExtra },
    });
    lastCheckpoint = dir;
    prune();
    return log({ kind: 'checkpoint', step, dir, time: now() });
  };
  const evaluate = async (): Promise<TrainEvent> => {
    infer.setWeights(await weightsNow());
    const evalRng = new Rng((c.seed ^ Math.imul(step + 1, 0x9e3779b1)) >>> 0);
    const losses = async (data: TokenFile | undefined, rows: SftRows | undefined) => {
      if (rows) return weightedLoss(infer, rows, c.batchSize, c.evalIters);
      let sum = 0;
      for (let i = 0; i < c.evalIters; i++)
        sum += await infer.evalLoss(
          sampleBatch(data!, c.batchSize, T, (n) => evalRng.randint(n)),
          c.batchSize,
          T,
        );
      return sum / c.evalIters;
    };
    const trainLoss = await losses(train, trainRows);
    lastVal = await losses(val, valRows);
    valLossAt.set(step, lastVal);
    prune();
    return log({ kind: 'eval', step, trainLoss, valLoss: lastVal, time: now() });
  };
  let kv: KvCacheModel<FamilyConfig> | undefined; // sft's answers: made at the first sample, released at the end
  /** sft: answers to the first held-out prompts, sampled on the KV cache until <|im_end|> or the eos_token. */
  const answers = async (): Promise<TrainEvent[]> => {
    const w = await weightsNow();
    if (kv) kv.setWeights(w);
    else
      kv =
        config.family === 'llama'
          ? await KvCacheModel.forFamily(llama, config, w, ep)
          : await KvCacheModel.create(config, w, ep);
    const events: TrainEvent[] = [];
    for (const [k, messages] of prompts.entries()) {
      const prompt = renderChat(chat!, messages, o.tokenizer, { addGenerationPrompt: true }).ids;
      const out: number[] = [];
      const seed = (c.seed + 7919 * (step + 1) + 104729 * k) >>> 0;
      const sampling = { temperature: c.temperature, topK: c.topK, seed, maxTokens: c.sampleTokens };
      const opts = { ...sampling, stopTokens: [chat!.stop!] };
      for await (const t of generateTokens(kv, prompt, opts, { signal: o.signal }))
        if (t.finish !== 'stopToken') out.push(t.id);
      const text = o.tokenizer.decode(out);
      const asked = messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
      events.push(log({ kind: 'sample', step, prompt: asked, text, time: now() }));
    }
    return events;
  };
  const sample = async (): Promise<TrainEvent> => {
    infer.setWeights(await weightsNow());
    const start = prompt.length ? prompt : [o.tokenizer.specialTokens.values().next().value ?? 0];
    const sampleRng = new Rng((c.seed + 7919 * (step + 1)) >>> 0);
    const ids = await infer.generate(
      start,
      c.sampleTokens,
      { temperature: c.temperature, topK: c.topK, vocabLimit: o.tokenizer.vocabSize },
      () => sampleRng.next(),
      o.signal,
    );
    return log({ kind: 'sample', step, prompt: c.prompt, text: o.tokenizer.decode(ids), time: now() });
  };

  try {
    yield log({
      kind: 'start',
      runDir: c.runDir,
      params,
      tokensPerStep,
      startStep,
      maxIters: c.maxIters,
      stage: c.stage,
      config: c,
      time: now(),
    });
    if (c.saveInitial && !resume) yield await checkpoint();
    let stopped = false;
    for (;;) {
      const atEnd = step >= c.maxIters;
      const initial = step === startStep && !atEnd;
      if (
        c.evalIters > 0 &&
        c.evalInterval > 0 &&
        (step % c.evalInterval === 0 || atEnd) &&
        !(initial && c.noInitialEval)
      )
        yield await evaluate();
      if (c.sampleInterval > 0 && c.sampleTokens > 0 && (step % c.sampleInterval === 0 || atEnd)) {
        if (sft) yield* await answers();
        else yield await sample();
      }
      if (atEnd || stopped) break;
      if (o.signal?.aborted || (c.stopAfter !== undefined && step - startStep >= c.stopAfter)) {
        stopped = true;
        break;
      }
      while (o.control?.paused && !o.signal?.aborted) await new Promise((r) => setTimeout(r, 100));
      if (o.signal?.aborted) {
        stopped = true; // stopped while paused: not one more run
        break;
      }
      const recent = stepMs.slice(-20).sort((a, b) => a - b);
      const typical = recent.length ? recent[recent.length >> 1] : undefined;
      const evals = c.evalIters > 0 ? c.evalInterval : 0;
      const samples = c.sampleTokens > 0 ? c.sampleInterval : 0;
      const k = Math.min(
        runner.isLoop ? (c.stepsPerRun ?? stepsPerRun(typical)) : 1, // a GPU provider's step graph: one step per run
        c.maxIters - step,
        c.stopAfter !== undefined ? startStep + c.stopAfter - step : Infinity,
        untilMultiple(step, evals),
        untilMultiple(step, samples),
        untilMultiple(step, c.checkpointInterval),
      );
      const tRun = performance.now(); // sub-millisecond: a tiny model's step can take under 1 ms
      const runStart = now();
      const inputs = Array.from({ length: k }, (_, i) => {
        const lr = learningRate(step + i, {
          lr: c.lr,
          minLr: c.minLr,
          warmupIters: c.warmupIters,
          lrDecayIters: c.lrDecayIters,
          decay: c.decayLr,
        });
        if (trainRows) {
          // fine-tuning: packed rows drawn with replacement; every row carries loss (sftData.ts), so Σw > 0
          const picked = Array.from({ length: rows }, () => rng.randint(trainRows.rows));
          const b = trainRows.batch(picked);
          return {
            lr,
            offsets: picked,
            lossTokens: b.weights.reduce((s, w) => s + w, 0),
            data: {
              idx: { dtype: 'i64' as const, shape: [rows, T], data: b.idx },
              targets: { dtype: 'i64' as const, shape: [rows, T], data: b.targets },
              weights: { dtype: 'f32' as const, shape: [rows, T], data: b.weights },
            },
          };
        }
        const batch = sampleBatch(train!, rows, T, (n) => rng.randint(n));
        return {
          lr,
          offsets: batch.offsets,
          lossTokens: undefined as number | undefined,
          data: {
            idx: { dtype: 'i64' as const, shape: [rows, T], data: batch.idx },
            targets: { dtype: 'i64' as const, shape: [rows, T], data: batch.targets },
          } as Record<string, HostTensor>,
        };
      });
      const results = await runner.runSteps(inputs);
      const ms = (performance.now() - tRun) / results.length;
      for (const [i, r] of results.entries()) {
        if (!r.applied) {
          const what = (r.nonFinite ?? [])
            .map((w) => (w === 'loss' ? `loss ${r.loss}` : `gradient norm ${r.gradNorm}`))
            .join(' and ');
          yield log({
            kind: 'error',
            step,
            message: `step ${step} went bad: ${what}. The update was not applied; the last good checkpoint is kept. Lower the learning rate or check the data.`,
            time: now(),
          });
          return;
        }
        fs.writeSync(offsetsFd, new Uint8Array(BigInt64Array.from(inputs[i].offsets.map(BigInt)).buffer));
        step++;
        tokensSeen += tokensPerStep;
        lastLoss = r.loss;
        stepMs.push(ms);
        const last = stepMs.slice(-20).sort((a, b) => a - b);
        const at = Math.round(runStart + (i + 1) * ms); // the steps of a run share its time evenly
        yield log({
          kind: 'step',
          step,
          loss: r.loss,
          lr: inputs[i].lr,
          gradNorm: r.gradNorm,
          ms,
          tokPerSec: tokensPerStep / (ms / 1000),
          tokensSeen,
          ...(inputs[i].lossTokens !== undefined ? { lossTokens: inputs[i].lossTokens } : {}),
          elapsedMs: elapsedBefore + at - t0,
          etaMs: last[last.length >> 1] * (c.maxIters - step),
          time: at,
        });
      }
      // a run never passes a multiple of checkpointInterval, so a due checkpoint is at its last step
      const due = c.checkpointInterval > 0 && step % c.checkpointInterval === 0;
      if (due || o.control?.checkpointNow) {
        if (o.control) o.control.checkpointNow = false;
        yield await checkpoint();
      }
    }
    if (!(c.checkpointInterval > 0 && step % c.checkpointInterval === 0 && step > startStep))
      yield await checkpoint();
    yield log({
      kind: 'done',
      step,
      reason: stopped ? 'stopped' : 'finished',
      elapsedMs: elapsedBefore + now() - t0,
      time: now(),
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (o.signal?.aborted && /abort/i.test(message)) {
      yield await checkpoint();
      yield log({
        kind: 'done',
        step,
        reason: 'stopped',
        elapsedMs: elapsedBefore + now() - t0,
        time: now(),
      });
      return;
    }
    yield log({ kind: 'error', step, message, time: now() });
  } finally {
    fs.closeSync(offsetsFd);
    train?.close();
    val?.close();
    await runner.release();
    await infer.release();
    await kv?.release();
  }
}

/**
 * Fine-tuning's eval loss: Σ w·CE / Σ w over the first `batches` batches of `rows` in order (all of them
 * when fewer), so it counts the answer tokens only and each once. A last partial batch is filled with
 * row 0 at weight 0.
 */
export async function weightedLoss(
  infer: Pick<Evaluator, 'evalLoss'>,
  rows: SftRows,
  B: number,
  batches: number,
): Promise<number> {
  let sum = 0;
  let weight = 0;
  for (let b = 0; b < batches && b * B < rows.rows; b++) {
    const picked = Array.from({ length: B }, (_, i) => (b * B + i < rows.rows ? b * B + i : -1));
    const batch = rows.batch(picked.map((r) => Math.max(r, 0)));
    const T = rows.packed.blockSize;
    picked.forEach((r, i) => r < 0 && batch.weights.fill(0, i * T, (i + 1) * T));
    const w = batch.weights.reduce((s, x) => s + x, 0);
    if (!w) continue;
    sum += (await infer.evalLoss(batch, B, T)) * w;
    weight += w;
  }
  return weight ? sum / weight : NaN;
}
