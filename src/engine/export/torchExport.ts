/**
 * Hands a training run to PyTorch: writes a folder that trains the run's model on its prepared data with
 * its hyperparameters under torchrun (one GPU, many, several machines), and that LLM Lens opens as one of
 * its runs (metrics.jsonl in the dashboard's events, checkpoints in Hugging Face GPT-2 naming).
 *
 *   const src = await torchSourceFromRunDir('.llmlens/runs/tiny-2026…');       // or torchSourceFromRunFile
 *   const done = exportTorchRun(src, { out: 'tiny-torch', resumeFrom: src.lastCheckpoint });
 *   done.command   // 'torchrun --standalone --nproc_per_node ${NPROC:-1} train.py'
 *
 * OUT/ holds train.py (this folder's train.py, self-contained: torch + numpy), run.json (the resolved run),
 * data/ (train.bin, val.bin, meta.json linked or copied, tokens.json: each id's bytes, for the samples),
 * tokenizer/ (copied into every checkpoint), init/ (the checkpoint it starts from, when asked), run.sh and
 * README.md. Everything is checked before the first byte is written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TrainRequest } from '../../protocol/training';
import { gptParams, type GptConfig } from '../model/gpt';
import { getEncoding, isBuiltinEncoding } from '../tokenizer/builtin';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { gpt2ConfigJson, loadCheckpoint } from '../train/checkpoint';
import { readDatasetMeta, writeFileAtomic, type DatasetMeta } from '../train/data';
import { validateTrainConfig, type TrainConfig } from '../train/loop';
import { prepareRun } from '../train/runConfig';
import { loadCheckpointTokenizer } from '../train/runTokenizer';
import TRAIN_PY from './train.py';
import { torchReadme } from './torchReadme';

export const TORCH_RUN_FORMAT = 'llm-lens-torch-run';
export const TORCH_RUN_VERSION = 1;
/** The command line run.sh runs: NPROC processes on this machine. */
export const TORCHRUN_COMMAND = 'torchrun --standalone --nproc_per_node ${NPROC:-1} train.py';

/** A run to export: its resolved settings and its tokenizer. */
export interface TorchExportSource {
  config: TrainConfig;
  tokenizer: Tokenizer;
  /** What it was read from (a run folder or a run file), for messages and the README. */
  from: string;
  /** A run folder's newest checkpoint, to continue from. */
  lastCheckpoint?: string;
  /** Called once the export is written (removes a temporary folder). */
  dispose?: () => void;
}

export interface TorchExportOptions {
  out: string;
  /** Start from this checkpoint's weights with a new optimizer (LLM Lens's initFrom). */
  initFrom?: string;
  /** Continue this checkpoint's run: its weights, AdamW moments, step and schedule. */
  resumeFrom?: string;
  /** Write into a folder that holds other files (never into a trained one). */
  force?: boolean;
}

export interface TorchExport {
  out: string;
  files: string[];
  command: string;
  params: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function readJson(file: string, fix: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(
      `${file} is missing or not JSON (${e instanceof Error ? e.message : String(e)}): ${fix}`,
      {
        cause: e,
      },
    );
  }
}

/** The newest checkpoint folder of a run (checkpoints/step-N with model.safetensors), if any. */
export function newestCheckpoint(runDir: string): string | undefined {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return undefined;
  const steps = fs
    .readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m && fs.existsSync(path.join(root, m[0], 'model.safetensors')))
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  return steps.length ? path.join(root, steps.at(-1)![0]) : undefined;
}

