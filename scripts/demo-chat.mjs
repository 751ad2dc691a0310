// `npm run demo:chat`: from base model to assistant in a few minutes on a laptop's CPU.
//  1. pretrains (or reuses) a small character-level GPT on Shakespeare: it learns the characters and
//     words the answers need (every character of the identity data is in it) but never sees the name;
//  2. generates identity conversations (llm-lens chat-data: "who are you / who made you" in many
//     phrasings, answered with NAME) and fine-tunes the base on them (llm-lens sft);
//  3. asks both models "Who are you?" 10 times (llm-lens chat) and counts the answers that give NAME.
// Ends with one line: RESULT identity fine_tuned K/10 base K/10. DEMO_NAME, DEMO_BASE_ITERS and
// DEMO_SFT_ITERS change the name and the steps; a base already trained in .llmlens/demo-chat is reused.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const NAME = process.env.DEMO_NAME ?? 'Lumo';
const BASE_ITERS = process.env.DEMO_BASE_ITERS ?? '600';
const SFT_ITERS = process.env.DEMO_SFT_ITERS ?? '1500';
const QUESTION = 'Who are you?';
const DIR = path.join('.llmlens', 'demo-chat');
const SHAKESPEARE = path.join('..', 'shared', 'data', 'tinyshakespeare.txt');
const MODEL = [
  '--n-layer',
  '2',
  '--n-head',
  '4',
  '--n-embd',
  '64',
  '--block-size',
  '160',
  '--batch-size',
  '16',
];
const t0 = Date.now();

const cli = (args, o = {}) =>
  execFileSync(process.execPath, ['dist/cli.js', ...args], {
    stdio: o.capture ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
const say = (s) => console.log(`\n=== [${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}`);

execFileSync(process.execPath, ['scripts/build.mjs', '--no-tests'], { stdio: 'inherit' });
fs.mkdirSync(DIR, { recursive: true });

// 1. the base model
const base = path.join(DIR, `base-${BASE_ITERS}`);
const baseCkpt = path.join(base, 'checkpoints', `step-${BASE_ITERS}`);
if (fs.existsSync(path.join(baseCkpt, 'model.safetensors'))) say(`reusing the base model ${baseCkpt}`);
else {
  say(`pretraining the base model (${BASE_ITERS} steps on Shakespeare)`);
  if (!fs.existsSync(SHAKESPEARE)) throw new Error(`${SHAKESPEARE} is missing: the demo pretrains on it`);
  const text = path.join(DIR, 'shakespeare.txt');
  fs.writeFileSync(text, fs.readFileSync(SHAKESPEARE, 'utf8').slice(0, 400_000));
  fs.rmSync(base, { recursive: true, force: true });
  cli([
    'train',
    '--data',
    text,
    '--tokenizer',
    'char',
    ...MODEL,
    '--max-iters',
    BASE_ITERS,
    '--eval-interval',
    BASE_ITERS,
    '--eval-iters',
    '4',
    '--sample-tokens',
    '0',
    '--log-interval',
    '100',
    '--no-initial-eval',
    '--run-dir',
    base,
  ]);
}

// 2. identity data and fine-tuning
say(`generating identity conversations for "${NAME}" and fine-tuning (${SFT_ITERS} steps)`);
const train = path.join(DIR, 'identity.jsonl');
const heldout = path.join(DIR, 'identity-heldout.jsonl');
cli(['chat-data', '--task', 'identity', '--name', NAME, '--count', '500', '--out', train]);
cli([
  'chat-data',
  '--task',
  'identity',
  '--name',
  NAME,
  '--count',
  '20',
  '--split',
  'heldout',
  '--out',
  heldout,
]);
const sft = path.join(DIR, 'sft');
fs.rmSync(sft, { recursive: true, force: true });
cli([
  'sft',
  '--from',
  baseCkpt,
  '--data',
  train,
  '--heldout',
  heldout,
  '--run-dir',
  sft,
  '--max-iters',
  SFT_ITERS,
  '--lr',
  '1e-3',
  '--eval-interval',
  String(Math.max(1, Math.floor(Number(SFT_ITERS) / 3))),
  '--eval-iters',
  '2',
  '--sample-tokens',
  '100',
  '--answer-prompts',
  '2',
  '--log-interval',
  '50',
  '--no-initial-eval',
]);
const sftCkpt = path.join(sft, 'checkpoints', `step-${SFT_ITERS}`);

// 3. ask both
const ask = (ckpt) =>
  cli(
    [
      'chat',
      '--checkpoint',
      ckpt,
      '--prompt',
      QUESTION,
      '--num-samples',
      '10',
      '--max-tokens',
      '120',
      '--json',
    ],
    {
      capture: true,
    },
  )
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).answer);
let result = '';
for (const [label, ckpt] of [
  ['fine_tuned', sftCkpt],
  ['base', baseCkpt],
]) {
  say(`${label}: "${QUESTION}" × 10 (${ckpt})`);
  const answers = ask(ckpt);
  answers.forEach((a, i) => console.log(`${String(i + 1).padStart(2)}. ${JSON.stringify(a)}`));
  const k = answers.filter((a) => a.includes(NAME)).length;
  console.log(`${label}: ${k}/10 answers give the name ${NAME}`);
  result += ` ${label} ${k}/10`;
}
say('done');
console.log(`RESULT identity${result}`);
