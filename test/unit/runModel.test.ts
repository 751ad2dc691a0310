/**
 * The run model without VS Code: metrics.jsonl chunks → events (torn lines, split characters), events → run
 * state, the tail (appended bytes only, rewrites), and the per-run model every view subscribes to. Inputs are
 * hand-written metrics files as the CLI writes them; the expected events and states are written out here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Emitter } from '../../src/host/emitter';
import { RunModels } from '../../src/host/training/runModel';
import { recordExit, writePid } from '../../src/host/training/runProcess';
import {
  applyEvent,
  emptyProgress,
  MetricsDecoder,
  type RunProcessState,
  type RunProgress,
  runStatus,
} from '../../src/host/training/runState';
import { MetricsTail } from '../../src/host/training/tail';
import type { RunEvent } from '../../src/protocol/training';
import { fakeTrainer, killAndWait } from './fakeTrainer';

// ---- a run's metrics.jsonl, line by line, as the CLI writes it

const START =
  '{"kind":"start","runDir":"r","params":1000,"tokensPerStep":64,"startStep":0,"maxIters":3,"time":1}';
const STEP1 =
  '{"kind":"step","step":1,"loss":4.25,"lr":0.001,"gradNorm":1,"ms":10,"tokPerSec":6400,"tokensSeen":64,"elapsedMs":10,"etaMs":20,"time":2}';
const STEP2 =
  '{"kind":"step","step":2,"loss":3.75,"lr":0.001,"gradNorm":1,"ms":10,"tokPerSec":6400,"tokensSeen":128,"elapsedMs":20,"etaMs":10,"time":3}';
const EVAL2 = '{"kind":"eval","step":2,"trainLoss":3.7,"valLoss":3.9,"time":4}';
const SAMPLE2 = '{"kind":"sample","step":2,"prompt":"\\n","text":"thé kïng 👑","time":5}';
const DONE2 = '{"kind":"done","step":2,"reason":"stopped","elapsedMs":20,"time":6}';
const EXIT_ERROR =
  '{"kind":"error","step":2,"message":"The training process exited with code 1 before finishing. Checkpoints already saved are kept.","time":7}';

const kinds = (events: readonly RunEvent[]) => events.map((e) => e.kind);

function runDir(metrics?: string): string {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-run-'));
  if (metrics !== undefined) fs.writeFileSync(path.join(dir, 'metrics.jsonl'), metrics);
  return dir;
}

const metricsOf = (dir: string) => path.join(dir, 'metrics.jsonl');

// ---- chunks → events

test('a torn last line waits for the rest; a character cut between two chunks comes out whole', () => {
  const d = new MetricsDecoder();
  const bytes = Buffer.from(`${START}\n${SAMPLE2}\nnot json\n${STEP1}\n`);
  const cut1 = bytes.indexOf('"text"') + 3; // inside the sample line
  const cut2 = bytes.indexOf('👑') + 2; // inside the emoji's four bytes
  const got = [
    d.push(bytes.subarray(0, cut1)),
    d.push(bytes.subarray(cut1, cut2)),
    d.push(bytes.subarray(cut2, cut2 + 5)),
    d.push(bytes.subarray(cut2 + 5)),
  ];
  assert.deepEqual(got.map(kinds), [['start'], [], [], ['sample', 'step']]);
  assert.equal((got[3][0] as Extract<RunEvent, { kind: 'sample' }>).text, 'thé kïng 👑');
  assert.equal(d.pending, 0);
  d.push(Buffer.from(STEP2.slice(0, 30)));
  assert.equal(d.pending, 30);
  d.reset();
  assert.deepEqual(kinds(d.push(Buffer.from(`${DONE2}\n`))), ['done'], 'reset drops the torn line');
});

// ---- events → state

test('the run state: progress from the events, status from them and from the process', () => {
  const p = emptyProgress();
  const fold = (lines: string[]) => lines.forEach((l) => applyEvent(p, JSON.parse(l) as RunEvent));
  fold([START, STEP1, STEP2, EVAL2]);
  assert.deepEqual(p, {
    ended: undefined,
    step: 2,
    maxIters: 3,
    loss: 3.75,
    valLoss: 3.9,
    params: 1000,
    tokPerSec: 6400,
    stage: 'pretrain', // a start event without a stage: a training run from before stages
    error: undefined,
  });
  fold([DONE2]);
  assert.equal(p.ended, 'stopped');
  fold([START]);
  assert.equal(p.ended, undefined, 'resumed: a start opens the run again');
  fold([EXIT_ERROR]);
  assert.deepEqual(
    [p.ended, p.error],
    [
      'failed',
      'The training process exited with code 1 before finishing. Checkpoints already saved are kept.',
    ],
  );

  const now = 1_000_000;
  const open = emptyProgress();
  const cases: [string, RunProcessState, RunProgress, string][] = [
    ['trainer alive', { trainer: true, paused: false, pidFile: true }, p, 'running'],
    ['trainer alive, paused', { trainer: true, paused: true, pidFile: true }, p, 'paused'],
    ['ended with an error', { trainer: false, paused: false, pidFile: false }, p, 'failed'],
    [
      'no pid file (a CLI run), wrote 5 s ago',
      { trainer: false, paused: false, pidFile: false, lastWrite: now - 5_000 },
      open,
      'running',
    ],
    [
      'no pid file, quiet for 2 minutes',
      { trainer: false, paused: false, pidFile: false, lastWrite: now - 120_000 },
      open,
      'unknown',
    ],
    [
      'a pid file whose process is gone, wrote 5 s ago',
      { trainer: false, paused: false, pidFile: true, lastWrite: now - 5_000 },
      open,
      'unknown',
    ],
  ];
  for (const [what, proc, progress, status] of cases)
    assert.equal(runStatus(progress, proc, now), status, what);
});

// ---- the tail

test('the tail hands every event to its subscriber, those read when the process exits included', () => {
  const dir = runDir(`${START}\n${STEP1}\n${STEP2}\n`);
  const got: string[] = [];
  const tail = new MetricsTail(dir, (events) => got.push(...events.map((e) => e.kind)), 60_000);
  tail.start();
  // the process died: the host appends the error event, then reads once more (the exit path of a run)
  fs.appendFileSync(metricsOf(dir), `${EXIT_ERROR}\n`);
  tail.read();
  tail.dispose();
  assert.deepEqual(got, ['start', 'step', 'step', 'error']);
});

test('the tail reads a line written in pieces once it is whole, and each event once', () => {
  const dir = runDir(`${START}\n${STEP1.slice(0, 40)}`);
  const got: string[][] = [];
  const tail = new MetricsTail(dir, (events) => got.push(kinds(events)));
  assert.equal(tail.read(), true);
  fs.appendFileSync(metricsOf(dir), STEP1.slice(40, 90));
  assert.equal(tail.read(), false, 'still torn');
  fs.appendFileSync(metricsOf(dir), `${STEP1.slice(90)}\n${STEP2}\n`);
  assert.equal(tail.read(), true);
  assert.equal(tail.read(), false, 'nothing new');
  assert.deepEqual(got, [['start'], ['step', 'step']]);
});

test('a truncated, rewritten or replaced metrics.jsonl is read again from its start, as a reset', () => {
  const dir = runDir(`${START}\n${STEP1}\n${STEP2}\n${EVAL2}\n`);
  const got: [boolean, string[]][] = [];
  const tail = new MetricsTail(dir, (events, reset) => got.push([reset, kinds(events)]));
  tail.read();
  // truncated to a shorter file
  fs.writeFileSync(metricsOf(dir), `${START}\n`);
  tail.read();
  // rewritten in place past the old size before the next read: the first bytes differ
  const other = START.replace('"time":1', '"time":9');
  fs.writeFileSync(metricsOf(dir), `${other}\n${STEP1}\n${STEP2}\n`);
  tail.read();
  // replaced by another file (a new inode) with the same first line, as long as before
  fs.writeFileSync(path.join(dir, 'new.jsonl'), `${other}\n${STEP1}\n${STEP2}\n`);
  fs.renameSync(path.join(dir, 'new.jsonl'), metricsOf(dir));
  tail.read();
  // and appended to: only the new bytes
  fs.appendFileSync(metricsOf(dir), `${DONE2}\n`);
  tail.read();
  assert.deepEqual(got, [
    [false, ['start', 'step', 'step', 'eval']],
    [true, ['start']],
    [true, ['start', 'step', 'step']],
    [true, ['start', 'step', 'step']],
    [false, ['done']],
  ]);
});

test('the tail follows the file by itself once started (fs.watch, or its poll)', async () => {
  const dir = runDir();
  const got: string[] = [];
  let arrived: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (arrived = resolve));
  const tail = new MetricsTail(dir, (events) => {
    got.push(...kinds(events));
    if (got.includes('done')) arrived();
  });
  tail.start(); // before the file exists
  fs.writeFileSync(metricsOf(dir), `${START}\n${STEP1}\n`);
  await new Promise((r) => setTimeout(r, 50));
  fs.appendFileSync(metricsOf(dir), `${DONE2}\n`);
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  tail.dispose();
  assert.deepEqual(got, ['start', 'step', 'done']);
});

// ---- the model

const linux = process.platform === 'linux';

test(
  'the error event appended when the process exits reaches every subscriber, and the run reads failed',
  { skip: !linux },
  async () => {
    const root = runDir();
    const dir = runDir(`${START}\n${STEP1}\n${STEP2}\n`);
    const trainer = await fakeTrainer(root, dir);
    writePid(dir, trainer.pid!, 'cpu');
    const signals = new Emitter<string>();
    const thrown: unknown[] = [];
    // (no process check on a timer: the exit path alone says the run ended)
    const models = new RunModels(
      { onDidChange: signals.event },
      { processCheckMs: 60_000, onListenerError: (e) => thrown.push(e) },
    );
    // the views of a run this window started: progress notification, dashboard, status bar
    const views = ['notification', 'dashboard', 'status bar'].map((name) => {
      const ref = models.acquire(dir);
      const seen: string[] = [];
      ref.model.onEvents((events) => seen.push(...kinds(events)));
      ref.model.onDidChange((m) => seen.push(`status ${m.status}`));
      return { name, ref, seen };
    });
    // a view that throws does not keep the others from hearing
    views[0].ref.model.onEvents(() => {
      throw new Error('a broken view');
    });
    assert.equal(views[0].ref.model, views[2].ref.model, 'one model per run');
    assert.equal(views[0].ref.model.status, 'running');

    // the exit path of RunManager: the process is gone, the error event is appended, the manager says so
    await killAndWait(trainer);
    recordExit(dir, 1, null);
    signals.fire(dir);

    for (const v of views) assert.deepEqual(v.seen, ['error', 'status failed'], v.name);
    assert.equal(String(thrown), 'Error: a broken view');
    const model = views[0].ref.model;
    assert.deepEqual(kinds(model.events), ['start', 'step', 'step', 'error']);
    assert.deepEqual(
      [model.summary().status, model.summary().step, model.summary().loss],
      ['failed', 2, 3.75],
    );
    assert.equal(
      model.progress.error,
      'The training process exited with code 1 before finishing. Checkpoints already saved are kept.',
    );
    views.forEach((v) => v.ref.dispose());
    assert.equal(models.get(dir), undefined, 'no view holds it and the run is over: disposed');
    models.dispose();
  },
);

test('a rewritten metrics.jsonl resets the model: its views start over', () => {
  const dir = runDir(`${START}\n${STEP1}\n${STEP2}\n${DONE2}\n`);
  const models = new RunModels(undefined);
  const ref = models.acquire(dir);
  let resets = 0;
  ref.model.onDidReset(() => resets++);
  assert.equal(ref.model.status, 'stopped');
  fs.writeFileSync(metricsOf(dir), `${START}\n${STEP1}\n`);
  ref.model.refresh();
  assert.equal(resets, 1);
  assert.deepEqual(kinds(ref.model.events), ['start', 'step']);
  assert.deepEqual([ref.model.progress.step, ref.model.progress.ended], [1, undefined]);
  ref.dispose();
  models.dispose();
});

test('a model lives while a view holds it or its run trains, and goes after', { skip: !linux }, async () => {
  const root = runDir();
  const dir = runDir(`${START}\n${STEP1}\n`);
  const trainer = await fakeTrainer(root, dir);
  writePid(dir, trainer.pid!, 'cpu');
  const models = new RunModels(undefined, { processCheckMs: 50 });
  const a = models.acquire(dir);
  const b = models.acquire(`${dir}${path.sep}`);
  assert.equal(a.model, b.model, 'the same folder, however spelled');
  a.dispose();
  b.dispose();
  b.dispose();
  assert.equal(models.get(dir)?.status, 'running', 'no view holds it, but it trains: kept');
  // the trainer dies without a word (killed; its window is gone): the pid file stays
  await killAndWait(trainer);
  for (let i = 0; i < 40 && models.get(dir); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(models.get(dir), undefined, 'its process is gone: disposed');
  assert.equal(models.summary(dir).status, 'unknown', 'interrupted: a pid file naming no trainer');
  models.dispose();
});

test('the Runs view reads a summary from the model, or from what metrics.jsonl gained', () => {
  const dir = runDir(`${START}\n${STEP1}\n`);
  const old = Date.now() / 1000 - 600; // written 10 minutes ago, no pid file: interrupted
  fs.utimesSync(metricsOf(dir), old, old);
  const models = new RunModels(undefined);
  const s1 = models.summaries([dir])[0];
  assert.deepEqual([s1.status, s1.step, s1.loss, s1.maxIters], ['unknown', 1, 4.25, 3]);
  fs.appendFileSync(metricsOf(dir), `${STEP2}\n${EVAL2}\n${DONE2}\n`);
  const s2 = models.summary(dir);
  assert.deepEqual([s2.status, s2.step, s2.loss, s2.valLoss], ['stopped', 2, 3.75, 3.9]);
  const ref = models.acquire(dir);
  fs.appendFileSync(metricsOf(dir), `${START}\n`);
  ref.model.refresh();
  assert.equal(models.summary(dir).status, 'running', "the open model's: resumed, written just now");
  ref.dispose();
  models.dispose();
});
