/**
 * Model presets. Each one is an architecture (GPT-2-style, or the Llama family's) plus training defaults
 * that make sense for it.
 *
 *   tiny              a few minutes on 2 CPU cores: visible learning on any text
 *   llama-tiny        the same size as a Llama: RMSNorm, RoPE, SwiGLU, 2 key/value heads for 4 query heads
 *   shakespeare-char  nanoGPT's config/train_shakespeare_char.py (6 layers, 6 heads, 384 wide, block 256)
 *   gpt2-124m         GPT-2 small (12 layers, 12 heads, 768 wide, block 1024, vocab 50257)
 *
 *   preset('llama-tiny').model.llama   // { nKvHead: 2, intermediateSize: 352, ropeTheta: 10000, … }
 */
/** What a Llama-family preset adds to the shape (model/llama.ts's LlamaConfig). */
export interface LlamaShape {
  nKvHead: number;
  intermediateSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
}

export interface ModelShape {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  bias: boolean;
  /** Fixed vocabulary (gpt2-124m); otherwise the tokenizer's. */
  vocabSize?: number;
  /** A Llama-family model (bias is then false: its linear layers and norms have none). */
  llama?: LlamaShape;
}

export interface TrainDefaults {
  batchSize: number;
  maxIters: number;
  lr: number;
  minLr: number;
  warmupIters: number;
  beta2: number;
  weightDecay: number;
  evalInterval: number;
  evalIters: number;
}

export interface Preset {
  name: string;
  description: string;
  model: ModelShape;
  train: TrainDefaults;
}

/** The tiny presets' schedule: both learn visibly in a few minutes on a laptop CPU. */
const TINY_TRAIN: TrainDefaults = {
  batchSize: 12,
  maxIters: 2000,
  lr: 1e-3,
  minLr: 1e-4,
  warmupIters: 100,
  beta2: 0.99,
  weightDecay: 0.1,
  evalInterval: 250,
  evalIters: 20,
};

export const PRESETS: readonly Preset[] = [
  {
    name: 'tiny',
    description: '4 layers, 4 heads, 128 wide, block 64: learns visibly in a few minutes on a laptop CPU',
    model: { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, bias: true },
    train: TINY_TRAIN,
  },
  {
    name: 'llama-tiny',
    description:
      '4 layers, 4 heads sharing 2 key/value heads, 128 wide, block 64, RoPE, SwiGLU 352, tied embeddings: a tiny Llama',
    model: {
      nLayer: 4,
      nHead: 4,
      nEmbd: 128,
      blockSize: 64,
      bias: false,
      // SwiGLU's three products of 128 × 352 hold as many weights as GPT-2's two of 128 × 512
      llama: {
        nKvHead: 2,
        intermediateSize: 352,
        ropeTheta: 10000,
        rmsNormEps: 1e-5,
        tieWordEmbeddings: true,
      },
    },
    train: TINY_TRAIN,
  },
  {
    name: 'shakespeare-char',
    description:
      "nanoGPT's shakespeare_char: 6 layers, 6 heads, 384 wide, block 256 (hours on CPU, minutes on GPU)",
    model: { nLayer: 6, nHead: 6, nEmbd: 384, blockSize: 256, bias: false },
    train: {
      batchSize: 64,
      maxIters: 5000,
      lr: 1e-3,
      minLr: 1e-4,
      warmupIters: 100,
      beta2: 0.99,
      weightDecay: 0.1,
      evalInterval: 250,
      evalIters: 200,
    },
  },
  {
    name: 'gpt2-124m',
    description: 'GPT-2 small: 12 layers, 12 heads, 768 wide, block 1024, vocabulary 50257 (GPU)',
    model: { nLayer: 12, nHead: 12, nEmbd: 768, blockSize: 1024, bias: true, vocabSize: 50257 },
    train: {
      batchSize: 8,
      maxIters: 600000,
      lr: 6e-4,
      minLr: 6e-5,
      warmupIters: 2000,
      beta2: 0.95,
      weightDecay: 0.1,
      evalInterval: 1000,
      evalIters: 200,
    },
  },
];

export function preset(name: string): Preset {
  const p = PRESETS.find((x) => x.name === name);
  if (!p)
    throw new Error(`unknown model preset '${name}'; presets: ${PRESETS.map((x) => x.name).join(', ')}`);
  return p;
}
