/**
 * Training data in nanoGPT's format: text files → token ids → `train.bin` / `val.bin` (little-endian
 * uint16, or uint32 when the vocabulary needs it) + `meta.json`, cached by a hash of the content and the
 * tokenizer, streamed so a large corpus never sits in memory whole.
 *
 *   const ds = await prepareDataset({ files: ['input.txt'], tokenizer: getEncoding('gpt2'), tokenizerId: 'gpt2', cacheDir: '.llmlens/data' });
 *   ds.dir        // .llmlens/data/3f1c…/  with train.bin, val.bin, meta.json
 *   ds.meta.trainTokens
 *
 * Text is encoded in pieces cut after a newline (about 4 MB each): tokens never span two pieces, which
 * for byte-level BPE can differ from encoding the whole file at once only at those newlines.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tokenizer } from '../tokenizer/tokenizer';

export const DATA_FORMAT = 'llm-lens-data';
export const DATA_FORMAT_VERSION = 1;
const PIECE_BYTES = 4 * 1024 * 1024;
const SKIP_DIRS = new Set(['node_modules', '.git', '.llmlens', '.hg', '.svn']);

export type TokenDtype = 'uint16' | 'uint32';

export interface DatasetMeta {
  format: typeof DATA_FORMAT;
  version: number;
  /** How the tokenizer was named when prepared (built-in name, or a path). */
  tokenizer: string;
  vocabSize: number;
  dtype: TokenDtype;
  trainTokens: number;
  valTokens: number;
  valFraction: number;
  files: { path: string; bytes: number }[];
  /** sha256 of the format version, tokenizer identity, split and every file's content. */
  hash: string;
}

export interface Dataset {
  dir: string;
  meta: DatasetMeta;
  /** True when a cached copy was reused. */
  cached: boolean;
}

export type DataProgress = {
  kind: 'progress';
  stage: 'hashing' | 'tokenizing' | 'writing';
  done: number;
  total: number;
  message?: string;
};

export interface PrepareOptions {
  files: readonly string[];
  tokenizer: Tokenizer;
  /** A stable identity of the tokenizer for the cache key and meta.json (e.g. 'gpt2', or 'char:<hash>'). */
  tokenizerId: string;
  /** Folder under which `<hash>/` is created. */
  cacheDir: string;
  /** Fraction of tokens (the end of the data, as nanoGPT) held out for validation; default 0.1. */
  valFraction?: number;
  signal?: AbortSignal;
  onProgress?: (p: DataProgress) => void;
}

export function dtypeFor(vocabSize: number): TokenDtype {
  if (vocabSize <= 65536) return 'uint16';
  if (vocabSize <= 4294967296) return 'uint32';
  throw new Error(`vocabulary of ${vocabSize} tokens does not fit uint32 token files`);
}

export function bytesPerToken(dtype: TokenDtype): number {
  return dtype === 'uint16' ? 2 : 4;
}

/** Folders become their text files (recursively, sorted, skipping node_modules/.git/.llmlens and binaries); files stay. */
export function expandInputs(inputs: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      if (SKIP_DIRS.has(path.basename(p))) return;
      for (const name of fs.readdirSync(p).sort()) visit(path.join(p, name));
    } else if (st.isFile() && st.size > 0 && !looksBinaryFile(p)) out.push(p);
  };
  for (const input of inputs) {
    if (!fs.existsSync(input)) throw new Error(`no such file or folder: ${input}`);
    visit(input);
  }
  return out;
}

function looksBinaryFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(8192);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).includes(0);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a file as UTF-8 text pieces cut after a newline, about PIECE_BYTES each. */
export function* textPieces(file: string, pieceBytes = PIECE_BYTES): Generator<string> {
  const fd = fs.openSync(file, 'r');
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  try {
    const buf = Buffer.alloc(pieceBytes);
    let carry = '';
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      if (buf.subarray(0, n).includes(0))
        throw new Error(`${file} looks binary (it has NUL bytes); training data must be text`);
      const text = carry + decoder.decode(buf.subarray(0, n), { stream: true });
      const cut = text.lastIndexOf('\n') + 1;
      if (cut > 0) {
        yield text.slice(0, cut);
        carry = text.slice(cut);
      } else carry = text;
    }
    carry += decoder.decode();
    if (carry) yield carry;
  } finally {
    fs.closeSync(fd);
  }
}

