/**
 * llm-lens prepare | train | sample | eval: pretraining from the command line, printing what nanoGPT prints.
 * Each command's flags come from an option table (src/protocol/trainOptions.ts for train, the sampling
 * table for sample), which also makes its --help.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GptInference } from '../engine/model/inference';
import { PRESETS } from '../engine/model/presets';
import { defaultsOf, flagHelp, parseFlags } from '../engine/options';
import { flushDenormalsToZero } from '../engine/runtime/session';
import { generateTokens, preparePrompt } from '../engine/sample/generate';
import { kvCacheOf, openModelForInference } from '../engine/sample/openModel';
import { loadTrainCheckpoint } from '../engine/train/modelCheckpoint';
import { llama } from '../engine/model/llama';
import { expandInputs, prepareDataset, readDatasetMeta, sampleBatch, TokenFile } from '../engine/train/data';
import { prepareRun } from '../engine/train/runConfig';
import { isRlRunFile, readRunFileOptions, readRunFileText } from '../engine/train/runFile';
import type { Tokenizer } from '../engine/tokenizer/tokenizer';
import { trainGpt, type TrainConfig, type TrainControl } from '../engine/train/loop';
import type { OptionTable, OptionValues } from '../protocol/options';
import { MAX_CONTEXT_OPTION, SAMPLING_OPTIONS } from '../protocol/samplingOptions';
import type { RunControl } from '../protocol/training';
import { DATA_OPTIONS, TRAIN_OPTIONS } from '../protocol/trainOptions';
import { Rng } from '../engine/train/rng';
import { checkDatasetTokenizer, resolveRunTokenizer } from '../engine/train/runTokenizer';
import { UsageError } from './main';
import { rlCommand } from './rl';

/**
 * A command's flags from its table, or its --help: `help` is printed and undefined returned when the
 * arguments ask for it; problems end in a UsageError that lists them all.
 */
