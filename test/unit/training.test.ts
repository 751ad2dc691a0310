/** Host-side training pieces without VS Code: event batching, run files, messages, a run's request, deleting a run. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { isDashboardWebviewMessage } from '../../src/host/panels/validate';
import { Batcher } from '../../src/host/training/batcher';
import { parseRunFile } from '../../src/host/training/runFile';
import { isRunCheckpoint } from '../../src/host/checkpoint/inspector';
import { deleteRunFolder, listRuns, readRunRequest } from '../../src/host/training/runFiles';
import { trainArgs } from '../../src/host/training/runProcess';

test('the batcher sends at most ~10 messages a second and loses no event, the last included', async () => {
  const sent: number[][] = [];
  const times: number[] = [];
  const b = new Batcher<number>((batch) => {
    sent.push(batch);
    times.push(Date.now());
  }, 10);
  const t0 = Date.now();
  let i = 0;
  // 1,000 events over ~1 s, one every millisecond
  while (Date.now() - t0 < 1000) {
    b.push(i++);
    await new Promise((r) => setImmediate(r));
  }
  b.flush();
  const elapsed = (times.at(-1)! - times[0]) / 1000;
  assert.ok(sent.length <= Math.ceil(elapsed * 10) + 2, `${sent.length} messages in ${elapsed.toFixed(2)} s`);
  for (let k = 1; k < times.length - 1; k++)
    assert.ok(times[k] - times[k - 1] >= 95, `gap ${times[k] - times[k - 1]} ms`);
  assert.deepEqual(
    sent.flat(),
    Array.from({ length: i }, (_, k) => k),
    'every event, in order, exactly once',
  );
});

test('run files: relative paths resolve against the file; every problem is reported', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-runfile-'));
  fs.mkdirSync(path.join(dir, 'docs'));
  fs.writeFileSync(path.join(dir, 'x.txt'), 'text\n');
  const file = path.join(dir, 'shakespeare.llmlens.json');
  const r = parseRunFile(JSON.stringify({ data: ['docs'], preset: 'tiny', maxIters: 100, lr: 3e-4 }), file);
  assert.deepEqual(r.data, [path.join(dir, 'docs')]);
  assert.deepEqual([r.tokenizer, r.preset, r.device, r.maxIters, r.lr], ['char', 'tiny', 'cpu', 100, 3e-4]);
  assert.throws(
    () =>
      parseRunFile(JSON.stringify({ data: ['nope'], preset: 'huge', maxIters: 1.5, colour: 'red' }), file),
    (e: Error) =>
      /unknown field "colour"/.test(e.message) &&
      /nope does not exist/.test(e.message) &&
      /"preset" must be one of/.test(e.message) &&
      /"maxIters" must be a whole number/.test(e.message),
  );
  assert.throws(() => parseRunFile('{ "data": [', file), /not valid JSON/);
});

test('run files: one path is a list of one; maxIters 0 and fractional intervals are refused, naming file and field', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-runfile-'));
  fs.writeFileSync(path.join(dir, 'x.txt'), 'text\n');
  const file = path.join(dir, 'quick.llmlens.json');
  // the old parser refused a string; the CLI's --config spread it into characters ("no such file or folder: x")
  assert.deepEqual(parseRunFile(JSON.stringify({ data: 'x.txt' }), file).data, [path.join(dir, 'x.txt')]);
  assert.throws(
    () => parseRunFile(JSON.stringify({ data: 'x.txt', maxIters: 0 }), file),
    /^Error: quick\.llmlens\.json: "maxIters" must be a whole number ≥ 1, got 0$/,
  );
  assert.throws(
    () => parseRunFile(JSON.stringify({ data: 'y.txt', checkpointInterval: 0.5, runDir: 'r' }), file),
    (e: Error) =>
      e.message.startsWith('quick.llmlens.json: ') &&
      e.message.includes('"checkpointInterval" must be a whole number ≥ 0, got 0.5') &&
      e.message.includes('"runDir" is not a run-file field') &&
      e.message.includes('"data": y.txt does not exist (paths are relative to quick.llmlens.json)'),
  );
  assert.throws(() => parseRunFile(JSON.stringify({ preset: 'tiny' }), file), /"data" is missing/);
});

test('dashboard messages are validated', () => {
  for (const m of [
    { type: 'ready' },
    { type: 'control', action: 'pause' },
    { type: 'control', action: 'stop' },
    { type: 'openSample', step: 250 },
  ]) {
    assert.equal(isDashboardWebviewMessage(m), true, JSON.stringify(m));
  }
  for (const m of [
    { type: 'control', action: 'rm' },
    { type: 'control' },
    { type: 'openSample', step: -1 },
    { type: 'ready', x: 1 },
    { type: 'eval', code: '1' },
  ]) {
    assert.equal(isDashboardWebviewMessage(m), false, JSON.stringify(m));
  }
});

test('Delete Run moves the run to the trash, and deletes it for good only when the user says so', async () => {
  const root = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-delete-'));
  const run = (name: string) => {
    const d = path.join(root, name);
    fs.mkdirSync(path.join(d, 'checkpoints', 'step-10'), { recursive: true });
    fs.writeFileSync(path.join(d, 'metrics.jsonl'), '{"kind":"done"}\n');
    return d;
  };
  const questions: string[] = [];
  const ops = (trash: 'works' | 'fails', answer: boolean) => ({
    moveToTrash: async (d: string) => {
      if (trash === 'fails') throw new Error('EXDEV: the trash is on another device');
      fs.renameSync(d, `${d}.trashed`);
    },
    confirmPermanent: async (reason: string) => {
      questions.push(reason);
      return answer;
    },
    removePermanently: (d: string) => fs.rmSync(d, { recursive: true, force: true }),
  });

  const a = run('a');
  assert.equal(await deleteRunFolder(a, ops('works', true)), 'trashed');
  assert.deepEqual([fs.existsSync(a), fs.existsSync(`${a}.trashed`), questions], [false, true, []]);

  const b = run('b');
  assert.equal(await deleteRunFolder(b, ops('fails', false)), 'kept');
  assert.deepEqual(questions, ['EXDEV: the trash is on another device'], 'asked once, with the reason');
  assert.ok(fs.existsSync(path.join(b, 'checkpoints', 'step-10')), 'declined: the run is kept');

  const c = run('c');
  assert.equal(await deleteRunFolder(c, ops('fails', true)), 'deleted');
  assert.equal(questions.length, 2);
  assert.equal(fs.existsSync(c), false, 'confirmed: deleted for good');
});

test("a run's request is request.json, out of the run files' way; runs written before keep theirs", () => {
  const root = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-request-'));
  const run = (name: string, files: Record<string, object>) => {
    const d = path.join(root, name);
    const step = path.join(d, 'checkpoints', 'step-5');
    fs.mkdirSync(step, { recursive: true });
    fs.writeFileSync(path.join(step, 'model.safetensors'), '');
    fs.writeFileSync(path.join(step, 'trainer.json'), '{}');
    for (const [f, json] of Object.entries(files)) fs.writeFileSync(path.join(d, f), JSON.stringify(json));
    return d;
  };
  const fresh = run('fresh', { 'request.json': { preset: 'tiny' } });
  const before = run('before', { 'run.llmlens.json': { preset: 'shakespeare-char' } });
  const both = run('both', { 'request.json': { preset: 'tiny' }, 'run.llmlens.json': { preset: 'old' } });
  const none = run('none', {});
  assert.deepEqual(
    [fresh, before, both, none].map((d) => readRunRequest(d)?.preset),
    ['tiny', 'shakespeare-char', 'tiny', undefined],
  );
  assert.deepEqual(listRuns(root).sort(), [before, both, fresh]);
  assert.deepEqual(
    [fresh, before, none].map((d) =>
      isRunCheckpoint(path.join(d, 'checkpoints', 'step-5', 'model.safetensors')),
    ),
    [true, true, false],
    'Continue training is offered for the checkpoints of both',
  );
  const args = trainArgs(fresh);
  assert.equal(args[args.indexOf('--config') + 1], path.join(fresh, 'request.json'));
  // the run-file schema and CodeLens apply to *.llmlens.json, which request.json is not
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
    contributes: { jsonValidation: { fileMatch: string }[] };
  };
  const globs = [...pkg.contributes.jsonValidation.map((j) => j.fileMatch), '**/*.llmlens.json'];
  const matches = (glob: string, file: string) =>
    new RegExp(
      `^${glob
        .replace(/\*\*\//g, '(.*/)?')
        .replace(/\./g, '\\.')
        .replace(/\*/g, '[^/]*')}$`,
    ).test(file);
  assert.equal(matches('*.llmlens.json', 'run.llmlens.json'), true, 'the glob check itself');
  for (const g of globs) assert.equal(matches(g, 'request.json'), false, g);
});
