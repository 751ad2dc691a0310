/**
 * Runs trained elsewhere, without VS Code: the TensorBoard fixtures (test/fixtures/tfevents, written by an
 * independent protobuf writer; reference values from its expected.json) and hand-written JSONL logs become
 * the dashboard's events (well-known tags onto the native charts, the rest as scalars of their own, text as
 * samples), damaged records are counted, the model follows a growing run; the llmLens.runFolders setting
 * resolves to folders (paths, ~, globs, problems said), runs are found in them and grouped for the Runs view;
 * checkpoint folders (model.safetensors, shard index) are found under a run; the dashboard's per-tag store.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { LogPoint } from '../../src/engine/runs/logReader';
import {
  ExternalRunModel,
  ExternalRunModels,
  findCheckpoints,
  pointsToEvents,
  scalarSeries,
} from '../../src/host/runs/externalRun';
import {
  discoverRuns,
  expandGlob,
  resolveRunFolders,
  runGroups,
  runKindOf,
} from '../../src/host/runs/runSources';
import type { RunEvent } from '../../src/protocol/training';
import { ScalarStore } from '../../webview/dashboard/scalarStore';

const FIXTURES = 'test/fixtures/tfevents';
interface Expected {
  records: LogPoint[];
  damaged: Record<string, { truncated?: number; corrupt?: number }>;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
const temps: string[] = [];
const tmp = () => {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-ext-')));
  temps.push(d);
  return d;
};
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A copy of a fixture run under `root` (only the files named, when given). */
function copyRun(run: string, root: string, files?: string[]): string {
  const dir = path.join(root, run);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of files ?? fs.readdirSync(path.join(FIXTURES, run)))
    fs.copyFileSync(path.join(FIXTURES, run, f), path.join(dir, f));
  return dir;
}

/** The series each fixture tag feeds, written out from the mapping the dashboard documents. */
const FIXTURE_SERIES: Record<string, string | undefined> = {
  'train/loss': 'loss',
  'train/lr': 'lr',
  'eval/loss': 'valLoss',
  loss: 'loss',
};

/** A fixture record as the dashboard's event (what the model must produce). */
function eventOf(p: LogPoint): RunEvent {
  const time = p.wallTime! * 1000;
  if (p.text !== undefined)
    return { kind: 'sample', step: p.step, prompt: '', text: p.text, tag: p.tag, time };
  const series = FIXTURE_SERIES[p.tag];
  return {
    kind: 'scalar',
    step: p.step,
    tag: p.tag,
    value: p.value!,
    ...(series ? { series } : {}),
    time,
  } as RunEvent;
}
const recordsOf = (run: string) => expected.records.filter((r) => r.run === run);

// ---- tags → charts

test('well-known tags feed the native charts; other tags a chart of their own', () => {
  const cases: [string, string | undefined][] = [
    ['loss', 'loss'],
    ['train/loss', 'loss'],
    ['train_loss', 'loss'],
    ['Loss/train', 'loss'],
    ['val/loss', 'valLoss'],
    ['val_loss', 'valLoss'],
    ['eval/loss', 'valLoss'],
    ['Loss/val', 'valLoss'],
    ['lr', 'lr'],
    ['train/lr', 'lr'],
    ['learning_rate', 'lr'],
    ['grad_norm', 'gradNorm'],
    ['train/grad-norm', 'gradNorm'],
    ['eval/acc', undefined],
    ['mfu', undefined],
    ['loss/other', undefined],
  ];
  for (const [tag, want] of cases) assert.equal(scalarSeries(tag), want, tag);
});

test('points of a log become scalar and sample events, time in ms', () => {
  const pts: LogPoint[] = [
    { run: 'r', tag: 'train/loss', step: 3, wallTime: 1700000000.5, value: 2.5 },
    { run: 'r', tag: 'eval/acc', step: 3, value: 0.25 },
    { run: 'r', tag: 'samples', step: 4, wallTime: 1700000001, text: 'hi' },
  ];
  assert.deepEqual(pointsToEvents(pts), [
    { kind: 'scalar', step: 3, tag: 'train/loss', value: 2.5, series: 'loss', time: 1700000000500 },
    { kind: 'scalar', step: 3, tag: 'eval/acc', value: 0.25, time: 0 },
    { kind: 'sample', step: 4, prompt: '', text: 'hi', tag: 'samples', time: 1700000001000 },
  ]);
});

