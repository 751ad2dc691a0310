/**
 * Export for Hugging Face: a folder that `transformers`' GPT2LMHeadModel.from_pretrained loads —
 * config.json in GPT2Config fields, model.safetensors in GPT-2 naming and Conv1D [in, out] layout, and
 * the tokenizer files found beside the checkpoint. The folder appears whole or not at all: everything is
 * written into a temp folder beside it, fsynced, then renamed into place. Pure Node (no vscode).
 *
 *   const f = await openSafetensors('run/checkpoints/step-500/model.safetensors');
 *   await exportForHuggingFace(f, { outDir: 'run/hf-step-500', nHead: 4, searchDirs: ['run/checkpoints/step-500', 'run'] });
 *   // run/hf-step-500/{config.json, model.safetensors, tokenizer.json …}
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError, throwIfAborted } from '../../engine/checkpoint/errors';
import type { TensorInfo } from '../../engine/checkpoint/header';
import type { SafetensorsFile } from '../../engine/checkpoint/safetensors';
import { guessArchitecture } from '../../engine/checkpoint/summary';
import { writeSafetensorsAtomic, type TensorToWrite } from '../../engine/checkpoint/writer';
import { DTYPE_BYTES, type Dtype } from '../../engine/checkpoint/dtypes';
import { huggingFaceTokenizerFiles } from '../../engine/train/runTokenizer';

/** Tokenizer files transformers' AutoTokenizer reads, copied when found. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'added_tokens.json',
  // a tokenizer trained with LLM Lens (tiktoken ranks), kept so the folder stands alone
  'llmlens-tokenizer.json',
  'tokenizer.tiktoken',
  'vocab.txt',
];

/** Where each source tensor goes: its GPT-2 name and whether it is transposed from nn.Linear [out, in] to Conv1D [in, out]. */
export interface ExportPlan {
  tensors: Array<{ from: string; to: string; transpose: boolean }>;
  /** Source tensors left out (attention mask buffers), with why. */
  dropped: Array<{ name: string; reason: string }>;
  /** GPT-2 biases the source lacks (nanoGPT bias=False): written as zeros. */
  zeroBiases: Array<{ name: string; dtype: Dtype; size: number }>;
  nLayer: number;
  nEmbd: number;
  vocabSize: number;
  nPositions: number;
  /** c_fc's width when it is not 4 × n_embd. */
  nInner?: number;
  /** The source has a separate lm_head.weight (kept only when it differs from wte). */
  lmHead?: string;
}

/** The GPT-2 name of a source tensor name: strips torch.compile / DDP prefixes, adds `transformer.`. */
export function gpt2Name(name: string): string {
  let n = name;
  for (const prefix of ['_orig_mod.', 'module.']) if (n.startsWith(prefix)) n = n.slice(prefix.length);
  if (/^(h\.\d+\.|wte\.|wpe\.|ln_f\.)/.test(n)) n = `transformer.${n}`;
  return n;
}

const LINEAR_WEIGHTS = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** Plans the export of a checkpoint with GPT-2 names; throws CheckpointError when it is not one. */
export function planGpt2Export(tensors: readonly TensorInfo[]): ExportPlan {
  const byGpt2 = new Map(tensors.map((t) => [gpt2Name(t.name), t]));
  const wte = byGpt2.get('transformer.wte.weight');
  const wpe = byGpt2.get('transformer.wpe.weight');
  const cAttn = byGpt2.get('transformer.h.0.attn.c_attn.weight');
  if (!wte || !wpe || wte.shape.length !== 2 || wpe.shape.length !== 2 || !cAttn) {
    throw new CheckpointError(
      'bad-input',
      'Export for Hugging Face needs a GPT-2 checkpoint (transformer.wte.weight, transformer.wpe.weight, transformer.h.0.attn.c_attn.weight)',
    );
  }
  const [vocabSize, nEmbd] = wte.shape;
  const nPositions = wpe.shape[0];
  const nLayer = guessArchitecture(tensors.map((t) => ({ ...t, name: gpt2Name(t.name) }))).nLayer ?? 0;
  // Conv1D keeps c_attn as [C, 3C]; nanoGPT's nn.Linear as [3C, C]
  const linear = cAttn.shape[0] === 3 * nEmbd && cAttn.shape[1] === nEmbd && nEmbd !== 3 * nEmbd;
  const plan: ExportPlan = { tensors: [], dropped: [], zeroBiases: [], nLayer, nEmbd, vocabSize, nPositions };
  for (const t of tensors) {
    const to = gpt2Name(t.name);
    if (!t.supported)
      throw new CheckpointError(
        'unsupported-dtype',
        `'${t.name}' has dtype ${t.dtype}, which the export does not write; convert it to F32, F16 or BF16`,
      );
    if (/\.attn\.(masked_)?bias$/.test(to) && t.shape.length === 4) {
      plan.dropped.push({ name: t.name, reason: 'causal mask buffer (transformers rebuilds it)' });
      continue;
    }
    if (to === 'lm_head.weight') {
      plan.lmHead = t.name;
      continue;
    }
    plan.tensors.push({
      from: t.name,
      to,
      transpose: linear && LINEAR_WEIGHTS.test(to) && t.shape.length === 2,
    });
  }
  const have = new Set(plan.tensors.map((t) => t.to));
  const dtype = wte.dtype as Dtype;
  const fc = byGpt2.get('transformer.h.0.mlp.c_fc.weight');
  const inner = fc ? fc.shape[linear ? 0 : 1] : 4 * nEmbd; // Linear [out, in], Conv1D [in, out]
  if (inner !== 4 * nEmbd) plan.nInner = inner;
  const biasSizes: Array<[string, number]> = [
    ['ln_1', nEmbd],
    ['attn.c_attn', 3 * nEmbd],
    ['attn.c_proj', nEmbd],
    ['ln_2', nEmbd],
    ['mlp.c_fc', inner],
    ['mlp.c_proj', nEmbd],
  ];
  for (let i = 0; i < nLayer; i++) {
    for (const [m, size] of biasSizes) {
      const name = `transformer.h.${i}.${m}.bias`;
      if (!have.has(name)) plan.zeroBiases.push({ name, dtype, size });
    }
  }
  if (!have.has('transformer.ln_f.bias'))
    plan.zeroBiases.push({ name: 'transformer.ln_f.bias', dtype, size: nEmbd });
  return plan;
}

