// `npm run demo:tools`: a small model learns to use tools instead of mental math, on a laptop's CPU.
//  1. pretrains (or reuses) a small character-level GPT on Shakespeare with some plain arithmetic and
//     code in it (its characters: digits, quotes, brackets), as pretraining data has;
//  2. generates conversations answered with tool calls (llm-lens chat-data --task tool-multiply: the
//     calculator; --task tool-letters: python) and fine-tunes the base on them (llm-lens sft);
//  3. asks 100 held-out 3-digit x 3-digit multiplications with the calculator and without any tool (the
//     same model, its tool-call token banned), and 100 held-out letter-counting questions with python
//     (llm-lens eval-task), and prints a few answers.
// Ends with one line: RESULT tools multiply_with X.XX multiply_without X.XX letters_with X.XX.
// DEMO_BASE_ITERS, DEMO_SFT_ITERS change the steps; a base already trained in .llmlens/demo-tools is reused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, cli, fineTune, modelArgs, pretrainBase, say, shakespeare } from './demoLib.mjs';

const BASE_ITERS = process.env.DEMO_BASE_ITERS ?? '500';
const SFT_ITERS = process.env.DEMO_SFT_ITERS ?? '3000';
const EVAL_COUNT = process.env.DEMO_EVAL_COUNT ?? '100';
const DIR = path.join('.llmlens', 'demo-tools');
const MODEL = modelArgs(4, 4, 128, 192);

build();
fs.mkdirSync(DIR, { recursive: true });
const data = (task, count, split, extra = []) => {
  const out = path.join(DIR, `${task}-${split}.jsonl`);
  cli(['chat-data', '--task', task, '--count', String(count), '--split', split, '--out', out, ...extra]);
  return out;
};

// 1. the base model: Shakespeare, with plain-text arithmetic and code lines mixed in: the plain text of
//    other problems than the fine-tuning ones (another seed), without chat tokens or tool calls
const baseCkpt = pretrainBase({
  dir: DIR,
  name: `base-${BASE_ITERS}`,
  model: MODEL,
  iters: BASE_ITERS,
  what: 'Shakespeare with arithmetic and code',
  text: () => {
    const lines = [];
    for (const task of ['tool-multiply', 'tool-letters']) {
      const f = path.join(DIR, `pretrain-${task}.jsonl`);
      cli(['chat-data', '--task', task, '--count', '3000', '--seed', '99', '--out', f]);
      for (const l of fs.readFileSync(f, 'utf8').trim().split('\n')) {
        const m = JSON.parse(l).messages;
        lines.push(`${m[0].content}\n${m[1].tool_calls[0].input}\n${m[3].content}\n`);
      }
    }
    return shakespeare(300_000) + '\n' + lines.join('\n');
  },
});

// 2. tool conversations and fine-tuning
say(`generating tool conversations and fine-tuning (${SFT_ITERS} steps)`);
const multiply = data('tool-multiply', 4000, 'train');
const letters = data('tool-letters', 4000, 'train');
const heldout = data('tool-multiply', 20, 'heldout');
const sftCkpt = fineTune({
  from: baseCkpt,
  data: [multiply, letters],
  runDir: path.join(DIR, 'sft'),
  iters: SFT_ITERS,
  args: [
    '--heldout', heldout, '--lr', '1e-3', '--eval-interval', String(Math.max(1, Math.floor(Number(SFT_ITERS) / 3))),
    '--eval-iters', '2', '--sample-tokens', '0', '--answer-prompts', '0', '--log-interval', '100',
  ], // prettier-ignore
});

// 3. held-out questions with and without tools
const evalTask = (label, args) => {
  say(label);
  const lines = cli(['eval-task', '--checkpoint', sftCkpt, '--count', EVAL_COUNT, '--json', ...args], {
    capture: true,
  })
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const summary = lines.at(-1);
  for (const item of lines.slice(0, -1).slice(0, 3))
    console.log(
      `  Q: ${item.question}\n  A: ${item.answer.replace(/\n/g, '\\n')}  [${item.right ? 'right' : `wrong, expected ${item.expected}`}]`,
    );
  console.log(`  ${summary.correct}/${summary.total} right`);
  return summary.accuracy;
};
const withCalc = evalTask('3-digit x 3-digit multiplication with the calculator', [
  '--task',
  'tool-multiply',
  '--digits',
  '3',
  '--tools',
  'calculator',
]);
const without = evalTask('the same questions without tools (the tool-call token banned)', [
  '--task',
  'tool-multiply',
  '--digits',
  '3',
  '--tools',
  'none',
]);
const lettersWith = evalTask('letter counting with python', [
  '--task',
  'tool-letters',
  '--letters',
  'count',
  '--tools',
  'python',
]);
say('done');
console.log(
  `RESULT tools multiply_with ${withCalc.toFixed(2)} multiply_without ${without.toFixed(2)} letters_with ${lettersWith.toFixed(2)}`,
);
