/**
 * Chat jobs (worker) and the Chat panel's messages (host <-> webview). Generation runs as sampler
 * sessions: chatStart renders the conversation and starts them, samplerNext / samplerClose pull and end them.
 */
import type { SampledToken, SamplerModelInfo, SamplerParams, ToolNameMsg, ToolOffer } from './sampler';

export type { ToolNameMsg } from './sampler';

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** One turn of a conversation (src/engine/chat/conversation.ts Message). */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** The model a chat runs, and whether its tokenizer has chat tokens. */
export interface ChatModelInfo extends SamplerModelInfo {
  /** True when the tokenizer has <|im_start|> and <|im_end|> or its own chat template; false for a base model. */
  chatTokens: boolean;
}

/** The exact token stream the model sees for one turn. */
export interface ChatPrompt {
  ids: number[];
  texts: string[];
  /** True for special tokens (<|im_start|>, <|im_end|>, <|endoftext|>). */
  special: boolean[];
  /** The role of the turn each token belongs to. */
  roles: ChatRole[];
  /**
   * 'chatml': rendered with the chat tokens; 'template': with a tokenizer.json's own chat template;
   * 'base': "User: …\nAssistant:" text for a base model.
   */
  format: 'chatml' | 'template' | 'base';
  /** Cropped to the block: said to the user. */
  notes: string[];
}

/** Which of the panel's checkpoints: the one chatted with, or the one compared with it. */
export type ChatSlot = 'main' | 'compare';

export type ChatJob =
  /** Load a checkpoint for chat (cached with the sampler's models). */
  | { kind: 'chatLoad'; checkpoint: string }
  /** Render the conversation + generation prompt and start `streams` answers (seed, seed+1, …). */
  | {
      kind: 'chatStart';
      checkpoint: string;
      messages: ChatMessage[];
      params: SamplerParams;
      streams: number;
      /** Tools the model may call (none: it cannot open a call); ignored without tool tokens. */
      tools?: ToolNameMsg[];
      /** The folder the search tool indexes. */
      searchDir?: string;
    };

export type ChatJobResult =
  { kind: 'chatLoad'; model: ChatModelInfo } | { kind: 'chatStart'; sessions: number[]; prompt: ChatPrompt };

/** Host -> Chat webview. */
export type ChatHostMessage =
  /** A checkpoint was loaded into a slot (compare: undefined when the comparison ends). */
  | { type: 'model'; slot: ChatSlot; model?: ChatModelInfo; params: SamplerParams }
  /** The tools a model with tool tokens may use here (sent with each model and when trust changes). */
  | { type: 'tools'; offer: ToolOffer }
  /** The answers of a turn begin: one prompt per slot, the same for every answer of that slot. */
  | {
      type: 'started';
      answers: { id: number; slot: ChatSlot; label: string }[];
      prompts: Partial<Record<ChatSlot, ChatPrompt>>;
    }
  | { type: 'tokens'; answer: number; tokens: SampledToken[]; tokPerSec: number }
  | { type: 'done'; answer: number; reason: string }
  | { type: 'busy'; message: string }
  | { type: 'error'; message: string };

/** Chat webview -> host. */
export type ChatWebviewMessage =
  | { type: 'ready' }
  /**
   * Answer the last user message of `messages` (after an optional system message) `answers` times.
   * `tools`: the Tools toggle (models with tool tokens only): run the offered tools, or ban calls.
   */
  | { type: 'send'; messages: ChatMessage[]; params: SamplerParams; answers: number; tools?: boolean }
  | { type: 'stop' }
  | { type: 'pickCheckpoint'; slot: ChatSlot }
  | { type: 'endCompare' }
  /**
   * Open the Sampler on an answer with its token `index` selected: the distribution it was drawn from
   * and the attention of the position that predicted it.
   */
  | { type: 'openInSampler'; answer: number; index: number };
