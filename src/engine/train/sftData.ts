/**
 * Fine-tuning data: conversations JSONL → ids with loss weights → packed rows of T + 1 tokens
 * (chat/pack.ts), a train and a held-out set, cached like pretraining data (data.ts) under a hash of the
 * format, the tokenizer, the block size, the split and every file's content. The ids are ChatML's
 * (chat/chatml.ts), or a tokenizer.json's own chat template's (chat/chatTemplate.ts) when `format` says
 * so: rows are padded with <|im_end|> or the template's eos_token (weight 0 either way).
 *
 *   const ds = await prepareSftData({ files: ['chat.jsonl'], tokenizer, format: chatFormatOf(tokenizer)!,
 *     tokenizerId, blockSize: 64, valFraction: 0.1, cacheDir: '.llmlens/data' });
 *   ds.dir                       // .llmlens/data/sft-3f1c…/ with train.ids, train.weights, val.*, meta.json
 *   const rows = new SftRows(ds.dir, 'train');
 *   rows.batch([0, 3])           // { idx, targets, weights } (B, T) each, packedBatch's
 *
 * Every line of every file is read before anything is written: a bad line (conversation.ts), a character
 * the tokenizer lacks or a conversation longer than a row is refused with its file:line. The held-out set
 * is `heldout`'s conversations when given, else every k-th conversation (spread evenly, valFraction of
 * them). Its prompts (the messages before the first answer) are kept in meta.json for the samples.
 * Without splitting (never asked for here) every row holds a whole conversation, and each has an
 * assistant message whose closing <|im_end|> (or the template's closing text) carries weight 1: no row has
 * Σw = 0.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderChat, type ChatFormat } from '../chat/chatPrompt';
import { readConversations, type Conversation, type Message } from '../chat/conversation';
import { packConversations, packedBatch, type Packed, type PackItem } from '../chat/pack';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { writeFileAtomic } from './data';

export const SFT_DATA_FORMAT = 'llm-lens-sft-data';
export const SFT_DATA_FORMAT_VERSION = 1;
/** Prompts kept for samples. */
const MAX_PROMPTS = 16;

export interface SftMeta {
  format: typeof SFT_DATA_FORMAT;
  version: number;
  tokenizer: string;
  vocabSize: number;
  blockSize: number;
  valFraction: number;
  train: SftSplitMeta;
  val: SftSplitMeta;
  /** The first held-out conversations up to their first answer, for samples. */
  prompts: Message[][];
  files: { path: string; bytes: number }[];
  hash: string;
}

export interface SftSplitMeta {
  conversations: number;
  rows: number;
  /** Tokens with weight 1 (the answers and their <|im_end|>). */
  lossTokens: number;
  padding: number;
}

export interface SftPrepareOptions {
  files: readonly string[];
  /** Held-out conversations; default: valFraction of `files`' conversations. */
  heldout?: string;
  tokenizer: Tokenizer;
  /** ChatML with the chat tokens, or the tokenizer's own template (chatFormatOf); padding is its `stop`. */
  format: ChatFormat;
  tokenizerId: string;
  blockSize: number;
  valFraction: number;
  cacheDir: string;
  signal?: AbortSignal;
}

function hashOf(o: SftPrepareOptions): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([SFT_DATA_FORMAT_VERSION, o.tokenizerId, o.blockSize, o.valFraction]));
  const f = o.format;
  if (f.kind === 'template') h.update(JSON.stringify([f.kind, f.template, f.specialTokens, f.stop]));
  for (const f of [...o.files, ...(o.heldout ? ['--heldout', o.heldout] : [])]) {
    h.update(`\0${f.startsWith('--') ? f : ''}\0`);
    if (!f.startsWith('--')) h.update(fs.readFileSync(f));
  }
  return h.digest('hex');
}

async function readAll(files: readonly string[], signal?: AbortSignal): Promise<Conversation[]> {
  const out: Conversation[] = [];
  for (const f of files) for await (const c of readConversations(f, { signal })) out.push(c);
  return out;
}

/**
 * A conversation's ids and weights; a character the tokenizer cannot encode, or a conversation the
 * template refuses, is named with file:line.
 */
function render(c: Conversation, tok: Tokenizer, format: ChatFormat): PackItem {
  try {
    return { ...renderChat(format, c.messages, tok), source: c.source };
  } catch (e) {
    const where = c.source ? `${c.source.file}:${c.source.line}` : 'a conversation';
    if (format.kind === 'template')
      throw new Error(
        `${where}: the chat template of ${tok.name} cannot render it (${e instanceof Error ? e.message : String(e)}); fix or remove the conversation`,
        { cause: e },
      );
    throw new Error(
      `${where}: the tokenizer ${tok.name} cannot encode it (${e instanceof Error ? e.message : String(e)}); the base model has no ids for that text: remove it, or pretrain with a tokenizer that has them`,
      { cause: e },
    );
  }
}