// ---- the model of a run

test('a TensorBoard run (two event files, a restart) gives every record of expected.json, in order', (t) => {
  const root = tmp();
  const dir = copyRun('pytorch', root);
  const model = new ExternalRunModel(dir, { pollMs: 0 });
  t.after(() => model.dispose());
  assert.deepEqual(model.events, recordsOf('pytorch').map(eventOf));
  const losses = recordsOf('pytorch').filter((r) => r.tag === 'train/loss');
  const s = model.summary();
  assert.equal(s.name, 'pytorch');
  assert.equal(s.step, 70);
  assert.equal(s.loss, losses.at(-1)!.value);
  assert.equal(s.valLoss, undefined);
  assert.deepEqual(s.external, { format: 'tensorboard', damaged: 0 });
  // its files are old: not growing, and a log does not say how it ended
  fs.utimesSync(path.join(dir, fs.readdirSync(dir)[0]), new Date(0), new Date(0));
  fs.utimesSync(path.join(dir, fs.readdirSync(dir)[1]), new Date(0), new Date(0));
  const old = new ExternalRunModel(dir, { pollMs: 0 });
  assert.equal(old.status, 'unknown');
  old.dispose();
  assert.equal(model.status, 'running', 'just copied: written within the last minute');
});

test('tf.summary tensors: the eval/loss tag is the val loss, eval/acc a scalar of its own', (t) => {
  const model = new ExternalRunModel(copyRun('tf2', tmp()), { pollMs: 0 });
  t.after(() => model.dispose());
  assert.deepEqual(model.events, recordsOf('tf2').map(eventOf));
  const s = model.summary();
  assert.equal(
    s.valLoss,
    recordsOf('tf2')
      .filter((r) => r.tag === 'eval/loss')
      .at(-1)!.value,
  );
  assert.equal(s.loss, undefined);
  assert.equal(s.step, 8589934597);
});

test('damaged records are counted, never thrown; a record still being written is not damage', () => {
  const root = tmp();
  for (const run of ['truncated', 'badcrc', 'badlength', 'notevent']) {
    const model = new ExternalRunModel(copyRun(run, root), { pollMs: 0 });
    assert.equal(model.damaged, expected.damaged[run].corrupt ?? 0, run);
    assert.deepEqual(model.events, recordsOf(run).map(eventOf), run);
    assert.equal(model.summary().external?.damaged, expected.damaged[run].corrupt ?? 0, run);
    model.dispose();
  }
});

test('a run folder’s own files only: a subfolder is a run of its own', (t) => {
  const root = tmp();
  const dir = copyRun('pytorch', root);
  copyRun('tf2', dir); // pytorch/tf2/…
  const model = new ExternalRunModel(dir, { pollMs: 0 });
  t.after(() => model.dispose());
  assert.deepEqual(model.events, recordsOf('pytorch').map(eventOf));
});

