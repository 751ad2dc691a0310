/**
 * The options of an RL run (group-relative policy gradient on a chat-data task, src/engine/rl/rlLoop.ts),
 * once: `llm-lens rl`'s flags and --help, and the loop's checks and defaults come from this table.
 *
 *   const o = { ...defaultsOf(RL_OPTIONS), from: 'runs/sft/checkpoints/step-300', task: 'addition' };
 */
import type { OptionTable, OptionValues } from './options';
import { LOOP_OPTIONS, RUN_OPTIONS } from './trainOptions';

/** The tasks with checked answers that ship with the extension (src/engine/rl/rlTasks.ts). */
export const RL_TASK_NAMES = [
  'addition',
  'arithmetic',
  'multiplication',
  'spelling',
  'compare',
  'word-problems',
  'polite',
] as const;
/** How a user task's answers are checked against its `answer` field. */
export const CHECKERS = ['exact', 'numeric', 'contains', 'regex'] as const;

// prettier-ignore
export const RL_OPTIONS = {
  from: { type: 'str', path: true, meta: 'CKPT_DIR', doc: 'The fine-tuned (SFT) checkpoint RL starts from.' },
  task: { type: 'str', path: true, names: RL_TASK_NAMES, meta: 'NAME|FILE.jsonl', doc: 'A shipped task, or a JSONL of {"prompt", "answer"} lines checked by --checker.' },
  checker: { type: 'enum', values: CHECKERS, doc: "A task file's checker (default contains): the answer is exactly, numerically, contains or matches (regex) its answer." },
  heldout: { type: 'str', path: true, meta: 'FILE.jsonl', doc: "A task file's held-out prompts (default: every 10th line of the task file, kept out of training)." },
  rewardModel: { type: 'str', path: true, meta: 'CKPT_DIR', doc: "Reward answers with this reward model (llm-lens reward-train); the task's checker runs alongside as the true score." },
  runDir: { type: 'str', path: true, file: false, meta: 'DIR', doc: 'Where metrics.jsonl and checkpoints/ go.' },
  steps: { type: 'int', min: 1, default: 50, doc: 'Policy-gradient steps (one batch of rollouts each).' },
  groupSize: { type: 'int', min: 1, max: 256, default: 8, doc: 'Answers sampled per prompt (G); at least 2.' },
  promptsPerStep: { type: 'int', min: 1, max: 256, default: 4, doc: 'Prompts per step (P): B = P·G rows.' },
  lr: { type: 'num', gt: 0, max: 1, default: 1e-4, doc: 'Adam learning rate (constant).' },
  maxTokens: { type: 'int', min: 1, default: 64, doc: 'Longest answer sampled, in tokens.' },
  temperature: { type: 'num', gt: 0, max: 10, default: 1, doc: 'Sampling temperature of the rollouts.' },
  scaleByStd: { type: 'bool', default: false, doc: "Divide each advantage by its group's reward std (TRL's default)." },
  klBeta: { type: 'num', min: 0, default: 0, doc: 'KL penalty to the starting model (k3); 0: off, KL not computed.' },
  gradClip: { type: 'num', min: 0, default: 1, doc: 'Clip the gradient to this global norm; 0: off.' },
  updatesPerBatch: { type: 'int', min: 1, max: 16, default: 1, doc: "Adam steps per batch of rollouts; above 1 each token's ratio to the sampling policy is clipped (PPO)." },
  clipEps: { type: 'num', gt: 0, lt: 1, default: 0.2, doc: 'PPO clip range ε of that ratio: [1−ε, 1+ε] (with updatesPerBatch > 1).' },
  maxDigits: { type: 'int', min: 1, max: 4, doc: 'arithmetic, addition: the most digits of a number.' },
  tools: { type: 'str', meta: 'LIST', default: 'none', doc: 'Tools a model with tool tokens may call in its answers: calculator,python,search or none; their output is forced and carries no loss.' },
  toolTimeout: { type: 'int', min: 1, max: 600_000, default: 5000, meta: 'MS', doc: "Each tool call's time limit." },
  evalInterval: { type: 'int', min: 0, default: 10, doc: 'Held-out pass@1 (greedy) every N steps; 0: off.' },
  evalCount: { type: 'int', min: 1, default: 100, doc: 'Held-out questions per evaluation.' },
  passK: { type: 'int', min: 1, max: 64, default: 8, doc: 'pass@k at each evaluation: k answers sampled per held-out question; 1: pass@1 only.' },
  groupsInterval: { type: 'int', min: 0, default: 1, doc: "Log the first prompts' groups (answers, rewards, advantages) every N steps; 0: never." },
  checkpointInterval: { type: 'int', min: 0, default: 0, doc: 'Save every N steps; 0: at the end only.' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of the prompts and rollouts.' },
  device: { ...LOOP_OPTIONS.device, doc: 'Where the policy steps, rollouts and the reward model run.' },
  threads: { type: 'int', min: 1, doc: "CPU threads (default: onnxruntime's choice)." },
} as const satisfies OptionTable;

export type RlOptionValues = OptionValues<typeof RL_OPTIONS>;

/**
 * The fields of a run file with `"stage": "rl"` (and of the request the host writes for an RL run):
 * the RL options, the run's name and its device.
 *
 *   { "stage": "rl", "from": "runs/sft/checkpoints/step-300", "task": "addition", "maxDigits": 2, "steps": 40 }
 */
// prettier-ignore
export const RL_RUN_OPTIONS = {
  stage: { type: 'enum', values: ['rl'], required: true, doc: 'rl: reinforcement learning from a fine-tuned checkpoint.' },
  name: RUN_OPTIONS.name,
  ...RL_OPTIONS,
} as const satisfies OptionTable;
