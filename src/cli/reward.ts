/**
 * The reward-model commands: preference pairs for the toy preference "polite and short" (rl/preferences.ts),
 * training a reward model on pairs, and scoring an answer with one (rl/rewardTrain.ts).
 *
 *   llm-lens reward-data --count 2000 --out pairs.jsonl [--split heldout] [--seed S]
 *   llm-lens reward-train --from runs/sft/checkpoints/step-600 --data pairs.jsonl --heldout held.jsonl --steps 200
 *   llm-lens reward-train --from runs/sft/checkpoints/step-600 --data pairs.jsonl --device webgpu   # on a GPU
 *   // eval step 0: held-out pair accuracy 0.610, mean margin 0.013 (100 pairs)   … step lines …
 *   // RESULT reward held-out pair accuracy before 0.610 after 1.000 (100 pairs)
 *   llm-lens reward-score --checkpoint runs/reward/checkpoints/step-200 --prompt 'What is 3 plus 14?' \
 *     --answer 'Thank you thank you thank you' --expected 17
 *   // 3.0617  "Thank you thank you thank you"  true fail (polite true, answers false, short true)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './main';
import { defaultsOf, parseFlags } from '../engine/options';
import { generatePreferencePairs, preferencesToJsonl, trueCheck } from '../engine/rl/preferences';
import { RewardScorer, trainRewardModel } from '../engine/rl/rewardTrain';
import { writeFileAtomic } from '../engine/train/data';
import type { OptionTable, OptionValues } from '../protocol/options';
import { LOOP_OPTIONS } from '../protocol/trainOptions';

function flags<T extends OptionTable>(cmd: string, args: readonly string[], table: T): OptionValues<T> {
  const { values, rest, problems } = parseFlags(args, table);
  if (rest.length) problems.push(`unexpected argument ${rest[0]} (each value follows its --flag)`);
  if (problems.length) throw new UsageError(`${cmd}: ${problems.join('; ')}`);
  return values;
}

function required<T extends Record<string, unknown>>(cmd: string, o: T, keys: (keyof T & string)[]): void {
  const kebab = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const missing = keys.filter((k) => o[k] === undefined).map(kebab);
  if (missing.length)
    throw new UsageError(`${cmd}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required`);
}

// prettier-ignore
const REWARD_DATA_OPTIONS = {
  count: { type: 'int', min: 1, doc: 'How many pairs.' },
  out: { type: 'str', path: true, meta: 'FILE.jsonl', doc: 'The file to write, one {"prompt", "chosen", "rejected", "answer"} a line.' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: 'Seed of the draws.' },
  split: { type: 'enum', values: ['train', 'heldout'], default: 'train', doc: 'Held-out questions never appear in train.' },
} as const satisfies OptionTable;

export async function rewardDataCommand(args: string[]): Promise<number> {
  const cmd = 'reward-data';
  const o = { ...defaultsOf(REWARD_DATA_OPTIONS), ...flags(cmd, args, REWARD_DATA_OPTIONS) };
  required(cmd, o, ['count', 'out']);
  const pairs = generatePreferencePairs({ count: o.count!, seed: o.seed, split: o.split });
  fs.mkdirSync(path.dirname(path.resolve(o.out!)), { recursive: true });
  writeFileAtomic(o.out!, preferencesToJsonl(pairs));
  process.stderr.write(
    `wrote ${pairs.length} preference pairs (${o.split} split, seed ${o.seed}) to ${o.out}\n`,
  );
  return 0;
}

// prettier-ignore
const REWARD_TRAIN_OPTIONS = {
  from: { type: 'str', path: true, meta: 'DIR', doc: 'The checkpoint to start from (SFT or base).' },
  data: { type: 'str', path: true, meta: 'PAIRS.jsonl', doc: 'Preference pairs, one {"prompt", "chosen", "rejected"} a line.' },
  heldout: { type: 'str', path: true, meta: 'PAIRS.jsonl', doc: 'Held-out pairs (default: a tenth of --data, by prompt).' },
  steps: { type: 'int', min: 0, default: 200, doc: 'Optimizer steps.' },
  lr: { type: 'num', gt: 0, max: 1, default: 3e-4, doc: 'AdamW learning rate.' },
  batchSize: { type: 'int', min: 1, default: 8, doc: 'Pairs per step.' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, doc: "Seed of the head's initialisation and the batches." },
  runDir: { type: 'str', path: true, meta: 'DIR', default: 'runs/reward', doc: 'The checkpoint goes to DIR/checkpoints/step-N.' },
  device: { ...LOOP_OPTIONS.device, doc: 'Where to train: cpu, or a GPU execution provider (llm-lens env lists what runs here).' },
  threads: { type: 'int', min: 1, doc: 'CPU threads (default: every core).' },
  logEvery: { type: 'int', min: 1, default: 10, doc: 'Print the loss every N steps.' },
} as const satisfies OptionTable;

export async function rewardTrainCommand(args: string[]): Promise<number> {
  const cmd = 'reward-train';
  const o = { ...defaultsOf(REWARD_TRAIN_OPTIONS), ...flags(cmd, args, REWARD_TRAIN_OPTIONS) };
  required(cmd, o, ['from', 'data']);
  let window: number[] = [];
  const r = await trainRewardModel({
    from: o.from!,
    data: o.data!,
    heldout: o.heldout,
    steps: o.steps,
    lr: o.lr,
    batchSize: o.batchSize,
    seed: o.seed,
    runDir: o.runDir,
    device: o.device,
    threads: o.threads,
    onEvent: (e) => {
      if (e.kind === 'step') {
        window.push(e.accuracy);
        if (e.step % o.logEvery === 0 || e.step === o.steps) {
          const acc = window.reduce((a, b) => a + b, 0) / window.length;
          process.stdout.write(
            `step ${e.step} loss ${e.loss.toFixed(4)} train pair accuracy ${acc.toFixed(2)} (${e.ms.toFixed(0)} ms)\n`,
          );
          window = [];
        }
      } else if (e.kind === 'eval')
        process.stdout.write(
          `eval step ${e.step}: held-out pair accuracy ${e.accuracy.toFixed(3)}, mean margin ${e.margin.toFixed(3)} (${e.pairs} pairs)\n`,
        );
      else process.stdout.write(`saved ${e.dir}\n`);
    },
  });
  process.stdout.write(
    `RESULT reward held-out pair accuracy before ${r.before.accuracy.toFixed(3)} after ${r.after.accuracy.toFixed(3)} (${r.after.pairs} pairs)\n`,
  );
  return 0;
}

// prettier-ignore
const REWARD_SCORE_OPTIONS = {
  checkpoint: { type: 'str', path: true, meta: 'DIR', doc: 'A reward model saved by reward-train.' },
  prompt: { type: 'str', doc: "The user's message." },
  answer: { type: 'list', doc: 'An answer to score (repeat for several).' },
  expected: { type: 'str', doc: 'The right answer: also print what the true checker (polite, short, answers) says.' },
  device: { ...LOOP_OPTIONS.device, doc: 'Where to score: cpu, or a GPU execution provider.' },
  threads: { type: 'int', min: 1, doc: 'CPU threads (default: every core).' },
} as const satisfies OptionTable;

export async function rewardScoreCommand(args: string[]): Promise<number> {
  const cmd = 'reward-score';
  const o = flags(cmd, args, REWARD_SCORE_OPTIONS);
  required(cmd, o, ['checkpoint', 'prompt', 'answer']);
  const scorer = await RewardScorer.load(o.checkpoint!, { ep: o.device, threads: o.threads });
  try {
    const answers = o.answer!;
    const rewards = await scorer.score(answers.map((answer) => ({ prompt: o.prompt!, answer })));
    answers.forEach((a, i) => {
      const t = o.expected === undefined ? undefined : trueCheck(o.prompt!, a, o.expected);
      const truth = t
        ? `\ttrue ${t.pass ? 'pass' : 'fail'} (polite ${t.polite}, answers ${t.answers}, short ${t.short})`
        : '';
      process.stdout.write(`${rewards[i].toFixed(4)}\t${JSON.stringify(a)}${truth}\n`);
    });
  } finally {
    await scorer.release();
  }
  return 0;
}
