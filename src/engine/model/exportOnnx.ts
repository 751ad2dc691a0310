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
 * transformers.js load it. A character vocabulary becomes a tokenizer.json; a checkpoint with a
 * tokenizer.json beside it has it copied; other tokenizers (a built-in encoding, an LLM Lens BPE) are
 * named in the result, and the model still loads. The folder appears whole or not at all.
 *
 *   await exportGptOnnx(config, weights, 'out/my-model-onnx', { tokenizerDir: 'runs/x/checkpoints/step-500' })
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeModel } from '../graph/onnxProto';
import type { HostTensor } from '../runtime/session';
import { CharTokenizer } from '../tokenizer/charLevel';
import { gpt2ConfigJson } from '../train/checkpoint';
import { writeFileAtomic } from '../train/data';
import { CHAR_VOCAB_FILE } from '../train/runTokenizer';
import { buildHfDecoderModel } from './hfOnnx';
import type { GptModelConfig } from './inference';

export interface OnnxExportResult {
  folder: string;
  /** Paths relative to the folder. */
  files: string[];
  /** How the tokenizer got there: 'converted' (character vocabulary), 'copied' (tokenizer.json), or 'none'. */
  tokenizer: 'converted' | 'copied' | 'none';
}

export async function exportGptOnnx(
  c: GptModelConfig,
  weights: Record<string, HostTensor>,
  outDir: string,
  o: { tokenizerDir?: string; configExtra?: Record<string, unknown> } = {},
): Promise<OnnxExportResult> {
  if (fs.existsSync(outDir)) throw new Error(`${outDir} already exists; choose a new folder name`);
  const model = encodeModel(buildHfDecoderModel(c, weights));
  const files: [string, Uint8Array | string][] = [
    ['config.json', JSON.stringify({ ...gpt2ConfigJson(c, o.configExtra), use_cache: true }, null, 2) + '\n'],
  ];
  let tokenizer: OnnxExportResult['tokenizer'] = 'none';
  const dir = o.tokenizerDir;
  if (dir && fs.existsSync(path.join(dir, CHAR_VOCAB_FILE))) {
    const tok = CharTokenizer.fromJson(fs.readFileSync(path.join(dir, CHAR_VOCAB_FILE), 'utf8'), path.join(dir, CHAR_VOCAB_FILE));
    files.push(['tokenizer.json', tok.toHuggingFaceJson()]);
    files.push(['tokenizer_config.json', tokenizerConfig(c)]);
    tokenizer = 'converted';
  } else if (dir && fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    files.push(['tokenizer.json', fs.readFileSync(path.join(dir, 'tokenizer.json'))]);
    const cfg = path.join(dir, 'tokenizer_config.json');
    files.push(['tokenizer_config.json', fs.existsSync(cfg) ? fs.readFileSync(cfg) : tokenizerConfig(c)]);
    tokenizer = 'copied';
  }
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
  return { folder: outDir, files: files.map(([n]) => n.split(path.sep).join('/')), tokenizer };
}

function tokenizerConfig(c: GptModelConfig): string {
  return JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: c.blockSize, clean_up_tokenization_spaces: false }, null, 2) + '\n';
}
