/**
 * Tokenizer jobs inside the worker: encode with offsets (the Tokenize panel), count (the status bar),
 * and train a BPE tokenizer. Loaded tokenizers are cached by spec, so repeated requests are cheap.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { renderChatML } from '../engine/chat/chatml';
import { withChatTokens, type ChatTokenizer } from '../engine/chat/chatTokenizer';
import { parseConversation } from '../engine/chat/conversation';
import { getEncoding } from '../engine/tokenizer/builtin';
import { loadHuggingFaceTokenizer } from '../engine/tokenizer/huggingface';
import { tokenizerSpecKey } from '../engine/tokenizer/load';
import { textFromBytes } from '../engine/tokenizer/textInput';
import type { Tokenizer, TokenizerProgress } from '../engine/tokenizer/tokenizer';
import { trainBpe } from '../engine/tokenizer/train';
import { loadTrainedTokenizer, saveTrainedTokenizer } from '../engine/tokenizer/trainedFiles';
import {
  CHAT_ROLES,
  TOKEN_PARTIAL,
  type ChatViewResult,
  TOKEN_SPECIAL,
  type TokenizerJob,
  type TokenizerJobResult,
  type TokenizerSpec,
  type TokenizeResult,
} from '../protocol/tokenize';

const cache = new Map<string, Promise<Tokenizer>>();

const specKey = tokenizerSpecKey;

/** Loads (once) the tokenizer a spec names. */
export function loadTokenizer(spec: TokenizerSpec): Promise<Tokenizer> {
  const key = specKey(spec);
  let t = cache.get(key);
  if (!t) {
    t = loadUncached(spec);
    cache.set(key, t);
    t.catch(() => cache.delete(key));
  }
  return t;
}

