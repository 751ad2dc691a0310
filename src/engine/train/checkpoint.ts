/**
 * Run checkpoints: `checkpoints/step-N/` holds
 *   model.safetensors    the weights in Hugging Face GPT-2 naming (Conv1D [in, out]); lm_head is tied to wte;
 *                        a reward model's also hold score.weight [1, n_embd] (rl/rewardModel.ts); a Llama's
 *                        in Hugging Face Llama naming (model.layers.0.self_attn.q_proj.weight, [out, in])
 *   config.json          GPT2Config fields (n_layer, n_head, n_embd, n_positions, vocab_size …) + "llm_lens";
 *                        a Llama's LlamaConfig fields (model_type llama, LlamaForCausalLM) + "llm_lens"
 *   trainer.safetensors  AdamW moments (adam.m/<name>, adam.v/<name>)
 *   trainer.json         step, RNG state, last losses, format version
 *   tokenizer files      copied from the run, so the folder stands alone
 * The folder is written as step-N.tmp-… and renamed into place: a failed write (disk full) leaves the
 * previous checkpoint as it was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TensorInfo } from '../checkpoint/header';
import { openSafetensors, type SafetensorsFile } from '../checkpoint/safetensors';
import { writeSafetensorsAtomic, type TensorToWrite } from '../checkpoint/writer';
import type { TrainModel } from '../model/gpt';
import type { GptModelConfig } from '../model/inference';
import { llamaConfigJson } from '../model/llama';
import type { HostTensor } from '../runtime/session';
import { few } from '../few';
import { configFromJson, configOfWeights, matchWeights, WEIGHT_DTYPES } from './checkpointConfig';
import { writeFileAtomic } from './data';

/** Hugging Face GPT2ForSequenceClassification's head (rl/rewardModel.ts). */
export const SCORE_WEIGHT = 'score.weight';

export const TRAINER_FORMAT = 'llm-lens-trainer';
export const TRAINER_FORMAT_VERSION = 1;

export interface TrainerState {
  format: typeof TRAINER_FORMAT;
  version: number;
  /** Optimizer steps taken. */
  step: number;
  /** Batch RNG state after `step` steps (train/rng.ts). */
  rngState: number;
  seed: number;
  trainLoss?: number;
  valLoss?: number;
  /** Tokens the model has been trained on. */
  tokensSeen: number;
  elapsedMs: number;
}

export interface Checkpoint {
  dir: string;
  config: GptModelConfig;
  weights: Record<string, HostTensor>;
  /** A reward model's scalar head score.weight [1, n_embd] (GPT2ForSequenceClassification), when the file has one. */
  score?: HostTensor;
  /** adam.m/<name>, adam.v/<name>; empty when the checkpoint has no trainer state (e.g. exported weights). */
  moments: Record<string, HostTensor>;
  trainer?: TrainerState;
  /** Why trainer.json beside the weights could not be read (then `trainer` is undefined). */
  trainerError?: string;
}

/** config.json in transformers' GPT2Config fields, plus LLM Lens's own under "llm_lens". */
export function gpt2ConfigJson(
  c: GptModelConfig,
  extra: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    ...top,
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.blockSize,
    n_ctx: c.blockSize,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    activation_function: c.gelu === 'tanh' ? 'gelu_new' : 'gelu',
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    tie_word_embeddings: true,
    llm_lens: { bias: c.bias, ...extra },
  };
}

