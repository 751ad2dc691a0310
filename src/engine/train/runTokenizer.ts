/**
 * The tokenizer of a run, and of a checkpoint folder.
 *
 *   resolveRunTokenizer('char', files, tokDir)    // builds the character vocabulary of the data, saves vocab.char.json
 *   resolveRunTokenizer('gpt2', files, tokDir)    // a built-in encoding
 *   resolveRunTokenizer('.llmlens/tokenizers/bpe-4096', …)   // a trained tokenizer (its files are copied)
 *   loadCheckpointTokenizer('runs/x/checkpoints/step-2000')
 *   checkpointRunTokenizer('runs/x/checkpoints/step-2000', 'char', files, tokDir)  // resume: the checkpoint's vocabulary
 *   checkDatasetTokenizer('.llmlens/data/3f1c…', meta.tokenizer, 'runs/x/checkpoints/step-2000')  // eval: the same ids?
 *
 * A run that starts from a checkpoint encodes its data with the checkpoint's tokenizer, whatever the data
 * would build: a model's ids mean the tokens it was trained on, and a vocabulary of the same size built
 * from other text would silently give them other meanings.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BpeTokenizer } from '../tokenizer/bpe';
import { isBuiltinEncoding, getEncoding } from '../tokenizer/builtin';
import { HuggingFaceTokenizer } from '../tokenizer/huggingface';
import { bpeToHuggingFaceJson, huggingFaceTokenizerConfig } from '../tokenizer/toHuggingFace';
import { CHAR_VOCAB_FILE, CharTokenizer } from '../tokenizer/charLevel';
import { loadTokenizer } from '../tokenizer/load';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { TRAINED_META_FILE, TRAINED_RANKS_FILE, TRAINED_VOCAB_FILE } from '../tokenizer/trainedFiles';
import { few } from '../few';
import { CHATML_TEMPLATE, CHATML_TOOLS_TEMPLATE } from '../chat/chatml';
import { chatTokensOf } from '../chat/chatTokenizer';
import { checkpointFolder } from './checkpoint';
import { textPieces } from './data';

export interface RunTokenizer {
  tokenizer: Tokenizer;
  /** Identity for dataset caching: 'gpt2', 'char:<hash>', 'file:<hash>'. */
  id: string;
  /** Files that reproduce it, copied beside every checkpoint. */
  files: string[];
}

export function resolveRunTokenizer(
  spec: string,
  dataFiles: readonly string[],
  outDir: string,
): RunTokenizer {
  if (spec === 'char') {
    const chars = dataChars(dataFiles);
    if (!chars.size) throw new Error('the training files hold no text to build a character vocabulary from');
    return charRunTokenizer(new CharTokenizer('char', [...chars.keys()].sort(byCodePoint)), outDir);
  }
  if (isBuiltinEncoding(spec)) return { tokenizer: getEncoding(spec), id: spec, files: [] };
  const tokenizer = loadTokenizer(spec);
  // a character vocabulary file is the run's vocab.char.json, where checkpoints and datasets look for it
  if (tokenizer instanceof CharTokenizer) return charRunTokenizer(tokenizer, outDir);
  const files = specFiles(spec);
  // likewise a tokenizer.json of another name is the run's tokenizer.json (same content, same id)
  if (
    tokenizer instanceof HuggingFaceTokenizer &&
    files.length === 1 &&
    path.basename(spec) !== 'tokenizer.json'
  ) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.copyFileSync(spec, path.join(outDir, 'tokenizer.json'));
    return { tokenizer, id: filesId(files), files: [path.join(outDir, 'tokenizer.json')] };
  }
  return { tokenizer, id: filesId(files), files };
}

/** The files of a tokenizer folder or file that reproduce it. */
function specFiles(spec: string): string[] {
  const dir = fs.statSync(spec).isDirectory() ? spec : path.dirname(spec);
  const candidates = fs.statSync(spec).isDirectory()
    ? [
        TRAINED_META_FILE,
        TRAINED_RANKS_FILE,
        TRAINED_VOCAB_FILE,
        'tokenizer.json',
        'tokenizer_config.json',
      ].map((f) => path.join(dir, f))
    : [
        spec,
        ...(path.basename(spec) === TRAINED_META_FILE
          ? [TRAINED_RANKS_FILE, TRAINED_VOCAB_FILE].map((f) => path.join(dir, f))
          : []),
      ];
  return candidates.filter((f) => fs.existsSync(f));
}

