/**
 * Byte-level BPE tokenizer with tiktoken's semantics: split the text with a regex into pre-tokens,
 * UTF-8 encode each, merge its bytes by rank (bpeMerge.ts). Ids equal tiktoken's for the same ranks,
 * pattern and special tokens. Example with cl100k_base:
 *
 *   enc.encode('hello world')                     // [15339, 1917]   pre-tokens 'hello', ' world'
 *   enc.encode('<|endoftext|>')                   // throws: special token not allowed
 *   enc.encode('<|endoftext|>', { allowedSpecial: 'all' })        // [100257]
 *   enc.encode('<|endoftext|>', { disallowedSpecial: new Set() }) // [27, 91, 8862, 728, 428, 91, 29] (plain text)
 *
 * Offsets (encodeWithOffsets) are UTF-16 ranges; each character belongs to the token that holds its
 * first byte, so spans tile the text. If '🙂' (F0 9F 99 82) were split into tokens [F0 9F] [99 82], they'd get
 * {start 0, end 2, partial} and {start 2, end 2, partial}.
 *
 * Lone surrogates (invalid UTF-16) are encoded as U+FFFD (EF BF BD), as TextEncoder and tiktoken's
 * WASM binding do; decode therefore returns '\uFFFD' where the input had a lone surrogate.
 */
import type { EncodeOptions, TokenSpan, Tokenizer } from './tokenizer';
import { bytePairEncode, makeRankTables, type RankMap, type RankTables } from './bpeMerge';
import { byteStringToBytes, utf8ByteString, utf8LengthAt } from './byteString';
import { toJsRegExp } from './splitPattern';
import { splitSpecial } from './specialSplit';

export interface BpeDefinition {
  name: string;
  /** Token bytes (as a byte string, see byteString.ts) → rank; the rank is the token id. */
  ranks: ReadonlyMap<string, number>;
  /** Special token text → id (ids not used by ranks). */
  specialTokens: ReadonlyMap<string, number>;
  /** Split pattern in tiktoken's (Rust regex) syntax, e.g. GPT4_SPLIT_PATTERN. */
  pattern: string;
}

/** ignoreBOM: keep a leading U+FEFF (the default decoder drops it, and the text would not round-trip). */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });
const CACHE_MAX_ENTRIES = 65536;
const CACHE_MAX_PIECE = 96;
const CACHE_WINDOW = 4096;

