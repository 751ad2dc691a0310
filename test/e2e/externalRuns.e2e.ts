/**
 * Runs trained elsewhere, in a real VS Code whose extension host is code-server's server side (a remote
 * extension host, as Remote-SSH or Codespaces run it): a folder outside the workspace, listed in the user's
 * llmLens.runFolders, holds a TensorBoard run (a copy of test/fixtures/tfevents/pytorch's first event file)
 * and a JSONL log. The Runs view shows the folder's group and both runs; the TensorBoard run's dashboard
 * draws its loss points and its text summary (expected.json is the reference), and follows the folder
 * live: the run's restart file and a file with a damaged record arrive, and the dashboard updates.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const FIXTURES = path.resolve('test/fixtures/tfevents');
interface Point {
  run: string;
  tag: string;
  step: number;
  wallTime: number;
  value?: number;
  text?: string;
}
const expected = (
  JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as { records: Point[] }
).records;
const [FIRST, SECOND] = fs.readdirSync(path.join(FIXTURES, 'pytorch')).sort();

let vs: VSCodeSession;
let logs: string;
before(async () => {
  logs = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-logs-'));
  fs.mkdirSync(path.join(logs, 'pytorch'));
  fs.copyFileSync(path.join(FIXTURES, 'pytorch', FIRST), path.join(logs, 'pytorch', FIRST));
  fs.mkdirSync(path.join(logs, 'nano'));
  fs.writeFileSync(
    path.join(logs, 'nano', 'log.jsonl'),
    '{"iter": 0, "train/loss": 4.5, "lr": 0.001}\n{"iter": 10, "train/loss": 3.25, "lr": 0.001}\n',
  );
  const ws = makeWorkspace({ 'README.md': 'runs trained elsewhere\n' });
  vs = await openVSCode({ workspace: ws, vsix: installedVsix(), settings: { 'llmLens.runFolders': [logs] } });
});
after(async () => {
  await vs?.close();
  if (logs) fs.rmSync(logs, { recursive: true, force: true });
});

const row = (text: string) => vs.page.locator('.part.sidebar .monaco-list-row', { hasText: text }).first();

test('the Runs view groups the runs of llmLens.runFolders under their folder', () =>
  vs.step('external-runs-view', async () => {
    await vs.page.locator('.activitybar .action-label[aria-label^="LLM Lens"]').click();
    await row('Workspace runs').waitFor({ timeout: 60_000 });
    await row(logs).waitFor({ timeout: 30_000 });
    // the first event file ends at step 40, loss 2.0 (expected.json)
    const first = expected.filter((p) => p.run === 'pytorch' && p.wallTime < 1700000100);
    const lastLoss = first.filter((p) => p.tag === 'train/loss').at(-1)!;
    const pytorch = row('pytorch');
    await pytorch.waitFor({ timeout: 30_000 });
    assert.match(
      await pytorch.innerText(),
      new RegExp(`tensorboard · (running · )?step ${lastLoss.step} · loss ${lastLoss.value!.toFixed(3)}`),
    );
    assert.match(await row('nano/log.jsonl').innerText(), /jsonl · (running · )?step 10 · loss 3\.250/);
    await vs.screenshot('external-runs-view');
  }));

test('the TensorBoard run’s dashboard shows its loss and text, and follows the folder live', () =>
  vs.step('external-run-dashboard', async () => {
    await row('pytorch').click();
    const view = await vs.webview('Run: pytorch');
    const body = view.locator('body');
    const pytorch = expected.filter((p) => p.run === 'pytorch');
    const losses = (upTo: number) => pytorch.filter((p) => p.tag === 'train/loss' && p.wallTime < upTo);
    await view
      .locator(`body[data-points="${losses(1700000100).length}"]`)
      .waitFor({ state: 'attached', timeout: 60_000 });
    assert.equal(
      (await view.locator('#stat-loss').innerText()).trim(),
      losses(1700000100).at(-1)!.value!.toFixed(4),
    );
    const text = pytorch.find((p) => p.text !== undefined)!;
    const sample = view.locator('#samples .sample').first();
    assert.equal((await sample.locator('.sample-text').innerText()).trim(), text.text!.trim());
    assert.match(await sample.innerText(), new RegExp(`${text.tag} · step ${text.step}`));
    // a run trained elsewhere has nothing to steer
    for (const id of ['#pause', '#stop', '#checkpoint', '#resume-run'])
      assert.equal(await view.locator(id).isVisible(), false, id);
    assert.equal(await body.getAttribute('data-damaged'), '0');

    // the run restarts (its second event file) and a file with a damaged record lands beside it
    fs.copyFileSync(path.join(FIXTURES, 'pytorch', SECOND), path.join(logs, 'pytorch', SECOND));
    const bad = fs.readdirSync(path.join(FIXTURES, 'badcrc'))[0];
    fs.copyFileSync(path.join(FIXTURES, 'badcrc', bad), path.join(logs, 'pytorch', bad));
    const all = losses(Infinity);
    await view.locator(`body[data-points="${all.length}"]`).waitFor({ state: 'attached', timeout: 30_000 });
    await view.locator('body[data-damaged="1"]').waitFor({ state: 'attached', timeout: 30_000 });
    assert.equal((await view.locator('#damaged').innerText()).trim(), '1 damaged record skipped');
    assert.equal((await view.locator('#stat-loss').innerText()).trim(), all.at(-1)!.value!.toFixed(4));
    // badcrc's own tag ("loss") is not the run's train loss: a chart of its own under All scalars
    assert.equal(await body.getAttribute('data-scalar-tags'), 'loss');
    const badPoints = expected.filter((p) => p.run === 'badcrc').length;
    assert.equal(
      await view.locator('canvas.scalar-chart[data-tag="loss"]').getAttribute('data-points'),
      String(badPoints),
    );
    await vs.screenshot('external-run-dashboard');
  }));