function filesId(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(fs.readFileSync(f));
  return `file:${h.digest('hex').slice(0, 16)}`;
}

const charId = (tok: CharTokenizer) => `char:${sha(tok.toJson())}`;

/** Every character of the files, with the first file it is in. */
function dataChars(files: readonly string[]): Map<string, string> {
  const chars = new Map<string, string>();
  for (const f of files)
    for (const piece of textPieces(f)) for (const ch of piece) if (!chars.has(ch)) chars.set(ch, f);
  return chars;
}

const byCodePoint = (a: string, b: string) => a.codePointAt(0)! - b.codePointAt(0)!;

/** A character vocabulary as a run's tokenizer: saved in outDir as vocab.char.json. */
function charRunTokenizer(tok: CharTokenizer, outDir: string): RunTokenizer {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, CHAR_VOCAB_FILE);
  fs.writeFileSync(file, tok.toJson());
  return { tokenizer: tok, id: charId(tok), files: [file] };
}

/**
 * The tokenizer of a run that starts from a checkpoint (resume, init-from, fine-tuning): the checkpoint's,
 * so that each id means what the model learnt it to mean. `spec` must name it: 'char' takes the checkpoint's
 * character vocabulary (the data may use fewer characters, never others); any other spec must load the
 * same vocabulary as the checkpoint's. Otherwise a message says which tokenizer to give.
 */
export function checkpointRunTokenizer(
  checkpoint: string,
  spec: string,
  dataFiles: readonly string[],
  outDir: string,
): RunTokenizer {
  const dir = checkpointFolder(checkpoint);
  const theirs = fitting(loadCheckpointTokenizer(dir), dir);
  const mismatch = (ours: string) =>
    new Error(
      `${dir} was trained with the tokenizer ${theirs.name} (${theirs.vocabSize} ids), and this run asks for ${ours}: the checkpoint's token ids would stand for other text. Give the checkpoint's tokenizer (--tokenizer ${checkpointTokenizerSpec(dir)}), or start a new run`,
    );
  if (spec === 'char') {
    if (!(theirs instanceof CharTokenizer)) throw mismatch('a character vocabulary (char)');
    const known = new Set(theirs.chars);
    const lacking = [...dataChars(dataFiles)]
      .filter(([c]) => !known.has(c))
      .sort(([a], [b]) => byCodePoint(a, b));
    if (lacking.length)
      throw new Error(
        `the training data has ${lacking.length} character(s) that the vocabulary of ${dir} lacks: ${few(lacking.map(([c, f]) => `${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, in ${f})`))}. The model has no ids for them: remove them from the data, or start a new run to build a vocabulary from this data`,
      );
    return charRunTokenizer(theirs, outDir);
  }
  const ours = resolveRunTokenizer(spec, dataFiles, outDir);
  if (!sameVocabulary(ours.tokenizer, theirs))
    throw mismatch(
      `${spec} (${spec === ours.tokenizer.name ? '' : `${ours.tokenizer.name}, `}${ours.tokenizer.vocabSize} ids)`,
    );
  return ours;
}

/** True when both give every id the same bytes and the same special tokens. */
export function sameVocabulary(a: Tokenizer, b: Tokenizer): boolean {
  if (a.vocabSize !== b.vocabSize || a.specialTokens.size !== b.specialTokens.size) return false;
  for (const [text, id] of a.specialTokens) if (b.specialTokens.get(text) !== id) return false;
  const bytes = (t: Tokenizer, id: number) => {
    try {
      return Buffer.from(t.tokenBytes(id));
    } catch {
      return undefined; // an id the vocabulary skips
    }
  };
  for (let id = 0; id < a.vocabSize; id++) {
    const x = bytes(a, id);
    const y = bytes(b, id);
    if (x === undefined ? y !== undefined : y === undefined || !x.equals(y)) return false;
  }
  return true;
}

