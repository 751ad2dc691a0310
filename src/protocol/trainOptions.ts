/**
 * The options of a training run, once. `llm-lens train`'s flags and --help, the fields of a
 * *.llmlens.json run file and their checks, media/llmlens.schema.json (`npm run gen:schema`), the
 * extension's TrainRequest and the engine's TrainConfig are all made from these tables.
 *
 * Adding an option is one line in the table it belongs to, then its use where it takes effect:
 *   DATA_OPTIONS   how the text becomes a dataset (prepareRun, train/data.ts)
 *   MODEL_OPTIONS  the model's shape (TrainConfig.model)
 *   LOOP_OPTIONS   the training loop's settings, each a field of TrainConfig (train/loop.ts)
 *   RUN_OPTIONS    the run's preset and name, and what the command line prints
 * A fixed default is `default`. A default computed from the preset or other options is `auto`, in
 * words, and prepareRun (train/runConfig.ts) computes it. With neither, the option is optional in
 * TrainConfig too (off, or the runtime's choice). The tables are one line an option: prettier leaves
 * them as written.
 */
import type { AutoValues, OptionTable, OptionValues, ResolvedOptions } from './options';
import { SAMPLING_OPTIONS } from './samplingOptions';

const PRESET = "the preset's";
/** The model presets (src/engine/model/presets.ts). */
export const PRESET_NAMES = ['tiny', 'llama-tiny', 'shakespeare-char', 'gpt2-124m'] as const;

/** Tokenizer names that are not paths: character level and the built-in encodings. */
export const TOKENIZER_NAMES = [
  'char',
  'gpt2',
  'r50k_base',
  'p50k_base',
  'cl100k_base',
  'o200k_base',
] as const;

// prettier-ignore
export const DATA_OPTIONS = {
  data: { type: 'list', path: true, required: true, meta: 'FILES|FOLDERS', doc: 'Text files or folders to train on.' },
  tokenizer: { type: 'str', path: true, names: TOKENIZER_NAMES, default: 'char', doc: 'char, a built-in encoding, or a path.' },
  valFraction: { type: 'num', min: 0, lt: 1, default: 0.1, doc: 'Share of the tokens held out for validation.' },
  heldout: { type: 'str', path: true, meta: 'FILE.jsonl', doc: 'sft: held-out conversations (default: valFraction of data).' },
  dataCacheDir: { type: 'str', path: true, file: false, auto: 'data/ beside runs/', doc: 'Where prepared datasets are cached.' },
} as const satisfies OptionTable;

// prettier-ignore
export const MODEL_OPTIONS = {
  nLayer: { type: 'int', min: 1, auto: PRESET, doc: 'Transformer blocks.' },
  nHead: { type: 'int', min: 1, auto: PRESET, doc: 'Attention heads per block.' },
  nEmbd: { type: 'int', min: 1, auto: PRESET, doc: 'Width; a multiple of nHead.' },
  blockSize: { type: 'int', min: 2, auto: PRESET, doc: 'Context length in tokens.' },
  bias: { type: 'bool', auto: PRESET, doc: 'Biases in the linear layers and layer norms (GPT-2 presets).' },
  nKvHead: { type: 'int', min: 1, doc: "Llama presets: key/value heads, a divisor of nHead (default: the preset's)." },
  intermediateSize: { type: 'int', min: 1, doc: "Llama presets: the SwiGLU MLP's width (default: the preset's)." },
} as const satisfies OptionTable;