/** The tokenizer of a run: its files (copied into each checkpoint), else its built-in encoding. */
function runTokenizerOf(c: TrainConfig, where: string): Tokenizer {
  if (c.tokenizerFiles.length) {
    const missing = c.tokenizerFiles.filter((f) => !fs.existsSync(f));
    if (missing.length)
      throw new Error(
        `${where}: the run's tokenizer file ${missing[0]} is gone: restore it, or export from the run file (--config RUN.json) to prepare the run again`,
      );
    return loadCheckpointTokenizer(path.dirname(c.tokenizerFiles[0]));
  }
  if (isBuiltinEncoding(c.tokenizerId)) return getEncoding(c.tokenizerId);
  throw new Error(`${where}: the run names the tokenizer "${c.tokenizerId}" but lists no tokenizer files`);
}

/**
 * A run folder as LLM Lens's trainer left it: its config.json (format llm-lens-run) holds the resolved
 * settings, the prepared dataset's folder and the tokenizer's files.
 */
export async function torchSourceFromRunDir(runDir: string): Promise<TorchExportSource> {
  const file = path.join(runDir, 'config.json');
  if (!fs.existsSync(file))
    throw new Error(
      `${runDir} has no config.json: not a training run folder that has started (give its run file with --config RUN.json instead)`,
    );
  const j = readJson(file, 'export from the run file (--config RUN.json) instead');
  if (!isObject(j) || j.format !== 'llm-lens-run')
    throw new Error(
      `${file}: "format" is ${JSON.stringify(isObject(j) ? j.format : j)}, not "llm-lens-run": not an LLM Lens run folder`,
    );
  const { format: _f, version: _v, dataset: _d, ...config } = j;
  return {
    config: config as unknown as TrainConfig,
    tokenizer: runTokenizerOf(config as unknown as TrainConfig, file),
    from: runDir,
    lastCheckpoint: newestCheckpoint(runDir),
  };
}

/**
 * A run file (*.llmlens.json, or a run's request.json): its data is tokenized (into the data cache,
 * `dataCacheDir`) as Start Training would; the tokenizer is built in a temporary folder.
 */