/**
 * The tokenizer spec that names a checkpoint's tokenizer: its vocab.char.json ('char' to train on, which
 * takes the checkpoint's vocabulary), the folder itself (a trained tokenizer, a tokenizer.json), or a
 * built-in encoding.
 */
function checkpointTokenizerSpec(dir: string, o: { toTrain: boolean } = { toTrain: true }): string {
  const at = (f: string) => path.join(dir, f);
  if (fs.existsSync(at(CHAR_VOCAB_FILE))) return o.toTrain ? 'char' : at(CHAR_VOCAB_FILE);
  if (fs.existsSync(at(TRAINED_META_FILE)) || fs.existsSync(at('tokenizer.json'))) return dir;
  return loadCheckpointTokenizer(dir).name;
}

/**
 * Refuses a prepared dataset whose tokenizer is not the checkpoint's (meta.json's tokenizer is the id
 * resolveRunTokenizer gave it): the model would read its ids as other tokens. A checkpoint without a
 * tokenizer it can load is not checked.
 */
export function checkDatasetTokenizer(dataDir: string, datasetTokenizer: string, checkpoint: string): void {
  const dir = checkpointFolder(checkpoint);
  let tok: Tokenizer;
  try {
    tok = loadCheckpointTokenizer(dir);
  } catch {
    return; // no tokenizer beside the checkpoint to check against: the weights alone still evaluate
  }
  const spec = checkpointTokenizerSpec(dir, { toTrain: false });
  const theirs = checkpointTokenizerId(fitting(tok, dir), spec);
  if (datasetTokenizer !== theirs)
    throw new Error(
      `${dataDir} was prepared with another tokenizer (${datasetTokenizer} in its meta.json) than ${dir}'s (${theirs}): the model would read its ids as other text. Prepare the data with the checkpoint's tokenizer: llm-lens prepare --tokenizer ${spec} FILES`,
    );
}

/** The id resolveRunTokenizer gives a checkpoint's tokenizer `tok` (`spec`, from checkpointTokenizerSpec). */
function checkpointTokenizerId(tok: Tokenizer, spec: string): string {
  if (tok instanceof CharTokenizer) return charId(tok);
  if (isBuiltinEncoding(spec)) return spec;
  return filesId(specFiles(spec));
}

/** A checkpoint's tokenizer, refused when it has more ids than config.json's vocab_size: it is not the model's. */
function fitting(tok: Tokenizer, dir: string): Tokenizer {
  const configFile = path.join(dir, 'config.json');
  let vocabSize: unknown;
  try {
    vocabSize = (JSON.parse(fs.readFileSync(configFile, 'utf8')) as { vocab_size?: unknown }).vocab_size;
  } catch {
    return tok; // loadCheckpoint says what is wrong with config.json
  }
  if (typeof vocabSize === 'number' && tok.vocabSize > vocabSize)
    throw new Error(
      `${checkpointTokenizerSpec(dir, { toTrain: false })} has ${tok.vocabSize} ids, more than the model's vocabulary ("vocab_size": ${vocabSize} in ${configFile}): it is not the tokenizer the model was trained with; copy that one beside the checkpoint`,
    );
  return tok;
}

/**
 * The tokenizer saved beside a checkpoint: a character vocabulary, a trained tokenizer, a tokenizer.json,
 * or the built-in encoding named in config.json (a Hugging Face GPT-2 folder without tokenizer files: gpt2).
 */
export function loadCheckpointTokenizer(dir: string): Tokenizer {
  const at = (f: string) => path.join(dir, f);
  if (fs.existsSync(at(CHAR_VOCAB_FILE)))
    return CharTokenizer.fromJson(fs.readFileSync(at(CHAR_VOCAB_FILE), 'utf8'), at(CHAR_VOCAB_FILE));
  if (fs.existsSync(at(TRAINED_META_FILE))) return loadTokenizer(dir);
  if (fs.existsSync(at('tokenizer.json'))) return loadTokenizer(at('tokenizer.json'));
  let name = 'gpt2';
  try {
    const cfg = JSON.parse(fs.readFileSync(at('config.json'), 'utf8')) as {
      llm_lens?: { tokenizer?: string };
    };
    if (cfg.llm_lens?.tokenizer && isBuiltinEncoding(cfg.llm_lens.tokenizer)) name = cfg.llm_lens.tokenizer;
    else if (cfg.llm_lens?.tokenizer)
      throw new Error(
        `${dir} has no tokenizer files, and its config names "${cfg.llm_lens.tokenizer}": copy the tokenizer beside the checkpoint`,
      );
  } catch (e) {
    if (e instanceof Error && e.message.includes('copy the tokenizer')) throw e;
  }
  return getEncoding(name);
}

