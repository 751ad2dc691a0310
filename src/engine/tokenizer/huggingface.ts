/**
 * Hugging Face `tokenizer.json` (Llama, Qwen, Mistral, GPT-NeoX, BERT …) through @huggingface/tokenizers,
 * behind the Tokenizer interface.
 *
 *   const tok = loadHuggingFaceTokenizer('models/qwen/tokenizer.json')
 *   tok.encode('Hello world')            // the ids transformers gives with add_special_tokens=False
 *   tok.encodeWithOffsets('Hello world') // [{id, start: 0, end: 5}, {id, start: 5, end: 11}]
 *
 * The library gives tokens but no offsets, so offsets come from aligning each token's surface text
 * with the input: byte-level tokens ('Ġworld') map back to their bytes through GPT-2's byte↔unicode
 * table, '<0x0A>' byte-fallback tokens to their byte, SentencePiece's '▁' to a space, WordPiece's '##'
 * prefix is dropped. Characters a token does not cover (whitespace a pre-tokenizer removed) join the
 * next token, so spans always tile the text; a token whose text a normalizer changed beyond lower
 * case (accents stripped, NFKC) gets an empty span where it could not be found.
 *
 * Special tokens are the `added_tokens` marked `special`, under tiktoken's rules (specialSplit.ts): a
 * special token in the text throws unless allowed, or is encoded as plain text with an empty
 * disallowedSpecial. The library itself always matches added tokens, so plain text goes through a second
 * instance built without the special ones (what transformers calls split_special_tokens).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tokenizer as HfTokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import type { EncodeOptions, TokenSpan, Tokenizer } from './tokenizer';
import { byteStringToBytes, utf8ByteString, utf8LengthAt } from './byteString';
import { allowedSpecials, splitSpecial, type Segment } from './specialSplit';
import { few } from '../few';
import { cachedRepoOf } from '../hub/repoName';

// The package is an ES module with a CommonJS build; require() keeps this file CommonJS like the rest.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Tokenizer: HfTokenizerClass }: { Tokenizer: typeof HfTokenizer } = require('@huggingface/tokenizers');

export interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

/** Loads a tokenizer.json file (tokenizer_config.json beside it is read too, when present). */
export function loadHuggingFaceTokenizer(file: string, name?: string): HuggingFaceTokenizer {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  let config: Record<string, unknown> = {};
  if (fs.existsSync(configFile)) {
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch {
      config = {};
    }
  }
  return huggingFaceTokenizerFromJson(
    text,
    name ?? cachedRepoOf(file) ?? path.basename(path.dirname(path.resolve(file))),
    config,
    file,
  );
}

