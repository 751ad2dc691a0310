// `npm run demo:chat`: from base model to assistant in a few minutes on a laptop's CPU.
//  1. pretrains (or reuses) a small character-level GPT on Shakespeare and a page of plain sums
//     ("47 + 38 = 85"): it learns the characters and words the answers need but never sees the name;
//  2. generates identity conversations (llm-lens chat-data: "who are you / who made you" in many
//     phrasings, answered with NAME) and arithmetic ones with the work shown column by column (numbers
//     of at most 2 digits, so that every conversation fits the block), and fine-tunes the base on both
//     (llm-lens sft);
//  3. asks both models "Who are you?" 10 times (llm-lens chat) and counts the answers that give NAME, and
//     shows the fine-tuned model's work on two held-out sums.
// Ends with one line: RESULT identity fine_tuned K/10 base K/10. DEMO_NAME, DEMO_BASE_ITERS and
// DEMO_SFT_ITERS change the name and the steps; a base already trained in .llmlens/demo-chat is reused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, cli, fineTune, modelArgs, pretrainBase, say, shakespeare } from './demoLib.mjs';

const NAME = process.env.DEMO_NAME ?? 'Lumo';
const BASE_ITERS = process.env.DEMO_BASE_ITERS ?? '800';
const SFT_ITERS = process.env.DEMO_SFT_ITERS ?? '3000';
const QUESTION = 'Who are you?';
const DIR = path.join('.llmlens', 'demo-chat');
// block 256: the longest 2-digit arithmetic conversation is 215 tokens (78 + 56, two carries)
const MODEL = modelArgs(3, 4, 64, 256);

/** Plain sums, differences and products of numbers below 100, one a line, as a web page of exercises. */
function plainSums(count) {
  let x = 12345;
  const rand = (n) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const lines = [];
  for (let i = 0; i < count; i++) {
    const [a, b, op] = [rand(100), rand(100), '+-*'[rand(3)]];
    const [p, q] = op === '-' && a < b ? [b, a] : [a, b];
    lines.push(`${p} ${op} ${q} = ${{ '+': p + q, '-': p - q, '*': p * q }[op]}`);
  }
  return lines.join('\n') + '\n\n';
}

build();
fs.mkdirSync(DIR, { recursive: true });

// 1. the base model (the shape and data are in its name); the sums first: the end of the text is the
//    validation split
const baseCkpt = pretrainBase({
  dir: DIR,
  name: `base-3x64-sums-${BASE_ITERS}`,
  model: MODEL,
  iters: BASE_ITERS,
  what: 'Shakespeare and plain sums',
  text: () => plainSums(4000) + shakespeare(400_000),
});

// 2. identity + arithmetic data and fine-tuning
say(`generating identity conversations for "${NAME}" and arithmetic, and fine-tuning (${SFT_ITERS} steps)`);
const data = (task, split, count, extra) => {
  const out = path.join(DIR, `${task}${split === 'heldout' ? '-heldout' : ''}.jsonl`);
  cli(['chat-data', '--task', task, ...extra, '--count', String(count), '--split', split, '--out', out]);
  return out;
};
const identity = ['--name', NAME];
const arithmetic = ['--max-digits', '2'];
const train = [data('identity', 'train', 500, identity), data('arithmetic', 'train', 1000, arithmetic)];
const heldouts = [data('identity', 'heldout', 20, identity), data('arithmetic', 'heldout', 20, arithmetic)];
const heldout = path.join(DIR, 'heldout.jsonl');
fs.writeFileSync(heldout, heldouts.map((f) => fs.readFileSync(f, 'utf8')).join(''));
const sftCkpt = fineTune({
  from: baseCkpt,
  data: train,
  runDir: path.join(DIR, 'sft'),
  iters: SFT_ITERS,
  args: [
    '--heldout', heldout, '--lr', '1.5e-3', '--eval-interval', String(Math.max(1, Math.floor(Number(SFT_ITERS) / 3))),
    '--eval-iters', '2', '--sample-tokens', '100', '--answer-prompts', '2', '--log-interval', '100',
  ], // prettier-ignore
});

// 3. ask both
const ask = (ckpt, prompt, n, sampling = []) =>
  cli(['chat', '--checkpoint', ckpt, '--prompt', prompt, '--num-samples', String(n), '--json', ...sampling], {
    capture: true,
    quiet: true,
  })
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).answer);
let result = '';
for (const [label, ckpt] of [
  ['fine_tuned', sftCkpt],
  ['base', baseCkpt],
]) {
  say(`${label}: "${QUESTION}" × 10 (${ckpt})`);
  const answers = ask(ckpt, QUESTION, 10, ['--max-tokens', '120']);
  answers.forEach((a, i) => console.log(`${String(i + 1).padStart(2)}. ${JSON.stringify(a)}`));
  const k = answers.filter((a) => a.includes(NAME)).length;
  console.log(`${label}: ${k}/10 answers give the name ${NAME}`);
  result += ` ${label} ${k}/10`;
}
// the held-out answers end "So 36 + 49 = 85.": the fine-tuned model's last line should be the same
const sums = fs
  .readFileSync(heldouts[1], 'utf8')
  .trim()
  .split('\n')
  .slice(0, 2)
  .map((l) => JSON.parse(l).messages.map((m) => m.content));
for (const [q, reference] of sums) {
  say(`fine_tuned, a held-out sum (greedy): "${q}"`);
  const [a] = ask(sftCkpt, q, 1, ['--temperature', '0', '--max-tokens', '240']);
  console.log(a);
  const want = reference.split('\n').at(-1);
  console.log(`(${a.trim().split('\n').at(-1) === want ? 'right' : 'wrong'}: the reference ends "${want}")`);
}
say('done');
console.log(`RESULT identity${result}`);
