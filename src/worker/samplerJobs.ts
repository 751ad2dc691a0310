/**
 * Sampler jobs inside the worker: load a checkpoint once, run generation sessions on its KV cache
 * (pulled a few tokens at a time, so the host streams them and Stop is just "don't ask again"), and
 * the inspection pass whose full attention stays here until a head is asked for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GptInspector, type Inspection } from '../engine/model/inspect';
import type { KvCacheModel } from '../engine/model/kvCache';
import {
  generateTokens,
  preparePrompt,
  type GeneratedToken,
  type GenerateHooks,
} from '../engine/sample/generate';
import type { TokenProb } from '../engine/sample/stepStats';
import { chatTokensOf } from '../engine/chat/chatTokenizer';
import { makeTools, parseToolList } from '../engine/tools/registry';
import type { Tool } from '../engine/tools/tool';
import { toolForcer, toolsOff } from '../engine/tools/toolLoop';
import type { Tokenizer } from '../engine/tokenizer/tokenizer';
import { kvCacheOf, openModelForInference } from '../engine/sample/openModel';
import { cachedRepoOf } from '../engine/hub/repoName';
import type { FamilyConfig } from '../engine/model/family';
import type { LoadedModel as PretrainedModel } from '../engine/model/pretrained';
import type {
  InspectionView,
  PromptTokens,
  SampledToken,
  SamplerJob,
  SamplerJobResult,
  SamplerModelInfo,
  SamplerParams,
  TokenChoice,
  ToolNameMsg,
} from '../protocol/sampler';

export interface LoadedModel {
  info: SamplerModelInfo;
  kv: KvCacheModel<FamilyConfig>;
  /** The inspection pass on the model's family (GPT-2, Llama). */
  inspector: GptInspector<FamilyConfig>;
  tokenizer: Tokenizer;
  start: { id: number; text: string };
  /** Where a sample ends: <|endoftext|> and the tokenizer's eos_token. */
  stops: number[];
}

const models = new Map<string, Promise<LoadedModel>>();
const sessions = new Map<number, { gen: AsyncGenerator<GeneratedToken>; model: LoadedModel }>();
let nextSession = 1;
let lastInspection: Inspection | undefined;

/** The checkpoint folder of a folder or a model.safetensors path. */
export function checkpointDir(p: string): string {
  return fs.existsSync(p) && fs.statSync(p).isFile() ? path.dirname(p) : p;
}

/** A checkpoint's model, caches and tokenizer, loaded once per folder. */
export async function loadModel(checkpoint: string): Promise<LoadedModel> {
  const dir = path.resolve(checkpointDir(checkpoint));
  let m = models.get(dir);
  if (!m) {
    m = (async () => {
      const o = await openModelForInference(dir);
      const { model, tokenizer, start } = o;
      const c = model.config;
      // a downloaded model is named by its repo (not the snapshot's hash); a run's checkpoint by run/step
      const label =
        cachedRepoOf(dir) ??
        (model.family === 'gpt2'
          ? `${path.basename(path.dirname(path.dirname(dir)))}/${path.basename(dir)}`
          : path.basename(dir));
      const info: SamplerModelInfo = {
        checkpoint: dir,
        label,
        vocabSize: c.vocabSize,
        blockSize: c.blockSize,
        nLayer: c.nLayer,
        nHead: c.nHead,
        nEmbd: c.nEmbd,
        tokenizer: tokenizer.name,
        startToken: start.text,
        tools: !!chatTokensOf(tokenizer)?.tools,
      };
      return {
        info,
        kv: await kvCacheOf(model),
        inspector: await inspectorOf(model),
        tokenizer,
        start,
        stops: o.stops,
      };
    })();
    models.set(dir, m);
    m.catch(() => models.delete(dir));
  }
  return m;
}

/** The inspection pass of a loaded model, for its family. */
function inspectorOf(m: PretrainedModel): Promise<GptInspector<FamilyConfig>> {
  return m.family === 'gpt2'
    ? GptInspector.forFamily(m.fam, m.config, m.weights)
    : GptInspector.forFamily(m.fam, m.config, m.weights);
}

