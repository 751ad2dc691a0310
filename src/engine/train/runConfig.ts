/**
 * From what a person asks for (data, tokenizer, preset, a few overrides) to a complete TrainConfig with its
 * data prepared: shared by `llm-lens train` and the extension's Start Training.
 *
 *   const { config, tokenizer } = await prepareRun({ data: ['input.txt'], tokenizer: 'char', preset: 'tiny',
 *     runDir: '.llmlens/runs/tiny-1', dataCacheDir: '.llmlens/data', device: 'cpu' }, console.log);
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHATML_TEMPLATE, CHATML_TOOLS_TEMPLATE } from '../chat/chatml';
import { conversationsUseTools } from '../chat/conversation';
import { chatTokensOf, withChatTokens } from '../chat/chatTokenizer';
import { tokenizerChatTemplate, type ChatFormat } from '../chat/chatPrompt';
import { saveTokenizer } from '../tokenizer/save';
import { checkpointFolder } from './checkpoint';
import { loadTrainCheckpoint } from './modelCheckpoint';
import { prepareSftData } from './sftData';
import type { TrainRequest } from '../../protocol/training';
import { DATA_OPTIONS, LOOP_OPTIONS, MODEL_OPTIONS, type LoopAutoValues } from '../../protocol/trainOptions';
import { defaultsOf, pickOptions } from '../options';
import { preset, type Preset } from '../model/presets';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { TrainModel } from '../model/gpt';
import { expandInputs, prepareDataset, type DataProgress } from './data';
import type { RunModel, TrainConfig } from './loop';
import { checkpointRunTokenizer, loadModelTokenizer, resolveRunTokenizer } from './runTokenizer';

export interface PreparedRun {
  config: TrainConfig;
  tokenizer: Tokenizer;
  files: string[];
}

export async function prepareRun(
  r: TrainRequest,
  log: (line: string) => void,
  o: { signal?: AbortSignal; onProgress?: (p: DataProgress) => void } = {},
): Promise<PreparedRun> {
  if (r.stage === 'sft') return prepareSftRun(r, log, o);
  const p = preset(r.preset);
  if (!r.data.length) throw new Error('no training data: pick text files or folders');
  const files = expandInputs(r.data);
  if (!files.length)
    throw new Error(
      `no text files in ${r.data.join(', ')} (binary files, node_modules and .git are skipped)`,
    );
  const from = r.resumeFrom ?? r.initFrom; // its ids must mean what they meant in training: encode with its tokenizer
  const tokDir = path.join(r.runDir, 'tokenizer');
  const tok = from
    ? checkpointRunTokenizer(from, r.tokenizer, files, tokDir)
    : resolveRunTokenizer(r.tokenizer, files, tokDir);
  const ds = await prepareDataset({
    files,
    tokenizer: tok.tokenizer,
    tokenizerId: tok.id,
    cacheDir: r.dataCacheDir,
    valFraction: r.valFraction ?? DATA_OPTIONS.valFraction.default,
    signal: o.signal,
    onProgress: o.onProgress,
  });
  log(
    `data: ${files.length} file(s), ${ds.meta.trainTokens.toLocaleString('en-US')} train + ${ds.meta.valTokens.toLocaleString('en-US')} val tokens (${tok.tokenizer.name}, vocab ${tok.tokenizer.vocabSize})${ds.cached ? ', cached' : ''} in ${ds.dir}`,
  );
  const config = loopConfig(r, {
    dataDir: ds.dir,
    model: presetModel(p, r),
    tokenizerFiles: tok.files,
    tokenizerId: r.tokenizer,
  });
  return { config, tokenizer: tok.tokenizer, files };
}

/** The preset's model with the model options asked for; a Llama preset's as model/llama.ts's LlamaConfig. */
function presetModel(p: Preset, r: TrainRequest): RunModel {
  const { nKvHead, intermediateSize, ...asked } = pickOptions(MODEL_OPTIONS, r);
  const { llama: l, ...shape } = p.model;
  if (!l) {
    const llamaOnly = Object.entries({ nKvHead, intermediateSize }).filter(([, v]) => v !== undefined);
    if (llamaOnly.length)
      throw new Error(
        `${llamaOnly.map(([k]) => k).join(' and ')}: options of the Llama presets (llama-tiny), and preset ${p.name} is a GPT-2: leave them out, or pick a Llama preset`,
      );
    return { ...shape, ...asked };
  }
  if (asked.bias) throw new Error(`bias: the Llama family has no biases (preset ${p.name}): leave bias out`);
  const { bias: _, ...m } = { ...shape, ...asked };
  return {
    family: 'llama',
    ...m,
    nKvHead: nKvHead ?? l.nKvHead,
    headDim: m.nEmbd / m.nHead,
    intermediateSize: intermediateSize ?? l.intermediateSize,
    ropeTheta: l.ropeTheta,
    rmsNormEps: l.rmsNormEps,
    tieWordEmbeddings: l.tieWordEmbeddings,
    attentionBias: 'none',
  };
}