function splitMeta(conversations: number, p: Packed): SftSplitMeta {
  const lossTokens = p.weights.reduce((s, w) => s + w, 0);
  return { conversations, rows: p.rows, lossTokens, padding: p.padding };
}

/** Conversations → cached packed rows (see the module comment). */
export async function prepareSftData(
  o: SftPrepareOptions,
): Promise<{ dir: string; meta: SftMeta; cached: boolean }> {
  const hash = hashOf(o);
  const dir = path.join(o.cacheDir, `sft-${hash.slice(0, 16)}`);
  if (fs.existsSync(path.join(dir, 'meta.json'))) {
    const meta = readSftMeta(dir);
    if (meta.hash === hash) return { dir, meta, cached: true };
  }
  const all = await readAll(o.files, o.signal);
  const heldout = o.heldout ? await readAll([o.heldout], o.signal) : undefined;
  const f = heldout ? 0 : o.valFraction;
  // conversation i is held out when ⌊(i+1)·f⌋ > ⌊i·f⌋: f of them, spread evenly
  const isVal = (i: number) => Math.floor((i + 1) * f) > Math.floor(i * f);
  const train = heldout ? all : all.filter((_, i) => !isVal(i));
  const val = heldout ?? all.filter((_, i) => isVal(i));
  if (!train.length) throw new Error(`${o.files.join(', ')}: no conversation is left to train on`);
  const pack = (cs: Conversation[]) =>
    packConversations(
      cs.map((c) => render(c, o.tokenizer, o.format)),
      { blockSize: o.blockSize, padId: o.format.stop ?? 0 },
    );
  const trainPacked = pack(train);
  const valPacked = pack(val);
  const prompts = val.slice(0, MAX_PROMPTS).map((c) => {
    const k = c.messages.findIndex((m) => m.role === 'assistant');
    return c.messages.slice(0, k);
  });
  const meta: SftMeta = {
    format: SFT_DATA_FORMAT,
    version: SFT_DATA_FORMAT_VERSION,
    tokenizer: o.tokenizerId,
    vocabSize: o.tokenizer.vocabSize,
    blockSize: o.blockSize,
    valFraction: f,
    train: splitMeta(train.length, trainPacked),
    val: splitMeta(val.length, valPacked),
    prompts,
    files: [...o.files, ...(o.heldout ? [o.heldout] : [])].map((p) => ({
      path: p,
      bytes: fs.statSync(p).size,
    })),
    hash,
  };
  fs.mkdirSync(dir, { recursive: true });
  for (const [split, p] of [
    ['train', trainPacked],
    ['val', valPacked],
  ] as const) {
    writeFileAtomic(path.join(dir, `${split}.ids`), new Uint8Array(p.tokens.buffer));
    writeFileAtomic(path.join(dir, `${split}.weights`), new Uint8Array(p.weights.buffer));
  }
  writeFileAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n'); // last: marks it complete
  return { dir, meta, cached: false };
}

/** Reads and checks an SFT dataset's meta.json. */
export function readSftMeta(dir: string): SftMeta {
  const file = path.join(dir, 'meta.json');
  const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as SftMeta;
  if (meta.format !== SFT_DATA_FORMAT)
    throw new Error(`${file} is not an LLM Lens fine-tuning dataset (format ${String(meta.format)})`);
  if (meta.version > SFT_DATA_FORMAT_VERSION)
    throw new Error(
      `${file} has version ${meta.version}, newer than this LLM Lens (${SFT_DATA_FORMAT_VERSION}); update LLM Lens or prepare the data again`,
    );
  return meta;
}

/** The packed rows of one split, in memory (fine-tuning sets are small). */
export class SftRows {
  readonly packed: Packed;
  constructor(dir: string, split: 'train' | 'val') {
    const meta = readSftMeta(dir);
    const R = meta.blockSize + 1;
    const rows = meta[split].rows;
    const read = (ext: string) => {
      const b = fs.readFileSync(path.join(dir, `${split}.${ext}`));
      if (b.byteLength !== rows * R * 4)
        throw new Error(
          `${dir}/${split}.${ext} has ${b.byteLength} bytes, not ${rows * R * 4}; prepare it again`,
        );
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    };
    this.packed = {
      blockSize: meta.blockSize,
      rows,
      tokens: new Int32Array(read('ids')),
      weights: new Float32Array(read('weights')),
      placements: [],
      split: 0,
      padding: meta[split].padding,
    };
  }
  get rows(): number {
    return this.packed.rows;
  }
  batch(rows: readonly number[]): ReturnType<typeof packedBatch> {
    return packedBatch(this.packed, rows);
  }
}