const choice =
  (tok: Tokenizer) =>
  (t: TokenProb): TokenChoice => ({
    id: t.id,
    text: tok.decode([t.id]),
    p: t.p,
    logit: t.logit,
    ...(t.raw !== undefined ? { raw: t.raw } : {}),
  });

function toMessage(t: GeneratedToken, tok: Tokenizer): SampledToken {
  const { id, text, prob, rawProb, logit, rank, entropy, sampledEntropy, finish } = t;
  return {
    id,
    text,
    prob,
    rawProb,
    logit,
    rank,
    entropy,
    sampledEntropy,
    top: t.top.map(choice(tok)),
    topRaw: t.topRaw.map(choice(tok)),
    ...(finish ? { finish } : {}),
    ...(t.forced ? { toolOutput: true as const } : {}),
    ...(t.tool ? { tool: t.tool } : {}),
  };
}

function encodePrompt(m: LoadedModel, prompt: { text: string } | { ids: number[] }): PromptTokens {
  const raw =
    'ids' in prompt ? prompt.ids : m.tokenizer.encode(prompt.text, { disallowedSpecial: new Set() });
  for (const id of raw)
    if (!Number.isInteger(id) || id < 0 || id >= m.info.vocabSize)
      throw new Error(`token id ${id} is outside the model's vocabulary (${m.info.vocabSize})`);
  const p = preparePrompt(raw, m.info.blockSize, m.start);
  return { ids: p.ids, texts: p.ids.map((id) => m.tokenizer.decode([id])), notes: p.notes };
}

/** Max-pools each (n × n) head to (s × s). */
function thumbnails(att: Float32Array[], H: number, n: number, s: number): Float32Array {
  const out = new Float32Array(att.length * H * s * s);
  att.forEach((a, l) => {
    for (let h = 0; h < H; h++) {
      const base = (l * H + h) * s * s;
      for (let i = 0; i < n; i++) {
        const r = Math.floor((i * s) / n);
        for (let j = 0; j <= i; j++) {
          const k = base + r * s + Math.floor((j * s) / n);
          const w = a[(h * n + i) * n + j];
          if (w > out[k]) out[k] = w;
        }
      }
    }
  });
  return out;
}

async function inspect(m: LoadedModel, all: number[], thumbSize: number): Promise<InspectionView> {
  const t0 = performance.now();
  const ids = all.slice(-m.info.blockSize);
  const r = await m.inspector.inspect(ids, { topK: 3 });
  lastInspection = r;
  const size = Math.max(1, Math.min(thumbSize, r.n));
  const texts: Record<number, string> = {};
  for (const id of r.lens.ids) texts[id] ??= m.tokenizer.decode([id]);
  return {
    ids,
    texts: ids.map((id) => m.tokenizer.decode([id])),
    offset: all.length - ids.length,
    nLayer: r.nLayer,
    nHead: r.nHead,
    nKvHead: r.nKvHead,
    thumbs: thumbnails(r.attention, r.nHead, r.n, size),
    size,
    lens: { k: r.lens.k, ids: r.lens.ids, probs: r.lens.probs, texts },
    ms: performance.now() - t0,
  };
}

async function next(session: number, maxTokens: number, budgetMs: number): Promise<SamplerJobResult> {
  const s = sessions.get(session);
  if (!s) return { kind: 'samplerNext', tokens: [], done: true, ms: 0 };
  const t0 = performance.now();
  const tokens: SampledToken[] = [];
  let done = false;
  while (tokens.length < maxTokens && performance.now() - t0 < budgetMs) {
    const r = await s.gen.next();
    if (r.done) {
      done = true;
      break;
    }
    tokens.push(toMessage(r.value, s.model.tokenizer));
    if (r.value.finish) done = true;
  }
  if (done) sessions.delete(session);
  return { kind: 'samplerNext', tokens, done, ms: performance.now() - t0 };
}

