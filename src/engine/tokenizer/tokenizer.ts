/**
 * One interface for every tokenizer LLM Lens shows: tiktoken-compatible byte-level BPE (built-in
 * encodings and the user's trained ones), Hugging Face tokenizer.json, and character level.
 */

export interface EncodeOptions {
  /** Special tokens that may appear in the text and are encoded as themselves; 'all' allows every one. Default: none. */
  allowedSpecial?: 'all' | ReadonlySet<string>;
  /**
   * Special tokens that must not appear in the text; encode throws when one does. Default 'all' (tiktoken's rule)
   * minus allowedSpecial. Pass an empty set to encode them as ordinary text.
   */
  disallowedSpecial?: 'all' | ReadonlySet<string>;
}

/** A token and where it came from in the text. */
export interface TokenSpan {
  id: number;
  /** [start, end) in UTF-16 code units of the input string, for editor selections. */
  start: number;
  end: number;
  /**
   * True when the token's bytes do not start or do not end on a character boundary (a multi-byte UTF-8
   * character split between tokens): show its bytes, not text. Each character belongs to the token that
   * holds its first byte, so spans never overlap and their text concatenates to the input; a token made
   * only of a character's continuation bytes has an empty span (start === end) right after it.
   * Example: '🙂' (F0 9F 99 82) as tokens [F0 9F][99 82] → {start 0, end 2, partial}, {start 2, end 2, partial}.
   */
  partial: boolean;
  /** True for special tokens such as <|endoftext|>. */
  special: boolean;
}

export interface Tokenizer {
  /** Display name: 'cl100k_base', 'gpt2', a trained tokenizer's name, a tokenizer.json's folder. */
  readonly name: string;
  /** Number of ids (including special tokens). */
  readonly vocabSize: number;
  /** Special token text → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[]): string;
  /** The raw bytes of one token (UTF-8 of its text for non-byte-level tokenizers). */
  tokenBytes(id: number): Uint8Array;
  /** ids with their UTF-16 offsets; concatenating the spans' text reconstructs the input exactly. */
  encodeWithOffsets(text: string, options?: EncodeOptions): TokenSpan[];
}

/** Progress of a long tokenizer job (training, encoding a corpus). */
export type TokenizerProgress = {
  kind: 'progress';
  stage: 'reading' | 'counting' | 'merging' | 'encoding' | 'saving';
  done: number;
  total: number;
  message?: string;
};