export class BpeTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly pattern: string;
  readonly ranks: RankMap;
  private readonly regex: RegExp;
  private readonly tables: RankTables;
  /** id → token bytes as a byte string (special tokens: their UTF-8 text). */
  private readonly bytesOfId: string[] = [];
  private readonly specialIds = new Set<number>();
  /** Pre-token text → its ids: most words recur, and a hit skips UTF-8 encoding and merging. */
  private cache = new Map<string, number | number[]>();
  private cacheHits = 0;
  private cacheAdds = 0;
  private cacheAdmits = true;

  constructor(def: BpeDefinition) {
    this.name = def.name;
    this.pattern = def.pattern;
    this.ranks = def.ranks;
    this.specialTokens = def.specialTokens;
    this.regex = toJsRegExp(def.pattern);
    let maxId = -1;
    for (const [bytes, id] of def.ranks) {
      if (this.bytesOfId[id] !== undefined)
        throw new Error(`${def.name}: rank ${id} is given to two different tokens`);
      this.bytesOfId[id] = bytes;
      if (id > maxId) maxId = id;
    }
    for (let b = 0; b < 256; b++) {
      if (!def.ranks.has(String.fromCharCode(b)))
        throw new Error(
          `${def.name}: byte 0x${b.toString(16)} has no rank; a byte-level BPE needs all 256 bytes`,
        );
    }
    this.tables = makeRankTables(def.ranks);
    for (const [text, id] of def.specialTokens) {
      if (this.bytesOfId[id] !== undefined)
        throw new Error(`${def.name}: special token ${text} reuses id ${id}`);
      this.bytesOfId[id] = utf8ByteString(text);
      this.specialIds.add(id);
      if (id > maxId) maxId = id;
    }
    if (maxId >= 2 ** 21) throw new Error(`${def.name}: ids up to ${maxId} are not supported (at most 2^21)`);
    this.vocabSize = maxId + 1;
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const out: number[] = [];
    this.encodeSegments(text, options, out, null);
    return out;
  }

  /** Encodes without any special-token handling (tiktoken's encode_ordinary). */
  encodeOrdinary(text: string): number[] {
    const out: number[] = [];
    this.encodeText(text, 0, out, null);
    return out;
  }

  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[] {
    const ids: number[] = [];
    const spans: TokenSpan[] = [];
    this.encodeSegments(text, options, ids, spans);
    return spans;
  }

  decode(ids: readonly number[]): string {
    return UTF8.decode(this.decodeBytes(ids));
  }

  decodeBytes(ids: readonly number[]): Uint8Array {
    let length = 0;
    for (const id of ids) length += this.byteStringOf(id).length;
    const out = new Uint8Array(length);
    let k = 0;
    for (const id of ids) {
      const s = this.byteStringOf(id);
      for (let i = 0; i < s.length; i++) out[k++] = s.charCodeAt(i);
    }
    return out;
  }

  tokenBytes(id: number): Uint8Array {
    return byteStringToBytes(this.byteStringOf(id));
  }

  /** Forgets cached pre-tokens (for benchmarks that measure a cold start). */
  clearCache(): void {
    this.cache = new Map();
    this.cacheHits = 0;
    this.cacheAdds = 0;
    this.cacheAdmits = true;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  private byteStringOf(id: number): string {
    const s = this.bytesOfId[id];
    if (s === undefined)
      throw new Error(`${this.name}: no token with id ${id} (vocabulary size ${this.vocabSize})`);
    return s;
  }

  /** Splits the text at allowed special tokens (tiktoken's rules) and encodes the text between them. */
  private encodeSegments(
    text: string,
    options: EncodeOptions | undefined,
    out: number[],
    spans: TokenSpan[] | null,
  ): void {
    for (const s of splitSpecial(text, this.specialTokens, options)) {
      if (s.id === undefined) {
        this.encodeText(text.substring(s.start, s.end), s.start, out, spans);
        continue;
      }
      out.push(s.id);
      spans?.push({ id: s.id, start: s.start, end: s.end, partial: false, special: true });
    }
  }

  /** Encodes ordinary text (no special tokens); `offset` is where `text` starts in the caller's string. */
  private encodeText(text: string, offset: number, out: number[], spans: TokenSpan[] | null): void {
    if (!text) return;
    const re = this.regex;
    re.lastIndex = 0;
    for (let m; (m = re.exec(text)) !== null;) {
      const piece = m[0];
      if (!piece.length) {
        re.lastIndex++;
        continue;
      }
      const first = out.length;
      this.encodePiece(piece, out);
      if (spans) pushSpans(piece, offset + m.index, out, first, this.bytesOfId, spans);
    }
  }

  /**
   * One pre-token. ASCII pieces that are one token need a single rank lookup (the piece is its own
   * byte string). Other pieces go through the cache; pieces that needed UTF-8 conversion or merging
   * are added to it while it earns its keep: after each window of CACHE_WINDOW additions, adding goes
   * on only if at least one lookup in four hit (base64 or hashes never repeat; filling a cache with
   * them only costs time).
   */
  private encodePiece(piece: string, out: number[]): void {
    let ascii = true;
    for (let i = 0; i < piece.length; i++) {
      if (piece.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      const whole = this.ranks.get(piece);
      if (whole !== undefined) {
        out.push(whole);
        return;
      }
    }
    const cached = this.cache.get(piece);
    if (cached !== undefined) {
      this.cacheHits++;
      if (typeof cached === 'number') out.push(cached);
      else for (const id of cached) out.push(id);
      return;
    }
    const first = out.length;
    const bytes = ascii ? piece : utf8ByteString(piece);
    const whole = ascii ? undefined : this.ranks.get(bytes);
    if (whole !== undefined) out.push(whole);
    else bytePairEncode(bytes, this.tables, out);
    if (piece.length > CACHE_MAX_PIECE) return;
    if (++this.cacheAdds >= CACHE_WINDOW) {
      this.cacheAdmits = this.cacheHits * 4 >= this.cacheAdds;
      this.cacheHits = 0;
      this.cacheAdds = 0;
    }
    if (!this.cacheAdmits) return;
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache = new Map();
    this.cache.set(piece, out.length - first === 1 ? out[first] : out.slice(first));
  }
}

/** Spans of the tokens out[first…] of one pre-token that starts at UTF-16 offset `start`. */
function pushSpans(
  piece: string,
  start: number,
  ids: number[],
  first: number,
  bytesOfId: string[],
  spans: TokenSpan[],
): void {
  let ascii = true;
  for (let i = 0; i < piece.length && ascii; i++) ascii = piece.charCodeAt(i) < 0x80;
  if (ascii) {
    let at = start;
    for (let t = first; t < ids.length; t++) {
      const len = bytesOfId[ids[t]].length;
      spans.push({ id: ids[t], start: at, end: at + len, partial: false, special: false });
      at += len;
    }
    return;
  }
  // charAtByte[b]: UTF-16 offset (in piece) of the first character whose first byte is at or after byte b.
  // startsChar[b]: byte b begins a character (or b is the end).
  const nBytes = utf8ByteString(piece).length;
  const charAtByte = new Int32Array(nBytes + 1);
  const startsChar = new Uint8Array(nBytes + 1);
  let b = 0;
  for (let i = 0; i < piece.length; i++) {
    const len = utf8LengthAt(piece, i);
    if (len === 0) continue; // low half of a surrogate pair: its bytes were counted with the high half
    startsChar[b] = 1;
    for (let k = 0; k < len; k++) charAtByte[b + k] = k === 0 ? i : i + (len === 4 ? 2 : 1);
    b += len;
  }
  charAtByte[nBytes] = piece.length;
  startsChar[nBytes] = 1;
  let at = 0;
  for (let t = first; t < ids.length; t++) {
    const end = at + bytesOfId[ids[t]].length;
    spans.push({
      id: ids[t],
      start: start + charAtByte[at],
      end: start + charAtByte[end],
      partial: !startsChar[at] || !startsChar[end],
      special: false,
    });
    at = end;
  }
}
