/**
 * Character-level tokenizer, nanoGPT's shakespeare_char: the vocabulary is the sorted set of characters
 * (Unicode code points) of a text, and each character is one token.
 *
 *   const tok = CharTokenizer.fromText('hello')   // vocab ['e', 'h', 'l', 'o']
 *   tok.encode('hole')                             // [1, 3, 2, 0]
 *   tok.decode([1, 0, 2, 2, 3])                    // 'hello'
 *
 * Saved as JSON: {"format": "llm-lens-char", "version": 1, "name": …, "chars": ["\n", " ", "!", …]}.
 */
import type { EncodeOptions, TokenSpan, Tokenizer } from './tokenizer';
import { byteStringToBytes, utf8ByteString } from './byteString';

export const CHAR_FORMAT = 'llm-lens-char';
export const CHAR_FORMAT_VERSION = 1;

export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number> = new Map();
  private readonly idOf = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly chars: readonly string[],
  ) {
    chars.forEach((c, i) => {
      if ([...c].length !== 1)
        throw new Error(`${name}: vocabulary entry ${JSON.stringify(c)} is not one character`);
      if (this.idOf.has(c))
        throw new Error(`${name}: character ${JSON.stringify(c)} appears twice in the vocabulary`);
      this.idOf.set(c, i);
    });
    this.vocabSize = chars.length;
  }

  /** The vocabulary of `text`: its distinct characters in code point order (Python's sorted(set(text))). */
  static fromText(text: string, name = 'char'): CharTokenizer {
    if (!text) throw new Error('no text to build a character vocabulary from');
    const chars = [...new Set(text)].sort(
      (a, b) => (a.codePointAt(0) as number) - (b.codePointAt(0) as number),
    );
    return new CharTokenizer(name, chars);
  }

  static fromJson(text: string, source = 'character tokenizer'): CharTokenizer {
    let data: { format?: unknown; version?: unknown; name?: unknown; chars?: unknown };
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`${source} is not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
        cause: e,
      });
    }
    if (data?.format !== CHAR_FORMAT)
      throw new Error(`${source} is not an LLM Lens character tokenizer (format "${String(data?.format)}")`);
    if (typeof data.version !== 'number' || data.version > CHAR_FORMAT_VERSION) {
      throw new Error(
        `${source} has format version ${String(data.version)}, newer than this LLM Lens reads (${CHAR_FORMAT_VERSION}); update LLM Lens or rebuild the vocabulary`,
      );
    }
    if (!Array.isArray(data.chars) || !data.chars.every((c) => typeof c === 'string'))
      throw new Error(`${source}: "chars" must be a list of characters`);
    return new CharTokenizer(typeof data.name === 'string' ? data.name : 'char', data.chars as string[]);
  }

  toJson(): string {
    return (
      JSON.stringify({
        format: CHAR_FORMAT,
        version: CHAR_FORMAT_VERSION,
        name: this.name,
        chars: this.chars,
      }) + '\n'
    );
  }

  /**
   * The same vocabulary as a Hugging Face tokenizer.json, which transformers, transformers.js and
   * @huggingface/tokenizers read: a BPE model without merges (so every character is its own token),
   * no pre-tokenizer, and the Fuse decoder (tokens joined without spaces). Characters outside the
   * vocabulary are dropped there (no unknown token), where encode() here throws.
   */
  toHuggingFaceJson(): string {
    return (
      JSON.stringify(
        {
          version: '1.0',
          truncation: null,
          padding: null,
          added_tokens: [],
          normalizer: null,
          pre_tokenizer: null,
          post_processor: null,
          decoder: { type: 'Fuse' },
          model: {
            type: 'BPE',
            dropout: null,
            unk_token: null,
            continuing_subword_prefix: null,
            end_of_word_suffix: null,
            fuse_unk: false,
            byte_fallback: false,
            ignore_merges: false,
            vocab: Object.fromEntries(this.chars.map((c, i) => [c, i])),
            merges: [],
          },
        },
        null,
        2,
      ) + '\n'
    );
  }

  /** Throws on a character outside the vocabulary, naming it and where it is. */
  encode(text: string, _options?: EncodeOptions): number[] {
    return this.encodeWithOffsets(text).map((s) => s.id);
  }

  encodeWithOffsets(text: string, _options?: EncodeOptions): TokenSpan[] {
    const spans: TokenSpan[] = [];
    let at = 0;
    for (const c of text) {
      const id = this.idOf.get(c);
      if (id === undefined)
        throw new Error(
          `${this.name}: character ${JSON.stringify(c)} (U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}) at offset ${at} is not in the vocabulary`,
        );
      spans.push({ id, start: at, end: at + c.length, partial: false, special: false });
      at += c.length;
    }
    return spans;
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => this.charOf(id)).join('');
  }

  tokenBytes(id: number): Uint8Array {
    return byteStringToBytes(utf8ByteString(this.charOf(id)));
  }

  private charOf(id: number): string {
    const c = this.chars[id];
    if (c === undefined)
      throw new Error(`${this.name}: no token with id ${id} (vocabulary size ${this.vocabSize})`);
    return c;
  }
}
