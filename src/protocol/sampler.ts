/** Sampler jobs (worker) and the Sampler panel's messages (host <-> webview). */

/** Every sampling control of the panel (src/engine/sample/generate.ts GenerateOptions). */
export interface SamplerParams {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  minP: number;
  /** 1 = off. */
  repetitionPenalty: number;
  seed: number;
  maxTokens: number;
  /** Stop strings (generation ends once the text contains one). */
  stop: string[];
}

/** The model a sampler runs. */
export interface SamplerModelInfo {
  /** Checkpoint folder (absolute). */
  checkpoint: string;
  label: string;
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  tokenizer: string;
  /** What an empty prompt starts from: '<|endoftext|>' or a character vocabulary's token 0. */
  startToken: string;
  /** True when the tokenizer has the tool tokens (<|tool_start|> …): the model was fine-tuned to call tools. */
  tools: boolean;
}

/** A tool's name (src/engine/tools/tool.ts TOOL_NAMES). */
export type ToolNameMsg = 'calculator' | 'python' | 'search';

/** The tools the host offers a model with tool tokens, and why any is missing (Workspace Trust). */
export interface ToolOffer {
  names: ToolNameMsg[];
  /** Said beside the Tools toggle: why python is off, say; empty when every tool is offered. */
  note: string;
}

/** A candidate next token: probability p (raw, or after the transform, per list) and its raw logit. */
export interface TokenProb {
  id: number;
  p: number;
  logit: number;
  /** Raw-model probability, in the after-transform list. */
  raw?: number;
}

/** A candidate next token with its text. */
export interface TokenChoice extends TokenProb {
  text: string;
}

/** What the model thought when a token was drawn (engine/sample/stepStats.ts computes it). */
export interface StepSummaryOf<T extends TokenProb> {
  /** The chosen token. */
  id: number;
  /** Probability it was drawn with (after repetition penalty, temperature, top-k/p, min-p). */
  prob: number;
  /** Probability under the raw model (softmax of the logits). */
  rawProb: number;
  logit: number;
  /** 1-based rank among the raw logits (1 = the raw model's favourite). */
  rank: number;
  /** Entropy of the raw distribution and of the one it was drawn from, in nats. */
  entropy: number;
  sampledEntropy: number;
  /** The most likely tokens after the transform (ties, e.g. filtered zeros, by raw logit), and of the raw model. */
  top: T[];
  topRaw: T[];
}

/** One generated token and what the model thought when it was drawn. */
/** A tool call the sampler ran while the model answered (src/engine/sample/generate.ts ToolCallRecord). */
export interface ToolCallInfo {
  name: string;
  input: string;
  ok: boolean;
  /** What went into the context (cut and cleaned as the model sees it). */
  output: string;
  ms: number;
}

export interface SampledToken extends StepSummaryOf<TokenChoice> {
  /** Text the token added. */
  text: string;
  /** Set on a token chosen by hand (a branch). */
  forced?: boolean;
  /** Set on the tokens of a tool's output, which the sampler put into the context (not drawn). */
  toolOutput?: true;
  /** On the first token of a tool's output: the call. */
  tool?: ToolCallInfo;
  finish?: 'stop' | 'stopToken' | 'maxTokens';
}

/** The prompt as the model sees it. */
export interface PromptTokens {
  ids: number[];
  texts: string[];
  /** Cropped, or started from the start token: said to the user. */
  notes: string[];
}

/** Attention and logit lens of a token sequence (B = 1). */
export interface InspectionView {
  /** The inspected ids and their texts (n). */
  ids: number[];
  texts: string[];
  /** Position of ids[0] in the universe's sequence (non-zero when only the last blockSize tokens fit). */
  offset: number;
  nLayer: number;
  /** Query heads. */
  nHead: number;
  /**
   * Key/value heads (grouped-query attention; nHead without it): query heads kv·G … kv·G + G-1,
   * G = nHead / nKvHead, share key/value head kv.
   */
  nKvHead: number;
  /** Thumbnails (nLayer, nHead, size, size): each head's attention, max-pooled to size × size. */
  thumbs: Float32Array;
  size: number;
  /** Logit lens over nLayer + 1 rows (embeddings, then after each block): (rows, n, k). */
  lens: { k: number; ids: Int32Array; probs: Float32Array; texts: Record<number, string> };
  ms: number;
}

/** Sampling settings a lab experiment runs with (the panel's fields are set to them; the seed stays the panel's). */
export interface LabSettings {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  maxTokens: number;
  stop: string[];
  /** Parallel universes of the prompt. */
  streams: number;
}

/** One experiment of the base-model lab (src/engine/sample/lab.ts LAB_EXPERIMENTS). */
export interface LabExperiment {
  id: string;
  title: string;
  /** What a base model does here and why (a paragraph). */
  lesson: string;
  /** What to look for in its output. */
  lookFor: string;
  /** 'sample': generate from `prompt`; 'regurgitation': the meter, with `prompt` as its example passage. */
  kind: 'sample' | 'regurgitation';
  prompt: string;
  settings: LabSettings;
}

/**
 * How much of a continuation is a passage word for word (src/engine/sample/lab.ts measureRegurgitation).
 * Lengths and positions count characters as Unicode code points (`Array.from(text)`), not UTF-16 units.
 */
