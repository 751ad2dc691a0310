/** Tokenizer jobs (worker) and the Tokenize panel's messages (host <-> webview). */

/** Which tokenizer: a built-in encoding, a Hugging Face tokenizer.json, or one trained with LLM Lens. */
export type TokenizerSpec =
  | { kind: 'builtin'; name: string }
  | { kind: 'huggingface'; path: string }
  | { kind: 'trained'; dir: string };

/** A tokenizer the picker offers. `key` is stable and unique: 'builtin:cl100k_base', 'huggingface:/abs/tokenizer.json' … */
export interface TokenizerChoice {
  key: string;
  label: string;
  description: string;
  spec: TokenizerSpec;
}

/** Bit flags per token in TokenizeResult.flags. */
export const TOKEN_PARTIAL = 1;
export const TOKEN_SPECIAL = 2;

/** One tokenizer's view of a text. Arrays are parallel, one entry per token; offsets are UTF-16. */
export interface TokenizeResult {
  key: string;
  name: string;
  vocabSize: number;
  ids: Uint32Array;
  starts: Uint32Array;
  ends: Uint32Array;
  flags: Uint8Array;
  /** Each distinct id's bytes as hex, for hovers ("e2 80 99"). */
  bytesHex: Record<number, string>;
  chars: number;
  bytes: number;
  ms: number;
}

/** Roles in ChatViewResult.roles, by index (the engine's ROLES). */
export const CHAT_ROLES = ['system', 'user', 'assistant', 'tool'] as const;

/** A conversation rendered as ChatML with one tokenizer plus the chat tokens. Arrays are parallel, one entry per token. */
export interface ChatViewResult {
  key: string;
  /** The tokenizer's name with the chat tokens ("cl100k_base+chatml"). */
  name: string;
  ids: Uint32Array;
  /** Loss weight: 1 on the assistant's content and its closing <|im_end|>, 0 elsewhere. */
  weights: Uint8Array;
  /** Index into CHAT_ROLES of the turn the token belongs to. */
  roles: Uint8Array;
  /** 1 on special tokens (<|im_start|>, <|im_end|>, <|endoftext|> …; never text that only spells one). */
  special: Uint8Array;
  /** Each token's own text ("<|im_start|>" for the chat tokens; "⟨f0 9f⟩" for part of a character). */
  texts: string[];
  /** How many tokens carry loss (weight 1). */
  lossTokens: number;
  ms: number;
}

/** One tokenizer's column of the conversation view: its rendering, or why it has none. */
export type ChatViewColumn = ChatViewResult | { key: string; name: string; error: string };

/** Tokenizer jobs the worker runs. */
export type TokenizerJob =
  /** Encode text with one tokenizer (special tokens are shown as text unless allowSpecial). */
  | { kind: 'tokenize'; key: string; spec: TokenizerSpec; text: string; allowSpecial: boolean }
  /** Parse one JSONL line as a conversation and render it as ChatML (file and line name it in errors). */
  | { kind: 'chatView'; key: string; spec: TokenizerSpec; text: string; file: string; line: number }
  /** Only the token count (the status bar). */
  | { kind: 'countTokens'; spec: TokenizerSpec; text: string }
  /** Train a byte-level BPE tokenizer on files and save it into outDir. */
  | {
      kind: 'trainTokenizer';
      files: string[];
      vocabSize: number;
      pattern: 'gpt4' | 'gpt2';
      specialTokens: string[];
      name: string;
      outDir: string;
    };

export type TokenizerJobResult =
  | { kind: 'tokenize'; result: TokenizeResult }
  | { kind: 'chatView'; result: ChatViewResult }
  | { kind: 'countTokens'; count: number }
  /** vocabSize counts the byte and merged tokens; special tokens come on top. */
  | { kind: 'trainTokenizer'; dir: string; vocabSize: number; merges: number; ms: number };

/** What the Tokenize panel shows for one text. */
export interface TokenizeView {
  /** The tokenized text (the selection, or the whole document). */
  text: string;
  /** Where it came from: file name and whether it is a selection. */
  source: { label: string; selection: boolean };
  results: TokenizeResult[];
}

/** Host -> Tokenize webview. */
export type TokenizeHostMessage =
  /** The tokenizers on offer and which are selected (1, or 2–4 in compare mode). */
  | { type: 'choices'; choices: TokenizerChoice[]; selected: string[]; compare: boolean }
  /** Encoding has started for this text. */
  | { type: 'busy'; label: string }
  | { type: 'view'; view: TokenizeView }
  /** A conversation (one JSONL line) rendered with chat tokens by each selected tokenizer. */
  | { type: 'chat'; label: string; results: ChatViewColumn[] }
  | { type: 'error'; message: string };

/** Tokenize webview -> host. */
export type TokenizeWebviewMessage =
  | { type: 'ready' }
  /** Use these tokenizers (keys from 'choices'); more than one turns compare mode on. */
  | { type: 'select'; keys: string[] }
  | { type: 'compare'; on: boolean }
  /** Select [start, end) (UTF-16 offsets into the view's text) in the editor. */
  | { type: 'reveal'; start: number; end: number }
  /** Show this pasted JSONL line as a conversation. */
  | { type: 'chat'; text: string }
  /** Copy one result's ids to the clipboard. */
  | { type: 'copyIds'; key: string };
