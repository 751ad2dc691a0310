/**
 * Character-level tokenizer, nanoGPT's shakespeare_char: the vocabulary is the sorted set of characters
 * (Unicode code points) of a text, and each character is one token.
 *
 *   const tok = CharTokenizer.fromText('hello')   // vocab ['e', 'h', 'l', 'o']
 *   tok.encode('hole')                             // [1, 3, 2, 0]
 *   tok.decode([1, 0, 2, 2, 3])                    // 'hello'
 *
 * Special tokens (the chat tokens, chat/chatTokenizer.ts) come after the characters, with ids from
 * chars.length up; text holding one follows tiktoken's rules (specialSplit.ts):
 *
 *   const chat = new CharTokenizer('char', tok.chars, new Map([['<|im_end|>', 4]]))
 *   chat.encode('hole<|im_end|>', { allowedSpecial: 'all' })   // [1, 3, 2, 0, 4]
 *
 * Saved as JSON: {"format": "llm-lens-char", "version": 1, "name": …, "chars": ["\n", " ", "!", …]}; with
 * special tokens, version 2 and "specialTokens": {"<|im_start|>": 65, "<|im_end|>": 66} (so that an LLM
 * Lens that predates them refuses the file rather than dropping the ids).
 */
import type { EncodeOptions, TokenSpan, Tokenizer } from './tokenizer';
import { byteStringToBytes, utf8ByteString } from './byteString';
import { splitSpecial } from './specialSplit';
import { specialAddedToken } from './toHuggingFace';

export const CHAR_FORMAT = 'llm-lens-char';
export const CHAR_FORMAT_VERSION = 2;
/** The file name of a character vocabulary beside a checkpoint or in a run. */
export const CHAR_VOCAB_FILE = 'vocab.char.json';

export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly idOf = new Map<string, number>();
  /** id → special token text. */
  private readonly specialText = new Map<number, string>();

  constructor(
    readonly name: string,
    readonly chars: readonly string[],
    /** Special token text → id, ids from chars.length up (not necessarily all used). */
    specialTokens: ReadonlyMap<string, number> = new Map(),
  ) {
    chars.forEach((c, i) => {
      if ([...c].length !== 1)
        throw new Error(`${name}: vocabulary entry ${JSON.stringify(c)} is not one character`);
      if (this.idOf.has(c))
        throw new Error(`${name}: character ${JSON.stringify(c)} appears twice in the vocabulary`);
      this.idOf.set(c, i);
    });
    let size = chars.length;
    for (const [text, id] of specialTokens) {
      if (!Number.isInteger(id) || id < chars.length || this.specialText.has(id))
        throw new Error(
          `${name}: special token ${text} has id ${id}; special ids must be whole numbers from ${chars.length} (after the characters), each used once`,
        );
      if (!text) throw new Error(`${name}: a special token has empty text`);
      this.specialText.set(id, text);
      size = Math.max(size, id + 1);
    }
    this.specialTokens = new Map(specialTokens);
    this.vocabSize = size;
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
    let data: {
      format?: unknown;
      version?: unknown;
      name?: unknown;
      chars?: unknown;
      specialTokens?: unknown;
    };
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
    const specials = data.specialTokens ?? {};
    if (typeof specials !== 'object' || Array.isArray(specials) || specials === null)
      throw new Error(`${source}: "specialTokens" must be an object {"<|im_start|>": id, …}`);
    return new CharTokenizer(
      typeof data.name === 'string' ? data.name : 'char',
      data.chars as string[],
      new Map(Object.entries(specials as Record<string, number>)),
    );
  }

  /** Version 1 without special tokens, which every LLM Lens reads; version 2 with them. */
  toJson(): string {
    const specials = this.specialTokens.size ? { specialTokens: Object.fromEntries(this.specialTokens) } : {};
    return (
      JSON.stringify({
        format: CHAR_FORMAT,
        version: this.specialTokens.size ? CHAR_FORMAT_VERSION : 1,
        name: this.name,
        chars: this.chars,
        ...specials,
      }) + '\n'
    );
  }

  /**
   * The same vocabulary as a Hugging Face tokenizer.json, which transformers, transformers.js and
   * @huggingface/tokenizers read: a BPE model without merges (so every character is its own token),
   * no pre-tokenizer, and the Fuse decoder (tokens joined without spaces). Characters outside the
   * vocabulary are dropped there (no unknown token), where encode() here throws. Special tokens are
   * added_tokens and in the vocab too, as in GPT-2's tokenizer.json: Rust tokenizers keeps an added
   * token's id only when the model knows it.
   */
  toHuggingFaceJson(): string {
    const specials = [...this.specialTokens].sort((a, b) => a[1] - b[1]);
    const added = specials.map(([content, id]) => specialAddedToken(content, id));
    const vocab = [...this.chars.map((c, i): [string, number] => [c, i]), ...specials];
    return (
      JSON.stringify(
        {
          version: '1.0',
          truncation: null,
          padding: null,
          added_tokens: added,
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
            vocab: Object.fromEntries(vocab),
            merges: [],
          },
        },
        null,
        2,
      ) + '\n'
    );
  }

  /** Throws on a character outside the vocabulary, naming it and where it is. */
  encode(text: string, options?: EncodeOptions): number[] {
    return this.encodeWithOffsets(text, options).map((s) => s.id);
  }

  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[] {
    const spans: TokenSpan[] = [];
    for (const s of splitSpecial(text, this.specialTokens, options)) {
      if (s.id !== undefined) {
        spans.push({ id: s.id, start: s.start, end: s.end, partial: false, special: true });
        continue;
      }
      let at = s.start;
      for (const c of text.substring(s.start, s.end)) {
        const id = this.idOf.get(c);
        if (id === undefined)
          throw new Error(
            `${this.name}: character ${JSON.stringify(c)} (U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}) at offset ${at} is not in the vocabulary`,
          );
        spans.push({ id, start: at, end: at + c.length, partial: false, special: false });
        at += c.length;
      }
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
    const c = this.chars[id] ?? this.specialText.get(id);
    if (c === undefined)
      throw new Error(`${this.name}: no token with id ${id} (vocabulary size ${this.vocabSize})`);
    return c;
  }
}