/** config.json in GPT2Config's field names; values the source config.json sets (eos, epsilon …) are kept. */
export function gpt2Config(
  plan: ExportPlan,
  nHead: number,
  tied: boolean,
  torchDtype: string,
  source: Record<string, unknown> = {},
): Record<string, unknown> {
  const pick = <T>(key: string, fallback: T): T | unknown =>
    source[key] !== undefined ? source[key] : fallback;
  const defaultToken = plan.vocabSize === 50257 ? 50256 : null;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: plan.vocabSize,
    n_positions: plan.nPositions,
    n_ctx: plan.nPositions,
    n_embd: plan.nEmbd,
    n_layer: plan.nLayer,
    n_head: nHead,
    n_inner: plan.nInner ?? null,
    activation_function: pick('activation_function', 'gelu_new'),
    resid_pdrop: pick('resid_pdrop', 0.0),
    embd_pdrop: pick('embd_pdrop', 0.0),
    attn_pdrop: pick('attn_pdrop', 0.0),
    layer_norm_epsilon: pick('layer_norm_epsilon', 1e-5),
    initializer_range: pick('initializer_range', 0.02),
    bos_token_id: pick('bos_token_id', defaultToken),
    eos_token_id: pick('eos_token_id', defaultToken),
    tie_word_embeddings: tied,
    use_cache: true,
    torch_dtype: torchDtype,
  };
}

const TORCH_DTYPES: Record<string, string> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
};

/** Raw little-endian bytes as the typed array the writer wants for this dtype (bytes start 0-aligned). */
function typed(dtype: Dtype, bytes: Uint8Array): ArrayBufferView {
  const b = bytes.buffer as ArrayBuffer;
  const o = bytes.byteOffset;
  switch (dtype) {
    case 'F64':
      return new Float64Array(b, o, bytes.byteLength / 8);
    case 'F32':
      return new Float32Array(b, o, bytes.byteLength / 4);
    case 'F16':
    case 'BF16':
    case 'U16':
      return new Uint16Array(b, o, bytes.byteLength / 2);
    case 'I64':
      return new BigInt64Array(b, o, bytes.byteLength / 8);
    case 'U64':
      return new BigUint64Array(b, o, bytes.byteLength / 8);
    case 'I32':
      return new Int32Array(b, o, bytes.byteLength / 4);
    case 'U32':
      return new Uint32Array(b, o, bytes.byteLength / 4);
    case 'I16':
      return new Int16Array(b, o, bytes.byteLength / 2);
    case 'I8':
      return new Int8Array(b, o, bytes.byteLength);
    case 'U8':
    case 'BOOL':
      return bytes;
  }
}