test('a growing run: records appended to the folder arrive as events, once', async (t) => {
  const root = tmp();
  const [first, second] = fs.readdirSync(path.join(FIXTURES, 'pytorch')).sort();
  const dir = copyRun('pytorch', root, [first]);
  const model = new ExternalRunModel(dir, { pollMs: 30 });
  t.after(() => model.dispose());
  const firstTime = recordsOf('pytorch').filter((r) => r.wallTime! < 1700000100);
  assert.deepEqual(model.events, firstTime.map(eventOf));
  const heard: RunEvent[] = [];
  model.onEvents((events) => heard.push(...events));
  // the restart's file arrives in two pieces: the first cut inside a record
  const bytes = fs.readFileSync(path.join(FIXTURES, 'pytorch', second));
  fs.writeFileSync(path.join(dir, second), bytes.subarray(0, 30));
  await new Promise((r) => setTimeout(r, 150));
  fs.appendFileSync(path.join(dir, second), bytes.subarray(30));
  const later = recordsOf('pytorch').filter((r) => r.wallTime! >= 1700000100);
  for (let i = 0; i < 100 && heard.length < later.length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(heard, later.map(eventOf));
  assert.equal(model.summary().step, 70);
  assert.equal(model.damaged, 0);
});

test('a nanoGPT-style JSONL log: iter steps, train/val loss and lr on the native charts, a bad line counted', (t) => {
  const dir = tmp();
  const file = path.join(dir, 'log.jsonl');
  fs.writeFileSync(
    file,
    [
      '{"iter": 0, "train/loss": 4.25, "val/loss": 4.5, "lr": 0.0006, "mfu": 0.1}',
      '{"iter": 10, "train/loss": 3.75, "lr": 0.0005',
      '{"iter": 20, "train/loss": 3.0, "lr": 0.0004, "sample": "to be"}',
      '',
    ].join('\n'),
  );
  const model = new ExternalRunModel(file, { pollMs: 0 });
  t.after(() => model.dispose());
  assert.deepEqual(model.events, [
    { kind: 'scalar', step: 0, tag: 'train/loss', value: 4.25, series: 'loss', time: 0 },
    { kind: 'scalar', step: 0, tag: 'val/loss', value: 4.5, series: 'valLoss', time: 0 },
    { kind: 'scalar', step: 0, tag: 'lr', value: 0.0006, series: 'lr', time: 0 },
    { kind: 'scalar', step: 0, tag: 'mfu', value: 0.1, time: 0 },
    { kind: 'scalar', step: 20, tag: 'train/loss', value: 3, series: 'loss', time: 0 },
    { kind: 'scalar', step: 20, tag: 'lr', value: 0.0004, series: 'lr', time: 0 },
    { kind: 'sample', step: 20, prompt: '', text: 'to be', tag: 'sample', time: 0 },
  ]);
  assert.deepEqual(model.summary().external, { format: 'jsonl', damaged: 1 });
  assert.equal(model.summary().loss, 3);
  assert.equal(model.summary().valLoss, 4.5);
});

test('the models of a window: one per run while held; summaries of unheld runs read incrementally', () => {
  const root = tmp();
  const dir = copyRun('pytorch', root);
  const models = new ExternalRunModels({ pollMs: 0 });
  const a = models.acquire(dir);
  const b = models.acquire(dir);
  assert.equal(a.model, b.model);
  assert.equal(models.get(dir), a.model);
  a.dispose();
  assert.equal(models.get(dir), b.model, 'still held by b');
  b.dispose();
  assert.equal(models.get(dir), undefined);
  assert.equal(models.summary(dir).step, 70);
  models.dispose();
});

// ---- checkpoints

test('checkpoint folders under a run: model.safetensors or a shard index, in step order', () => {
  const dir = tmp();
  const mk = (rel: string, file: string) => {
    fs.mkdirSync(path.join(dir, rel), { recursive: true });
    fs.writeFileSync(path.join(dir, rel, file), '{}');
  };
  mk('checkpoint-200', 'model.safetensors.index.json');
  mk('ckpt/step-50', 'model.safetensors');
  mk('notes', 'readme.txt');
  mk('deep/a/b/c/step-1', 'model.safetensors'); // 4 levels down: too deep
  assert.deepEqual(findCheckpoints(dir), [
    {
      dir: path.join(dir, 'ckpt/step-50'),
      file: path.join(dir, 'ckpt/step-50/model.safetensors'),
      label: 'ckpt/step-50',
      step: 50,
    },
    {
      dir: path.join(dir, 'checkpoint-200'),
      file: path.join(dir, 'checkpoint-200/model.safetensors.index.json'),
      label: 'checkpoint-200',
      step: 200,
    },
  ]);
});

// ---- llmLens.runFolders

test('runFolders: absolute, ~ and relative paths, globs; what is wrong is said, not thrown', () => {
  const home = tmp();
  const ws = tmp();
  for (const d of ['logs', 'exp/a/runs', 'exp/b/runs', 'exp/c', 'exp/dd', 'deep/x/y/tb'])
    fs.mkdirSync(path.join(ws, d), { recursive: true });
  fs.mkdirSync(path.join(home, 'tb'));
  fs.writeFileSync(path.join(ws, 'exp', 'notes.txt'), '');
  const ctx = { workspaceFolder: ws, home };
  assert.deepEqual(resolveRunFolders(['~/tb', path.join(ws, 'logs'), 'logs', ' '], ctx), [
    { entry: '~/tb', folders: [path.join(home, 'tb')] },
    { entry: path.join(ws, 'logs'), folders: [path.join(ws, 'logs')] },
    { entry: 'logs', folders: [path.join(ws, 'logs')] },
  ]);
  assert.deepEqual(resolveRunFolders(['exp/*/runs'], ctx), [
    { entry: 'exp/*/runs', folders: [path.join(ws, 'exp/a/runs'), path.join(ws, 'exp/b/runs')] },
  ]);
  assert.deepEqual(
    resolveRunFolders(['exp/?'], ctx)[0].folders,
    ['a', 'b', 'c'].map((x) => path.join(ws, 'exp', x)),
  );
  assert.deepEqual(expandGlob(path.join(ws, '**', 'tb')), [path.join(ws, 'deep/x/y/tb')]);
  const [missing, glob, relative] = [
    resolveRunFolders(['nope'], ctx)[0],
    resolveRunFolders(['exp/*/nothing'], ctx)[0],
    resolveRunFolders(['logs'], { home })[0],
  ];
  assert.deepEqual(missing, {
    entry: 'nope',
    folders: [],
    problem: `Folder not found: ${path.join(ws, 'nope')}. Create it or fix llmLens.runFolders.`,
  });
  assert.match(glob.problem!, /^No folder matches .*exp\/\*\/nothing: check llmLens.runFolders\.$/);
  assert.match(relative.problem!, /"logs" is relative, and no workspace folder is open/);
  assert.match(resolveRunFolders('~/logs', ctx)[0].problem!, /must be a list of folders/);
  assert.match(
    resolveRunFolders([3], ctx)[0].problem!,
    /each entry must be a folder path as a string, got 3/,
  );
  assert.deepEqual(resolveRunFolders(undefined, ctx), []);
});

// ---- runs found, grouped for the Runs view

/** A folder as a person's experiments leave it: TensorBoard runs, a JSONL log, a run of ours trained elsewhere. */
function experiments(): string {
  const root = tmp();
  const pytorch = copyRun('pytorch', root);
  copyRun('tf2', path.join(root, 'sweep'));
  fs.mkdirSync(path.join(pytorch, 'checkpoint-60'));
  fs.writeFileSync(path.join(pytorch, 'checkpoint-60', 'model.safetensors'), '');
  fs.mkdirSync(path.join(root, 'nano'));
  fs.writeFileSync(path.join(root, 'nano', 'log.jsonl'), '{"iter": 0, "loss": 4}\n');
  const ours = path.join(root, 'exported');
  fs.mkdirSync(ours);
  fs.writeFileSync(
    path.join(ours, 'metrics.jsonl'),
    '{"kind":"start","runDir":"x","params":1,"tokensPerStep":1,"startStep":0,"maxIters":1,"time":1}\n',
  );
  fs.writeFileSync(path.join(ours, 'events.jsonl'), '{"step": 1, "loss": 1}\n'); // inside a native run: not a run
  return root;
}

test('runs in a folder: TensorBoard folders, JSONL logs, native runs; checkpoint folders are not runs', () => {
  const root = experiments();
  assert.deepEqual(discoverRuns(root), [
    { path: path.join(root, 'exported'), label: 'exported', kind: 'native' },
    { path: path.join(root, 'nano', 'log.jsonl'), label: 'nano/log.jsonl', kind: 'jsonl' },
    { path: path.join(root, 'pytorch'), label: 'pytorch', kind: 'tensorboard' },
    { path: path.join(root, 'sweep', 'tf2'), label: 'sweep/tf2', kind: 'tensorboard' },
  ]);
  // a source that is itself a run
  assert.deepEqual(discoverRuns(path.join(root, 'pytorch')), [
    { path: path.join(root, 'pytorch'), label: 'pytorch', kind: 'tensorboard' },
  ]);
  assert.equal(runKindOf(path.join(root, 'exported')), 'native');
  assert.equal(runKindOf(path.join(root, 'pytorch')), 'tensorboard');
  assert.equal(runKindOf(path.join(root, 'nano', 'log.jsonl')), 'jsonl');
  assert.equal(runKindOf(path.join(root, 'nano')), undefined);
  assert.equal(runKindOf(path.join(root, 'missing')), undefined);
});

test('the Runs view groups: workspace runs first, one group per entry, a run listed once', () => {
  const root = experiments();
  const ws = tmp();
  const native = path.join(ws, '.llmlens', 'runs', 'run-1');
  const groups = runGroups(
    [native],
    [
      { entry: '~/exp', folders: [root] },
      { entry: 'again', folders: [path.join(root, 'pytorch')] },
      { entry: 'sw*', folders: [path.join(root, 'sweep'), path.join(root, 'nano')] },
      {
        entry: 'gone',
        folders: [],
        problem: 'Folder not found: /gone. Create it or fix llmLens.runFolders.',
      },
    ],
  );
  const shape = groups.map((g) => ({
    label: g.label,
    tooltip: g.tooltip,
    runs: g.runs.map((r) => `${r.kind}:${r.label}`),
    problem: g.problem,
  }));
  assert.deepEqual(shape, [
    {
      label: 'Workspace runs',
      tooltip: 'Runs trained in this workspace (.llmlens/runs)',
      runs: ['native:run-1'],
      problem: undefined,
    },
    {
      label: '~/exp',
      tooltip: root,
      runs: ['native:exported', 'jsonl:nano/log.jsonl', 'tensorboard:pytorch', 'tensorboard:sweep/tf2'],
      problem: undefined,
    },
    { label: 'again', tooltip: path.join(root, 'pytorch'), runs: [], problem: undefined },
    { label: 'sw*', tooltip: `${root}/sweep\n${root}/nano`, runs: [], problem: undefined },
    {
      label: 'gone',
      tooltip: 'gone',
      runs: [],
      problem: 'Folder not found: /gone. Create it or fix llmLens.runFolders.',
    },
  ]);
  // a glob's runs from several folders are told apart by their folder
  const glob = runGroups(
    [],
    [{ entry: 'sw*', folders: [path.join(root, 'sweep'), path.join(root, 'nano')] }],
  );
  assert.deepEqual(
    glob[1].runs.map((r) => r.label),
    ['sweep/tf2', 'nano/log.jsonl'],
  );
});

// ---- the dashboard's store

test('the dashboard’s store: a step logged again replaces that tag’s points from there; series by first tag', () => {
  const s = new ScalarStore();
  const sc = (
    tag: string,
    step: number,
    value: number,
    series?: 'loss' | 'lr',
  ): RunEvent & { kind: 'scalar' } => ({
    kind: 'scalar',
    step,
    tag,
    value,
    ...(series ? { series } : {}),
    time: 0,
  });
  for (const e of [
    sc('train/loss', 0, 4, 'loss'),
    sc('loss', 0, 9, 'loss'),
    sc('train/loss', 10, 3, 'loss'),
    sc('eval/acc', 10, 0.5),
    sc('train/loss', 20, 2, 'loss'),
    sc('train/loss', 10, 2.5, 'loss'), // a restart from step 10
    sc('lr', 10, 0.1, 'lr'),
  ])
    s.add(e);
  assert.deepEqual(
    s.series('loss').map((e) => [e.step, e.value]),
    [
      [0, 4],
      [10, 2.5],
    ],
  );
  assert.deepEqual(
    s.others().map(([tag, pts]) => [tag, pts.length]),
    [
      ['eval/acc', 1],
      ['loss', 1],
    ],
  );
  assert.equal(s.series('gradNorm').length, 0);
  assert.equal(s.lastStep(), 10);
});
