/**
 * A trained tokenizer on disk, one folder:
 *
 *   llmlens-tokenizer.json   {"format": "llm-lens-bpe", "version": 1, "name", "patternName", "pattern",
 *                             "vocabSize", "specialTokens": {"<|endoftext|>": 4096}, "ranksFile": "tokenizer.tiktoken"}
 *   tokenizer.tiktoken       tiktoken's rank format, one token per line: `base64(bytes) rank`, e.g. `IHRoZQ== 268`
 *   vocab.txt                for people, minbpe style: `[ t][he] -> [ the] 268`
 *
 * The ranks file loads in tiktoken itself (`new Tiktoken(ranksText, specialTokens, pattern)`). Every
 * file is written to a temporary name and renamed, so a crash never leaves half a tokenizer.
 *
 * Any BpeTokenizer saves to the same three files (saveBpeTokenizer): a built-in encoding given chat
 * tokens, say, or a trained one loaded back. Its vocab.txt then shows each token as one split into two
 * earlier tokens (a merge that makes it), since the ranks alone do not say which merge training took.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BpeTokenizer } from './bpe';
import { GPT2_SPLIT_PATTERN, GPT4O_SPLIT_PATTERN, GPT4_SPLIT_PATTERN } from './splitPattern';
import type { TrainedBpe } from './train';

export const TRAINED_FORMAT = 'llm-lens-bpe';
export const TRAINED_FORMAT_VERSION = 1;
export const TRAINED_META_FILE = 'llmlens-tokenizer.json';
export const TRAINED_RANKS_FILE = 'tokenizer.tiktoken';
export const TRAINED_VOCAB_FILE = 'vocab.txt';

export interface TrainedMeta {
  format: typeof TRAINED_FORMAT;
  version: number;
  name: string;
  patternName: string;
  pattern: string;
  vocabSize: number;
  specialTokens: Record<string, number>;
  ranksFile: string;
}

/** tiktoken's rank file text: `base64(bytes) rank` per line, in rank order. */
export function ranksFileText(vocab: readonly string[]): string {
  return vocab.map((bytes, id) => `${btoa(bytes)} ${id}\n`).join('');
}

/** Parses a tiktoken rank file into byte string → rank. */
export function parseRanksFile(text: string, source = 'ranks file'): Map<string, number> {
  const ranks = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const [b64, rankText, extra] = line.split(' ');
    const rank = Number(rankText);
    if (extra !== undefined || !Number.isInteger(rank) || rank < 0)
      throw new Error(`${source}:${i + 1}: expected "base64 rank", got "${line.slice(0, 60)}"`);
    let bytes: string;
    try {
      bytes = atob(b64);
    } catch {
      throw new Error(`${source}:${i + 1}: "${b64.slice(0, 40)}" is not base64`);
    }
    ranks.set(bytes, rank);
  }
  return ranks;
}

/** Writes the three files into `dir` (created if needed). */
export function saveTrainedTokenizer(dir: string, t: TrainedBpe): void {
  writeBpeFolder(
    dir,
    { name: t.name, patternName: t.patternName, pattern: t.pattern, specialTokens: t.specialTokens },
    ranksFileText(t.vocab),
    t.vocab.length,
    vocabText(t),
  );
}

/** Writes any BPE as a trained tokenizer's three files into `dir`; returns their paths. */
export function saveBpeTokenizer(dir: string, tok: BpeTokenizer): string[] {
  const byRank = [...tok.ranks].sort((a, b) => a[1] - b[1]);
  const patternName = PATTERN_NAMES.get(tok.pattern) ?? 'custom';
  return writeBpeFolder(
    dir,
    { name: tok.name, patternName, pattern: tok.pattern, specialTokens: tok.specialTokens },
    byRank.map(([bytes, id]) => `${btoa(bytes)} ${id}\n`).join(''),
    byRank.length,
    bpeVocabText(tok.ranks, byRank, tok.specialTokens),
  );
}

const PATTERN_NAMES = new Map([
  [GPT2_SPLIT_PATTERN, 'gpt2'],
  [GPT4_SPLIT_PATTERN, 'gpt4'],
  [GPT4O_SPLIT_PATTERN, 'gpt4o'],
]);

function writeBpeFolder(
  dir: string,
  t: { name: string; patternName: string; pattern: string; specialTokens: ReadonlyMap<string, number> },
  ranksText: string,
  nRanks: number,
  vocab: string,
): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const meta: TrainedMeta = {
    format: TRAINED_FORMAT,
    version: TRAINED_FORMAT_VERSION,
    name: t.name,
    patternName: t.patternName,
    pattern: t.pattern,
    vocabSize: nRanks,
    specialTokens: Object.fromEntries(t.specialTokens),
    ranksFile: TRAINED_RANKS_FILE,
  };
  const files = [TRAINED_RANKS_FILE, TRAINED_VOCAB_FILE, TRAINED_META_FILE].map((f) => path.join(dir, f));
  writeAtomic(files[0], ranksText);
  writeAtomic(files[1], vocab);
  writeAtomic(files[2], JSON.stringify(meta, null, 2) + '\n');
  return files;
}