/** Transposes a row-major [rows, cols] matrix of `item`-byte elements. */
export function transposeBytes(bytes: Uint8Array, rows: number, cols: number, item: number): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const src = (r * cols + c) * item;
      const dst = (c * rows + r) * item;
      for (let k = 0; k < item; k++) out[dst + k] = bytes[src + k];
    }
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function writeFileSynced(path: string, text: string): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface ExportOptions {
  /** The folder to create; it must not exist yet. */
  outDir: string;
  /** n_head: not in the tensors, so it comes from config.json or the user. */
  nHead: number;
  /** Folders searched, in order, for tokenizer files (the checkpoint's folder, then its run's). */
  searchDirs?: string[];
  /** The source config.json, parsed, whose extra GPT2Config fields are kept. */
  sourceConfig?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface ExportResult {
  folder: string;
  /** File names written into the folder. */
  files: string[];
  config: Record<string, unknown>;
  plan: ExportPlan;
}

/** Writes the Hugging Face folder atomically (temp folder, fsync, rename). */
export async function exportForHuggingFace(
  file: SafetensorsFile,
  options: ExportOptions,
): Promise<ExportResult> {
  const { outDir, nHead } = options;
  const plan = planGpt2Export(file.tensors);
  if (!Number.isSafeInteger(nHead) || nHead < 1 || plan.nEmbd % nHead !== 0) {
    throw new CheckpointError('bad-input', `n_head must divide n_embd (${plan.nEmbd}), got ${nHead}`);
  }
  if (await exists(outDir))
    throw new CheckpointError('bad-input', `${outDir} already exists; choose a new folder name`);
  const tmp = join(dirname(outDir), `.${basename(outDir)}.${randomBytes(4).toString('hex')}.tmp`);
  await mkdir(tmp);
  try {
    const tensors: TensorToWrite[] = [];
    for (const p of plan.tensors) {
      throwIfAborted(options.signal);
      const t = file.tensor(p.from);
      let bytes = await file.readBytes(p.from);
      let shape = t.shape;
      if (p.transpose) {
        bytes = transposeBytes(bytes, t.shape[0], t.shape[1], t.itemBytes!);
        shape = [t.shape[1], t.shape[0]];
      }
      tensors.push({ name: p.to, dtype: t.dtype as Dtype, shape, data: typed(t.dtype as Dtype, bytes) });
    }
    let tied = true;
    if (plan.lmHead) {
      const wteName = plan.tensors.find((p) => p.to === 'transformer.wte.weight')!.from;
      const [a, b] = [await file.readBytes(wteName), await file.readBytes(plan.lmHead)];
      if (
        file.tensor(plan.lmHead).dtype !== file.tensor(wteName).dtype ||
        a.length !== b.length ||
        !a.every((x, i) => x === b[i])
      ) {
        tied = false;
        const t = file.tensor(plan.lmHead);
        tensors.push({
          name: 'lm_head.weight',
          dtype: t.dtype as Dtype,
          shape: t.shape,
          data: typed(t.dtype as Dtype, b),
        });
      }
    }
    for (const z of plan.zeroBiases) {
      tensors.push({
        name: z.name,
        dtype: z.dtype,
        shape: [z.size],
        data: typed(z.dtype, new Uint8Array(z.size * DTYPE_BYTES[z.dtype])),
      });
    }
    const wteDtype = file.tensor(plan.tensors.find((p) => p.to === 'transformer.wte.weight')!.from).dtype;
    const config = gpt2Config(plan, nHead, tied, TORCH_DTYPES[wteDtype] ?? 'float32', options.sourceConfig);
    await writeSafetensorsAtomic(
      join(tmp, 'model.safetensors'),
      tensors,
      { format: 'pt' },
      { signal: options.signal },
    );
    await writeFileSynced(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    const files = ['config.json', 'model.safetensors'];
    for (const name of TOKENIZER_FILES) {
      for (const dir of options.searchDirs ?? []) {
        const src = join(dir, name);
        if (await exists(src)) {
          await copyFile(src, join(tmp, name));
          const fh = await open(join(tmp, name), 'r+');
          await fh.sync().finally(() => fh.close());
          files.push(name);
          break;
        }
      }
    }
    // no tokenizer.json beside the checkpoint: convert its tokenizer (character vocabulary, LLM Lens BPE, built-in encoding)
    const dir = options.searchDirs?.[0];
    if (dir && !files.includes('tokenizer.json')) {
      const tok = huggingFaceTokenizerFiles(dir, plan.vocabSize, plan.nPositions);
      if (tok.how !== 'none') {
        for (const [name, data] of tok.files.filter(([n]) => !files.includes(n))) {
          await writeFileSynced(
            join(tmp, name),
            typeof data === 'string' ? data : Buffer.from(data).toString('utf8'),
          );
          files.push(name);
        }
      }
    }
    throwIfAborted(options.signal);
    await rename(tmp, outDir);
    return { folder: outDir, files, config, plan };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Reads a JSON object file, or undefined when it is missing or not a JSON object. */
export async function readJsonObject(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v: unknown = JSON.parse(await readFile(path, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
