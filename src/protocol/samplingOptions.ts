/**
 * The sampling options, once: `llm-lens sample` flags, the Sampler panel's checks
 * (src/host/sampler/validate.ts) and the samples a training run writes take their ranges from here.
 * The engine applies them in the order of src/engine/sample/sampling.ts.
 */
import type { OptionTable } from './options';

export const SAMPLING_OPTIONS = {
  temperature: { type: 'num', min: 0, max: 10, default: 0.8, doc: 'Divides the logits; 0: greedy.' },
  topK: { type: 'int', min: 0, max: 1e7, default: 200, doc: 'Keep the k most likely tokens; 0: all.' },
  topP: { type: 'num', gt: 0, max: 1, default: 1, doc: 'Keep the fewest tokens that reach p; 1: all.' },
  minP: { type: 'num', min: 0, max: 1, default: 0, doc: "Drop tokens under minP × the top one's; 0: off." },
  repetitionPenalty: { type: 'num', min: 0.1, max: 10, default: 1, doc: 'Seen tokens get rarer; 1: off.' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of the random draws.' },
  maxTokens: { type: 'int', min: 1, default: 200, doc: 'New tokens at most.' },
} as const satisfies OptionTable;

/** `--max-context`: the positions a long-context model runs (its KV cache holds that many per layer). */
export const MAX_CONTEXT_OPTION = {
  type: 'int',
  min: 1,
  max: 1 << 20,
  default: 2048,
  doc: 'Positions a Llama-family model runs at most (its KV cache size); GPT-2 keeps its own.',
} as const;
