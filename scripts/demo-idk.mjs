// `npm run demo:idk`: a model that makes things up learns to say "I don't know", on a laptop's CPU.
//  1. pretrains (or reuses) a small character-level GPT on Shakespeare and a made-up encyclopedia
//     (llm-lens's fact documents): the facts it may come to know;
//  2. fine-tunes it on questions about the encyclopedia's people and towns answered directly ("before"):
//     it now answers every question confidently, also about people who exist nowhere;
//  3. probes it (llm-lens probe): each question about known facts and about made-up people asked 6 times
//     at temperature 1; where the answers disagree it does not know, and those questions become
//     conversations answered "I don't know"; known facts are kept;
//  4. fine-tunes the "before" model on that ("after") and compares both on held-out made-up people (the
//     share of answers that make something up) and on known facts (the share still answered, and right).
// Ends with one line:
//   RESULT idk made_up_before X.XX made_up_after X.XX known_answered_before X.XX known_answered_after X.XX
// DEMO_BASE_ITERS, DEMO_SFT_ITERS, DEMO_IDK_ITERS change the steps; a base in .llmlens/demo-idk is reused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, cli, fineTune, modelArgs, pretrainBase, say, shakespeare } from './demoLib.mjs';

const BASE_ITERS = process.env.DEMO_BASE_ITERS ?? '600';
const SFT_ITERS = process.env.DEMO_SFT_ITERS ?? '2000';
const IDK_ITERS = process.env.DEMO_IDK_ITERS ?? '800';
const DIR = path.join('.llmlens', 'demo-idk');
const MODEL = modelArgs(4, 4, 128, 256);
const readJsonl = (f) =>
  fs
    .readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const writeJsonl = (f, rows) => fs.writeFileSync(f, rows.map((r) => JSON.stringify(r) + '\n').join(''));
const REFUSES = /\b(i don'?t know|i do not know|not sure|can'?t answer|no reliable information)\b/i;

build();
fs.mkdirSync(DIR, { recursive: true });

// the questions: facts (train split: the model is taught them), made-up people (never anywhere)
const factsFile = path.join(DIR, 'facts.jsonl');
cli(['chat-data', '--task', 'tool-facts', '--count', '1500', '--out', factsFile]);
const facts = readJsonl(factsFile).map((c) => {
  const a = c.messages[3].content;
  return {
    question: c.messages[0].content,
    answer: a.slice(a.indexOf(': ') + 2, -1),
    passage: c.messages[2].content,
  };
});
const madeUp = (split, count, seed) => {
  const f = path.join(DIR, `made-up-${split}-${seed}.jsonl`);
  cli([
    'chat-data',
    '--task',
    'refusal',
    '--count',
    String(count),
    '--split',
    split,
    '--seed',
    String(seed),
    '--out',
    f,
  ]);
  return readJsonl(f).map((c) => ({ question: c.messages[0].content }));
};

// 1. the base model
const baseCkpt = pretrainBase({
  dir: DIR,
  name: `base-${BASE_ITERS}`,
  model: MODEL,
  iters: BASE_ITERS,
  what: 'Shakespeare and the encyclopedia',
  text: () => {
    const passages = [...new Set(facts.map((f) => f.passage.replace(/^[^:]*:\d+: /, '')))];
    return `${shakespeare(300_000)}\n${passages.join('\n\n').repeat(4)}\nI don't know.\n`;
  },
});

// 2. "before": questions answered directly, whatever they ask about
say(`fine-tuning on questions answered directly (${SFT_ITERS} steps, or reused)`);
const direct = path.join(DIR, 'direct.jsonl');
writeJsonl(
  direct,
  facts.map((f) => ({
    messages: [
      { role: 'user', content: f.question },
      { role: 'assistant', content: `${f.answer}.` },
    ],
  })),
);
const sft = (from, data, iters, dir) =>
  fineTune({
    from,
    data: [data],
    runDir: dir,
    iters,
    args: [
      '--lr', '1e-3', '--eval-interval', String(iters), '--eval-iters', '2', '--sample-tokens', '0',
      '--answer-prompts', '0', '--log-interval', '200', '--val-fraction', '0.02',
    ], // prettier-ignore
  });