/**
 * Starts `streams` generations from ids (seeds seed, seed+1, …) for samplerNext to pull; each ends at
 * one of `stopTokens` (the token is kept), a stop string or maxTokens. `tools` hooks the tool loop in
 * (its force hook, a new one per stream) and bans tokens (the tool-call token when tools are off).
 */
export function startSessions(
  m: LoadedModel,
  ids: readonly number[],
  p: SamplerParams,
  streams: number,
  stopTokens: number[],
  tools: ToolHooks = {},
): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(1, Math.min(streams, 8)); i++) {
    const id = nextSession++;
    const options = {
      ...p,
      seed: p.seed + i,
      stop: p.stop.filter(Boolean),
      stopTokens,
      vocabLimit: m.tokenizer.vocabSize,
      bannedTokens: tools.banned,
    };
    const hooks = { decode: (x: readonly number[]) => m.tokenizer.decode(x), force: tools.force?.() };
    const gen = generateTokens(m.kv, ids, options, hooks);
    sessions.set(id, { gen, model: m });
    out.push(id);
  }
  return out;
}

/** Tools made once per list and folder, and kept warm (the python interpreter, the search index). */
const toolCache = new Map<string, Promise<Tool[]>>();

/** What startSessions gets to run tools: a forcer per stream, or the banned call token. */
export type ToolHooks = { force?: () => GenerateHooks['force']; banned?: number[] };

/**
 * The tool loop's hooks for a model with tool tokens: `tools` with names runs them, [] bans the call
 * token (the model answers without tools), undefined hooks nothing in. A model without tool tokens gets none.
 */
export async function toolHooks(
  m: LoadedModel,
  tools: readonly ToolNameMsg[] | undefined,
  searchDir?: string,
): Promise<ToolHooks> {
  const tokens = chatTokensOf(m.tokenizer)?.tools;
  if (!tokens || !tools) return {};
  if (!tools.length) return { banned: toolsOff(tokens) };
  const names = parseToolList(tools.join(','));
  const key = `${names.join(',')}\0${searchDir ?? ''}`;
  let made = toolCache.get(key);
  if (!made) {
    toolCache.set(key, (made = makeTools(names, { searchDir })));
    made.catch(() => toolCache.delete(key));
  }
  const ready = await made;
  return { force: () => toolForcer({ tokens, tokenizer: m.tokenizer, tools: ready }) };
}

export async function runSamplerJob(job: SamplerJob): Promise<SamplerJobResult> {
  switch (job.kind) {
    case 'samplerLoad':
      return { kind: 'samplerLoad', model: (await loadModel(job.checkpoint)).info };
    case 'samplerStart': {
      const m = await loadModel(job.checkpoint);
      const prompt = encodePrompt(m, job.prompt);
      const hooks = await toolHooks(m, job.tools, job.searchDir);
      const ids = startSessions(m, prompt.ids, job.params, job.streams, m.stops, hooks);
      return { kind: 'samplerStart', sessions: ids, prompt };
    }
    case 'samplerNext':
      return next(job.session, job.maxTokens, job.budgetMs);
    case 'samplerClose':
      for (const s of job.sessions) {
        await sessions.get(s)?.gen.return(undefined);
        sessions.delete(s);
      }
      return { kind: 'samplerClose' };
    case 'samplerInspect':
      return {
        kind: 'samplerInspect',
        view: await inspect(await loadModel(job.checkpoint), job.ids, job.thumbSize),
      };
    case 'samplerAttention': {
      const r = lastInspection;
      if (!r || job.layer >= r.nLayer || job.head >= r.nHead)
        throw new Error('no inspection holds this head: inspect the text first');
      const n = r.n;
      return {
        kind: 'samplerAttention',
        layer: job.layer,
        head: job.head,
        n,
        weights: r.attention[job.layer].slice(job.head * n * n, (job.head + 1) * n * n),
      };
    }
  }
}
