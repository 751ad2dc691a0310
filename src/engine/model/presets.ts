/**
 * Model presets. Each one is a GPT-2-style architecture plus training defaults that make sense for it.
 *
 *   tiny              a few minutes on 2 CPU cores: visible learning on any text
 *   shakespeare-char  nanoGPT's config/train_shakespeare_char.py (6 layers, 6 heads, 384 wide, block 256)
 *   gpt2-124m         GPT-2 small (12 layers, 12 heads, 768 wide, block 1024, vocab 50257)
 */
export interface ModelShape {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  bias: boolean;
  /** Fixed vocabulary (gpt2-124m); otherwise the tokenizer's. */
  vocabSize?: number;
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

export const PRESETS: readonly Preset[] = [
  {
    name: 'tiny',
    description: '4 layers, 4 heads, 128 wide, block 64: learns visibly in a few minutes on a laptop CPU',
    model: { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, bias: true },
    train: {
      batchSize: 12,
      maxIters: 2000,
      lr: 1e-3,
      minLr: 1e-4,
      warmupIters: 100,
      beta2: 0.99,
      weightDecay: 0.1,
      evalInterval: 250,
      evalIters: 20,
    },
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
