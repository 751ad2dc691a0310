/**
 * The training dashboard's error banner (webview/dashboard/runError.ts): a failed run shows its error; once
 * the run is resumed (a new start event in metrics.jsonl) the banner goes, whether the events arrive in one
 * replay (init) or in batches; a failure after the resume shows its own message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunEvent } from '../../src/protocol/training';
import { errorAfter } from '../../webview/dashboard/runError';

const start = (startStep: number): RunEvent => ({
  kind: 'start',
  runDir: '/runs/a',
  params: 1000,
  tokensPerStep: 64,
  startStep,
  maxIters: 100,
  time: 0,
});
const step = (n: number): RunEvent => ({
  kind: 'step',
  step: n,
  loss: 2,
  lr: 1e-3,
  gradNorm: 1,
  ms: 10,
  tokPerSec: 100,
  tokensSeen: 64 * n,
  elapsedMs: 10 * n,
  etaMs: 0,
  time: n,
});
const error = (n: number, message: string): RunEvent => ({ kind: 'error', step: n, message, time: n });

// metrics.jsonl of a run that failed at step 3, was resumed from its step-2 checkpoint, and trains again
const FAILED = [start(0), step(1), step(2), error(3, 'step 3: loss is NaN')];
const RESUMED = [start(2), step(3), step(4)];

test('a failed run shows its error; replayed with its resume (init), it shows none', () => {
  assert.equal(errorAfter(undefined, FAILED), 'step 3: loss is NaN');
  assert.equal(errorAfter(undefined, [...FAILED, ...RESUMED]), undefined);
  assert.equal(
    errorAfter(undefined, [...FAILED, start(2)]),
    undefined,
    'cleared at the start, before any step',
  );
});

test('live batches: the error stands until the resumed run starts, then goes', () => {
  let shown = errorAfter(undefined, FAILED);
  shown = errorAfter(shown, []);
  assert.equal(shown, 'step 3: loss is NaN', 'an empty batch keeps it');
  shown = errorAfter(shown, [step(3)]);
  assert.equal(shown, 'step 3: loss is NaN', 'events without a start keep it');
  shown = errorAfter(shown, RESUMED);
  assert.equal(shown, undefined);
  shown = errorAfter(shown, [step(5)]);
  assert.equal(shown, undefined);
});

test('a failure after the resume shows its own message', () => {
  const shown = errorAfter(errorAfter(undefined, FAILED), [...RESUMED, error(5, 'out of memory')]);
  assert.equal(shown, 'out of memory');
  assert.equal(errorAfter(undefined, [...FAILED, ...RESUMED, error(5, 'out of memory')]), 'out of memory');
});