/** Loads a trained tokenizer from its folder or its llmlens-tokenizer.json. */
export function loadTrainedTokenizer(dirOrMetaFile: string): BpeTokenizer {
  const metaFile = fs.statSync(dirOrMetaFile).isDirectory()
    ? path.join(dirOrMetaFile, TRAINED_META_FILE)
    : dirOrMetaFile;
  const meta = parseTrainedMeta(fs.readFileSync(metaFile, 'utf8'), metaFile);
  const ranksPath = path.join(path.dirname(metaFile), meta.ranksFile);
  if (!fs.existsSync(ranksPath))
    throw new Error(
      `${metaFile}: its ranks file ${meta.ranksFile} is missing; retrain the tokenizer (llm-lens train-tokenizer)`,
    );
  const ranks = parseRanksFile(fs.readFileSync(ranksPath, 'utf8'), ranksPath);
  if (ranks.size !== meta.vocabSize)
    throw new Error(
      `${ranksPath}: ${ranks.size} tokens, but ${TRAINED_META_FILE} says ${meta.vocabSize}; the folder is inconsistent, retrain the tokenizer`,
    );
  return new BpeTokenizer({
    name: meta.name,
    ranks,
    specialTokens: new Map(Object.entries(meta.specialTokens)),
    pattern: meta.pattern,
  });
}

export function parseTrainedMeta(text: string, source: string): TrainedMeta {
  let meta: Partial<TrainedMeta>;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source} is not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      cause: e,
    });
  }
  if (meta?.format !== TRAINED_FORMAT)
    throw new Error(
      `${source} is not an LLM Lens tokenizer (format "${String(meta?.format)}", expected "${TRAINED_FORMAT}")`,
    );
  if (typeof meta.version !== 'number' || meta.version > TRAINED_FORMAT_VERSION) {
    throw new Error(
      `${source} has format version ${String(meta.version)}, newer than this LLM Lens reads (${TRAINED_FORMAT_VERSION}); update LLM Lens, or retrain the tokenizer with this version`,
    );
  }
  for (const field of ['name', 'pattern', 'ranksFile'] as const) {
    if (typeof meta[field] !== 'string')
      throw new Error(`${source}: field "${field}" is missing; the file is damaged, retrain the tokenizer`);
  }
  if (typeof meta.vocabSize !== 'number' || typeof meta.specialTokens !== 'object' || !meta.specialTokens) {
    throw new Error(
      `${source}: fields "vocabSize" and "specialTokens" are required; the file is damaged, retrain the tokenizer`,
    );
  }
  return meta as TrainedMeta;
}

/** minbpe's vocab file: each token rendered, merges shown with their two parents. */
export function vocabText(t: TrainedBpe): string {
  const lines: string[] = [];
  for (let id = 0; id < 256; id++) lines.push(`[${renderToken(t.vocab[id])}] ${id}`);
  t.merges.forEach(([a, b], i) =>
    lines.push(
      `[${renderToken(t.vocab[a])}][${renderToken(t.vocab[b])}] -> [${renderToken(t.vocab[256 + i])}] ${256 + i}`,
    ),
  );
  for (const [text, id] of t.specialTokens) lines.push(`special [${text}] ${id}`);
  return lines.join('\n') + '\n';
}

/** vocab.txt of ranks without their merges: each token as its first split into two lower-ranked tokens. */
function bpeVocabText(
  ranks: ReadonlyMap<string, number>,
  byRank: readonly [string, number][],
  specialTokens: ReadonlyMap<string, number>,
): string {
  const lines = byRank.map(([bytes, id]) => {
    for (let i = 1; i < bytes.length; i++) {
      const [left, right] = [bytes.slice(0, i), bytes.slice(i)];
      if ((ranks.get(left) ?? id) < id && (ranks.get(right) ?? id) < id)
        return `[${renderToken(left)}][${renderToken(right)}] -> [${renderToken(bytes)}] ${id}`;
    }
    return `[${renderToken(bytes)}] ${id}`;
  });
  for (const [text, id] of specialTokens) lines.push(`special [${text}] ${id}`);
  return lines.join('\n') + '\n';
}

/** A token's bytes for display: UTF-8 decoded (invalid bytes as U+FFFD), control characters as \uXXXX. */
export function renderToken(bytes: string): string {
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(
    Uint8Array.from(bytes, (c) => c.charCodeAt(0)),
  );
  return text.replace(/[\p{Cc}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Writes `text` to a temporary file, syncs it and renames it to `file`. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
