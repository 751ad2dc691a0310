/**
 * From what a person asks for (data, tokenizer, preset, a few overrides) to a complete TrainConfig with its
 * data prepared: shared by `llm-lens train` and the extension's Start Training.
 *
 *   const { config, tokenizer } = await prepareRun({ data: ['input.txt'], tokenizer: 'char', preset: 'tiny',
 *     runDir: '.llmlens/runs/tiny-1', dataCacheDir: '.llmlens/data', device: 'cpu' }, console.log);
 */
import * as path from 'node:path';
import type { TrainRequest } from '../../protocol/training';
import { preset } from '../model/presets';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { expandInputs, prepareDataset, type DataProgress } from './data';
import type { TrainConfig } from './loop';
import { checkpointRunTokenizer, resolveRunTokenizer } from './runTokenizer';

export interface PreparedRun {
  config: TrainConfig;
  tokenizer: Tokenizer;
  files: string[];
}

export interface RunOverrides {
  gradAccum?: number;
  minLr?: number;
  warmupIters?: number;
  lrDecayIters?: number;
  decayLr?: boolean;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  gradClip?: number;
  temperature?: number;
  topK?: number;
  threads?: number;
  bias?: boolean;
  valFraction?: number;
  initFrom?: string;
  saveInitial?: boolean;
  noInitialEval?: boolean;
  stepsPerRun?: number;
}

export async function prepareRun(
  r: TrainRequest & RunOverrides,
  log: (line: string) => void,
  o: { signal?: AbortSignal; onProgress?: (p: DataProgress) => void } = {},
): Promise<PreparedRun> {
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
    valFraction: r.valFraction ?? 0.1,
    signal: o.signal,
    onProgress: o.onProgress,
  });
  log(
    `data: ${files.length} file(s), ${ds.meta.trainTokens.toLocaleString('en-US')} train + ${ds.meta.valTokens.toLocaleString('en-US')} val tokens (${tok.tokenizer.name}, vocab ${tok.tokenizer.vocabSize})${ds.cached ? ', cached' : ''} in ${ds.dir}`,
  );
  const maxIters = r.maxIters ?? p.train.maxIters;
  const evalInterval =
    r.evalInterval ?? Math.min(p.train.evalInterval, Math.max(1, Math.floor(maxIters / 4)));
  const config: TrainConfig = {
    runDir: r.runDir,
    dataDir: ds.dir,
    model: {
      nLayer: r.nLayer ?? p.model.nLayer,
      nHead: r.nHead ?? p.model.nHead,
      nEmbd: r.nEmbd ?? p.model.nEmbd,
      blockSize: r.blockSize ?? p.model.blockSize,
      bias: r.bias ?? p.model.bias,
      vocabSize: p.model.vocabSize,
    },
    tokenizerFiles: tok.files,
    tokenizerId: r.tokenizer,
    batchSize: r.batchSize ?? p.train.batchSize,
    gradAccum: r.gradAccum ?? 1,
    maxIters,
    lr: r.lr ?? p.train.lr,
    minLr: r.minLr ?? p.train.minLr,
    warmupIters: r.warmupIters ?? Math.min(p.train.warmupIters, Math.floor(maxIters / 10)),
    lrDecayIters: r.lrDecayIters ?? maxIters,
    decayLr: r.decayLr ?? true,
    weightDecay: r.weightDecay ?? p.train.weightDecay,
    beta1: r.beta1 ?? 0.9,
    beta2: r.beta2 ?? p.train.beta2,
    gradClip: r.gradClip ?? 1,
    evalInterval,
    evalIters: r.evalIters ?? p.train.evalIters,
    sampleInterval: r.sampleInterval ?? evalInterval,
    sampleTokens: r.sampleTokens ?? 200,
    samplePrompt: r.prompt ?? '\n',
    temperature: r.temperature ?? 0.8,
    topK: r.topK ?? 200,
    checkpointInterval: r.checkpointInterval ?? evalInterval,
    seed: r.seed ?? 1337,
    device: r.device,
    threads: r.threads,
    resumeFrom: r.resumeFrom,
    initFrom: r.initFrom,
    saveInitial: r.saveInitial,
    noInitialEval: r.noInitialEval,
    stepsPerRun: r.stepsPerRun,
  };
  return { config, tokenizer: tok.tokenizer, files };
}