/** Builds the tokenizer from tokenizer.json's text; `source` names it in error messages. */
export function huggingFaceTokenizerFromJson(
  text: string,
  name: string,
  config: Record<string, unknown> = {},
  source = 'tokenizer.json',
): HuggingFaceTokenizer {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `invalid tokenizer.json (${source}): not JSON (${e instanceof Error ? e.message : String(e)})`,
      { cause: e },
    );
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new Error(`invalid tokenizer.json (${source}): expected a JSON object`);
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object' || !model.vocab) {
    throw new Error(
      `invalid tokenizer.json (${source}): no "model" with a "vocab"; is this a Hugging Face tokenizer.json (not tokenizer_config.json or vocab.json)?`,
    );
  }
  const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as AddedTokenJson[];
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizerClass({ added_tokens: added, ...json }, config);
  } catch (e) {
    throw new Error(`invalid tokenizer.json (${source}): ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  return new HuggingFaceTokenizer(name, hf, json, added, source, config);
}

export class HuggingFaceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly byteLevel: boolean;
  private readonly addedIds = new Map<string, number>();
  private readonly continuingPrefix: string;
  private readonly endOfWordSuffix: string;
  /** The model's unknown-word token ([UNK]): it stands for a whole word it could not split. */
  private readonly unkToken: string | undefined;
  /** Its id; undefined when the model has none, or names one its vocabulary lacks. */
  private readonly unkId: number | undefined;
  /** The model's field that names it. */
  private readonly unkField: 'unk_token' | 'unk_id';
  /** The same tokenizer without its special added tokens, for special-token text encoded as plain text. */
  private plainHf: HfTokenizer | undefined;

  constructor(
    readonly name: string,
    private readonly hf: HfTokenizer,
    /** tokenizer.json, parsed. */
    readonly json: Readonly<Record<string, unknown>>,
    readonly added: readonly AddedTokenJson[],
    /** The file, for messages. */
    readonly source = 'tokenizer.json',
    /** tokenizer_config.json beside it ({} when there is none). */
    readonly config: Readonly<Record<string, unknown>> = {},
  ) {
    this.specialTokens = new Map(added.filter((t) => t.special).map((t) => [t.content, t.id]));
    for (const t of added) this.addedIds.set(t.content, t.id);
    let max = -1;
    for (const id of hf.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.byteLevel = hasType(json.pre_tokenizer, 'ByteLevel') || hasType(json.decoder, 'ByteLevel');
    const model = json.model as Record<string, unknown>;
    const defaultPrefix = model.type === 'WordPiece' ? '##' : '';
    this.continuingPrefix =
      typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : defaultPrefix;
    this.endOfWordSuffix = typeof model.end_of_word_suffix === 'string' ? model.end_of_word_suffix : '';
    this.unkToken = typeof model.unk_token === 'string' ? model.unk_token : undefined;
    this.unkId =
      this.unkToken === undefined
        ? undefined
        : (this.addedIds.get(this.unkToken) ?? hf.token_to_id(this.unkToken));
    this.unkField = model.type === 'Unigram' ? 'unk_id' : 'unk_token';
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const segments = this.plainSegments(text, options);
    if (!segments) return this.encodeKnown(text, this.hf).ids;
    return segments.flatMap((s) =>
      s.id !== undefined ? [s.id] : this.encodeKnown(text.substring(s.start, s.end), this.plain()).ids,
    );
  }

  /**
   * Undefined when the library may encode the whole text (it holds no special token that is to be plain
   * text); otherwise the text cut at its allowed special tokens. Throws on a disallowed one.
   */
  private plainSegments(text: string, options?: EncodeOptions): Segment[] | undefined {
    const segments = splitSpecial(text, this.specialTokens, options);
    const allowed = allowedSpecials(this.specialTokens, options);
    for (const t of this.specialTokens.keys()) if (!allowed.has(t) && text.includes(t)) return segments;
    return undefined;
  }

  private plain(): HfTokenizer {
    this.plainHf ??= new HfTokenizerClass(
      { ...this.json, added_tokens: this.added.filter((t) => !t.special) },
      this.config,
    );
    return this.plainHf;
  }

  /**
   * The library's ids and tokens, where a piece of the text the vocabulary lacks (the library gives it no
   * id: WordLevel always, WordPiece and BPE whose unk_token is missing, Unigram without unk_id) becomes the
   * model's unk_token, as in Hugging Face tokenizers, or, without one, an error that names the pieces.
   */
  private encodeKnown(text: string, hf: HfTokenizer): { ids: number[]; tokens: string[] } {
    const { ids, tokens } = hf.encode(text, { add_special_tokens: false }) as {
      ids: (number | undefined)[];
      tokens: (string | undefined)[];
    };
    const bad = ids.flatMap((id, i) => (Number.isInteger(id) ? [] : [i]));
    if (bad.length && this.unkId === undefined) {
      const unknown = this.unknownPieces(text, ids, tokens, bad);
      const why =
        this.unkToken === undefined
          ? `its model has no "${this.unkField}"`
          : `its model's "unk_token" ${JSON.stringify(this.unkToken)} is not in its "vocab"`;
      throw new Error(
        `${this.source}: ${unknown.length} piece(s) of the text are not in the vocabulary (${few(unknown.map((u) => JSON.stringify(u)))}), and ${why} to stand for them: give the model an unknown token that is in its "vocab", or use a tokenizer that covers the text`,
      );
    }
    for (const i of bad) [ids[i], tokens[i]] = [this.unkId, this.unkToken];
    return { ids: ids as number[], tokens: tokens as string[] };
  }

  /** The text of each run of tokens without an id: a token's own text, or what lies between the known tokens around it. */
  private unknownPieces(
    text: string,
    ids: readonly (number | undefined)[],
    tokens: readonly (string | undefined)[],
    bad: readonly number[],
  ): string[] {
    const input = utf8ByteString(text);
    const starts: number[] = [];
    const ends: number[] = [];
    let cursor = 0;
    for (let t = 0; t < ids.length; t++) {
      const token = tokens[t];
      const surface =
        Number.isInteger(ids[t]) && token !== undefined ? this.surfaceBytes(token, ids[t]!) : '';
      const at = findNear(input, surface, cursor);
      starts.push(at >= 0 ? at : cursor);
      if (at >= 0) cursor = at + surface.length;
      ends.push(cursor);
    }
    const pieces: string[] = [];
    for (let k = 0; k < bad.length; k++) {
      const first = bad[k];
      while (bad[k + 1] === bad[k] + 1) k++;
      const run = tokens.slice(first, bad[k] + 1);
      if (run.every((t) => t !== undefined && t !== this.unkToken)) pieces.push(run.join(''));
      else {
        const gap = input.slice(
          first ? ends[first - 1] : 0,
          bad[k] + 1 < ids.length ? starts[bad[k] + 1] : input.length,
        );
        pieces.push(Buffer.from(gap, 'latin1').toString('utf8').trim());
      }
    }
    return pieces;
  }

  decode(ids: readonly number[]): string {
    if (!ids.length) return '';
    for (const id of ids) this.tokenText(id);
    return this.hf.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  tokenBytes(id: number): Uint8Array {
    return byteStringToBytes(this.surfaceBytes(this.tokenText(id), id));
  }

  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[] {
    const segments = this.plainSegments(text, options);
    if (!segments) return this.spansOf(text, this.hf);
    return segments.flatMap((s) =>
      s.id !== undefined
        ? [{ id: s.id, start: s.start, end: s.end, partial: false, special: true }]
        : this.spansOf(text.substring(s.start, s.end), this.plain()).map((x) => ({
            ...x,
            start: x.start + s.start,
            end: x.end + s.start,
          })),
    );
  }

  /** The library's tokens of `text` with their UTF-16 spans. */
  private spansOf(text: string, hf: HfTokenizer): TokenSpan[] {
    const { ids, tokens } = this.encodeKnown(text, hf);
    const input = utf8ByteString(text);
    const lower = utf8ByteString(text.toLowerCase());
    const lowerAligned = lower.length === input.length;
    const ends: number[] = []; // byte offset where each token's text ends in the input
    let cursor = 0;
    for (let t = 0; t < ids.length; t++) {
      let surface = this.surfaceBytes(tokens[t], ids[t]);
      let at = findNear(input, surface, cursor);
      if (at < 0 && lowerAligned) at = findNear(lower, surface.toLowerCase(), cursor);
      if (at < 0 && surface.startsWith(' ')) {
        surface = surface.slice(1); // a space the pre-tokenizer prepended ('▁Hello' at the start)
        at = findNear(input, surface, cursor);
      }
      if (at >= 0) cursor = at + surface.length;
      else if (tokens[t] === this.unkToken) cursor = wordEnd(input, cursor); // [UNK] covers the word it replaced
      ends.push(cursor);
    }
    if (ends.length) ends[ends.length - 1] = input.length;
    return spansFromByteEnds(text, input.length, ids, ends, this.specialTokens);
  }

  private tokenText(id: number): string {
    const t = this.hf.id_to_token(id);
    if (t === undefined)
      throw new Error(`${this.name}: no token with id ${id} (vocabulary size ${this.vocabSize})`);
    return t;
  }

  /** The bytes a token stands for in the text, as a byte string. */
  private surfaceBytes(token: string, id: number): string {
    if (this.addedIds.get(token) === id) return utf8ByteString(token);
    const fallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (fallback) return String.fromCharCode(parseInt(fallback[1], 16));
    if (this.byteLevel) {
      let out = '';
      for (const c of token) {
        const b = UNICODE_TO_BYTE.get(c);
        if (b === undefined) return utf8ByteString(token);
        out += String.fromCharCode(b);
      }
      return out;
    }
    let text = token.replace(/\u2581/g, ' ');
    if (this.continuingPrefix && text.startsWith(this.continuingPrefix))
      text = text.slice(this.continuingPrefix.length);
    if (this.endOfWordSuffix && text.endsWith(this.endOfWordSuffix))
      text = text.slice(0, -this.endOfWordSuffix.length);
    return utf8ByteString(text);
  }
}