/** The loop's settings: the options asked for, else the preset's and the computed (`auto`) defaults. */
function loopConfig(
  r: TrainRequest,
  rest: Pick<TrainConfig, 'dataDir' | 'model' | 'tokenizerFiles' | 'tokenizerId' | 'configExtra'>,
): TrainConfig {
  const p = preset(r.preset);
  const maxIters = r.maxIters ?? p.train.maxIters;
  const evalInterval =
    r.evalInterval ?? Math.min(p.train.evalInterval, Math.max(1, Math.floor(maxIters / 4)));
  // the defaults LOOP_OPTIONS calls `auto`, from the preset and the other options
  const auto: LoopAutoValues = {
    runDir: r.runDir,
    batchSize: p.train.batchSize,
    maxIters,
    lr: p.train.lr,
    minLr: p.train.minLr,
    warmupIters: Math.min(p.train.warmupIters, Math.floor(maxIters / 10)),
    lrDecayIters: maxIters,
    weightDecay: p.train.weightDecay,
    beta2: p.train.beta2,
    evalInterval,
    evalIters: p.train.evalIters,
    sampleInterval: evalInterval,
    checkpointInterval: evalInterval,
  };
  return { ...defaultsOf(LOOP_OPTIONS), ...auto, ...pickOptions(LOOP_OPTIONS, r), ...rest };
}

/** The tokenizer fine-tuning renders with, and how (see prepareSftRun); `dir` is the base checkpoint's. */
function sftTokenizer(
  tok: Tokenizer,
  dir: string,
  tools: boolean,
): { tokenizer: Tokenizer; format: ChatFormat; added: number } {
  const own = chatTokensOf(tok) ? undefined : tokenizerChatTemplate(tok);
  if (!own) {
    const { tokenizer, chat, added } = withChatTokens(tok, { tools });
    return { tokenizer, format: { kind: 'chatml', chat, stop: chat.imEnd }, added };
  }
  if (tools)
    throw new Error(
      `${dir}'s tokenizer renders conversations with its own chat template, and LLM Lens writes tool calls with its ChatML tool tokens only: fine-tune on conversations without tool calls, or remove chat_template from tokenizer_config.json to use ChatML`,
    );
  const eos = own.specialTokens.eos_token;
  if (own.stop === undefined)
    throw new Error(
      eos === undefined
        ? `${dir}/tokenizer_config.json has a chat_template but no eos_token, so a fine-tuned answer could never end: add "eos_token" (the token its template closes an answer with)`
        : `${dir}/tokenizer_config.json: its eos_token ${JSON.stringify(eos)} is not a special token of tokenizer.json, so an answer could not end at one id: add it to tokenizer.json's added_tokens with "special": true`,
    );
  return { tokenizer: tok, format: { kind: 'template', ...own }, added: 0 };
}

/**
 * Fine-tuning (stage sft): the model is the base checkpoint's (initFrom, or resumeFrom to continue), its
 * tokenizer gains the chat tokens (saved in the run folder and so in every checkpoint, with the ChatML
 * template in config.json), and `data` (+ `heldout`) are conversations JSONL packed into rows (sftData.ts).
 * A tokenizer.json with its own chat template and without the chat tokens keeps its ids: conversations
 * are rendered with its template and answers end at its eos_token, as the Chat panel renders them.
 */
/** The chat template a fine-tuned checkpoint records: its own, or ChatML (with tool calls when it has the tool tokens). */
function chatTemplateOf(format: ChatFormat): string {
  if (format.kind === 'template') return format.template;
  return format.chat.tools ? CHATML_TOOLS_TEMPLATE : CHATML_TEMPLATE;
}

/** A Llama fine-tunes on rows of at most this many tokens unless blockSize asks for more. */
const LLAMA_SFT_CONTEXT = 1024;

/**
 * The model a fine-tuning run trains: the base's shape, refusing options that would change it. A Llama's
 * context (blockSize) is free up to its max_position_embeddings (RoPE has no table of positions), by
 * default at most LLAMA_SFT_CONTEXT; `maxPositions` keeps the base's max_position_embeddings for config.json.
 */
