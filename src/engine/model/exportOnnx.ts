/**
 * Export a GPT for onnxruntime (any language) and transformers.js: a folder laid out like a
 * Hugging Face ONNX model repository,
 *
 *   config.json            GPT2Config fields (model_type gpt2), which transformers.js reads for the cache shapes
 *   tokenizer.json         the checkpoint's tokenizer for Hugging Face tokenizers, when it has one (see below)
 *   tokenizer_config.json
 *   onnx/model.onnx        the decoder with a key/value cache and the weights inside (model/hfOnnx.ts)
 *
 * so that `AutoModelForCausalLM.from_pretrained(folder)` and `pipeline('text-generation', folder)` in
 * transformers.js load it. The checkpoint's tokenizer (a character vocabulary, an LLM Lens BPE, a
 * built-in encoding) is converted to a tokenizer.json, or its tokenizer.json copied; when it has none
 * the result says why, and the model still loads. The folder appears whole or not at all.
 *
 *   await exportGptOnnx(config, weights, 'out/my-model-onnx', { tokenizerDir: 'runs/x/checkpoints/step-500' })
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeModel } from '../graph/onnxProto';
import type { HostTensor } from '../runtime/session';
import { gpt2ConfigJson } from '../train/checkpoint';
import { writeFileAtomic } from '../train/data';
import { huggingFaceTokenizerFiles } from '../train/runTokenizer';
import { buildHfDecoderModel } from './hfOnnx';
import type { GptModelConfig } from './inference';

/** A protobuf message (so an ONNX file with its weights inside) is at most 2 GB. */
const ONNX_PROTOBUF_LIMIT = 2 ** 31;

export interface OnnxExportResult {
  folder: string;
  /** Paths relative to the folder. */
  files: string[];
  /** How the tokenizer got there: 'converted' (character vocabulary, LLM Lens BPE, built-in encoding), 'copied' (tokenizer.json), or 'none'. */
  tokenizer: 'converted' | 'copied' | 'none';
  /** Why there is no tokenizer.json, when tokenizer is 'none'. */
  tokenizerMissing?: string;
}

export async function exportGptOnnx(
  c: GptModelConfig,
  weights: Record<string, HostTensor>,
  outDir: string,
  o: { tokenizerDir?: string; configExtra?: Record<string, unknown> } = {},
): Promise<OnnxExportResult> {
  if (fs.existsSync(outDir)) throw new Error(`${outDir} already exists; choose a new folder name`);
  const bytes = Object.values(weights).reduce((a, w) => a + w.data.byteLength, 0);
  if (bytes > ONNX_PROTOBUF_LIMIT - 64 * 2 ** 20) {
    throw new Error(
      `this model's weights are ${(bytes / 2 ** 30).toFixed(2)} GB; one ONNX file holds under 2 GB (protobuf's limit) and LLM Lens does not write ONNX external data yet: export for Hugging Face instead`,
    );
  }
  const model = encodeModel(buildHfDecoderModel(c, weights));
  const files: [string, Uint8Array | string][] = [
    ['config.json', JSON.stringify({ ...gpt2ConfigJson(c, o.configExtra), use_cache: true }, null, 2) + '\n'],
  ];
  const tok = o.tokenizerDir
    ? huggingFaceTokenizerFiles(o.tokenizerDir, c.vocabSize, c.blockSize)
    : { how: 'none' as const, why: 'no checkpoint folder given' };
  if (tok.how !== 'none') files.push(...tok.files);
  files.push([path.join('onnx', 'model.onnx'), model]);

  const tmp = path.join(path.dirname(outDir), `.${path.basename(outDir)}.tmp-${process.pid}-${Date.now()}`);
  fs.mkdirSync(path.join(tmp, 'onnx'), { recursive: true });
  try {
    for (const [name, data] of files) writeFileAtomic(path.join(tmp, name), data); // each fsynced
    fs.renameSync(tmp, outDir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return {
    folder: outDir,
    files: files.map(([n]) => n.split(path.sep).join('/')),
    tokenizer: tok.how,
    ...(tok.how === 'none' ? { tokenizerMissing: tok.why } : {}),
  };
}