function datasetHash(
  files: readonly string[],
  tokenizerId: string,
  valFraction: number,
  signal?: AbortSignal,
): string {
  const h = createHash('sha256');
  h.update(`${DATA_FORMAT}/${DATA_FORMAT_VERSION}\0${tokenizerId}\0${valFraction}\0${files.length}\0`);
  const buf = Buffer.alloc(1 << 20);
  for (const f of files) {
    signal?.throwIfAborted();
    h.update(`${fs.statSync(f).size}\0`);
    const fd = fs.openSync(f, 'r');
    try {
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest('hex');
}

/** Reads and checks a dataset's meta.json; throws a message that says what to do. */
export function readDatasetMeta(dir: string): DatasetMeta {
  const file = path.join(dir, 'meta.json');
  let meta: DatasetMeta;
  try {
    meta = JSON.parse(fs.readFileSync(file, 'utf8')) as DatasetMeta;
  } catch (e) {
    throw new Error(
      `${file} is missing or not JSON (${e instanceof Error ? e.message : String(e)}); prepare the data again`,
      { cause: e },
    );
  }
  if (meta.format !== DATA_FORMAT)
    throw new Error(`${file} is not an LLM Lens dataset (format ${String(meta.format)})`);
  if (meta.version > DATA_FORMAT_VERSION)
    throw new Error(
      `${file} has version ${meta.version}, newer than this LLM Lens (${DATA_FORMAT_VERSION}); update LLM Lens or prepare the data again`,
    );
  for (const split of ['train', 'val'] as const) {
    const bin = path.join(dir, `${split}.bin`);
    const want = (split === 'train' ? meta.trainTokens : meta.valTokens) * bytesPerToken(meta.dtype);
    const have = fs.existsSync(bin) ? fs.statSync(bin).size : -1;
    if (have !== want)
      throw new Error(
        `${bin} has ${have} bytes but meta.json says ${want}; the dataset is incomplete, prepare it again`,
      );
  }
  return meta;
}

/** Tokenizes files into a cached dataset folder (see the module comment). */
export async function prepareDataset(o: PrepareOptions): Promise<Dataset> {
  const valFraction = o.valFraction ?? 0.1;
  if (!(valFraction >= 0 && valFraction < 1))
    throw new Error(`valFraction must be in [0, 1), got ${valFraction}`);
  if (!o.files.length) throw new Error('no training files: pick at least one non-empty text file');
  const dtype = dtypeFor(o.tokenizer.vocabSize);
  const total = o.files.reduce((s, f) => s + fs.statSync(f).size, 0);
  o.onProgress?.({ kind: 'progress', stage: 'hashing', done: 0, total });
  const hash = datasetHash(o.files, o.tokenizerId, valFraction, o.signal);
  const dir = path.join(o.cacheDir, hash.slice(0, 16));
  if (fs.existsSync(path.join(dir, 'meta.json'))) {
    try {
      const meta = readDatasetMeta(dir);
      if (meta.hash === hash) return { dir, meta, cached: true };
    } catch {
      /* incomplete: prepare again */
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmpAll = path.join(dir, `all.bin.tmp-${process.pid}`);
  const out = fs.openSync(tmpAll, 'w');
  let tokens = 0;
  let done = 0;
  try {
    for (const file of o.files) {
      for (const piece of textPieces(file)) {
        o.signal?.throwIfAborted();
        const ids = encodeIn(file, piece, o.tokenizer);
        const arr = dtype === 'uint16' ? Uint16Array.from(ids) : Uint32Array.from(ids);
        fs.writeSync(out, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
        tokens += ids.length;
        done += Buffer.byteLength(piece);
        o.onProgress?.({
          kind: 'progress',
          stage: 'tokenizing',
          done,
          total,
          message: `${path.basename(file)}: ${tokens.toLocaleString('en-US')} tokens`,
        });
        await new Promise((r) => setImmediate(r));
      }
    }
  } finally {
    fs.closeSync(out);
  }
  try {
    if (tokens === 0) throw new Error('the training files hold no text');
    const valTokens = Math.floor(tokens * valFraction);
    const trainTokens = tokens - valTokens;
    o.onProgress?.({ kind: 'progress', stage: 'writing', done: 0, total: tokens });
    const bpt = bytesPerToken(dtype);
    copyRange(tmpAll, path.join(dir, 'train.bin'), 0, trainTokens * bpt);
    copyRange(tmpAll, path.join(dir, 'val.bin'), trainTokens * bpt, valTokens * bpt);
    const meta: DatasetMeta = {
      format: DATA_FORMAT,
      version: DATA_FORMAT_VERSION,
      tokenizer: o.tokenizerId,
      vocabSize: o.tokenizer.vocabSize,
      dtype,
      trainTokens,
      valTokens,
      valFraction,
      files: o.files.map((f) => ({ path: f, bytes: fs.statSync(f).size })),
      hash,
    };
    writeFileAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    return { dir, meta, cached: false };
  } finally {
    fs.rmSync(tmpAll, { force: true });
  }
}

/** A piece of a training file as ids; a tokenizer's refusal names the file. */
function encodeIn(file: string, piece: string, tokenizer: Tokenizer): number[] {
  try {
    return tokenizer.encode(piece, { disallowedSpecial: new Set() });
  } catch (e) {
    throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function copyRange(src: string, dst: string, start: number, length: number): void {
  const tmp = `${dst}.tmp-${process.pid}`;
  const from = fs.openSync(src, 'r');
  const to = fs.openSync(tmp, 'w');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let pos = 0; pos < length;) {
      const n = fs.readSync(from, buf, 0, Math.min(buf.length, length - pos), start + pos);
      if (n <= 0) throw new Error(`short read copying ${src}`);
      fs.writeSync(to, buf, 0, n);
      pos += n;
    }
    fs.fsyncSync(to);
  } finally {
    fs.closeSync(from);
    fs.closeSync(to);
  }
  fs.renameSync(tmp, dst);
}

/** Writes a file atomically: temp file in the same folder, fsync, rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    // one write(2) moves at most ~2 GB (and may move less): loop until every byte is out
    for (let at = 0; at < bytes.byteLength;) {
      const n = fs.writeSync(fd, bytes, at, bytes.byteLength - at);
      if (n <= 0)
        throw new Error(`${file}: the disk took no more bytes (${at} of ${bytes.byteLength} written)`);
      at += n;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** A token file (train.bin / val.bin) read in windows, never loaded whole. */
export class TokenFile {
  readonly length: number;
  private readonly fd: number;

  constructor(
    readonly file: string,
    readonly dtype: TokenDtype,
  ) {
    this.fd = fs.openSync(file, 'r');
    this.length = Math.floor(fs.fstatSync(this.fd).size / bytesPerToken(dtype));
  }

  /** Tokens [start, start + count) as numbers. */
  read(start: number, count: number): Uint32Array {
    if (start < 0 || count < 0 || start + count > this.length)
      throw new Error(
        `${this.file}: window [${start}, ${start + count}) is outside its ${this.length} tokens`,
      );
    const bpt = bytesPerToken(this.dtype);
    const buf = Buffer.alloc(count * bpt);
    const n = fs.readSync(this.fd, buf, 0, buf.length, start * bpt);
    if (n !== buf.length) throw new Error(`${this.file}: short read at token ${start}`);
    const out = new Uint32Array(count);
    for (let i = 0; i < count; i++) out[i] = bpt === 2 ? buf.readUInt16LE(i * 2) : buf.readUInt32LE(i * 4);
    return out;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export interface Batch {
  /** (B, T) inputs and targets (targets = inputs shifted by one), as int64 for ONNX. */
  idx: BigInt64Array;
  targets: BigInt64Array;
  /** The start offset of each row in the token file, for exact replay. */
  offsets: number[];
}

/**
 * Random windows of blockSize + 1 tokens, as nanoGPT's get_batch: ix = randint(len - T), x = data[ix:ix+T],
 * y = data[ix+1:ix+1+T]. Throws when the data is shorter than one window.
 */
export function sampleBatch(data: TokenFile, B: number, T: number, randint: (n: number) => number): Batch {
  if (data.length <= T)
    throw new Error(
      `${path.basename(data.file)} has ${data.length} tokens, fewer than one block of ${T} + 1: use more data or a smaller block size`,
    );
  const offsets = Array.from({ length: B }, () => randint(data.length - T));
  return batchAt(data, T, offsets);
}

/** The batch whose rows start at `offsets` (replaying a logged run). */
export function batchAt(data: TokenFile, T: number, offsets: readonly number[]): Batch {
  const B = offsets.length;
  const idx = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  offsets.forEach((o, b) => {
    const w = data.read(o, T + 1);
    for (let t = 0; t < T; t++) {
      idx[b * T + t] = BigInt(w[t]);
      targets[b * T + t] = BigInt(w[t + 1]);
    }
  });
  return { idx, targets, offsets: [...offsets] };
}