export async function torchSourceFromRunFile(
  r: TrainRequest,
  from: string,
  log: (line: string) => void,
): Promise<TorchExportSource> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-export-'));
  try {
    const { config, tokenizer } = await prepareRun({ ...r, runDir: tmp }, log);
    return { config, tokenizer, from, dispose: () => fs.rmSync(tmp, { recursive: true, force: true }) };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The model family of a run (the Llama family trains too, elsewhere): export-torch writes GPT-2's. */
function familyOf(c: TrainConfig): string {
  const m = c.model as { family?: unknown };
  const top = c as { family?: unknown };
  const f = m.family ?? top.family ?? 'gpt2';
  return typeof f === 'string' ? f : JSON.stringify(f);
}

/** Why OUT cannot take the export, or undefined (callers check it before preparing anything). */
export function outProblem(out: string, force: boolean): string | undefined {
  if (!fs.existsSync(out)) return undefined;
  if (!fs.statSync(out).isDirectory()) return `${out} is a file: give a folder (it is created when missing)`;
  const names = fs.readdirSync(out);
  if (names.includes('metrics.jsonl') || names.includes('checkpoints'))
    return `${out} holds a trained run (metrics.jsonl, checkpoints/): export into another folder`;
  if (names.length && !force)
    return `${out} is not empty (${names.slice(0, 3).join(', ')}${names.length > 3 ? ' …' : ''}): give an empty or new folder, or --force to write over it`;
  return undefined;
}

/** Checks the checkpoint to start from: the run's model shape; to resume, its trainer state. */
async function checkStart(from: string, model: Record<string, unknown>, resume: boolean, flag: string) {
  const ck = await loadCheckpoint(from);
  const differ = (['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'bias'] as const).filter(
    (k) => (ck.config as unknown as Record<string, unknown>)[k] !== model[k],
  );
  if ((ck.config.gelu ?? 'none') !== (model.gelu ?? 'none')) differ.push('gelu' as never);
  if (differ.length)
    throw new Error(
      `${flag} ${from}: its model (${differ.map((k) => `${k} ${String((ck.config as unknown as Record<string, unknown>)[k])}`).join(', ')}) is not this run's (${differ.map((k) => `${k} ${String(model[k])}`).join(', ')}): give a checkpoint of this run`,
    );
  if (resume && (!ck.trainer || !Object.keys(ck.moments).length))
    throw new Error(
      `${flag} ${from}: ${ck.trainerError ?? 'it has no trainer state (trainer.json + trainer.safetensors)'}: continue from another checkpoint, or start from its weights (--init-from)`,
    );
  return ck;
}

/** Hard-links a file (same disk, no copy), else copies it. */
function linkOrCopy(src: string, dst: string): void {
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

/** Each id's bytes in hex, so that train.py decodes its samples as the tokenizer does. */
function tokenTable(tok: Tokenizer): string[] {
  return Array.from({ length: tok.vocabSize }, (_, id) => {
    try {
      return Buffer.from(tok.tokenBytes(id)).toString('hex');
    } catch {
      return '';
    }
  });
}

/** The sample prompt's ids as the trainer starts its samples (loop.ts): the prompt, else the first special token, else 0. */
function promptIds(c: TrainConfig, tok: Tokenizer): number[] {
  let ids: number[] = [];
  if (c.prompt && c.sampleInterval > 0 && c.sampleTokens > 0) {
    try {
      ids = tok.encode(c.prompt, { disallowedSpecial: new Set() });
    } catch (e) {
      throw new Error(
        `the sample prompt ${JSON.stringify(c.prompt)} cannot be encoded (${e instanceof Error ? e.message : String(e)}): set "prompt" to text in the tokenizer's vocabulary, or "sampleTokens": 0`,
        { cause: e },
      );
    }
  }
  return ids.length ? ids : [tok.specialTokens.values().next().value ?? 0];
}

/** The training settings train.py reads (run.json's "train"). */
const TRAIN_FIELDS = [
  'seed',
  'batchSize',
  'gradAccum',
  'maxIters',
  'lr',
  'minLr',
  'warmupIters',
  'lrDecayIters',
  'decayLr',
  'weightDecay',
  'beta1',
  'beta2',
  'gradClip',
  'evalInterval',
  'evalIters',
  'sampleInterval',
  'sampleTokens',
  'temperature',
  'topK',
  'checkpointInterval',
  'keepCheckpoints',
  'saveInitial',
  'noInitialEval',
] as const satisfies readonly (keyof TrainConfig)[];

/** Writes the export (see the module comment); throws before writing anything when something does not fit. */
export async function exportTorchRun(src: TorchExportSource, o: TorchExportOptions): Promise<TorchExport> {
  const c = src.config;
  const family = familyOf(c);
  if (family !== 'gpt2' || ('family' in c.model && c.model.family === 'llama'))
    throw new Error(`export-torch writes GPT-2-family runs; this run is ${family}`);
  const gpt = c.model; // GPT-2 from here on
  if ((c.stage ?? 'pretrain') !== 'pretrain')
    throw new Error(
      `export-torch writes pretraining runs; this run is ${String(c.stage)} (${src.from}): fine-tune and RL in LLM Lens`,
    );
  if (o.initFrom && o.resumeFrom) throw new Error('give --init-from or --resume, not both');
  const out = path.resolve(o.out);
  const problem = outProblem(out, !!o.force);
  if (problem) throw new Error(problem);
  const meta: DatasetMeta = readDatasetMeta(c.dataDir);
  validateTrainConfig(c, meta.vocabSize, meta.trainTokens, meta.valTokens);
  const model = {
    vocabSize: c.model.vocabSize ?? meta.vocabSize,
    blockSize: c.model.blockSize,
    nLayer: c.model.nLayer,
    nHead: c.model.nHead,
    nEmbd: c.model.nEmbd,
    bias: gpt.bias,
    gelu: gpt.gelu ?? 'none',
  };
  const start = o.resumeFrom ?? o.initFrom;
  const ck = start
    ? await checkStart(start, model, !!o.resumeFrom, o.resumeFrom ? '--resume' : '--init-from')
    : undefined;
  const ids = promptIds(c, src.tokenizer);

  fs.mkdirSync(path.join(out, 'data'), { recursive: true });
  const files: string[] = [];
  const put = (rel: string, text: string, mode?: number) => {
    const file = path.join(out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, text);
    if (mode) fs.chmodSync(file, mode);
    files.push(file);
  };
  for (const f of ['train.bin', 'val.bin', 'meta.json']) {
    linkOrCopy(path.join(c.dataDir, f), path.join(out, 'data', f));
    files.push(path.join(out, 'data', f));
  }
  put('data/tokens.json', JSON.stringify(tokenTable(src.tokenizer)) + '\n');
  const tokenizerFiles = c.tokenizerFiles.map((f) => `tokenizer/${path.basename(f)}`);
  for (const [i, f] of c.tokenizerFiles.entries()) {
    const dst = path.join(out, tokenizerFiles[i]);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (path.resolve(f) !== dst) fs.copyFileSync(f, dst);
    files.push(dst);
  }
  if (ck) {
    const init = path.join(out, 'init');
    fs.rmSync(init, { recursive: true, force: true });
    fs.mkdirSync(init);
    const names = [
      'model.safetensors',
      'config.json',
      ...(o.resumeFrom ? ['trainer.json', 'trainer.safetensors'] : []),
    ];
    for (const n of names) linkOrCopy(path.join(ck.dir, n), path.join(init, n));
    files.push(...names.map((n) => path.join(init, n)));
  }
  const params = paramCount(model);
  const run = {
    format: TORCH_RUN_FORMAT,
    version: TORCH_RUN_VERSION,
    exportedFrom: path.resolve(src.from),
    model,
    train: Object.fromEntries(TRAIN_FIELDS.map((k) => [k, c[k] ?? false])),
    data: {
      dir: 'data',
      dtype: meta.dtype,
      trainTokens: meta.trainTokens,
      valTokens: meta.valTokens,
      tokens: 'data/tokens.json',
    },
    sample: { prompt: c.prompt, promptIds: ids, vocabLimit: src.tokenizer.vocabSize },
    tokenizerFiles,
    checkpointConfig: gpt2ConfigJson(model, { tokenizer: c.tokenizerId, ...c.configExtra }),
    ...(ck ? { [o.resumeFrom ? 'resumeFrom' : 'initFrom']: 'init' } : {}),
  };
  put('run.json', JSON.stringify(run, null, 2) + '\n');
  put('train.py', TRAIN_PY, 0o755);
  put('run.sh', runSh(), 0o755);
  put(
    'README.md',
    torchReadme({
      name: path.basename(out),
      from: path.resolve(src.from),
      params,
      model,
      train: run.train as Record<string, unknown>,
      rows: c.batchSize * c.gradAccum,
      start: ck ? { dir: ck.dir, resume: !!o.resumeFrom, step: ck.trainer?.step } : undefined,
      command: TORCHRUN_COMMAND,
    }),
  );
  return { out, files, command: TORCHRUN_COMMAND, params };
}

/** Parameters of the GPT (tied lm_head counted once), as the trainer's start event reports them. */
function paramCount(m: Omit<GptConfig, 'batchSize'>): number {
  return gptParams({ ...m, batchSize: 1 }).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}

function runSh(): string {
  return `#!/usr/bin/env bash
# Trains this run with PyTorch on NPROC processes of this machine (default 1): one per GPU.
#   ./run.sh                      one GPU, or the CPU
#   NPROC=8 ./run.sh              8 GPUs (DDP)
#   NPROC=2 ./run.sh --max-iters 20     train.py's options follow (python3 train.py --help)
# Several machines: see README.md.
set -euo pipefail
cd "$(dirname "$0")"
exec ${TORCHRUN_COMMAND} "$@"
`;
}
