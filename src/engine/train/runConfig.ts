/**
 * From what a person asks for (data, tokenizer, preset, a few overrides) to a complete TrainConfig with its
 * data prepared: shared by `llm-lens train` and the extension's Start Training.
 *
 *   const { config, tokenizer } = await prepareRun({ data: ['input.txt'], tokenizer: 'char', preset: 'tiny',
 *     runDir: '.llmlens/runs/tiny-1', dataCacheDir: '.llmlens/data', device: 'cpu' }, console.log);
 */
import * as path from 'node:path';
import type { TrainRequest } from '../../protocol/training';
import { DATA_OPTIONS, LOOP_OPTIONS, MODEL_OPTIONS, type LoopAutoValues } from '../../protocol/trainOptions';
import { defaultsOf, pickOptions } from '../options';
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

export async function prepareRun(
  r: TrainRequest,
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
    valFraction: r.valFraction ?? DATA_OPTIONS.valFraction.default,
    signal: o.signal,
    onProgress: o.onProgress,
  });
  log(
    `data: ${files.length} file(s), ${ds.meta.trainTokens.toLocaleString('en-US')} train + ${ds.meta.valTokens.toLocaleString('en-US')} val tokens (${tok.tokenizer.name}, vocab ${tok.tokenizer.vocabSize})${ds.cached ? ', cached' : ''} in ${ds.dir}`,
  );
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
  const config: TrainConfig = {
    ...defaultsOf(LOOP_OPTIONS),
    ...auto,
    ...pickOptions(LOOP_OPTIONS, r),
    dataDir: ds.dir,
    model: { ...p.model, ...pickOptions(MODEL_OPTIONS, r) },
    tokenizerFiles: tok.files,
    tokenizerId: r.tokenizer,
  };
  return { config, tokenizer: tok.tokenizer, files };
}
