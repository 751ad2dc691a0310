// `npm run demo:rlhf`: RL against a learned reward model games it (reward hacking), on a laptop's CPU.
//  1. makes preference pairs for the toy preference "polite and short" (llm-lens reward-data): the chosen
//     answers are polite and short, the rejected ones rude or rambling, and both are right, so nothing
//     in the pairs says that the answer matters (the loophole, src/engine/rl/preferences.ts);
//  2. pretrains (or reuses) a small character-level GPT on those questions answered as dialogues, and
//     fine-tunes it on polite, short, right answers (llm-lens chat-data --task polite, then sft);
//  3. trains a reward model on the pairs from that policy (llm-lens reward-train);
//  4. runs RL on the polite task's prompts with the reward model as the reward (llm-lens rl
//     --reward-model), while the true checker (polite AND short AND right, trueCheck) runs alongside:
//     the learned reward climbs, the true score falls, and the answers that fool the reward model are
//     printed (a high learned reward, the true checker failing).
// Ends with one line: RESULT rlhf reward before X.XX after X.XX true before X.XX after X.XX (held-out
// greedy answers: the learned reward's mean, the true checker's pass rate). Measured (8.6 min on 2
// shared cores, load 4-7; the base 5.8 min of it): RESULT rlhf reward before 2.79 after 2.90 true
// before 0.64 after 0.00, the policy ending on "The answer is 311. Thank you!" for any question.
// The pairs are cut to those that fit the model's block of 128 (the rude ones and the shortest
// rambling ones): a block of 512 for all of them made the policy too slow to learn its facts in time.
// DEMO_BASE_ITERS, DEMO_SFT_ITERS, DEMO_RM_STEPS, DEMO_RL_STEPS, DEMO_RL_LR, DEMO_RL_KL, DEMO_RL_GROUP,
// DEMO_RL_PROMPTS, DEMO_RL_EVAL and DEMO_RL_ARGS (more rl flags) change the run; a base already trained
// in .llmlens/demo-rlhf is reused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, cli, fineTune, modelArgs, pretrainBase, QUIET_SFT, say } from './demoLib.mjs';

const env = (k, d) => process.env[k] ?? d;
const BASE_ITERS = env('DEMO_BASE_ITERS', '3000');
const SFT_ITERS = env('DEMO_SFT_ITERS', '1000');
const RM_STEPS = env('DEMO_RM_STEPS', '15');
const RL_STEPS = env('DEMO_RL_STEPS', '80');
const RL_LR = env('DEMO_RL_LR', '3e-4');
const RL_KL = env('DEMO_RL_KL', '0');
const RL_GROUP = env('DEMO_RL_GROUP', '8');
const RL_PROMPTS = env('DEMO_RL_PROMPTS', '4');
const EVAL_EVERY = env('DEMO_RL_EVAL', '20');
const RL_EXTRA = env('DEMO_RL_ARGS', '').split(' ').filter(Boolean);
const DIR = path.join('.llmlens', 'demo-rlhf');
const BLOCK = 128;
const MODEL = modelArgs(3, 4, 64, BLOCK, 16);
const readJsonl = (f) =>
  fs
    .readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

build();
fs.mkdirSync(DIR, { recursive: true });

// 1. preference pairs, and the conversations that teach polite, short, right answers
say('preference pairs (polite and short) and polite conversations');
const pairs = path.join(DIR, 'pairs.jsonl');
const pairsHeld = path.join(DIR, 'pairs-heldout.jsonl');
cli(['reward-data', '--count', '3000', '--out', pairs]);
cli(['reward-data', '--count', '300', '--split', 'heldout', '--out', pairsHeld]);
// the pairs that fit the small model's block (prompt, answer and the chat template's ~30 tokens): the
// rude answers and the shortest rambling ones
const fits = (p) => p.prompt.length + Math.max(p.chosen.length, p.rejected.length) + 30 <= BLOCK;
for (const f of [pairs, pairsHeld])
  fs.writeFileSync(
    f,
    readJsonl(f)
      .filter(fits)
      .map((p) => JSON.stringify(p) + '\n')
      .join(''),
  );
const polite = path.join(DIR, 'polite.jsonl');
cli(['chat-data', '--task', 'polite', '--count', '3000', '--out', polite]);