/**
 * The tokenizer of a loaded checkpoint, for sampling and chat: refused when it has more ids than the
 * model has rows (it is not the tokenizer the model was trained with).
 */
export function loadModelTokenizer(ckpt: { dir: string; config: { vocabSize: number } }): Tokenizer {
  const tokenizer = loadCheckpointTokenizer(ckpt.dir);
  if (tokenizer.vocabSize > ckpt.config.vocabSize)
    throw new Error(
      `${ckpt.dir}: its tokenizer (${tokenizer.name}, ${tokenizer.vocabSize} tokens) does not fit the model's vocabulary of ${ckpt.config.vocabSize}: copy the tokenizer files the model was trained with beside the checkpoint`,
    );
  return tokenizer;
}

/** A checkpoint's tokenizer as Hugging Face files, or why there are none. */
export type HuggingFaceTokenizerFiles =
  | { how: 'converted' | 'copied'; files: [name: string, data: string | Uint8Array][] }
  | { how: 'none'; why: string };

/**
 * The tokenizer beside a checkpoint as tokenizer.json + tokenizer_config.json, which transformers,
 * transformers.js and @huggingface/tokenizers load: a tokenizer.json is copied; a character vocabulary,
 * an LLM Lens BPE or a built-in encoding is converted. `vocabSize` is the model's: a tokenizer with
 * more ids than the model's embedding does not belong to it.
 */
export function huggingFaceTokenizerFiles(
  dir: string,
  vocabSize: number,
  modelMaxLength: number,
): HuggingFaceTokenizerFiles {
  let tok: Tokenizer;
  try {
    tok = loadCheckpointTokenizer(dir);
  } catch (e) {
    return { how: 'none', why: e instanceof Error ? e.message : String(e) };
  }
  if (tok.vocabSize > vocabSize)
    return {
      how: 'none',
      why: `the tokenizer found (${tok.name}, ${tok.vocabSize} ids) has more ids than the model's ${vocabSize}`,
    };
  // a tokenizer with the chat tokens renders conversations as it was fine-tuned on them (apply_chat_template)
  const chat = chatTokensOf(tok);
  const template = chat ? { chat_template: chat.tools ? CHATML_TOOLS_TEMPLATE : CHATML_TEMPLATE } : {};
  const config = () =>
    JSON.stringify(
      {
        tokenizer_class: 'PreTrainedTokenizerFast',
        model_max_length: modelMaxLength,
        clean_up_tokenization_spaces: false,
        ...template,
      },
      null,
      2,
    ) + '\n';
  if (tok instanceof HuggingFaceTokenizer) {
    const cfg = path.join(dir, 'tokenizer_config.json');
    return {
      how: 'copied',
      files: [
        ['tokenizer.json', fs.readFileSync(path.join(dir, 'tokenizer.json'))],
        ['tokenizer_config.json', fs.existsSync(cfg) ? fs.readFileSync(cfg) : config()],
      ],
    };
  }
  if (tok instanceof CharTokenizer)
    return {
      how: 'converted',
      files: [
        ['tokenizer.json', tok.toHuggingFaceJson()],
        ['tokenizer_config.json', config()],
      ],
    };
  if (tok instanceof BpeTokenizer)
    return {
      how: 'converted',
      files: [
        ['tokenizer.json', bpeToHuggingFaceJson(tok)],
        ['tokenizer_config.json', huggingFaceTokenizerConfig(tok, modelMaxLength, template)],
      ],
    };
  return { how: 'none', why: `${tok.name} has no Hugging Face form` };
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}
