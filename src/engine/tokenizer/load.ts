/**
 * One entry point from a name or a path to a Tokenizer, for the CLI and the extension's picker:
 *
 *   loadTokenizer('cl100k_base')                       // built-in encoding
 *   loadTokenizer('.llmlens/tokenizers/shakespeare')   // a trained tokenizer's folder (llmlens-tokenizer.json)
 *   loadTokenizer('models/llama/tokenizer.json')       // Hugging Face (or a folder that holds tokenizer.json)
 *   loadTokenizer('vocab.char.json')                   // character-level vocabulary
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TokenizerSpec } from '../../protocol/tokenize';
import type { Tokenizer } from './tokenizer';
import { BUILTIN_ENCODINGS, getEncoding, isBuiltinEncoding } from './builtin';
import { loadTrainedTokenizer, TRAINED_FORMAT, TRAINED_META_FILE } from './trainedFiles';
import { huggingFaceTokenizerFromJson, loadHuggingFaceTokenizer } from './huggingface';
import { CHAR_FORMAT, CharTokenizer } from './charLevel';

export type TokenizerKind = 'builtin' | 'trained' | 'huggingface' | 'char';

/** What `loadTokenizer(spec)` would load, without loading it; undefined when spec is nothing we know. */
export function tokenizerKind(spec: string): TokenizerKind | undefined {
  if (isBuiltinEncoding(spec)) return 'builtin';
  if (!fs.existsSync(spec)) return undefined;
  if (fs.statSync(spec).isDirectory()) {
    if (fs.existsSync(path.join(spec, TRAINED_META_FILE))) return 'trained';
    if (fs.existsSync(path.join(spec, 'tokenizer.json'))) return 'huggingface';
    return undefined;
  }
  const head = readHead(spec, 256);
  if (head.includes(`"${TRAINED_FORMAT}"`)) return 'trained';
  if (head.includes(`"${CHAR_FORMAT}"`)) return 'char';
  return spec.endsWith('.json') ? 'huggingface' : undefined;
}

export function loadTokenizer(spec: string): Tokenizer {
  const kind = tokenizerKind(spec);
  switch (kind) {
    case 'builtin':
      return getEncoding(spec);
    case 'trained':
      return loadTrainedTokenizer(spec);
    case 'char':
      return CharTokenizer.fromJson(fs.readFileSync(spec, 'utf8'), spec);
    case 'huggingface': {
      const file = fs.statSync(spec).isDirectory() ? path.join(spec, 'tokenizer.json') : spec;
      return file.endsWith('.json')
        ? loadHuggingFaceTokenizer(file)
        : huggingFaceTokenizerFromJson(fs.readFileSync(file, 'utf8'), path.basename(file), {}, file);
    }
    case undefined:
      throw new Error(
        fs.existsSync(spec)
          ? `${spec} is not a tokenizer: expected a tokenizer.json, a trained tokenizer folder (${TRAINED_META_FILE}) or a character vocabulary`
          : `unknown tokenizer '${spec}': not a built-in encoding (${BUILTIN_ENCODINGS.join(', ')}) and no such file or folder`,
      );
  }
}

/** The first `n` bytes of a file as text (tokenizer.json files can be tens of MB). */
function readHead(file: string, n: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const read = fs.readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, read).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** A picker's or cache's key of a tokenizer spec: `builtin:NAME`, `huggingface:PATH` or `trained:DIR`. */
export function tokenizerSpecKey(spec: TokenizerSpec): string {
  switch (spec.kind) {
    case 'builtin':
      return `builtin:${spec.name}`;
    case 'huggingface':
      return `huggingface:${spec.path}`;
    case 'trained':
      return `trained:${spec.dir}`;
  }
}
