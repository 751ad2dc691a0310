/**
 * The RL loop (src/engine/rl/rlLoop.ts) and `llm-lens rl`. The rows of a step are compared with arrays
 * written out by hand for two prompts of two answers each. Bad options (a group of 1, a task without a
 * checker, a device that is no execution provider) are refused with messages that say what to use. End to end on a tiny model trained here
 * (train → sft on addition → rl): a line per step, the events in metrics.jsonl, held-out pass@1 at steps
 * 0, 2 and 3, a checkpoint with stage "rl"; the random tiny model never gets a sum right, so every group
 * is zero-signal and the weights must come out bit for bit the SFT checkpoint's (no update applied).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { defaultsOf } from '../../src/engine/options';
import { rolloutRows, validateRlConfig, type RlConfig } from '../../src/engine/rl/rlLoop';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import { RL_OPTIONS } from '../../src/protocol/rlOptions';
import type { RunEvent } from '../../src/protocol/training';

const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input: '' });

test('rolloutRows: prompt + answer shifted by one, padded with 0, the mask on answer targets only', () => {
  const prompts = [{ ids: [5, 6, 7] }, { ids: [8, 9] }];
  const answers = [
    [[1, 2], [3]],
    [[4, 4, 4], []],
  ];
  const r = rolloutRows(prompts, answers, 5);
  assert.equal(r.B, 4);
  // row 0: seq 5 6 7 1 2 → idx 5 6 7 1, targets 6 7 1 2, answer targets at t = 2, 3
  // row 1: seq 5 6 7 3   → idx 5 6 7,   targets 6 7 3,   answer target at t = 2
  // row 2: seq 8 9 4 4 4 → idx 8 9 4 4, targets 9 4 4 4, answer targets at t = 1, 2, 3
  // row 3: seq 8 9       → idx 8,       targets 9,       no answer token (an empty answer)
  // prettier-ignore
  const idx = [5, 6, 7, 1, 0,  5, 6, 7, 0, 0,  8, 9, 4, 4, 0,  8, 0, 0, 0, 0];
  // prettier-ignore
  const targets = [6, 7, 1, 2, 0,  6, 7, 3, 0, 0,  9, 4, 4, 4, 0,  9, 0, 0, 0, 0];
  // prettier-ignore
  const mask = [0, 0, 1, 1, 0,  0, 0, 1, 0, 0,  0, 1, 1, 1, 0,  0, 0, 0, 0, 0];
  assert.deepEqual([...r.idx].map(Number), idx);
  assert.deepEqual([...r.targets].map(Number), targets);
  assert.deepEqual([...r.mask], mask);
  assert.throws(
    () => rolloutRows(prompts, answers, 3),
    /prompt 0 \+ answer is 5 tokens, more than T \+ 1 = 4/,
  );
});

test('validateRlConfig refuses a group of 1, unknown tasks and devices, naming what to use', () => {
  const ok: RlConfig = { ...defaultsOf(RL_OPTIONS), from: 'x', task: 'addition', runDir: 'r' };
  validateRlConfig(ok);
  assert.throws(
    () => validateRlConfig({ ...ok, groupSize: 1 }),
    /groupSize 1: each prompt needs at least 2 answers to compare, or every advantage is 0 \(use 8–16\)/,
  );
  for (const task of ['tool-multiply', 'identity'] as const)
    assert.throws(
      () => validateRlConfig({ ...ok, task }),
      new RegExp(
        `task "${task}" is neither a shipped task \\(addition, arithmetic, multiplication, spelling, compare, word-problems, polite\\) nor a file`,
      ),
    );
  assert.throws(() => validateRlConfig({ ...ok, lr: -1 }), /lr/);
  validateRlConfig({ ...ok, device: 'webgpu' });
  assert.throws(
    () => validateRlConfig({ ...ok, device: 'gpu' as RlConfig['device'] }),
    /device must be one of cpu, webgpu, cuda, got "gpu"/,
  );
  const r = cli(tmpdir(), 'rl', '--from', 'x', '--task', 'addition', '--device', 'gpu');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /rl: --device must be one of cpu, webgpu, cuda, got gpu/);
});

test('llm-lens rl on a tiny SFT model: a line per step, events, pass@1, a stage-rl checkpoint', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-rl-'));
  const run = (...args: string[]) => {
    const r = cli(dir, ...args);
    assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
    return r;
  };
  run('chat-data', ...'--task addition --max-digits 2 --count 200 --out add.jsonl'.split(' '));
  const tiny = '--n-layer 1 --n-head 2 --n-embd 16 --block-size 96 --batch-size 4 --max-iters 4 --threads 1';
  const quiet = '--eval-iters 0 --sample-tokens 0';
  run('train', '--data', 'add.jsonl', ...`${tiny} ${quiet} --run-dir base`.split(' '));
  run(
    'sft',
    '--from',
    'base/checkpoints/step-4',
    '--data',
    'add.jsonl',
    ...`--max-iters 4 --batch-size 4 --threads 1 ${quiet} --run-dir sft`.split(' '),
  );
  const sft = path.join(dir, 'sft', 'checkpoints', 'step-4');

  const bad = cli(dir, 'rl', '--from', sft, '--task', 'addition', '--group-size', '1');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--group-size 1 is too small: each prompt needs at least 2 answers/);
  const noTask = cli(dir, 'rl', '--from', sft);
  assert.equal(noTask.status, 2);
  assert.match(noTask.stderr, /--from CKPT_DIR and --task NAME are required/);
  const tools = cli(dir, 'rl', '--from', sft, '--task', 'tool-multiply', '--run-dir', 'bad');
  assert.equal(tools.status, 1);
  assert.match(tools.stderr, /task "tool-multiply" is neither a shipped task .* nor a file/);

  const args = '--task addition --max-digits 2 --steps 3 --group-size 4 --prompts-per-step 2 --max-tokens 6';
  const r = run(
    'rl',
    '--from',
    sft,
    ...`${args} --eval-interval 2 --eval-count 5 --pass-k 2 --groups-interval 2 --threads 1 --run-dir rl`.split(
      ' ',
    ),
  );
  for (const s of [1, 2, 3])
    assert.match(
      r.stdout,
      new RegExp(`step ${s}: reward [01]\\.000, zero-signal 100%, answer [\\d.]+ tokens`),
    );
  assert.match(r.stdout, /step 0: held-out pass@1 0\/5 = 0\.00, pass@2 0\.00/);
  assert.match(r.stdout, /finished at step 3/);
  const events = fs
    .readFileSync(path.join(dir, 'rl', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RunEvent);
  assert.deepEqual(
    events.map((e) => e.kind),
    // prettier-ignore
    ['start', 'taskEval', 'step', 'groups', 'step', 'groups', 'taskEval', 'step', 'taskEval', 'checkpoint', 'done'],
  );
  // the Groups view's data: the step's 2 prompts, 4 answers each, token by token
  const groups = events.filter((e) => e.kind === 'groups');
  assert.deepEqual(
    groups.map((g) => g.step),
    [1, 2],
  );
  for (const g of groups) {
    assert.equal(g.groups.length, 2);
    for (const { prompt, expected, answers } of g.groups) {
      const [a, b] = /(\d+)\D+?(\d+)/.exec(prompt)!.slice(1).map(Number);
      assert.equal(expected, String(a + b), prompt);
      assert.equal(answers.length, 4);
      for (const x of answers) {
        assert.ok(x.tokens.length <= 6);
        assert.equal(x.tokens.join('').includes('<|im_end|>'), false);
        assert.deepEqual([x.reward, x.advantage], [0, 0]);
      }
    }
  }
  for (const e of events.filter((e) => e.kind === 'taskEval')) assert.deepEqual([e.k, e.correctAtK], [2, 0]);
  const start = events[0] as Extract<RunEvent, { kind: 'start' }>;
  assert.equal(start.stage, 'rl');
  assert.deepEqual(
    events.filter((e) => e.kind === 'taskEval').map((e) => [e.step, e.total]),
    [
      [0, 5],
      [2, 5],
      [3, 5],
    ],
  );
  for (const e of events.filter((e) => e.kind === 'step')) {
    assert.equal(e.reward, 0); // a random tiny model: no sum right
    assert.equal(e.zeroSignal, 1);
    assert.ok(e.answerTokens! >= 1 && e.answerTokens! <= 6);
  }
  const ckptDir = path.join(dir, 'rl', 'checkpoints', 'step-3');
  const config = JSON.parse(fs.readFileSync(path.join(ckptDir, 'config.json'), 'utf8'));
  assert.equal(config.llm_lens.stage, 'rl');
  assert.equal(config.llm_lens.rlTask, 'addition');
  const [before, after] = [await loadCheckpoint(sft), await loadCheckpoint(ckptDir)];
  for (const [name, t] of Object.entries(before.weights))
    assert.deepEqual(after.weights[name].data, t.data, `${name} changed without any signal`);
  // the RL checkpoint answers like its start: eval-task reads it with its tokenizer
  const e = run(
    'eval-task',
    '--checkpoint',
    ckptDir,
    ...'--task addition --max-digits 2 --count 3 --tools none'.split(' '),
  );
  assert.match(e.stdout, /addition \(tools: none\): 0\/3/);

  // a run file of stage rl, as the host starts it: llm-lens train --config hands it to the RL loop
  const runFile = path.join(dir, 'rl.llmlens.json');
  fs.writeFileSync(
    runFile,
    JSON.stringify({ stage: 'rl', from: path.relative(dir, sft), task: 'addition', maxDigits: 2, steps: 1 }),
  );
  const viaTrain = run(
    'train',
    '--config',
    runFile,
    ...'--group-size 2 --prompts-per-step 1 --max-tokens 4 --eval-interval 0 --threads 1 --run-dir rl2'.split(
      ' ',
    ),
  );
  assert.match(viaTrain.stdout, /rl on addition from .*step-4: 1 prompts × 2 answers per step/);
  assert.match(viaTrain.stdout, /finished at step 1/);
  assert.ok(fs.existsSync(path.join(dir, 'rl2', 'checkpoints', 'step-1', 'model.safetensors')));
  fs.writeFileSync(runFile, JSON.stringify({ stage: 'rl', from: 'nowhere', task: 'addition', lr: 0 }));
  const badFile = cli(dir, 'rl', '--config', runFile);
  assert.notEqual(badFile.status, 0);
  assert.match(badFile.stderr, /rl\.llmlens\.json: "lr" .*; "from": nowhere does not exist/);
});