const beforeDir = path.join(DIR, `before-${BASE_ITERS}-${SFT_ITERS}`);
const before = path.join(beforeDir, 'checkpoints', `step-${SFT_ITERS}`);
if (fs.existsSync(path.join(before, 'model.safetensors'))) say(`reusing the "before" model ${before}`);
else sft(baseCkpt, direct, SFT_ITERS, beforeDir);

// 3. probe: known facts (with their answers) and made-up people
say('probing what the model knows: each question 6 times at temperature 1');
const known = facts.slice(0, 100);
const probeQuestions = path.join(DIR, 'probe-questions.jsonl');
writeJsonl(
  probeQuestions,
  [...known, ...madeUp('train', 200, 5)].map(({ question, answer }) => ({ question, answer })),
);
const idkData = path.join(DIR, 'idk.jsonl');
cli([
  'probe',
  '--checkpoint',
  before,
  '--questions',
  probeQuestions,
  '--samples',
  '6',
  '--max-tokens',
  '60',
  '--out',
  idkData,
]);

// 4. "after": the probe's conversations, with some direct answers kept in the mix (not so many that
//    the refusals drown in them)
const mix = path.join(DIR, 'idk-mix.jsonl');
const someDirect = fs.readFileSync(direct, 'utf8').split('\n').slice(0, 400).join('\n') + '\n';
fs.writeFileSync(mix, fs.readFileSync(idkData, 'utf8') + someDirect);
say(`fine-tuning on the probe's data (${IDK_ITERS} steps)`);
const after = sft(before, mix, IDK_ITERS, path.join(DIR, 'after'));

// compare: greedy answers to held-out made-up people and to known facts
const heldMadeUp = madeUp('heldout', 40, 7);
const knownEval = facts.slice(100, 140);
const answers = (ckpt, questions) => {
  const f = path.join(DIR, 'ask.jsonl');
  writeJsonl(
    f,
    questions.map(({ question }) => ({ question })),
  );
  // one greedy answer each: probe with 2 identical samples at temperature 0 returns them
  const out = cli(
    [
      'probe',
      '--checkpoint',
      ckpt,
      '--questions',
      f,
      '--samples',
      '2',
      '--temperature',
      '0',
      '--max-tokens',
      '60',
      '--json',
    ],
    {
      capture: true,
    },
  );
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).answers[0]);
};
const measure = (label, ckpt) => {
  const m = answers(ckpt, heldMadeUp);
  const k = answers(ckpt, knownEval);
  const madeUpShare = m.filter((a) => !REFUSES.test(a)).length / m.length;
  const answered = k.filter((a) => !REFUSES.test(a)).length / k.length;
  const right = k.filter((a, i) => a.includes(knownEval[i].answer)).length / k.length;
  say(
    `${label}: made-up people answered anyway ${madeUpShare.toFixed(2)}, known facts answered ${answered.toFixed(2)} (right ${right.toFixed(2)})`,
  );
  for (const i of [0, 1]) console.log(`  Q: ${heldMadeUp[i].question}\n  A: ${m[i]}`);
  console.log(`  Q: ${knownEval[0].question}\n  A: ${k[0]}  (reference: ${knownEval[0].answer})`);
  return { madeUpShare, answered };
};
const b = measure('before', before);
const a = measure('after', after);
say('done');
console.log(
  `RESULT idk made_up_before ${b.madeUpShare.toFixed(2)} made_up_after ${a.madeUpShare.toFixed(2)} known_answered_before ${b.answered.toFixed(2)} known_answered_after ${a.answered.toFixed(2)}`,
);
