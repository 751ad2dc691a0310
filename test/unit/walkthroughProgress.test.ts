/**
 * Which walkthrough step a run completes (src/engine/walkthrough/runProgress.ts), from metrics.jsonl
 * events written by hand as the trainer writes them: a finished pretraining run (stage absent, as in runs
 * written before stages, or 'pretrain'), a finished sft run, an RL run with a step; and the runs that
 * complete nothing: stopped, failed, still going, an RL run that has not stepped, no start event. The last
 * test reads a real run's metrics.jsonl through the host's reader, torn last line and all. And package.json's
 * walkthrough: each step completes on its own context key (stepKeys.ts) and on nothing a cancelled command
 * fires.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { stepOfRun } from '../../src/engine/walkthrough/runProgress';
import { OTHER_COMPLETION_EVENTS, STEP_KEYS, WALKTHROUGH_KEYS } from '../../src/engine/walkthrough/stepKeys';
import { readRunEvents } from '../../src/host/training/runFiles';
import type { RunEvent } from '../../src/protocol/training';

type Stage = 'pretrain' | 'sft' | 'rl' | undefined;
const start = (stage: Stage): RunEvent => ({
  kind: 'start',
  runDir: '/ws/.llmlens/runs/r',
  params: 100_000,
  tokensPerStep: 1024,
  startStep: 0,
  maxIters: 2,
  ...(stage ? { stage } : {}),
  time: 1,
});
const step = (n: number): RunEvent => ({
  kind: 'step',
  step: n,
  loss: 4.5,
  lr: 1e-3,
  gradNorm: 1,
  ms: 10,
  tokPerSec: 1e5,
  tokensSeen: 1024 * n,
  elapsedMs: 10 * n,
  etaMs: 10,
  time: 1 + n,
});
const done = (reason: 'finished' | 'stopped'): RunEvent => ({
  kind: 'done',
  step: 2,
  reason,
  elapsedMs: 20,
  time: 2,
});
const error: RunEvent = { kind: 'error', step: 1, message: 'out of memory', time: 2 };

test('a finished pretraining run completes "trained", with or without its stage', () => {
  assert.equal(stepOfRun([start('pretrain'), step(1), step(2), done('finished')]), 'trained');
  assert.equal(stepOfRun([start(undefined), step(1), step(2), done('finished')]), 'trained');
});

test('a finished sft run completes "fineTuned", not "trained"', () => {
  assert.equal(stepOfRun([start('sft'), step(1), step(2), done('finished')]), 'fineTuned');
});

test('an RL run completes "rlStepped" at its first step, finished or not', () => {
  assert.equal(stepOfRun([start('rl'), step(1)]), 'rlStepped');
  assert.equal(stepOfRun([start('rl'), step(1), done('stopped')]), 'rlStepped');
  assert.equal(stepOfRun([start('rl')]), undefined);
  assert.equal(stepOfRun([start('rl'), error]), undefined);
});

test('a run stopped, failed or still going completes nothing', () => {
  for (const stage of ['pretrain', 'sft'] as const) {
    assert.equal(stepOfRun([start(stage), step(1), done('stopped')]), undefined, `${stage} stopped`);
    assert.equal(stepOfRun([start(stage), step(1), error]), undefined, `${stage} failed`);
    assert.equal(stepOfRun([start(stage), step(1), step(2)]), undefined, `${stage} running`);
    assert.equal(stepOfRun([start(stage)]), undefined, `${stage} just started`);
  }
});

test('events without a start (an empty or foreign metrics.jsonl) complete nothing', () => {
  assert.equal(stepOfRun([]), undefined);
  assert.equal(stepOfRun([step(1), done('finished')]), undefined);
});

test('a run folder read from disk: a torn last line is left out, the finished run counts', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-walk-'));
  const lines = [start('sft'), step(1), step(2), done('finished')].map((e) => JSON.stringify(e));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.slice(0, 3).join('\n') + '\n');
  assert.equal(stepOfRun(readRunEvents(dir)), undefined);
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), lines[3].slice(0, 20));
  assert.equal(stepOfRun(readRunEvents(dir)), undefined, 'half a done line');
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
  assert.equal(stepOfRun(readRunEvents(dir)), 'fineTuned');
  assert.equal(stepOfRun(readRunEvents(path.join(dir, 'missing'))), undefined);
});

test("package.json's walkthrough: each step completes on its key, none on a command", () => {
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
    contributes: { walkthroughs: { steps: { id: string; completionEvents: string[] }[] }[] };
  };
  const steps = pkg.contributes.walkthroughs[0].steps;
  assert.deepEqual(
    steps.map((s) => s.id),
    Object.keys(STEP_KEYS),
  );
  for (const s of steps) {
    // onCommand fires as the command starts, also when its quick pick or dialog is then cancelled
    assert.deepEqual(
      [...s.completionEvents].sort(),
      [`onContext:${WALKTHROUGH_KEYS[STEP_KEYS[s.id]]}`, ...(OTHER_COMPLETION_EVENTS[s.id] ?? [])].sort(),
      `package.json, contributes.walkthroughs step "${s.id}": completionEvents`,
    );
  }
  assert.equal(
    new Set(Object.values(STEP_KEYS)).size,
    Object.keys(WALKTHROUGH_KEYS).length,
    'a key per step',
  );
});
