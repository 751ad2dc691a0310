/**
 * RL against a reward model, and what stops a run (src/engine/rl/rlLoop.ts, `llm-lens rl`), on a tiny
 * character model trained here (train → sft on the polite task → reward-train on preference pairs):
 *   - with --reward-model, each logged answer's reward is the reward model's score of it (recomputed
 *     here with RewardScorer on the answer's text), its trueReward the polite checker's verdict
 *     (recomputed with trueCheck), its advantage reward − its group's mean; the step's reward and
 *     trueReward are the means of those; taskEval carries the learned reward's mean;
 *   - a reward model without a scalar head (an SFT checkpoint) is refused before anything runs, naming
 *     the file and llm-lens reward-train;
 *   - a checker that throws at step 2 stops the run with an error naming the task, the prompt and the
 *     checker, after a checkpoint whose weights are bit for bit those of a 1-step run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { defaultsOf } from '../../src/engine/options';
import { trueCheck } from '../../src/engine/rl/preferences';
import { RewardScorer } from '../../src/engine/rl/rewardTrain';
import { trainRl, type RlConfig } from '../../src/engine/rl/rlLoop';
import type { RlTask } from '../../src/engine/rl/rlTasks';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import { RL_OPTIONS } from '../../src/protocol/rlOptions';
import type { RunEvent } from '../../src/protocol/training';

const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input: '' });

const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-rl-reward-'));
const run = (...args: string[]) => {
  const r = cli(dir, ...args);
  assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
  return r;
};
const events = (runDir: string) =>
  fs
    .readFileSync(path.join(dir, runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RunEvent);

/** The SFT checkpoint (polite answers) and a reward model trained from it, made once. */
const models = (() => {
  let made: { sft: string; rm: string } | undefined;
  return () => {
    if (made) return made;
    run('reward-data', ...'--count 200 --out pairs.jsonl'.split(' '));
    run('reward-data', ...'--count 40 --split heldout --out held.jsonl'.split(' '));
    run('chat-data', ...'--task polite --count 200 --out polite.jsonl'.split(' '));
    // a character vocabulary that covers the pairs and the conversations
    const text = ['pairs.jsonl', 'held.jsonl', 'polite.jsonl']
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
      .join('');
    fs.writeFileSync(path.join(dir, 'text.txt'), text.replace(/[{}"\\[\]]/g, ' '));
    const tiny =
      '--n-layer 1 --n-head 2 --n-embd 16 --block-size 512 --batch-size 4 --max-iters 4 --threads 1';
    const quiet = '--eval-iters 0 --sample-tokens 0';
    run('train', '--data', 'text.txt', ...`${tiny} ${quiet} --run-dir base`.split(' '));
    run(
      'sft',
      ...'--from base/checkpoints/step-4 --data polite.jsonl --max-iters 4 --batch-size 4 --threads 1'.split(
        ' ',
      ),
      ...`${quiet} --run-dir sft`.split(' '),
    );
    run(
      'reward-train',
      ...'--from sft/checkpoints/step-4 --data pairs.jsonl --heldout held.jsonl --steps 10 --lr 1e-3'.split(
        ' ',
      ),
      ...'--threads 1 --run-dir rm'.split(' '),
    );
    made = {
      sft: path.join(dir, 'sft', 'checkpoints', 'step-4'),
      rm: path.join(dir, 'rm', 'checkpoints', 'step-10'),
    };
    return made;
  };
})();

test("rl --reward-model: rewards are the reward model's, the checker runs alongside as trueReward", async () => {
  const { sft, rm } = models();
  const args =
    '--task polite --steps 2 --group-size 4 --prompts-per-step 2 --max-tokens 10 --eval-interval 2';
  const r = run(
    'rl',
    '--from',
    sft,
    '--reward-model',
    rm,
    ...`${args} --eval-count 3 --pass-k 1 --threads 1 --run-dir rl`.split(' '),
  );
  assert.match(
    r.stdout,
    /reward: the reward model .*step-10 \(true reward: the task's checker, shown only\)/,
  );
  assert.match(r.stdout, /step 1: reward -?[\d.]+ \(true [01]\.\d{3}\), zero-signal 0%/);
  assert.match(r.stdout, /step 2: held-out pass@1 \d\/3 = [\d.]+, learned reward -?[\d.]+/);
  const ev = events('rl');
  const scorer = await RewardScorer.load(rm);
  try {
    const groups = ev.filter((e) => e.kind === 'groups');
    const steps = ev.filter((e) => e.kind === 'step');
    assert.equal(groups.length, 2);
    for (const [i, g] of groups.entries()) {
      const all = g.groups.flatMap((x) => x.answers);
      for (const { prompt, expected, answers } of g.groups) {
        const texts = answers.map((a) => a.tokens.join(''));
        // the reward model reads the answer without the special tokens sampled in it
        const special = /<\|(?:im_start|im_end|endoftext|tool_start|tool_end|output_start|output_end)\|>/g;
        const scores = await scorer.score(texts.map((t) => ({ prompt, answer: t.replace(special, '') })));
        const mean = scores.reduce((s, x) => s + x, 0) / scores.length;
        answers.forEach((a, j) => {
          assert.ok(Math.abs(a.reward - scores[j]) < 1e-4, `${a.reward} vs ${scores[j]} for ${texts[j]}`);
          assert.equal(a.trueReward, trueCheck(prompt, texts[j], expected!).pass ? 1 : 0);
          assert.ok(Math.abs(a.advantage - (scores[j] - mean)) < 1e-4);
        });
      }
      const step = steps[i];
      const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      assert.ok(Math.abs(step.reward! - avg(all.map((a) => a.reward))) < 1e-6);
      assert.equal(step.trueReward, avg(all.map((a) => a.trueReward!)));
      assert.ok(step.gradNorm > 0, 'real-valued rewards differ: the step is applied');
    }
    const evals = ev.filter((e) => e.kind === 'taskEval');
    assert.deepEqual(
      evals.map((e) => [e.step, e.total, typeof e.reward]),
      [
        [0, 3, 'number'],
        [2, 3, 'number'],
      ],
    );
  } finally {
    await scorer.release();
  }
  const [before, after] = [
    await loadCheckpoint(sft),
    await loadCheckpoint(path.join(dir, 'rl', 'checkpoints', 'step-2')),
  ];
  assert.ok(
    Object.keys(before.weights).some((n) =>
      after.weights[n].data.some((x, k) => x !== before.weights[n].data[k]),
    ),
    'RL against the reward model changed the weights',
  );
});

test('a reward model without a scalar head is refused before anything runs', () => {
  const { sft } = models();
  const r = cli(dir, 'rl', '--from', sft, '--task', 'polite', '--reward-model', sft, '--run-dir', 'no-head');
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    new RegExp(
      `${path.join(sft, 'model.safetensors').replace(/[.\\]/g, '\\$&')} has no scalar head: .*Train a reward model from it: llm-lens reward-train --from`,
    ),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'no-head')), 'no run folder was made');
});

test('a checker that throws stops the run after saving the weights so far, naming task, prompt, checker', async () => {
  const { sft } = models();
  const G = 4;
  const P = 2;
  /** A checker that rewards the parity of the answer's character codes; with `breakAfter`, it throws then. */
  const task = (breakAfter?: number): RlTask => {
    let calls = 0;
    return {
      name: 'parity',
      description: 'the parity of the character codes',
      checker: 'parity',
      items: (_split, count) =>
        Array.from({ length: count }, (_, i) => ({ prompt: `What is ${i} plus 1?`, answer: String(i + 1) })),
      check: (text) => {
        if (breakAfter !== undefined && ++calls > breakAfter) throw new Error('the parity service is down');
        return [...text].reduce((s, c) => s + c.charCodeAt(0), 0) % 2;
      },
    };
  };
  const config = (runDir: string, steps: number): RlConfig => ({
    ...defaultsOf(RL_OPTIONS),
    from: sft,
    task: 'polite',
    runDir: path.join(dir, runDir),
    steps,
    groupSize: G,
    promptsPerStep: P,
    maxTokens: 8,
    evalInterval: 0,
    groupsInterval: 0,
    threads: 1,
  });
  const collect = async (c: RlConfig, t: RlTask) => {
    const out: RunEvent[] = [];
    for await (const e of trainRl(c, { task: t })) out.push(e);
    return out;
  };
  const broken = await collect(config('broken', 3), task(P * G)); // step 2's first answer throws
  assert.deepEqual(
    broken.map((e) => e.kind),
    ['start', 'step', 'checkpoint', 'error'],
  );
  assert.ok((broken[1] as { gradNorm: number }).gradNorm > 0, 'step 1 was applied');
  const saved = broken[2] as Extract<RunEvent, { kind: 'checkpoint' }>;
  assert.equal(saved.step, 1);
  const error = broken[3] as Extract<RunEvent, { kind: 'error' }>;
  assert.match(
    error.message,
    /^task parity: the checker "parity" failed on the prompt "What is 2 plus 1\?" \(answer ".*", expected "3"\): the parity service is down\. The weights so far are saved in .*broken.checkpoints.step-1$/s,
  );
  const whole = await collect(config('whole', 1), task());
  const reference = whole.find((e) => e.kind === 'checkpoint') as Extract<RunEvent, { kind: 'checkpoint' }>;
  const [a, b, start] = [
    await loadCheckpoint(saved.dir),
    await loadCheckpoint(reference.dir),
    await loadCheckpoint(sft),
  ];
  let moved = false;
  for (const [name, t] of Object.entries(b.weights)) {
    assert.deepEqual(a.weights[name].data, t.data, `${name} differs from the 1-step run's`);
    moved ||= t.data.some((x, k) => x !== start.weights[name].data[k]);
  }
  assert.ok(moved, 'the saved weights are after step 1, not the start');
});

test("eval-task asks a task file's held-out lines (every 10th) and judges them with its checker, as rl does", () => {
  const { sft } = models();
  // line 10 matches anything ("[\s\S]*"), line 20 nothing ("^(?!)"), the rest are trained on
  const special: Record<number, string> = { 9: '[\\s\\S]*', 19: '^(?!)' };
  const lines = Array.from({ length: 20 }, (_, i) => ({
    prompt: `What is ${i} plus 1?`,
    answer: special[i] ?? String(i + 1),
  }));
  fs.writeFileSync(path.join(dir, 'sums.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
  const r = run(
    'eval-task',
    ...`--checkpoint ${sft} --task sums.jsonl --checker regex --max-tokens 6 --tools none --json`.split(' '),
  );
  const out = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    out.slice(0, -1).map((x) => [x.question, x.expected, x.right]),
    [
      ['What is 9 plus 1?', '[\\s\\S]*', true],
      ['What is 19 plus 1?', '^(?!)', false],
    ],
  );
  assert.deepEqual(out.at(-1), { task: 'sums.jsonl', tools: 'none', correct: 1, total: 2, accuracy: 0.5 });
  // rl measures the same two held-out prompts with the same checker: greedy pass@1 1/2 at step 0
  const rl = run(
    'rl',
    ...`--from ${sft} --task sums.jsonl --checker regex --steps 1 --group-size 2 --prompts-per-step 1`.split(
      ' ',
    ),
    ...'--max-tokens 6 --eval-interval 1 --pass-k 1 --threads 1 --run-dir rl-sums'.split(' '),
  );
  assert.match(rl.stdout, /step 0: held-out pass@1 1\/2 = 0\.50/);
});