// prettier-ignore
export const LOOP_OPTIONS = {
  stage: { type: 'enum', values: ['pretrain', 'sft'], default: 'pretrain', doc: 'pretrain on text, or sft: fine-tune initFrom on conversations JSONL.' },
  runDir: { type: 'str', path: true, file: false, auto: '.llmlens/runs/<name or preset>-<time>', doc: 'The run folder.' },
  device: { type: 'enum', values: ['cpu', 'webgpu', 'cuda'], default: 'cpu', doc: 'Where to train.' },
  threads: { type: 'int', min: 1, doc: "CPU threads (default: onnxruntime's choice)." },
  batchSize: { type: 'int', min: 1, auto: PRESET, doc: 'Sequences per micro-batch.' },
  gradAccum: { type: 'int', min: 1, default: 1, doc: 'Micro-batches per optimizer step.' },
  maxIters: { type: 'int', min: 1, auto: PRESET, doc: 'Optimizer steps.' },
  lr: { type: 'num', gt: 0, auto: PRESET, doc: 'Peak learning rate.' },
  minLr: { type: 'num', min: 0, auto: PRESET, doc: 'Learning rate at the end of the decay.' },
  warmupIters: { type: 'int', min: 0, auto: "the preset's, at most maxIters/10", doc: 'Steps of linear warmup.' },
  lrDecayIters: { type: 'int', min: 0, auto: 'maxIters', doc: 'Step at which the cosine decay reaches minLr.' },
  decayLr: { type: 'bool', default: true, flag: 'decay', doc: 'Cosine decay of the learning rate (off: constant).' },
  weightDecay: { type: 'num', min: 0, auto: PRESET, doc: 'AdamW weight decay (of 2-D weights).' },
  beta1: { type: 'num', min: 0, lt: 1, default: 0.9, doc: "AdamW's β1." },
  beta2: { type: 'num', min: 0, lt: 1, auto: PRESET, doc: "AdamW's β2." },
  gradClip: { type: 'num', min: 0, default: 1, doc: 'Largest gradient norm; 0: no clipping.' },
  evalInterval: { type: 'int', min: 0, auto: "the preset's, at most maxIters/4", doc: 'Steps between evals; 0: none.' },
  evalIters: { type: 'int', min: 0, auto: PRESET, doc: 'Batches per evaluation; 0: no evaluation.' },
  sampleInterval: { type: 'int', min: 0, auto: 'evalInterval', doc: 'Steps between samples; 0: none.' },
  sampleTokens: { type: 'int', min: 0, default: 200, doc: 'Tokens per sample; 0: no samples.' },
  prompt: { type: 'str', default: '\n', doc: 'Text the samples start from.' },
  answerPrompts: { type: 'int', min: 0, default: 3, doc: 'sft: held-out prompts answered in each sample.' },
  temperature: SAMPLING_OPTIONS.temperature,
  topK: SAMPLING_OPTIONS.topK,
  checkpointInterval: { type: 'int', min: 0, auto: 'evalInterval', doc: 'Steps between checkpoints; 0: at the end.' },
  keepCheckpoints: { type: 'int', min: 0, default: 3, doc: 'Keep the last N checkpoints and the best by val loss; 0: all.' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of the weights, batches and samples.' },
  resumeFrom: { type: 'str', path: true, flag: 'resume', doc: 'Continue from this checkpoint exactly.' },
  initFrom: { type: 'str', path: true, doc: "Start from a checkpoint's weights with a new optimizer." },
  saveInitial: { type: 'bool', doc: 'Also save a checkpoint of the initial weights (step 0).' },
  noInitialEval: { type: 'bool', doc: 'Skip the evaluation before the first step.' },
  stepsPerRun: { type: 'int', min: 1, doc: 'Steps per ONNX run on CPU (default: what fits in ~5 s, ≤ 64).' },
} as const satisfies OptionTable;

// prettier-ignore
export const RUN_OPTIONS = {
  preset: { type: 'enum', values: PRESET_NAMES, default: 'tiny', doc: 'Model size and training defaults.' },
  name: { type: 'str', pattern: '^[A-Za-z0-9._-]{1,64}$', doc: 'Start of the run folder name.' },
  logInterval: { type: 'int', min: 1, default: 10, file: false, doc: 'Steps between printed loss lines.' },
} as const satisfies OptionTable;

export const TRAIN_OPTIONS = { ...DATA_OPTIONS, ...RUN_OPTIONS, ...MODEL_OPTIONS, ...LOOP_OPTIONS };

/** What a person may ask a run for: every option, optional. */
export type TrainOptionValues = OptionValues<typeof TRAIN_OPTIONS>;
/** The training loop's settings with their defaults: TrainConfig's fields but the model and data. */
export type LoopSettings = ResolvedOptions<typeof LOOP_OPTIONS>;
/** The settings of LOOP_OPTIONS whose defaults prepareRun computes. */
export type LoopAutoValues = AutoValues<typeof LOOP_OPTIONS>;
export type ModelSettings = ResolvedOptions<typeof MODEL_OPTIONS>;
export type DeviceName = (typeof LOOP_OPTIONS.device.values)[number];
export type PresetName = (typeof PRESET_NAMES)[number];