async function loadUncached(spec: TokenizerSpec): Promise<Tokenizer> {
  switch (spec.kind) {
    case 'builtin':
      return getEncoding(spec.name);
    case 'huggingface':
      return loadHuggingFaceTokenizer(spec.path);
    case 'trained':
      return loadTrainedTokenizer(spec.dir);
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Encodes `text` and packs the spans into typed arrays for the webview. */
export function tokenizeToResult(
  tok: Tokenizer,
  key: string,
  text: string,
  allowSpecial: boolean,
): TokenizeResult {
  const t0 = performance.now();
  const spans = tok.encodeWithOffsets(
    text,
    allowSpecial ? { allowedSpecial: 'all' } : { disallowedSpecial: new Set() },
  );
  const n = spans.length;
  const ids = new Uint32Array(n);
  const starts = new Uint32Array(n);
  const ends = new Uint32Array(n);
  const flags = new Uint8Array(n);
  const bytesHex: Record<number, string> = {};
  for (let i = 0; i < n; i++) {
    const s = spans[i];
    ids[i] = s.id;
    starts[i] = s.start;
    ends[i] = s.end;
    flags[i] = (s.partial ? TOKEN_PARTIAL : 0) | (s.special ? TOKEN_SPECIAL : 0);
    if (!(s.id in bytesHex)) bytesHex[s.id] = hex(tok.tokenBytes(s.id));
  }
  return {
    key,
    name: tok.name,
    vocabSize: tok.vocabSize,
    ids,
    starts,
    ends,
    flags,
    bytesHex,
    chars: [...text].length,
    bytes: Buffer.byteLength(text, 'utf8'),
    ms: performance.now() - t0,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A token's own text; a token that holds part of a character is shown as ⟨its bytes in hex⟩. */
function tokenText(tok: Tokenizer, id: number): string {
  const bytes = tok.tokenBytes(id);
  try {
    return utf8.decode(bytes);
  } catch {
    return `⟨${hex(bytes)}⟩`;
  }
}

const chatCache = new WeakMap<Tokenizer, ChatTokenizer>();

/**
 * One JSONL line as the model sees it in fine-tuning: ChatML with `tok` plus the chat tokens, each
 * token's role, loss weight (renderChatML) and whether it is a special token. Bad lines and tokenizers
 * that cannot take the chat tokens throw with the message to show.
 */
export function chatViewResult(
  tok: Tokenizer,
  key: string,
  text: string,
  file: string,
  line: number,
): ChatViewResult {
  const t0 = performance.now();
  const { messages } = parseConversation(text, file, line);
  const tools = messages.some((m) => m.role === 'tool');
  let chat = chatCache.get(tok);
  if (!chat || (tools && !chat.chat.tools)) chatCache.set(tok, (chat = withChatTokens(tok, { tools })));
  const ct = chat.tokenizer;
  const r = renderChatML(messages, chat.chat, (s) => ct.encode(s, { disallowedSpecial: new Set() }));
  const weights = Uint8Array.from(r.weights);
  const specials = new Set(ct.specialTokens.values());
  return {
    key,
    name: ct.name,
    ids: Uint32Array.from(r.ids),
    weights,
    roles: Uint8Array.from(r.roles, (role) => CHAT_ROLES.indexOf(role)),
    special: Uint8Array.from(r.ids, (id) => (specials.has(id) ? 1 : 0)),
    texts: r.ids.map((id) => tokenText(ct, id)),
    lossTokens: weights.reduce((a, w) => a + w, 0),
    ms: performance.now() - t0,
  };
}

export async function runTokenizerJob(
  job: TokenizerJob,
  signal: AbortSignal,
  progress: (message: string, fraction?: number) => void,
): Promise<TokenizerJobResult> {
  switch (job.kind) {
    case 'tokenize': {
      const tok = await loadTokenizer(job.spec);
      return { kind: 'tokenize', result: tokenizeToResult(tok, job.key, job.text, job.allowSpecial) };
    }
    case 'chatView': {
      const tok = await loadTokenizer(job.spec);
      return { kind: 'chatView', result: chatViewResult(tok, job.key, job.text, job.file, job.line) };
    }
    case 'countTokens': {
      const tok = await loadTokenizer(job.spec);
      return { kind: 'countTokens', count: tok.encode(job.text, { disallowedSpecial: new Set() }).length };
    }
    case 'trainTokenizer': {
      const t0 = performance.now();
      const texts: string[] = [];
      for (const [i, file] of job.files.entries()) {
        signal.throwIfAborted();
        progress(`reading ${path.basename(file)}`, (0.05 * i) / job.files.length);
        texts.push(textFromBytes(await readFile(file), path.basename(file)));
      }
      const trained = await trainBpe(texts, {
        vocabSize: job.vocabSize,
        pattern: job.pattern,
        specialTokens: job.specialTokens,
        name: job.name,
        signal,
        onProgress: (p: TokenizerProgress) => progress(progressMessage(p), progressFraction(p)),
      });
      signal.throwIfAborted();
      progress('saving', 1);
      saveTrainedTokenizer(job.outDir, trained);
      cache.delete(specKey({ kind: 'trained', dir: job.outDir }));
      return {
        kind: 'trainTokenizer',
        dir: job.outDir,
        vocabSize: trained.vocab.length,
        merges: trained.merges.length,
        ms: performance.now() - t0,
      };
    }
  }
}

function progressMessage(p: TokenizerProgress): string {
  return (
    p.message ??
    (p.stage === 'merging'
      ? `merge ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')}`
      : `${p.stage} ${p.done}/${p.total}`)
  );
}

/** Where each stage starts in the progress bar and how much of it it spans. */
const PROGRESS_SPANS: Partial<Record<TokenizerProgress['stage'], [number, number]>> = {
  reading: [0, 0.05],
  counting: [0.05, 0.15],
  merging: [0.2, 0.8],
};

/** Reading is the first 5 %, counting the next 15 %, merging the rest. */
function progressFraction(p: TokenizerProgress): number {
  const f = p.total ? p.done / p.total : 0;
  const span = PROGRESS_SPANS[p.stage];
  return span ? span[0] + span[1] * f : 1;
}
