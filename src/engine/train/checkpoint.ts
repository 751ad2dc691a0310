/**
 * Run checkpoints: `checkpoints/step-N/` holds
 *   model.safetensors    the weights in Hugging Face GPT-2 naming (Conv1D [in, out]); lm_head is tied to wte
 *   config.json          GPT2Config fields (n_layer, n_head, n_embd, n_positions, vocab_size …) + "llm_lens"
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
import type { GptModelConfig } from '../model/inference';
import type { HostTensor } from '../runtime/session';
import { configFromJson, configOfWeights, matchWeights, WEIGHT_DTYPES } from './checkpointConfig';
import { writeFileAtomic } from './data';

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
  /** adam.m/<name>, adam.v/<name>; empty when the checkpoint has no trainer state (e.g. exported weights). */
  moments: Record<string, HostTensor>;
  trainer?: TrainerState;
}

/** config.json in transformers' GPT2Config fields, plus LLM Lens's own under "llm_lens". */
export function gpt2ConfigJson(
  c: GptModelConfig,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
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

export async function saveCheckpoint(o: {
  runDir: string;
  config: GptModelConfig;
  weights: Record<string, HostTensor>;
  moments: Record<string, HostTensor>;
  trainer: TrainerState;
  /** Files to copy beside the weights (the tokenizer's). */
  tokenizerFiles: string[];
  configExtra?: Record<string, unknown>;
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
      JSON.stringify(gpt2ConfigJson(o.config, o.configExtra), null, 2) + '\n',
    );
    for (const f of o.tokenizerFiles) fs.copyFileSync(f, path.join(tmp, path.basename(f)));
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
  const isDir = fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isDirectory();
  const dir = isDir ? dirOrFile : path.dirname(dirOrFile);
  const modelFile = isDir ? path.join(dir, 'model.safetensors') : dirOrFile;
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile))
    throw new Error(
      `${dir} has no config.json: not a checkpoint folder (expected model.safetensors + config.json)`,
    );
  let configJson: unknown;
  try {
    configJson = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new Error(`${configFile} is not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      cause: e,
    });
  }
  if (!fs.existsSync(modelFile)) throw new Error(`${modelFile} is missing`);
  let f: SafetensorsFile;
  try {
    f = await openSafetensors(modelFile);
  } catch (e) {
    configFromJson(configJson, configFile); // a config.json that is wrong too is the first thing to fix
    throw e;
  }
  let config: GptModelConfig;
  const weights: Record<string, HostTensor> = {};
  try {
    const held = configOfWeights(f.tensors);
    config = configFromJson(configJson, configFile, held);
    const names = matchWeights(f.tensors, config, held, { model: modelFile, config: configFile });
    for (const [name, t] of names) weights[name] = await readF32(f, t);
  } finally {
    await f.close();
  }
  let trainer: TrainerState | undefined;
  let moments: Record<string, HostTensor> = {};
  const trainerFile = path.join(dir, 'trainer.json');
  // the trainer state beside the folder's model.safetensors is that file's, not another safetensors' in the folder
  if (path.resolve(modelFile) === path.resolve(dir, 'model.safetensors') && fs.existsSync(trainerFile)) {
    trainer = JSON.parse(fs.readFileSync(trainerFile, 'utf8')) as TrainerState;
    if (trainer.format !== TRAINER_FORMAT) throw new Error(`${trainerFile} is not an LLM Lens trainer state`);
    if (trainer.version > TRAINER_FORMAT_VERSION)
      throw new Error(
        `${trainerFile} has version ${trainer.version}, newer than this LLM Lens (${TRAINER_FORMAT_VERSION}): update LLM Lens to resume it`,
      );
    // without the moments the weights still sample and export; resuming says what is missing (train/loop.ts)
    if (fs.existsSync(path.join(dir, 'trainer.safetensors')))
      moments = await readMoments(path.join(dir, 'trainer.safetensors'));
  }
  return { dir, config, weights, moments, trainer };
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
      if (WEIGHT_DTYPES.includes(t.dtype)) out[t.name] = await readF32(f, t);
    }
    return out;
  } finally {
    await f.close();
  }
}