export interface RegurgitationMeasure {
  /** Characters the continuation repeats from the passage's remainder before it first differs. */
  verbatimChars: number;
  continuationChars: number;
  /** Leading generated tokens that lie wholly inside the verbatim characters. */
  verbatimTokens: number;
  continuationTokens: number;
  /** Character of the continuation where it first differs from the remainder; null: it never does. */
  divergeAt: number | null;
  /** True when it diverges because the passage ended (the continuation went on past it). */
  passageEnded: boolean;
  /** The longest run shared with the remainder anywhere: `length` characters at `at` (continuation) and `passageAt` (remainder); earliest of equals. */
  longest: { length: number; at: number; passageAt: number };
}

/** Sampler jobs the worker runs. A session is one stream of generation ("universe"). */
export type SamplerJob =
  /** Load a checkpoint (folder or its model.safetensors) and its tokenizer; cached by path. */
  | { kind: 'samplerLoad'; checkpoint: string }
  /** Start `streams` generations of one prompt (seed, seed+1, …), or of exact ids (a branch). */
  | {
      kind: 'samplerStart';
      checkpoint: string;
      prompt: { text: string } | { ids: number[] };
      params: SamplerParams;
      streams: number;
      /**
       * Tools the model may call (the tool loop runs them); [] bans the call token; absent, the model
       * samples raw (a call is just tokens, nothing runs). Ignored without tool tokens.
       */
      tools?: ToolNameMsg[];
      /** The folder the search tool indexes. */
      searchDir?: string;
    }
  /** Up to `maxTokens` more tokens of a session (fewer when `budgetMs` passes). */
  | { kind: 'samplerNext'; session: number; maxTokens: number; budgetMs: number }
  | { kind: 'samplerClose'; sessions: number[] }
  /** Inspection pass over ids (the last blockSize of them); kept for samplerAttention. */
  | { kind: 'samplerInspect'; checkpoint: string; ids: number[]; thumbSize: number }
  /** One head's full attention (n × n) from the last inspection. */
  | { kind: 'samplerAttention'; layer: number; head: number };

export type SamplerJobResult =
  | { kind: 'samplerLoad'; model: SamplerModelInfo }
  | { kind: 'samplerStart'; sessions: number[]; prompt: PromptTokens }
  | { kind: 'samplerNext'; tokens: SampledToken[]; done: boolean; ms: number }
  | { kind: 'samplerClose' }
  | { kind: 'samplerInspect'; view: InspectionView }
  | { kind: 'samplerAttention'; layer: number; head: number; n: number; weights: Float32Array };

/** Host -> Sampler webview. */
export type SamplerHostMessage =
  | { type: 'model'; model: SamplerModelInfo; params: SamplerParams }
  /** The tools a model with tool tokens may use here (sent with each model and when trust changes). */
  | { type: 'tools'; offer: ToolOffer }
  /** New universes: their prompt tokens (the same for all, except a branch). */
  | {
      type: 'started';
      universes: { id: number; label: string; branchOf?: { universe: number; index: number } }[];
      prompt: PromptTokens;
      keep?: { universe: number; tokens: SampledToken[] };
    }
  | { type: 'tokens'; universe: number; tokens: SampledToken[]; tokPerSec: number }
  | { type: 'done'; universe: number; reason: string }
  /** An inspection; `from`: the position (in view) whose attention row to show at once. */
  | { type: 'inspection'; universe: number; view: InspectionView; from?: number }
  /** Select a universe's generated token `index`: its distribution (as a click on it does). */
  | { type: 'select'; universe: number; index: number }
  | { type: 'attention'; layer: number; head: number; n: number; weights: Float32Array }
  /** The base-model lab's experiments (sent on ready). */
  | { type: 'lab'; experiments: LabExperiment[] }
  /** The regurgitation meter's result: `universe` continued `prompt` (the passage's start); `remainder` is the rest. */
  | {
      type: 'regurgitation';
      universe: number;
      prompt: string;
      remainder: string;
      /** 'sentence': the prompt is the first sentence; 'prefix': the passage has none, a prefix was taken. */
      split: 'sentence' | 'prefix';
      continuation: string;
      measure: RegurgitationMeasure;
    }
  | { type: 'busy'; message: string }
  | { type: 'error'; message: string };

/** Sampler webview -> host. */
export type SamplerWebviewMessage =
  | { type: 'ready' }
  /** `tools`: the Tools toggle (models with tool tokens only): run the offered tools, or ban calls. */
  | { type: 'generate'; prompt: string; params: SamplerParams; streams: number; tools?: boolean }
  | { type: 'stop' }
  /** Continue universe `universe` from its token `index` replaced by `tokenId`. */
  | {
      type: 'branch';
      universe: number;
      index: number;
      tokenId: number;
      params: SamplerParams;
      tools?: boolean;
    }
  /** Attention and logit lens over a universe's prompt + generated tokens. */
  | { type: 'inspect'; universe: number }
  | { type: 'attention'; layer: number; head: number }
  | { type: 'pickCheckpoint' }
  /** The regurgitation meter: continue the passage's first sentence with `params`, then measure. */
  | { type: 'regurgitate'; passage: string; params: SamplerParams };