/** Where the word after `from` ends in a UTF-8 byte string: leading spaces skipped, then up to a space or ASCII punctuation. */
function wordEnd(bytes: string, from: number): number {
  let i = from;
  while (i < bytes.length && /\s/.test(bytes[i])) i++;
  const start = i;
  while (i < bytes.length && !/[\s!-/:-@[-`{-~]/.test(bytes[i])) i++;
  return i > start ? i : Math.min(bytes.length, start + 1);
}

/** First occurrence of `needle` at or after `from`, if it is within 256 bytes of `from`. */
function findNear(haystack: string, needle: string, from: number): number {
  if (!needle) return -1;
  const at = haystack.indexOf(needle, from);
  return at >= 0 && at - from <= 256 ? at : -1;
}

/** Turns per-token byte end offsets into UTF-16 spans; each character goes to the token holding its first byte. */
export function spansFromByteEnds(
  text: string,
  nBytes: number,
  ids: readonly number[],
  ends: readonly number[],
  specials: ReadonlyMap<string, number>,
): TokenSpan[] {
  const charAtByte = new Int32Array(nBytes + 1);
  const startsChar = new Uint8Array(nBytes + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const len = utf8LengthAt(text, i);
    if (len === 0) continue;
    startsChar[b] = 1;
    for (let k = 0; k < len; k++) charAtByte[b + k] = k === 0 ? i : i + (len === 4 ? 2 : 1);
    b += len;
  }
  charAtByte[nBytes] = text.length;
  startsChar[nBytes] = 1;
  const specialIds = new Set(specials.values());
  const spans: TokenSpan[] = [];
  let at = 0;
  for (let t = 0; t < ids.length; t++) {
    const end = ends[t];
    spans.push({
      id: ids[t],
      start: charAtByte[at],
      end: charAtByte[end],
      partial: !startsChar[at] || !startsChar[end],
      special: specialIds.has(ids[t]),
    });
    at = end;
  }
  return spans;
}

function hasType(node: unknown, type: string): boolean {
  if (!node || typeof node !== 'object') return false;
  if ((node as { type?: unknown }).type === type) return true;
  return Object.values(node).some((v) =>
    Array.isArray(v) ? v.some((x) => hasType(x, type)) : typeof v === 'object' && hasType(v, type),
  );
}

/** GPT-2's bytes_to_unicode, inverted: the printable character a byte-level token uses for each byte. */
const UNICODE_TO_BYTE: Map<string, number> = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Map<string, number>();
  for (const b of printable) map.set(String.fromCharCode(b), b);
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) map.set(String.fromCharCode(256 + extra++), b);
  return map;
})();
