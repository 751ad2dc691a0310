/**
 * Training as a person does it in a real VS Code: Start Training… from the palette with quick-pick answers,
 * the dashboard fills with points and a sample, the run is stopped, its checkpoint shows in the Runs view,
 * and after a window reload the dashboard comes back with the run's curves.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';
import { TRAINING_MALLOC_TUNABLES } from '../../src/engine/train/processEnv';

/** Enough varied text for a char model to learn something visible. */
function corpus(): string {
  const lines: string[] = [];
  const words = [
    'the',
    'king',
    'queen',
    'speak',
    'hear',
    'me',
    'good',
    'lord',
    'and',
    'my',
    'thou',
    'art',
    'not',
    'so',
    'well',
  ];
  let x = 7;
  for (let i = 0; i < 1500; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    lines.push(`${words[x % 15]} ${words[(x >> 4) % 15]} ${words[(x >> 8) % 15]}, ${words[(x >> 12) % 15]}.`);
  }
  return lines.join('\n');
}

let vs: VSCodeSession;
let ws: string;
before(async () => {
  ws = makeWorkspace({ 'play.txt': corpus() });
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

const runsDir = () => path.join(ws, '.llmlens', 'runs');
const bodyData = async (key: string) =>
  (await vs.webview('Training: ' + fs.readdirSync(runsDir())[0])).locator('body').getAttribute(`data-${key}`);

test('Start Training… from the palette trains a tiny model and the dashboard shows it learn', async () => {
  await vs.runCommand('LLM Lens: Start Training…');
  await vs.pick('This workspace');
  await vs.pick('char');
  await vs.pick('tiny');
  // the steps box takes its range from the option table
  await vs.page.locator('.quick-input-widget input').fill('0.5');
  await vs.page
    .locator('.quick-input-widget .quick-input-message', {
      hasText: 'Steps must be a whole number ≥ 1, got 0.5',
    })
    .waitFor({ timeout: 10_000 });
  await vs.input('400');
  for (let i = 0; i < 60 && !(fs.existsSync(runsDir()) && fs.readdirSync(runsDir()).length); i++)
    await new Promise((r) => setTimeout(r, 500));
  const name = fs.readdirSync(runsDir())[0];
  const view = await vs.webview(`Training: ${name}`);
  // at least 20 points on the loss chart and a sample in the timeline
  await view.locator('body[data-points]').waitFor({ state: 'attached', timeout: 60_000 });
  for (let i = 0; i < 240 && Number(await view.locator('body').getAttribute('data-points')) < 20; i++)
    await new Promise((r) => setTimeout(r, 500));
  await view.locator('#samples .sample').first().waitFor({ timeout: 60_000 });
  const points = Number(await view.locator('body').getAttribute('data-points'));
  const step = (await view.locator('#stat-step').innerText()).trim();
  const loss = Number((await view.locator('#stat-loss').innerText()).trim());
  assert.ok(points >= 20, `points ${points}`);
  assert.match(step, /^\d[\d,]* \/ 400$/);
  assert.ok(loss > 0 && loss < 10, `loss ${loss}`);
  // the values equal what the run wrote to metrics.jsonl (the reference the dashboard reads)
  const metrics = fs
    .readFileSync(path.join(runsDir(), name, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; loss?: number; step?: number });
  const first = metrics.find((e) => e.kind === 'step')!;
  assert.ok(first.loss! > 3, `a char model starts near ln(vocab): ${first.loss}`);
  await vs.screenshot('training-dashboard');
  // the status bar follows the run
  assert.match(await vs.statusBarText(), /step \d+\/400 · loss \d/);

  // the training process runs with the malloc tunables of train/processEnv.ts (read from the OS's copy of its environment)
  const pid = (
    JSON.parse(fs.readFileSync(path.join(runsDir(), name, 'run.pid.json'), 'utf8')) as { pid: number }
  ).pid;
  // (glibc before 2.39 parses GLIBC_TUNABLES in place, turning its ':' separators into NULs there)
  const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  const tunables = /GLIBC_TUNABLES=[^\0]*(\0glibc\.[^\0]*)*/.exec(environ)?.[0].replaceAll('\0', ':');
  assert.equal(tunables, `GLIBC_TUNABLES=${TRAINING_MALLOC_TUNABLES.join(':')}`);

  // stop: the run ends with a checkpoint
  await view.locator('#stop').click();
  await view.locator('body[data-status="stopped"]').waitFor({ state: 'attached', timeout: 60_000 });
  const checkpoints = fs.readdirSync(path.join(runsDir(), name, 'checkpoints'));
  assert.ok(
    checkpoints.some((c) => /^step-\d+$/.test(c)),
    checkpoints.join(','),
  );
  const done = fs
    .readFileSync(path.join(runsDir(), name, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; reason?: string })
    .at(-1)!;
  assert.deepEqual([done.kind, done.reason], ['done', 'stopped']);
});

test('the Runs view lists the run and its checkpoint', async () => {
  await vs.page.locator('.activitybar .action-label[aria-label^="LLM Lens"]').click();
  const name = fs.readdirSync(runsDir())[0];
  const row = vs.page.locator('.part.sidebar .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 30_000 });
  assert.match(await row.innerText(), /stopped · step \d+\/400/);
  await row.locator('.monaco-tl-twistie').click();
  const step = fs
    .readdirSync(path.join(runsDir(), name, 'checkpoints'))
    .find((c) => /^step-\d+$/.test(c))!
    .replace('-', ' ');
  await vs.page
    .locator('.part.sidebar .monaco-list-row', { hasText: step })
    .first()
    .waitFor({ timeout: 15_000 });
  await vs.screenshot('training-runs-view');
});

test('after a window reload the dashboard comes back with the run', () =>
  vs.step('reload', async () => {
    const name = fs.readdirSync(runsDir())[0];
    const before = Number(await bodyData('points'));
    await vs.reloadWindow();
    const view = await vs.webview(`Training: ${name}`);
    await view.locator('body[data-points]').waitFor({ state: 'attached', timeout: 60_000 });
    assert.equal(Number(await view.locator('body').getAttribute('data-points')), before);
    assert.equal(await view.locator('body').getAttribute('data-status'), 'stopped');
    await vs.screenshot('training-after-reload');
  }));

test('Continue training in the Checkpoint Inspector resumes the run from that checkpoint', () =>
  vs.step('continue', async () => {
    const name = fs.readdirSync(runsDir())[0];
    const metricsFile = path.join(runsDir(), name, 'metrics.jsonl');
    const events = () =>
      fs
        .readFileSync(metricsFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; step?: number; startStep?: number; reason?: string });
    const checkpoint = fs
      .readdirSync(path.join(runsDir(), name, 'checkpoints'))
      .filter((c) => /^step-\d+$/.test(c))
      .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
      .at(-1)!;
    const at = Number(checkpoint.slice('step-'.length));
    const firstRun = events();
    await vs.runCommand('LLM Lens: Open Checkpoint…');
    await vs.input(path.join(runsDir(), name, 'checkpoints', checkpoint, 'model.safetensors'));
    const accept = vs.page.locator('.quick-input-widget .monaco-button', { hasText: 'Open Checkpoint' });
    if (await accept.isVisible()) await accept.click();
    const inspector = await vs.webview('model.safetensors');
    await inspector.locator('#continue-training').click();
    // the run starts again at the checkpoint's step and takes the next step from there
    let resumed: ReturnType<typeof events> = [];
    for (let i = 0; i < 240 && !resumed.some((e) => e.kind === 'step'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      resumed = events().slice(firstRun.length);
    }
    const start = resumed.find((e) => e.kind === 'start');
    assert.equal(start?.startStep, at, JSON.stringify(resumed.slice(0, 3)));
    const firstStep = firstRun.find((e) => e.kind === 'step')!.step!;
    assert.equal(resumed.find((e) => e.kind === 'step')!.step, at + firstStep);
    const view = await vs.webview(`Training: ${name}`);
    await view
      .locator('body[data-status="running"], body[data-status="finished"]')
      .waitFor({ state: 'attached', timeout: 30_000 });
    await vs.screenshot('training-continued');
    // stop it (a fast machine may have finished the remaining steps already)
    if ((await view.locator('body').getAttribute('data-status')) === 'running') {
      await view
        .locator('#stop')
        .click()
        .catch(() => undefined);
      await view
        .locator('body[data-status="stopped"], body[data-status="finished"]')
        .waitFor({ state: 'attached', timeout: 60_000 });
    }
  }));

test('a run file starts from its CodeLens; the new run finishes and overlays the first run with Compare…', () =>
  vs.step('run-file', async () => {
    const first = fs.readdirSync(runsDir())[0];
    fs.writeFileSync(
      path.join(ws, 'quick.llmlens.json'),
      JSON.stringify(
        {
          name: 'second',
          data: ['play.txt'],
          preset: 'tiny',
          maxIters: 30,
          evalInterval: 15,
          evalIters: 2,
          sampleTokens: 20,
        },
        null,
        2,
      ),
    );
    await vs.openFile('quick.llmlens.json');
    await vs.clickCodeLens('Start training');
    for (let i = 0; i < 60 && fs.readdirSync(runsDir()).length < 2; i++)
      await new Promise((r) => setTimeout(r, 500));
    const second = fs.readdirSync(runsDir()).find((n) => n.startsWith('second-'));
    assert.ok(second, fs.readdirSync(runsDir()).join(','));
    const view = await vs.webview(`Training: ${second}`);
    await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 120_000 });
    assert.equal(await view.locator('body').getAttribute('data-points'), '30');
    await view.locator('#compare').click();
    await vs.pick(first);
    await vs.page.keyboard.press('Enter');
    await view.locator(`body[data-compare="${first}"]`).waitFor({ state: 'attached', timeout: 30_000 });
    await vs.screenshot('training-compare');
  }));