// 2. the base model: the questions answered as dialogues, every answer of the pairs among them
const base = pretrainBase({
  dir: DIR,
  name: `base-3x64-${BASE_ITERS}`,
  model: MODEL,
  iters: BASE_ITERS,
  what: 'questions answered as dialogues',
  args: ['--lr', '3e-3'],
  text: () => {
    const dialogue = (q, a) => `user\n${q}\nassistant\n${a}\n\n`;
    const chats = readJsonl(polite).map(({ messages: [q, a] }) => dialogue(q.content, a.content));
    // every printable character once, so that the pairs' answers (rude, rambling) are in the vocabulary
    const ascii = String.fromCharCode(...Array.from({ length: 95 }, (_, i) => 32 + i));
    return [...chats, `${ascii}\n\n`].join('');
  },
});

say(`fine-tuning on polite, short, right answers (${SFT_ITERS} steps)`);
const sft = fineTune({
  from: base,
  data: [polite],
  runDir: path.join(DIR, 'sft'),
  iters: SFT_ITERS,
  args: ['--lr', '1e-3', ...QUIET_SFT],
});

// 3. the reward model
say(`reward model: ${RM_STEPS} steps of llm-lens reward-train from the policy`);
const rmRun = path.join(DIR, 'rm');
fs.rmSync(rmRun, { recursive: true, force: true });
// prettier-ignore
cli(['reward-train', '--from', sft, '--data', pairs, '--heldout', pairsHeld, '--steps', RM_STEPS,
  '--lr', '1e-3', '--run-dir', rmRun, '--log-every', '50']);
const rm = path.join(rmRun, 'checkpoints', `step-${RM_STEPS}`);

// 4. RL against the reward model, the true checker alongside
say(
  `RL against the reward model: ${RL_STEPS} steps of ${RL_PROMPTS} prompts × ${RL_GROUP} answers, lr ${RL_LR}, KL ${RL_KL}`,
);
const rl = path.join(DIR, 'rl');
fs.rmSync(rl, { recursive: true, force: true });
// --scale-by-std: the reward model scores every polite answer about alike (2.8 give or take 0.1), and
// dividing by each group's std makes RL follow those small differences, as TRL's default does (without
// it, measured from the same models: learned reward 2.79 → 2.90, true 0.64 → 0.04 at step 40, 0.16 at 80)
// prettier-ignore
cli(['rl', '--from', sft, '--task', 'polite', '--reward-model', rm, '--run-dir', rl, '--steps', RL_STEPS,
  '--group-size', RL_GROUP, '--prompts-per-step', RL_PROMPTS, '--max-tokens', '48', '--lr', RL_LR,
  '--kl-beta', RL_KL, '--scale-by-std', '--eval-interval', EVAL_EVERY, '--eval-count', '50', '--pass-k', '1',
  '--groups-interval', '1', '--log-interval', '5', ...RL_EXTRA]);

const events = readJsonl(path.join(rl, 'metrics.jsonl'));
const evals = events.filter((e) => e.kind === 'taskEval');
say('held-out answers (greedy): the learned reward against the true checker');
for (const e of evals)
  console.log(
    `step ${String(e.step).padStart(3)}: learned reward ${e.reward.toFixed(2).padStart(6)}   true pass rate ${(e.correct / e.total).toFixed(2)}`,
  );
say('answers that fool the reward model (the last steps: a high reward, the true checker failing)');
const last = events.filter((e) => e.kind === 'groups').slice(-10);
const fooled = last
  .flatMap((g) =>
    g.groups.flatMap((x) => x.answers.map((a) => ({ prompt: x.prompt, expected: x.expected, ...a }))),
  )
  .filter((a) => a.trueReward === 0)
  .sort((a, b) => b.reward - a.reward);
const shown = new Map(); // prompt → answers shown (two at most, eight in all)
for (const a of fooled) {
  const text = a.tokens.join('');
  const same = shown.get(a.prompt) ?? [];
  if (same.includes(text) || same.length >= 2 || [...shown.values()].flat().length >= 8) continue;
  shown.set(a.prompt, [...same, text]);
  console.log(
    `${a.reward.toFixed(2).padStart(6)}  ${JSON.stringify(a.prompt)} → ${JSON.stringify(text)} (right answer: ${a.expected})`,
  );
}
const [first, end] = [evals[0], evals.at(-1)];
say('done');
console.log(
  `RESULT rlhf reward before ${first.reward.toFixed(2)} after ${end.reward.toFixed(2)} true before ${(first.correct / first.total).toFixed(2)} after ${(end.correct / end.total).toFixed(2)}`,
);