/** config.json of a run's model in its family's fields (gpt2ConfigJson, llama.ts's llamaConfigJson). */
export function modelConfigJson(
  c: TrainModel,
  extra: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Record<string, unknown> {
  if (c.family !== 'llama') return gpt2ConfigJson(c, extra, top);
  const { family: _, maxPositionEmbeddings, ...config } = c;
  return llamaConfigJson(
    { ...config, blockSize: Math.max(config.blockSize, maxPositionEmbeddings ?? 0) },
    { ...top, llm_lens: extra },
  );
}

export async function saveCheckpoint(o: {
  runDir: string;
  config: TrainModel;
  weights: Record<string, HostTensor>;
  moments: Record<string, HostTensor>;
  trainer: TrainerState;
  /** Files to copy beside the weights (the tokenizer's). */
  tokenizerFiles: string[];
  /** Files to write beside the weights: [name, contents] (a Llama's tokenizer.json). */
  extraFiles?: [name: string, data: string | Uint8Array][];
  configExtra?: Record<string, unknown>;
  /** config.json fields beside GPT2Config's (a reward model's architectures, num_labels). */
  configTop?: Record<string, unknown>;
  signal?: AbortSignal;
}): Promise<string> {
  const root = path.join(o.runDir, 'checkpoints');
  const final = path.join(root, `step-${o.trainer.step}`);
  const tmp = path.join(root, `.step-${o.trainer.step}.tmp-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const toWrite = (m: Record<string, HostTensor>): TensorToWrite[] =>
      Object.entries(m).map(([name, t]) => {
        if (!(t.data instanceof Float32Array))
          throw new Error(`checkpoint: ${name} is ${t.dtype}, expected f32`);
        return { name, dtype: 'F32', shape: t.shape, data: t.data };
      });
    const meta = { format: 'pt', producer: 'llm-lens' };
    await writeSafetensorsAtomic(path.join(tmp, 'model.safetensors'), toWrite(o.weights), meta, {
      signal: o.signal,
    });
    await writeSafetensorsAtomic(
      path.join(tmp, 'trainer.safetensors'),
      toWrite(o.moments),
      { producer: 'llm-lens' },
      { signal: o.signal },
    );
    writeFileAtomic(path.join(tmp, 'trainer.json'), JSON.stringify(o.trainer, null, 2) + '\n');
    writeFileAtomic(
      path.join(tmp, 'config.json'),
      JSON.stringify(modelConfigJson(o.config, o.configExtra, o.configTop), null, 2) + '\n',
    );
    for (const f of o.tokenizerFiles) fs.copyFileSync(f, path.join(tmp, path.basename(f)));
    for (const [name, data] of o.extraFiles ?? []) writeFileAtomic(path.join(tmp, name), data);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
    return final;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Loads a checkpoint folder (its model.safetensors), or a safetensors file of any name with config.json
 * beside it. The weights must be exactly the parameters config.json describes (checkpointConfig.ts).
 */
export async function loadCheckpoint(dirOrFile: string): Promise<Checkpoint> {
  const dir = checkpointFolder(dirOrFile);
  const isDir = dir === dirOrFile;
  const modelFile = isDir ? path.join(dir, 'model.safetensors') : dirOrFile;
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile))
    throw new Error(
      `${dir} has no config.json: not a checkpoint folder (expected model.safetensors + config.json)`,
    );
  const configJson = readJson(configFile, 'restore the config.json saved with the weights');
  if (!fs.existsSync(modelFile))
    throw new Error(`${modelFile} is missing: the weights are not beside ${configFile}`);
  let f: SafetensorsFile;
  try {
    f = await openSafetensors(modelFile);
  } catch (e) {
    configFromJson(configJson, configFile); // a config.json that is wrong too is the first thing to fix
    throw e;
  }
  let config: GptModelConfig;
  const weights: Record<string, HostTensor> = {};
  let score: HostTensor | undefined;
  try {
    // a reward model's head is not a GPT-2 parameter: read apart, checked by whoever scores with it
    const head = f.tensors.find((t) => t.name === SCORE_WEIGHT && WEIGHT_DTYPES.includes(t.dtype));
    const tensors = f.tensors.filter((t) => t !== head);
    const held = configOfWeights(tensors);
    config = configFromJson(configJson, configFile, held);
    const names = matchWeights(tensors, config, held, { model: modelFile, config: configFile });
    for (const [name, t] of names) weights[name] = await readF32(f, t);
    if (head) score = await readF32(f, head);
    await checkTiedHead(f, weights['transformer.wte.weight'], modelFile);
  } finally {
    await f.close();
  }
  const { trainer, trainerError, moments } = await readTrainerFiles(dir, modelFile);
  return { dir, config, weights, score, moments, trainer, trainerError };
}

/**
 * The trainer state beside a checkpoint's model.safetensors (trainer.json, trainer.safetensors); a damaged
 * one, or none, leaves weights that still sample and export, and resuming says why not (loop.ts).
 */
export async function readTrainerFiles(
  dir: string,
  modelFile: string,
): Promise<Pick<Checkpoint, 'trainer' | 'trainerError' | 'moments'>> {
  let trainer: TrainerState | undefined;
  let trainerError: string | undefined;
  let moments: Record<string, HostTensor> = {};
  const trainerFile = path.join(dir, 'trainer.json');
  // the trainer state beside the folder's model.safetensors is that file's, not another safetensors' in the folder
  if (path.resolve(modelFile) === path.resolve(dir, 'model.safetensors') && fs.existsSync(trainerFile)) {
    try {
      trainer = trainerState(readJson(trainerFile, RESUME_ANOTHER), trainerFile);
      const momentsFile = path.join(dir, 'trainer.safetensors');
      if (fs.existsSync(momentsFile)) moments = await readMoments(momentsFile);
    } catch (e) {
      [trainer, moments, trainerError] = [undefined, {}, e instanceof Error ? e.message : String(e)];
    }
  }
  return { trainer, trainerError, moments };
}

const RESUME_ANOTHER =
  'resume from another checkpoint, or start from these weights with a fresh optimizer (--init-from)';

/** The folder of a checkpoint given as its folder or its safetensors file; throws when there is none. */
export function checkpointFolder(dirOrFile: string): string {
  if (!fs.existsSync(dirOrFile)) throw new Error(noCheckpointAt(dirOrFile));
  return fs.statSync(dirOrFile).isDirectory() ? dirOrFile : path.dirname(dirOrFile);
}

/** Why there is no checkpoint at `p`, and the checkpoints beside where it was looked for. */
function noCheckpointAt(p: string): string {
  const parent = path.dirname(p);
  const steps = fs.existsSync(parent)
    ? fs
        .readdirSync(parent)
        .filter((n) => /^step-\d+$/.test(n))
        .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    : [];
  return steps.length
    ? `${p} does not exist: ${parent} holds ${few(steps.reverse(), 4)} (newest first)`
    : `${p} does not exist: give a checkpoint folder (…/checkpoints/step-N) or its model.safetensors`;
}

function readJson(file: string, fix: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}): ${fix}`, {
      cause: e,
    });
  }
}

