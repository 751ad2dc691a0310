// `npm run demo:rl`: reinforcement learning on checked answers (GRPO) lifts a small model's accuracy.
//  1. pretrains (or reuses) a small character-level GPT on 2-digit sums written as short dialogues
//     ("user\nWhat is 47 + 38?\nassistant\n47 + 38 = 85."), train-split problems only;
//  2. fine-tunes it briefly on the addition chat task (llm-lens sft, lr 1e-3): the new chat tokens disturb
//     it, and some answers do not stop at <|im_end|> ("3 + 85 = 88.d "), which the checker (the result as a
//     whole word, "88.") scores wrong, or get the sum wrong;
//  3. measures held-out accuracy (llm-lens eval-task, greedy), runs RL on the train split's prompts
//     (llm-lens rl: G answers per prompt, reward 1 when the answer holds the right sum), measures again:
//     RL is rewarded for clean right answers; learning to stop is most of the gain. How low "before" is
//     varies with the base (measured: 0.32, 0.78, 0.82 before; 0.94–0.95 after).
// Ends with one line: RESULT rl before X.XX after X.XX (held-out accuracy as fractions of 1).
// DEMO_BASE_ITERS, DEMO_SFT_ITERS, DEMO_RL_STEPS, DEMO_RL_LR change the steps; a base already trained in
// .llmlens/demo-rl is reused.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const BASE_ITERS = process.env.DEMO_BASE_ITERS ?? '4000';
const SFT_ITERS = process.env.DEMO_SFT_ITERS ?? '10';
const RL_STEPS = process.env.DEMO_RL_STEPS ?? '40';
const RL_LR = process.env.DEMO_RL_LR ?? '2e-4';
const DIR = path.join('.llmlens', 'demo-rl');
const TASK = ['--task', 'addition', '--max-digits', '2'];
const EVAL_COUNT = '200';
const t0 = Date.now();

const cli = (args, o = {}) =>
  execFileSync(process.execPath, ['dist/cli.js', ...args], {
    stdio: o.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
  });
const say = (s) => console.log(`\n=== [${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}`);
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

execFileSync(process.execPath, ['scripts/build.mjs', '--no-tests'], { stdio: 'inherit' });
fs.mkdirSync(DIR, { recursive: true });

// 1. the base model: sums as dialogues, with the words of the chat roles
const base = path.join(DIR, `base-3x64-add-${BASE_ITERS}`);
const baseCkpt = path.join(base, 'checkpoints', `step-${BASE_ITERS}`);
if (fs.existsSync(path.join(baseCkpt, 'model.safetensors'))) say(`reusing the base model ${baseCkpt}`);
else {
  say(`pretraining the base model (${BASE_ITERS} steps on 2-digit sums)`);
  const jsonl = path.join(DIR, 'pretrain.jsonl');
  cli(['chat-data', ...TASK, '--count', '8000', '--seed', '7', '--out', jsonl]);
  const text = fs
    .readFileSync(jsonl, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).messages)
    .map(([q, a]) => `user\n${q.content}\nassistant\n${a.content}\n\n`)
    .join('');
  fs.writeFileSync(path.join(DIR, 'pretrain.txt'), text);
  fs.rmSync(base, { recursive: true, force: true });
  // prettier-ignore
  cli(['train', '--data', path.join(DIR, 'pretrain.txt'), '--tokenizer', 'char', '--n-layer', '3', '--n-head', '4',
    '--n-embd', '64', '--block-size', '128', '--batch-size', '16', '--max-iters', BASE_ITERS, '--lr', '3e-3',
    '--eval-interval', BASE_ITERS, '--eval-iters', '4', '--sample-tokens', '0', '--log-interval', '500',
    '--no-initial-eval', '--run-dir', base]);
}

// 2. a brief fine-tuning on the addition chat task
say(`fine-tuning on addition conversations (${SFT_ITERS} steps)`);
const sftData = path.join(DIR, 'addition.jsonl');
cli(['chat-data', ...TASK, '--count', '2000', '--out', sftData]);
const sft = path.join(DIR, 'sft');
fs.rmSync(sft, { recursive: true, force: true });
// prettier-ignore
cli(['sft', '--from', baseCkpt, '--data', sftData, '--run-dir', sft, '--max-iters', SFT_ITERS, '--lr', '1e-3',
  '--batch-size', '8', '--eval-iters', '0', '--sample-tokens', '0', '--log-interval', '50', '--no-initial-eval']);
const sftCkpt = path.join(sft, 'checkpoints', `step-${SFT_ITERS}`);

// 3. before, RL, after
say('held-out accuracy before RL');
const before = accuracy(sftCkpt);
say(`RL: ${RL_STEPS} steps of 8 prompts × 8 answers, lr ${RL_LR}`);
const rl = path.join(DIR, 'rl');
fs.rmSync(rl, { recursive: true, force: true });
// prettier-ignore
cli(['rl', '--from', sftCkpt, ...TASK, '--run-dir', rl, '--steps', RL_STEPS, '--group-size', '8',
  '--prompts-per-step', '8', '--max-tokens', '14', '--lr', RL_LR, '--eval-interval', '10', '--eval-count', '100']);
say('held-out accuracy after RL');
const after = accuracy(path.join(rl, 'checkpoints', `step-${RL_STEPS}`));
say('done');
console.log(`RESULT rl before ${before.toFixed(2)} after ${after.toFixed(2)}`);