function flagsOf<T extends OptionTable>(
  cmd: string,
  args: string[],
  table: T,
  help: string,
): { values: OptionValues<T>; rest: string[] } | undefined {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${help}\nOptions:\n${flagHelp(table).join('\n')}\n`);
    return undefined;
  }
  const { values, rest, problems } = parseFlags(args, table);
  if (problems.length) throw new UsageError(`${cmd}: ${problems.join('; ')}`);
  return { values, rest };
}

function fmtMs(ms: number): string {
  if (ms >= 3600e3) return `${(ms / 3600e3).toFixed(1)} h`;
  if (ms >= 60e3) return `${(ms / 60e3).toFixed(1)} min`;
  return `${(ms / 1000).toFixed(0)} s`;
}

/** Flags of `llm-lens train` that steer the process, not the run. */
// prettier-ignore
const PROCESS_OPTIONS = {
  config: { type: 'str', path: true, meta: 'RUN.json', doc: 'Read options from a run file (*.llmlens.json); flags win.' },
  control: { type: 'str', path: true, meta: 'FILE', doc: "Follow pause and checkpoint requests in this file (a run's control.json)." },
} as const satisfies OptionTable;

const TRAIN_FLAGS = { ...TRAIN_OPTIONS, ...PROCESS_OPTIONS };

const TRAIN_HELP = `llm-lens train --data FILES|FOLDERS [options]      (or: llm-lens train [options] FILES|FOLDERS)

Trains a GPT, printing loss, evals and samples; checkpoints go to RUN_DIR/checkpoints/. On CPU several
steps run in one ONNX run (about 5 s); Ctrl+C stops after them, with a checkpoint. Each option is also a
field of a run file (--max-iters is "maxIters"), but --config, --control, --run-dir, --data-cache-dir
and --log-interval.
`;

/** Builds a TrainConfig from a run file (--config) and flags (flags win); prepares the data. */
export async function trainConfigFrom(
  args: string[],
  log: (s: string) => void,
): Promise<{ config: TrainConfig; tokenizer: Tokenizer; logInterval: number; control?: string } | undefined> {
  const parsed = flagsOf('train', args, TRAIN_FLAGS, TRAIN_HELP);
  if (!parsed) return undefined;
  const { config: file, control, ...flags } = parsed.values;
  const data = [...(flags.data ?? []), ...parsed.rest];
  const r = {
    ...defaultsOf(TRAIN_OPTIONS),
    ...(file ? readRunFileOptions(file, { request: true }) : {}),
    ...flags,
    ...(data.length ? { data } : {}),
  };
  if (!r.data?.length) throw new UsageError('train: give training text: --data FILE|FOLDER (or FILES…)');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const runDir = r.runDir ?? path.join('.llmlens', 'runs', `${r.name ?? r.preset}-${stamp}`);
  const dataCacheDir = r.dataCacheDir ?? path.join(path.dirname(path.dirname(path.resolve(runDir))), 'data');
  const { config, tokenizer } = await prepareRun({ ...r, data: r.data, runDir, dataCacheDir }, log);
  return { config, tokenizer, logInterval: r.logInterval, control };
}

/**
 * Follows a control.json ({paused, checkpointRequest}) written by the extension: the run pauses while
 * paused is true and saves a checkpoint whenever checkpointRequest grows.
 */
export function followControlFile(file: string, control: TrainControl): () => void {
  let seen = -1;
  const read = () => {
    try {
      const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RunControl>;
      control.paused = c.paused === true;
      const req = typeof c.checkpointRequest === 'number' ? c.checkpointRequest : 0;
      if (seen >= 0 && req > seen) control.checkpointNow = true;
      seen = req;
    } catch {
      /* not written yet, or mid-write: keep the last state */
    }
  };
  read();
  const timer = setInterval(read, 300);
  return () => clearInterval(timer);
}

/**
 * What steers a run's process: Ctrl+C or SIGTERM stops after the work under way (`what`; a second one quits
 * at once), and the control file (when given) pauses it and asks for checkpoints. `release()` undoes both.
 */
export function steerRun(
  out: (s: string) => void,
  what: string,
  controlFile: string | undefined,
): { signal: AbortSignal; control: TrainControl; release(): void } {
  const abort = new AbortController();
  const onSigint = () => {
    out(`stopping after ${what} (Ctrl+C again to quit now)…`);
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const control: TrainControl = { paused: false, checkpointNow: false };
  const unfollow = controlFile ? followControlFile(controlFile, control) : () => undefined;
  return {
    signal: abort.signal,
    control,
    release() {
      unfollow();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

export async function trainCommand(args: string[]): Promise<number> {
  // a run file of stage rl (the host starts every run as `train --config request.json`) is the RL loop's
  const at = args.indexOf('--config');
  if (at >= 0 && args[at + 1] && isRlRunFile(readRunFileText(args[at + 1]))) return rlCommand(args);
  const out = (s: string) => process.stdout.write(s + '\n');
  const prepared = await trainConfigFrom(args, out);
  if (!prepared) return 0;
  const { config, tokenizer, logInterval, control: controlFile } = prepared;
  const { signal, control, release } = steerRun(out, 'the steps under way', controlFile);
  let failed = false;
  try {
    flushDenormalsToZero(true); // this process only trains: see session.ts
    for await (const e of trainGpt(config, { tokenizer, signal, control })) {
      switch (e.kind) {
        case 'start':
          out(
            `run: ${e.runDir}\nmodel: ${config.model.nLayer} layers, ${config.model.nHead} heads, ${config.model.nEmbd} wide, block ${config.model.blockSize}: ${(e.params / 1e6).toFixed(2)}M parameters; ${e.tokensPerStep} tokens per step on ${config.device}${e.startStep ? `; resuming at step ${e.startStep}` : ''}`,
          );
          break;
        case 'step':
          if (e.step % logInterval === 0 || e.step === config.maxIters)
            out(
              `iter ${e.step}: loss ${e.loss.toFixed(4)}, time ${e.ms < 10 ? e.ms.toFixed(1) : e.ms.toFixed(0)}ms, lr ${e.lr.toExponential(2)}, ${Math.round(e.tokPerSec)} tok/s${e.lossTokens !== undefined ? `, ${e.lossTokens} with loss` : ''}, eta ${fmtMs(e.etaMs)}`,
            );
          break;
        case 'eval':
          out(`step ${e.step}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}`);
          break;
        case 'sample':
          if (config.stage === 'sft') out(`--- answer at step ${e.step} ---\n> ${e.prompt}\n${e.text}\n---`);
          else out(`--- sample at step ${e.step} ---\n${e.prompt}${e.text}\n---`);
          break;
        case 'checkpoint':
          out(`saved checkpoint ${e.dir}`);
          break;
        case 'done':
          out(
            `${e.reason === 'finished' ? 'finished' : 'stopped'} at step ${e.step} after ${fmtMs(e.elapsedMs)}`,
          );
          break;
        case 'error':
          failed = true;
          process.stderr.write(`llm-lens train: ${e.message}\n`);
          break;
      }
    }
  } finally {
    release();
  }
  return failed ? 1 : 0;
}

const SFT_HELP = `llm-lens sft --from CHECKPOINT_DIR --data FILE.jsonl [--run-dir DIR] [options]

