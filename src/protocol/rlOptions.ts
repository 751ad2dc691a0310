/**
 * The options of an RL run (group-relative policy gradient on a chat-data task, src/engine/rl/rlLoop.ts),
 * once: `llm-lens rl`'s flags and --help, and the loop's checks and defaults come from this table.
 *
 *   const o = { ...defaultsOf(RL_OPTIONS), from: 'runs/sft/checkpoints/step-300', task: 'addition' };
 */
import type { OptionTable } from './options';

// prettier-ignore
export const RL_OPTIONS = {
  from: { type: 'str', path: true, meta: 'CKPT_DIR', doc: 'The fine-tuned (SFT) checkpoint RL starts from.' },
  task: { type: 'str', meta: 'NAME', doc: 'The chat-data task whose train split gives the prompts (arithmetic, addition).' },
  runDir: { type: 'str', path: true, meta: 'DIR', doc: 'Where metrics.jsonl and checkpoints/ go.' },
  steps: { type: 'int', min: 1, default: 50, doc: 'Policy-gradient steps (one batch of rollouts each).' },
  groupSize: { type: 'int', min: 1, max: 256, default: 8, doc: 'Answers sampled per prompt (G); at least 2.' },
  promptsPerStep: { type: 'int', min: 1, max: 256, default: 4, doc: 'Prompts per step (P): B = P·G rows.' },
  lr: { type: 'num', gt: 0, max: 1, default: 1e-4, doc: 'Adam learning rate (constant).' },
  maxTokens: { type: 'int', min: 1, default: 64, doc: 'Longest answer sampled, in tokens.' },
  temperature: { type: 'num', gt: 0, max: 10, default: 1, doc: 'Sampling temperature of the rollouts.' },
  scaleByStd: { type: 'bool', default: false, doc: "Divide each advantage by its group's reward std (TRL's default)." },
  klBeta: { type: 'num', min: 0, default: 0, doc: 'KL penalty to the starting model (k3); 0: off, KL not computed.' },
  gradClip: { type: 'num', min: 0, default: 1, doc: 'Clip the gradient to this global norm; 0: off.' },
  maxDigits: { type: 'int', min: 1, max: 4, doc: 'arithmetic, addition: the most digits of a number.' },
  evalInterval: { type: 'int', min: 0, default: 10, doc: 'Held-out pass@1 (greedy) every N steps; 0: off.' },
  evalCount: { type: 'int', min: 1, default: 100, doc: 'Held-out questions per evaluation.' },
  checkpointInterval: { type: 'int', min: 0, default: 0, doc: 'Save every N steps; 0: at the end only.' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of the prompts and rollouts.' },
  threads: { type: 'int', min: 1, doc: "CPU threads (default: onnxruntime's choice)." },
} as const satisfies OptionTable;