/** trainer.json, checked field by field: resuming trusts its step, RNG state and counts. */
function trainerState(j: unknown, file: string): TrainerState {
  const t = (typeof j === 'object' && j !== null && !Array.isArray(j) ? j : {}) as Record<string, unknown>;
  if (t.format !== TRAINER_FORMAT)
    throw new Error(`${file} is not an LLM Lens trainer state: ${RESUME_ANOTHER}`);
  if (typeof t.version === 'number' && t.version > TRAINER_FORMAT_VERSION)
    throw new Error(
      `${file} has version ${t.version}, newer than this LLM Lens (${TRAINER_FORMAT_VERSION}): update LLM Lens to resume it`,
    );
  for (const k of ['version', 'step', 'rngState', 'tokensSeen', 'elapsedMs'] as const)
    if (typeof t[k] !== 'number' || !Number.isSafeInteger(t[k]) || (t[k] as number) < 0)
      throw new Error(
        `${file}: "${k}" must be a whole number ≥ 0, got ${t[k] === undefined ? 'nothing' : JSON.stringify(t[k])}: ${RESUME_ANOTHER}`,
      );
  return t as unknown as TrainerState;
}

/**
 * transformers may save GPT-2's lm_head beside wte; LLM Lens's GPT-2 ties it to wte, so one that differs
 * (a model trained with tie_word_embeddings false) would be run with the wrong output layer.
 */
async function checkTiedHead(f: SafetensorsFile, wte: HostTensor, modelFile: string): Promise<void> {
  const head = f.tensors.find((t) => t.name === 'lm_head.weight' || t.name === 'transformer.lm_head.weight');
  if (!head) return;
  const tied =
    head.shape.join(',') === wte.shape.join(',') &&
    WEIGHT_DTYPES.includes(head.dtype) &&
    (await readF32(f, head)).data.every((v, i) => v === wte.data[i]);
  if (!tied)
    throw new Error(
      `${modelFile}: ${head.name} is not transformer.wte.weight: the model's output layer is not tied to its token embedding (config.json "tie_word_embeddings": false), and LLM Lens's GPT-2 ties them, so it cannot run this model; use a checkpoint trained with tied embeddings`,
    );
}

async function readF32(f: SafetensorsFile, t: TensorInfo): Promise<HostTensor> {
  const v = await f.readValues(t.name);
  const data = v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
  return { dtype: 'f32', shape: [...t.shape], data };
}

/** trainer.safetensors: adam.m/<name>, adam.v/<name>; the optimizer checks them against its graph. */
async function readMoments(file: string): Promise<Record<string, HostTensor>> {
  const f = await openSafetensors(file);
  try {
    const out: Record<string, HostTensor> = {};
    for (const t of f.tensors) {
      if (!WEIGHT_DTYPES.includes(t.dtype))
        throw new Error(`${file}: ${t.name} is ${t.dtype}, not a float dtype: ${RESUME_ANOTHER}`);
      out[t.name] = await readF32(f, t);
    }
    return out;
  } finally {
    await f.close();
  }
}