Fine-tunes a base checkpoint into a chat assistant (supervised fine-tuning): llm-lens train with
--stage sft and --init-from. The data is conversations JSONL ({"messages": [{"role", "content"}, …]} a
line); the base tokenizer gains <|im_start|> and <|im_end|>, the embedding grows rows for them, and the
loss counts the assistant's tokens only. Samples are answers to held-out prompts. Resume with --resume.
`;

/** `llm-lens sft`: train with stage sft; --from is --init-from. */
export async function sftCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    const flags = flagHelp(TRAIN_FLAGS).filter((l) => !/^\s*--(stage|init-from|preset|tokenizer)\b/.test(l));
    process.stdout.write(`${SFT_HELP}\nOptions:\n  --from DIR  The base checkpoint.\n${flags.join('\n')}\n`);
    return 0;
  }
  const fromFlag = (a: string) => (a.startsWith('--from=') ? `--init-from=${a.slice(7)}` : a);
  const mapped = args.map((a) => (a === '--from' ? '--init-from' : fromFlag(a)));
  return trainCommand(['--stage', 'sft', ...mapped]);
}

// prettier-ignore
const PREPARE_OPTIONS = {
  tokenizer: DATA_OPTIONS.tokenizer,
  out: { type: 'str', path: true, default: '.llmlens/data', doc: 'Where the dataset folders go (one per data and tokenizer).' },
  valFraction: DATA_OPTIONS.valFraction,
} as const satisfies OptionTable;

const PREPARE_HELP = `llm-lens prepare [options] FILES|FOLDERS

