/**
 * The editor side of RL: the Groups view's advantage colours and labels (webview/dashboard/advantage.ts)
 * against values worked out by hand; the progress and Runs-view lines of RL runs; what Start RL… refuses
 * (a base checkpoint, a bad task file) on real checkpoints written here with and without chat tokens; the
 * run-file schema checked by a real JSON-schema validator (ajv) against the engine's own readers of both
 * kinds of run file; and the process the host starts for an RL request, with its argv and request.json.
 */
import Ajv from 'ajv';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseRlRunFile, parseRunFileOptions, runFileSchema } from '../../src/engine/train/runFile';
import { rlCheckpointProblem, taskFileProblem } from '../../src/host/training/rlChoices';
import { readPid, spawnRun, trainArgs } from '../../src/host/training/runProcess';
import { progressLine, runDescription } from '../../src/host/training/runState';
import type { RlAnswer, RlRequest } from '../../src/protocol/training';
import { tickText } from '../../webview/dashboard/tickText';
import {
  advantageScale,
  advantageShade,
  answerLabel,
  formatAdvantage,
  visiblePieces,
} from '../../webview/dashboard/advantage';
import { chatCheckpoint } from '../fixtures/chat/chatCheckpoint';

const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-rlui-'));

test('advantage colours: a diverging scale that ends at the step’s largest |advantage|', () => {
  // a group of 4 with rewards 1, 0, 0, 0: mean 0.25, advantages 0.75 and −0.25 (three times)
  const advantages = [0.75, -0.25, -0.25, -0.25];
  assert.equal(advantageScale(advantages), 0.75);
  assert.deepEqual(advantageShade(0.75, 0.75), { sign: 'pos', strength: 1 });
  assert.deepEqual(advantageShade(-0.25, 0.75), { sign: 'neg', strength: 1 / 3 });
  // a zero-signal group (all right or all wrong) has no colour at all
  assert.equal(advantageScale([0, 0, 0]), 0);
  assert.deepEqual(advantageShade(0, 0), { sign: 'zero', strength: 0 });
  assert.deepEqual(advantageShade(0.5, 0), { sign: 'zero', strength: 0 });
  assert.deepEqual(advantageShade(Number.NaN, 1), { sign: 'zero', strength: 0 });
  // beyond the scale (another step's scale) it saturates
  assert.deepEqual(advantageShade(-2, 1), { sign: 'neg', strength: 1 });
  assert.deepEqual([0.5, -0.25, 0, 0.004, -1.235].map(formatAdvantage), [
    '+0.50',
    '−0.25',
    '0.00',
    '0.00',
    '−1.24',
  ]);
});

test('tokens show their whitespace: space ·, tab →, newline ↵', () => {
  assert.deepEqual(visiblePieces(' 85.\n'), [
    { text: ' ', mark: '·' },
    { text: '85.' },
    { text: '\n', mark: '↵' },
  ]);
  assert.deepEqual(visiblePieces('a\tb'), [{ text: 'a' }, { text: '\t', mark: '→' }, { text: 'b' }]);
  assert.deepEqual(visiblePieces(''), []);
  const a: RlAnswer = { tokens: ['8', '5', '.'], reward: 1, trueReward: 0, advantage: -0.25, forced: [1] };
  assert.equal(
    answerLabel(2, 4, a),
    'Answer 3 of 4: reward 1.00, true checker 0.00, advantage minus 0.25, 1 tokens forced by a tool: 85.',
  );
});

test('an RL run reads "step 12/40 · reward 0.63" in the progress, status bar and Runs view', () => {
  const rl = { step: 12, maxIters: 40, loss: 0.1, reward: 0.625, tokPerSec: 300, stage: 'rl' as const };
  assert.equal(progressLine(rl), 'step 12/40 · reward 0.63');
  assert.equal(progressLine({ ...rl, reward: undefined }), 'step 12/40');
  assert.equal(progressLine({ ...rl, stage: 'pretrain' }), 'step 12/40 · loss 0.100 · 300 tok/s');
  const summary = {
    runDir: '/r/a',
    name: 'a',
    status: 'running' as const,
    step: 12,
    maxIters: 40,
    checkpoints: [],
  };
  assert.equal(
    runDescription({ ...summary, stage: 'rl', reward: 0.5, loss: 0.1 }),
    'rl · running · step 12/40 · reward 0.50',
  );
  assert.equal(
    runDescription({ ...summary, stage: 'sft', loss: 1.23456 }),
    'sft · running · step 12/40 · loss 1.235',
  );
  assert.equal(runDescription({ ...summary, loss: 2 }), 'running · step 12/40 · loss 2.000');
});

test('Start RL… takes a checkpoint with chat tokens and refuses a base one, saying to fine-tune it', async () => {
  const dir = tmp();
  const chat = await chatCheckpoint(dir, { chatTokens: true, name: 'chat' });
  const base = await chatCheckpoint(dir, { chatTokens: false, name: 'base' });
  assert.equal(rlCheckpointProblem(chat), undefined);
  const p = rlCheckpointProblem(base);
  assert.equal(p?.kind, 'base');
  assert.match(p!.message, /^RL starts from a fine-tuned \(SFT\) checkpoint: fine-tune it first/);
  assert.equal(rlCheckpointProblem(path.join(dir, 'nowhere'))?.kind, 'missing');
});

