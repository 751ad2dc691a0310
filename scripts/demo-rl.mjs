// `npm run demo:rl`: reinforcement learning on checked answers (GRPO) lifts a small model's accuracy.
//  1. pretrains (or reuses) a small character-level GPT on 2-digit sums written as short dialogues
//     ("user\nWhat is 47 + 38?\nassistant\n47 + 38 = 85."), train-split problems only;
//  2. fine-tunes it briefly on the addition chat task (llm-lens sft, 10 steps at lr 3e-3): the new chat
//     tokens and the high learning rate knock it about: many held-out sums come out wrong greedily, while
//     sampled answers are still often right (pass@8 above pass@1: the signal RL harvests);
//  3. measures held-out accuracy (llm-lens eval-task, greedy, 200 questions), runs RL on the train
//     split's prompts (llm-lens rl: 16 prompts × 8 answers per step, reward 1 when the answer holds the
//     right sum), measures again. Measured: before 0.46 after 0.95 (seed 1337), 0.32 → 0.77 (DEMO_SEED=2),
//     0.45 → 0.91 (DEMO_SEED=3); held-out pass@8 0.69 → 0.99, 0.61 → 0.94, 0.69 → 0.99. 4 min 53 s from
//     scratch on 2 busy cores (load 3), 4 of them pretraining; 1 min 20 s with the base reused.
// Ends with one line: RESULT rl before X.XX after X.XX (held-out accuracy as fractions of 1).
// DEMO_BASE_ITERS, DEMO_SFT_ITERS, DEMO_SFT_LR, DEMO_RL_STEPS, DEMO_RL_LR, DEMO_RL_PROMPTS, DEMO_RL_GROUP
// change the steps; DEMO_SEED the seed of the weights, batches and rollouts (not of the held-out
// questions). A base already trained in .llmlens/demo-rl is reused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, cli, fineTune, modelArgs, pretrainBase, QUIET_SFT, say } from './demoLib.mjs';

const BASE_ITERS = process.env.DEMO_BASE_ITERS ?? '4000';
const SFT_ITERS = process.env.DEMO_SFT_ITERS ?? '10';
const SFT_LR = process.env.DEMO_SFT_LR ?? '3e-3';
const RL_STEPS = process.env.DEMO_RL_STEPS ?? '120';
const RL_LR = process.env.DEMO_RL_LR ?? '3e-4';
const RL_PROMPTS = process.env.DEMO_RL_PROMPTS ?? '16';
const RL_GROUP = process.env.DEMO_RL_GROUP ?? '8';
const SEED = process.env.DEMO_SEED ?? '1337'; // the CLI's default seed
const DIR = path.join('.llmlens', 'demo-rl');
const TASK = ['--task', 'addition', '--max-digits', '2'];
const EVAL_COUNT = '200';
/** Held-out accuracy of a checkpoint, greedy (llm-lens eval-task --json's summary line). */
const accuracy = (ckpt) => {
  const lines = cli(
    [
      'eval-task',
      '--checkpoint',
      ckpt,
      ...TASK,
      '--count',
      EVAL_COUNT,
      '--max-tokens',
      '14',
      '--tools',
      'none',
      '--json',
    ],
    { capture: true },
  )
    .trim()
    .split('\n');
  const summary = JSON.parse(lines.at(-1));
  console.log(`${ckpt}: ${summary.correct}/${summary.total} held-out sums right`);
  return summary.accuracy;
};

build();
fs.mkdirSync(DIR, { recursive: true });

// 1. the base model: sums as dialogues, with the words of the chat roles
const baseCkpt = pretrainBase({
  dir: DIR,
  name: `base-3x64-add-${BASE_ITERS}${SEED === '1337' ? '' : `-seed${SEED}`}`,
  model: modelArgs(3, 4, 64, 128),
  iters: BASE_ITERS,
  what: '2-digit sums',
  args: ['--lr', '3e-3', '--seed', SEED],
  text: () => {
    const jsonl = path.join(DIR, 'pretrain.jsonl');
    cli(['chat-data', ...TASK, '--count', '8000', '--seed', '7', '--out', jsonl]);
    return fs
      .readFileSync(jsonl, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).messages)
      .map(([q, a]) => `user\n${q.content}\nassistant\n${a.content}\n\n`)
      .join('');
  },
});

// 2. a brief fine-tuning on the addition chat task
say(`fine-tuning on addition conversations (${SFT_ITERS} steps, lr ${SFT_LR})`);
const sftData = path.join(DIR, 'addition.jsonl');
cli(['chat-data', ...TASK, '--count', '2000', '--out', sftData]);
const sftCkpt = fineTune({
  from: baseCkpt,
  data: [sftData],
  runDir: path.join(DIR, 'sft'),
  iters: SFT_ITERS,
  args: ['--lr', SFT_LR, '--seed', SEED, ...QUIET_SFT],
});

// 3. before, RL, after
say('held-out accuracy before RL');
const before = accuracy(sftCkpt);
say(`RL: ${RL_STEPS} steps of ${RL_PROMPTS} prompts × ${RL_GROUP} answers, lr ${RL_LR}`);
const rl = path.join(DIR, 'rl');
fs.rmSync(rl, { recursive: true, force: true });
// prettier-ignore
cli(['rl', '--from', sftCkpt, ...TASK, '--run-dir', rl, '--steps', RL_STEPS, '--group-size', RL_GROUP,
  '--prompts-per-step', RL_PROMPTS, '--max-tokens', '14', '--lr', RL_LR, '--seed', SEED,
  '--eval-interval', '40', '--eval-count', '100', '--pass-k', '8', '--log-interval', '10']);
say('held-out accuracy after RL');
const after = accuracy(path.join(rl, 'checkpoints', `step-${RL_STEPS}`));
say('done');
console.log(`RESULT rl before ${before.toFixed(2)} after ${after.toFixed(2)}`);
