/**
 * A tokenizer as the files that stand beside a checkpoint, in the form train/runTokenizer.ts's
 * loadCheckpointTokenizer reads back to the same ids:
 *
 *   saveTokenizer(charTok, dir)   // [dir/vocab.char.json]
 *   saveTokenizer(bpeTok, dir)    // [dir/tokenizer.tiktoken, dir/vocab.txt, dir/llmlens-tokenizer.json]
 *   saveTokenizer(hfTok, dir)     // [dir/tokenizer.json, dir/tokenizer_config.json]
 *
 * A built-in encoding is a BPE here, so it is written out whole (its ranks, 1–4 MB): a built-in name
 * could not carry the special tokens added to it. Each file is written to a temporary name and renamed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BpeTokenizer } from './bpe';
import { CHAR_VOCAB_FILE, CharTokenizer } from './charLevel';
import { HuggingFaceTokenizer } from './huggingface';
import type { Tokenizer } from './tokenizer';
import { saveBpeTokenizer, writeAtomic } from './trainedFiles';

/** Writes `tok`'s files into `dir` (created if needed) and returns their paths. */
export function saveTokenizer(tok: Tokenizer, dir: string): string[] {
  if (tok instanceof CharTokenizer) {
    const file = path.join(dir, CHAR_VOCAB_FILE);
    writeAtomicIn(dir, file, tok.toJson());
    return [file];
  }
  if (tok instanceof BpeTokenizer) return saveBpeTokenizer(dir, tok);
  if (tok instanceof HuggingFaceTokenizer) {
    const files = ['tokenizer.json', 'tokenizer_config.json'].map((f) => path.join(dir, f));
    // transformers.js loads no tokenizer.json without a tokenizer_config.json
    const config = { clean_up_tokenization_spaces: false, ...tok.config };
    writeAtomicIn(dir, files[0], JSON.stringify(tok.json, null, 2) + '\n');
    writeAtomicIn(dir, files[1], JSON.stringify(config, null, 2) + '\n');
    return files;
  }
  throw new Error(
    `${tok.name}: LLM Lens cannot save this kind of tokenizer; use a character vocabulary, a BPE (trained or built in) or a tokenizer.json`,
  );
}

function writeAtomicIn(dir: string, file: string, text: string): void {
  fs.mkdirSync(dir, { recursive: true });
  writeAtomic(file, text);
}
