/**
 * Opens a model folder as Hugging Face saves it, picking the family from config.json's model_type: GPT-2
 * (gpt2, LLM Lens's own checkpoints) through train/checkpoint.ts as before, the Llama family (llama, qwen2:
 * llama.ts) from model.safetensors or the shards of model.safetensors.index.json, bf16 / f16 / f32 weights
 * read as float32. Other architectures and quantized weights are refused with a message that names the
 * model_type and what is supported.
 *
 *   const m = await loadModel('SmolLM2-135M');                // { family: 'llama', fam, config, weights, files }
 *   const kv = await KvCacheModel.forFamily(m.fam, m.config, m.weights);
 *   // or, for GPT-2 checkpoints too:  m.family === 'gpt2' ? m.checkpoint : …
 *
 * `maxContext` caps the positions a Llama-family model is run with (blockSize): a 128k-token Llama 3.2
 * would otherwise size every key/value cache for 128k tokens (GPT-2's learned positions stay as trained).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TensorInfo } from '../checkpoint/header';
import { openSafetensors, type SafetensorsFile } from '../checkpoint/safetensors';
import type { HostTensor } from '../runtime/session';
import { few } from '../few';
import { loadCheckpoint, type Checkpoint } from '../train/checkpoint';
import { WEIGHT_DTYPES } from '../train/checkpointConfig';
import type { ModelFamily } from './family';
import { gpt2 } from './gpt2';
import type { GptModelConfig } from './inference';
import { llama, llamaConfigFromJson, type LlamaConfig } from './llama';

/** The config.json model_types LLM Lens runs, and the family of each. */
export const SUPPORTED_MODEL_TYPES: Readonly<Record<string, 'gpt2' | 'llama'>> = {
  gpt2: 'gpt2',
  llama: 'llama',
  qwen2: 'llama',
};

export type LoadedModel =
  | {
      family: 'gpt2';
      fam: ModelFamily<GptModelConfig>;
      config: GptModelConfig;
      weights: Record<string, HostTensor>;
      checkpoint: Checkpoint;
    }
  | {
      family: 'llama';
      fam: ModelFamily<LlamaConfig>;
      config: LlamaConfig;
      weights: Record<string, HostTensor>;
      /** The safetensors files read, in order. */
      files: string[];
    };

export interface LoadModelOptions {
  /** The most positions the model runs (blockSize = min(max_position_embeddings, maxContext)). */
  maxContext?: number;
}

const supported = () =>
  Object.entries(SUPPORTED_MODEL_TYPES)
    .map(([t, f]) => (t === f ? t : `${t} (${f} family)`))
    .join(', ');

/** A model folder's config.json, read and checked: its family, or a refusal naming the model_type. */
export interface ModelFolderConfig {
  dir: string;
  configFile: string;
  json: Record<string, unknown>;
  /** config.json's model_type (undefined: an old LLM Lens GPT-2 checkpoint). */
  modelType: string | undefined;
  family: 'gpt2' | 'llama';
}

/**
 * Reads and checks config.json of a model folder (or beside its safetensors file) without the weights:
 * refuses a missing or invalid config.json, model_types LLM Lens does not run and quantized models.
 */
export function readModelConfig(dirOrFile: string): ModelFolderConfig {
  if (!fs.existsSync(dirOrFile)) throw new Error(`${dirOrFile} does not exist: give a model folder`);
  const dir = fs.statSync(dirOrFile).isDirectory() ? dirOrFile : path.dirname(dirOrFile);
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile))
    throw new Error(
      `${dir} has no config.json: not a model folder (expected config.json and safetensors weights)`,
    );
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new Error(
      `${configFile} is not valid JSON (${e instanceof Error ? e.message : String(e)}): restore the config.json saved with the weights`,
      { cause: e },
    );
  }
  const json = typeof j === 'object' && j !== null && !Array.isArray(j) ? (j as Record<string, unknown>) : {};
  const type = json.model_type;
  const family = type === undefined ? 'gpt2' : SUPPORTED_MODEL_TYPES[String(type)];
  if (!family)
    throw new Error(
      `${configFile}: model_type ${JSON.stringify(type)} is not supported: LLM Lens runs ${supported()}`,
    );
  const quant = json.quantization_config;
  if (quant !== undefined && quant !== null) {
    const method = (quant as Record<string, unknown>).quant_method;
    throw new Error(
      `${configFile}: quantized weights ("quantization_config"${method ? `: ${JSON.stringify(method)}` : ''}) are not supported: use the model's unquantized bf16, f16 or f32 safetensors (model_type ${JSON.stringify(type)})`,
    );
  }
  return { dir, configFile, json, modelType: type === undefined ? undefined : String(type), family };
}

/** Loads a model folder (or its safetensors file with config.json beside it) of any supported family. */
export async function loadModel(dirOrFile: string, o: LoadModelOptions = {}): Promise<LoadedModel> {
  const { dir, configFile, json: j, family } = readModelConfig(dirOrFile);
  if (family === 'gpt2') {
    // GPT-2's positions are a learned table of n_positions rows: its context stays as trained
    const checkpoint = await loadCheckpoint(dirOrFile);
    return { family, fam: gpt2, config: checkpoint.config, weights: checkpoint.weights, checkpoint };
  }
  const config = capContext(llamaConfigFromJson(j, configFile), o.maxContext);
  const { weights, files } = await readWeights(
    dir,
    dirOrFile === dir ? undefined : dirOrFile,
    config,
    configFile,
  );
  return { family, fam: llama, config, weights, files };
}