function sftModel(
  base: TrainModel,
  r: TrainRequest,
  dir: string,
): { model: TrainModel; maxPositions?: number } {
  const asked = pickOptions(MODEL_OPTIONS, r) as Record<string, unknown>;
  const llama = base.family === 'llama';
  const differ = Object.entries(asked).filter(
    ([k, v]) => !(llama && k === 'blockSize') && (base as unknown as Record<string, unknown>)[k] !== v,
  );
  if (differ.length)
    throw new Error(
      `fine-tuning keeps the base model's shape; ${differ.map(([k]) => `${k} ${String((base as unknown as Record<string, unknown>)[k])}`).join(', ')} in ${dir}: leave those options out`,
    );
  if (!llama) return { model: base };
  const max = Math.max(base.blockSize, base.maxPositionEmbeddings ?? 0);
  const blockSize = r.blockSize ?? Math.min(max, LLAMA_SFT_CONTEXT);
  if (blockSize > max)
    throw new Error(
      `blockSize ${blockSize} is more than ${dir}'s max_position_embeddings (${max}): fine-tune on at most ${max} tokens a row`,
    );
  return { model: { ...base, blockSize }, maxPositions: max > blockSize ? max : undefined };
}

async function prepareSftRun(
  r: TrainRequest,
  log: (line: string) => void,
  o: { signal?: AbortSignal },
): Promise<PreparedRun> {
  const from = r.resumeFrom ?? r.initFrom;
  if (!from) throw new Error('fine-tuning starts from a base checkpoint: give --from (initFrom)');
  if (!r.data.length) throw new Error('no conversations: give a JSONL file (--data)');
  for (const f of [...r.data, ...(r.heldout ? [r.heldout] : [])])
    if (!fs.existsSync(f) || !fs.statSync(f).isFile())
      throw new Error(`${f} is not a file: fine-tuning data is conversations JSONL, one file each`);
  const dir = checkpointFolder(from);
  const base = await loadTrainCheckpoint(dir);
  const tools = await conversationsUseTools([...r.data, ...(r.heldout ? [r.heldout] : [])], o);
  // a tokenizer with more ids than the model's rows is not the one it was trained with: refused
  const { tokenizer, format, added } = sftTokenizer(
    loadModelTokenizer({ dir, config: base.model }),
    dir,
    tools,
  );
  if (base.model.family === 'llama' && format.kind !== 'template')
    throw new Error(
      `${dir}: a Llama-family model fine-tunes with its own chat template, and its tokenizer has none: add "chat_template" and "eos_token" to tokenizer_config.json (as the model's hub repository has them), or start from an instruct model`,
    );
  const tokenizerFiles = saveTokenizer(tokenizer, path.join(r.runDir, 'tokenizer'));
  const h = createHash('sha256');
  for (const f of tokenizerFiles) h.update(fs.readFileSync(f));
  const tokenizerId = `${tokenizer.name}:${h.digest('hex').slice(0, 16)}`;
  const { model, maxPositions } = sftModel(base.model, r, dir);
  const ds = await prepareSftData({
    files: r.data,
    heldout: r.heldout,
    tokenizer,
    format,
    tokenizerId,
    blockSize: model.blockSize,
    valFraction: r.valFraction ?? DATA_OPTIONS.valFraction.default,
    cacheDir: r.dataCacheDir,
    signal: o.signal,
  });
  const m = ds.meta;
  log(
    `data: ${m.train.conversations} train + ${m.val.conversations} held-out conversations in ${m.train.rows} + ${m.val.rows} rows of ${m.blockSize + 1}, ${m.train.lossTokens.toLocaleString('en-US')} train tokens carry loss (${tokenizer.name}, vocab ${tokenizer.vocabSize}${added ? `, ${added} chat tokens added` : ''}${format.kind === 'template' ? ', its own chat template' : ''})${ds.cached ? ', cached' : ''} in ${ds.dir}`,
  );
  const config = loopConfig(r, {
    dataDir: ds.dir,
    model: {
      ...model,
      ...(maxPositions ? { maxPositionEmbeddings: maxPositions } : {}),
      vocabSize: Math.max(model.vocabSize, tokenizer.vocabSize),
    } as RunModel,
    tokenizerFiles,
    tokenizerId,
    configExtra: {
      stage: 'sft',
      chatTemplate: chatTemplateOf(format),
    },
  });
  return { config: { ...config, stage: 'sft' }, tokenizer, files: r.data };
}