Tokenizes text into train.bin / val.bin (nanoGPT's format) and meta.json; llm-lens train does this itself.
`;

export async function prepareCommand(args: string[]): Promise<number> {
  const parsed = flagsOf('prepare', args, PREPARE_OPTIONS, PREPARE_HELP);
  if (!parsed) return 0;
  const o = { ...defaultsOf(PREPARE_OPTIONS), ...parsed.values };
  if (!parsed.rest.length) throw new UsageError('prepare: give FILES or FOLDERS to tokenize');
  const files = expandInputs(parsed.rest);
  const tok = resolveRunTokenizer(o.tokenizer, files, path.join(o.out, 'tokenizers'));
  const ds = await prepareDataset({
    files,
    tokenizer: tok.tokenizer,
    tokenizerId: tok.id,
    cacheDir: o.out,
    valFraction: o.valFraction,
  });
  process.stdout.write(
    `${ds.dir}\ntrain ${ds.meta.trainTokens} tokens, val ${ds.meta.valTokens} tokens, ${ds.meta.dtype}, vocab ${ds.meta.vocabSize}${ds.cached ? ' (cached)' : ''}\n`,
  );
  return 0;
}

// prettier-ignore
const SAMPLE_OPTIONS = {
  checkpoint: { type: 'str', path: true, meta: 'DIR', doc: 'A run checkpoint or a Hugging Face model folder: gpt2, llama, qwen2 (or give it first).' },
  prompt: { type: 'str', default: '', doc: 'Text to continue (empty: from the end-of-text or bos token).' },
  maxContext: MAX_CONTEXT_OPTION,
  ...SAMPLING_OPTIONS,
  numSamples: { type: 'int', min: 1, default: 1, doc: 'Samples, the nth with seed + n.' },
  stop: { type: 'list', doc: 'End a sample once its text holds this.' },
  json: { type: 'bool', doc: 'One JSON line per sample: each token with its top candidates.' },
  top: { type: 'int', min: 1, default: 5, doc: 'Candidates per token in --json.' },
} as const satisfies OptionTable;

const SAMPLE_HELP = `llm-lens sample --checkpoint DIR [options]

Generates text from a checkpoint or a Hugging Face model folder (its tokenizer.json) on the KV cache; --json prints each token with its top probabilities.
`;

export async function sampleCommand(args: string[]): Promise<number> {
  const parsed = flagsOf('sample', args, SAMPLE_OPTIONS, SAMPLE_HELP);
  if (!parsed) return 0;
  const {
    checkpoint,
    prompt,
    numSamples: samples,
    seed,
    json,
    top: topN,
    maxContext,
    ...o
  } = {
    ...defaultsOf(SAMPLE_OPTIONS),
    ...parsed.values,
  };
  const dir = checkpoint ?? parsed.rest[0];
  if (!dir)
    throw new UsageError(
      'sample: --checkpoint DIR is required (a run checkpoint or a Hugging Face GPT-2 folder)',
    );
  const opened = await openModelForInference(dir, { maxContext });
  const { tokenizer } = opened;
  const m = await kvCacheOf(opened.model);
  try {
    const p = preparePrompt(
      tokenizer.encode(prompt, { disallowedSpecial: new Set() }),
      opened.model.config.blockSize,
      opened.start,
    );
    if (!json) for (const note of p.notes) process.stderr.write(`(${note})\n`);
    for (let n = 0; n < samples; n++) {
      const steps: unknown[] = [];
      let text = '';
      for await (const t of generateTokens(
        m,
        p.ids,
        { ...o, topN, seed: seed + n, vocabLimit: tokenizer.vocabSize },
        { decode: (ids) => tokenizer.decode(ids) },
      )) {
        text += t.text;
        if (json)
          steps.push({
            id: t.id,
            text: tokenizer.decode([t.id]),
            p: t.prob,
            rank: t.rank,
            entropy: t.entropy,
            top: t.top.map((c) => ({ id: c.id, text: tokenizer.decode([c.id]), p: c.p, logit: c.logit })),
          });
        else process.stdout.write(t.text);
      }
      if (json) process.stdout.write(JSON.stringify({ prompt, text, notes: p.notes, tokens: steps }) + '\n');
      else process.stdout.write(`\n${samples > 1 ? '---------------\n' : ''}`);
    }
  } finally {
    await m.release();
  }
  return 0;
}

// prettier-ignore
const EVAL_OPTIONS = {
  checkpoint: { type: 'str', path: true, meta: 'DIR', doc: 'The checkpoint to evaluate.' },
  data: { type: 'str', path: true, meta: 'DATASET_DIR', doc: 'A prepared dataset folder (llm-lens prepare).' },
  iters: { type: 'int', min: 1, default: 20, doc: 'Batches per split.' },
  batchSize: { type: 'int', min: 1, default: 8, doc: 'Sequences per batch.' },
  blockSize: { type: 'int', min: 1, doc: "Tokens per sequence (default: the model's context)." },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1, doc: 'Seed of the batches.' },
} as const satisfies OptionTable;

const EVAL_HELP = `llm-lens eval --checkpoint DIR --data DATASET_DIR [options]

Prints the mean loss of a checkpoint (GPT-2 or Llama family: a run's checkpoint or a model folder) on the
train and val splits of a dataset.
`;

export async function evalCommand(args: string[]): Promise<number> {
  const parsed = flagsOf('eval', args, EVAL_OPTIONS, EVAL_HELP);
  if (!parsed) return 0;
  const {
    checkpoint: dir,
    data,
    iters,
    batchSize: B,
    blockSize,
    seed,
  } = { ...defaultsOf(EVAL_OPTIONS), ...parsed.values };
  if (!dir || !data) throw new UsageError('eval: --checkpoint DIR and --data DATASET_DIR are required');
  const ckpt = await loadTrainCheckpoint(dir);
  const config = ckpt.model;
  const meta = readDatasetMeta(data);
  checkDatasetTokenizer(data, meta.tokenizer, ckpt.dir);
  if (meta.vocabSize > config.vocabSize)
    throw new Error(
      `the dataset's vocabulary (${meta.vocabSize}) is larger than the model's (${config.vocabSize}): it was prepared with another tokenizer`,
    );
  if (blockSize !== undefined && blockSize > config.blockSize)
    throw new UsageError(
      `eval: --block-size ${blockSize} is longer than ${ckpt.dir}'s context (${config.blockSize}); give at most ${config.blockSize}`,
    );
  const T = blockSize ?? config.blockSize;
  for (const split of ['train', 'val'] as const) {
    const tokens = split === 'train' ? meta.trainTokens : meta.valTokens;
    if (tokens < T + 1)
      throw new UsageError(
        `eval: the ${split} split of ${data} has ${tokens} tokens, fewer than a sequence of ${T} + 1; give a smaller --block-size`,
      );
  }
  const m =
    config.family === 'llama'
      ? await GptInference.forFamily(llama, config, ckpt.weights)
      : await GptInference.create(config, ckpt.weights);
  const rng = new Rng(seed);
  try {
    for (const split of ['train', 'val'] as const) {
      const f = new TokenFile(path.join(data, `${split}.bin`), meta.dtype);
      let sum = 0;
      for (let i = 0; i < iters; i++)
        sum += await m.evalLoss(
          sampleBatch(f, B, T, (n) => rng.randint(n)),
          B,
          T,
        );
      f.close();
      process.stdout.write(`${split} loss ${(sum / iters).toFixed(4)}\n`);
    }
  } finally {
    await m.release();
  }
  return 0;
}

export const PRESET_HELP = PRESETS.map((p) => `${p.name} (${p.description})`).join('; ');