test("a task file is checked by the engine's reader; a bad one is refused naming the file, line and field", () => {
  const dir = tmp();
  const file = path.join(dir, 'math.jsonl');
  const lines = Array.from({ length: 12 }, (_, i) =>
    JSON.stringify({ prompt: `${i}+2?`, answer: String(i + 2) }),
  );
  fs.writeFileSync(file, lines.join('\n') + '\n');
  assert.equal(taskFileProblem(file, 'numeric'), undefined);
  fs.writeFileSync(file, [...lines, '{"prompt": "a"}'].join('\n'));
  assert.match(taskFileProblem(file, 'numeric')!, new RegExp(`${file}:13: "answer" is missing`));
  fs.writeFileSync(file, [...lines, '{"prompt": "a", "answer": "("}'].join('\n'));
  assert.equal(taskFileProblem(file, 'contains'), undefined);
  assert.match(taskFileProblem(file, 'regex')!, /:13: "answer" is not a valid regular expression/);
  fs.writeFileSync(file, '\n');
  assert.match(taskFileProblem(file, 'exact')!, /holds no prompts/);
});

test('the run-file schema takes both kinds of run file exactly where the engine’s readers do', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'a.txt'), 'text\n');
  const ckpt = await chatCheckpoint(dir, { chatTokens: true, name: 'sft' });
  const from = path.relative(dir, ckpt);
  const validate = new Ajv({ allErrors: true }).compile(runFileSchema());
  const file = path.join(dir, 'x.llmlens.json');
  const engineTakes = (j: object): boolean => {
    const text = JSON.stringify(j);
    try {
      if ((j as { stage?: string }).stage === 'rl') parseRlRunFile(text, file);
      else parseRunFileOptions(text, file);
      return true;
    } catch {
      return false;
    }
  };
  const cases: [object, boolean][] = [
    [{ data: 'a.txt', preset: 'tiny', maxIters: 30 }, true],
    [{ stage: 'sft', data: ['a.txt'], initFrom: from }, true],
    [{ stage: 'rl', from, task: 'addition', maxDigits: 2, steps: 40, $schema: 'x' }, true],
    [{ stage: 'rl', from, task: 'tasks.jsonl', checker: 'numeric', groupSize: 4 }, true],
    [{ stage: 'rl', from, task: 'addition', data: 'a.txt' }, false], // a training field in an RL file
    [{ stage: 'rl', from }, false], // no task
    [{ stage: 'rl', from, task: 'addition', steps: 0 }, false],
    [{ stage: 'rl', from, task: 'addition', checker: 'fuzzy' }, false],
    [{ stage: 'rl', from, task: 'addition', device: 'cuda' }, true], // RL runs on the GPU providers too
    [{ stage: 'rl', from, task: 'addition', device: 'gpu' }, false], // not an execution provider
    [{ data: 'a.txt', task: 'addition' }, false], // an RL field in a training file
    [{ data: 'a.txt', maxIters: 0 }, false],
  ];
  for (const [j, ok] of cases) {
    assert.equal(engineTakes(j), ok, `the engine's reader on ${JSON.stringify(j)}`);
    assert.equal(validate(j), ok, `the schema on ${JSON.stringify(j)}: ${JSON.stringify(validate.errors)}`);
  }
});

test('an RL request starts `cli.js train --config request.json …`, whose request the RL reader takes', async () => {
  const root = tmp();
  const ckpt = await chatCheckpoint(root, { chatTokens: true, name: 'sft' });
  // a stand-in CLI that records its arguments and working folder, then waits to be stopped
  const cli = path.join(root, 'ext', 'dist', 'cli.js');
  fs.mkdirSync(path.dirname(cli), { recursive: true });
  const record = path.join(root, 'argv.json');
  fs.writeFileSync(
    cli,
    `require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }));
     setInterval(() => {}, 1000);`,
  );
  const runDir = path.join(root, 'runs', 'rl-addition-1');
  const request: RlRequest = { stage: 'rl', from: ckpt, task: 'addition', steps: 12, device: 'cpu', runDir };
  const child = spawnRun(cli, request);
  try {
    for (let i = 0; i < 100 && !fs.existsSync(record); i++) await new Promise((r) => setTimeout(r, 50));
    const seen = JSON.parse(fs.readFileSync(record, 'utf8')) as { argv: string[]; cwd: string };
    assert.deepEqual(seen.argv, [
      'train',
      '--config',
      path.join(runDir, 'request.json'),
      '--run-dir',
      runDir,
      '--control',
      path.join(runDir, 'control.json'),
      '--log-interval',
      '1',
    ]);
    assert.deepEqual(seen.argv, trainArgs(runDir));
    assert.equal(fs.realpathSync(seen.cwd), fs.realpathSync(runDir));
    // the CLI's train hands this request to the RL loop through the engine's RL reader
    const file = path.join(runDir, 'request.json');
    const read = parseRlRunFile(fs.readFileSync(file, 'utf8'), file, { request: true });
    assert.deepEqual(read, request);
    assert.equal(readPid(runDir)?.pid, child.pid, 'the pid file names the process');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(runDir, 'control.json'), 'utf8')), {
      paused: false,
      checkpointRequest: 0,
    });
  } finally {
    process.kill(child.pid!, 'SIGKILL');
  }
});

test('tickText: four significant digits on a linear axis', () => {
  assert.equal(tickText(0.10000000000000003), '0.1');
  assert.equal(tickText(0.000106), '0.000106');
  assert.equal(tickText(12345.678), '12350');
  assert.equal(tickText(-2.5e-7), '-2.5e-7');
  assert.equal(tickText('step'), 'step');
});