function capContext<C extends { blockSize: number }>(c: C, maxContext: number | undefined): C {
  if (maxContext === undefined) return c;
  if (!(Number.isInteger(maxContext) && maxContext > 0))
    throw new Error(`loadModel: maxContext must be a positive integer, got ${maxContext}`);
  return { ...c, blockSize: Math.min(c.blockSize, maxContext) };
}

/** Buffers transformers may save beside the parameters (old Llama checkpoints' RoPE frequencies). */
const NOT_PARAMS = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

/**
 * The family's parameters from model.safetensors (or `file`), or the shards model.safetensors.index.json
 * names, as float32; refuses missing, unused, reshaped or non-float (quantized) tensors.
 */
async function readWeights(
  dir: string,
  file: string | undefined,
  c: LlamaConfig,
  configFile: string,
): Promise<{ weights: Record<string, HostTensor>; files: string[] }> {
  const index = path.join(dir, 'model.safetensors.index.json');
  const single = file ?? path.join(dir, 'model.safetensors');
  let shardOf: Map<string, string> | undefined; // tensor name → shard file
  if (!file && !fs.existsSync(single) && fs.existsSync(index)) shardOf = readIndex(index, dir);
  else if (!fs.existsSync(single))
    throw new Error(
      `${dir} has neither model.safetensors nor model.safetensors.index.json: the weights are not beside ${configFile}`,
    );
  const files = shardOf ? [...new Set(shardOf.values())] : [single];
  const opened: SafetensorsFile[] = [];
  try {
    const where = new Map<string, { f: SafetensorsFile; t: TensorInfo }>();
    for (const name of files) {
      if (!fs.existsSync(name))
        throw new Error(`${index} names ${path.basename(name)}, which is missing from ${dir}`);
      const f = await openSafetensors(name);
      opened.push(f);
      for (const t of f.tensors)
        if (!shardOf || shardOf.get(t.name) === name) if (!where.has(t.name)) where.set(t.name, { f, t });
    }
    if (shardOf) {
      const absent = [...shardOf]
        .filter(([n]) => !where.has(n))
        .map(([n, s]) => `${n} (${path.basename(s)})`);
      if (absent.length)
        throw new Error(
          `${index} maps ${few(absent)} to shards that do not hold them: the download is incomplete or damaged`,
        );
    }
    const params = llama.params(c);
    const wanted = new Set(params.map((p) => p.name));
    // a tied lm_head saved anyway is the embedding again, not a parameter
    const ignored = (n: string) => NOT_PARAMS.test(n) || (c.tieWordEmbeddings && n === 'lm_head.weight');
    const missing = params.filter((p) => !where.has(p.name)).map((p) => p.name);
    const unused = [...where.keys()].filter((n) => !wanted.has(n) && !ignored(n));
    const reshaped = params.flatMap((p) => {
      const t = where.get(p.name)?.t;
      return t && t.shape.join(',') !== p.shape.join(',') ? [`${t.name} [${t.shape}], not [${p.shape}]`] : [];
    });
    const src = shardOf ? `${dir}'s shards` : single;
    if (missing.length || unused.length || reshaped.length) {
      const what = [
        missing.length && `it lacks ${missing.length} weight(s) the config needs (${few(missing)})`,
        unused.length && `it holds ${unused.length} weight(s) the config does not use (${few(unused)})`,
        reshaped.length &&
          `${reshaped.length} weight(s) have other shapes than the config implies (${few(reshaped)})`,
      ].filter(Boolean);
      throw new Error(
        `${src} does not match ${configFile}: ${what.join('; ')}. Use the config.json saved with these weights (hidden_size, num_hidden_layers, num_key_value_heads, intermediate_size, vocab_size, tie_word_embeddings)`,
      );
    }
    const odd = params.map((p) => where.get(p.name)!.t).filter((t) => !WEIGHT_DTYPES.includes(t.dtype));
    if (odd.length)
      throw new Error(
        `${src}: ${few(odd.map((t) => `${t.name} is ${t.dtype}`))}: quantized or integer weights are not supported; LLM Lens loads ${WEIGHT_DTYPES.join(', ')} weights: use the model's unquantized safetensors (model_type "${c.attentionBias === 'qkv' ? 'qwen2' : 'llama'}")`,
      );
    const weights: Record<string, HostTensor> = {};
    for (const p of params) {
      const { f, t } = where.get(p.name)!;
      const v = await f.readValues(t.name);
      weights[p.name] = {
        dtype: 'f32',
        shape: [...t.shape],
        data: v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>),
      };
    }
    return { weights, files };
  } finally {
    for (const f of opened) await f.close();
  }
}

/** model.safetensors.index.json's weight_map: tensor name → the shard's path in dir. */
function readIndex(index: string, dir: string): Map<string, string> {
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(index, 'utf8'));
  } catch (e) {
    throw new Error(
      `${index} is not valid JSON (${e instanceof Error ? e.message : String(e)}): download it again`,
      {
        cause: e,
      },
    );
  }
  const map = (j as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw new Error(`${index} has no "weight_map" object (tensor name → shard file): download it again`);
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.'))
      throw new Error(
        `${index}: "weight_map": {"${name}": ${JSON.stringify(shard)}} must be a file name in ${dir}: download it again`,
      );
    out.set(name, path.join(dir, shard));
  }
  return out;
}
