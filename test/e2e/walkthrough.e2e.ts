/**
 * The Getting Started walkthrough as a newcomer follows it, in a real VS Code from a fresh profile: open
 * it, create the sample workspace in the (empty) open folder through the folder dialog, then click each
 * step's button in order and check what it did: the tokens of "strawberry" (3 in cl100k_base), the
 * sample's pretraining run finished, the Sampler generated from its checkpoint, the Checkpoint
 * Inspector opened on it, the lab's "What is 2+2?" ran, a fine-tuning run on chat.jsonl finished and
 * its chat answered, Probe Knowledge ran to its report on the fine-tuned checkpoint, an RL run made its
 * steps, and the run was exported for PyTorch (its files on disk). After each, the walkthrough shows the
 * step as done, and only then: the lab is not done by opening the model alone, nor the tools and
 * elsewhere steps by a cancelled Probe Knowledge or Export; at the end all 10 steps are done.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { RunEvent } from '../../src/protocol/training';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

let vs: VSCodeSession;
let ws: string;

before(async () => {
  ws = makeWorkspace({});
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

const runsDir = () => path.join(ws, '.llmlens', 'runs');
const runs = (prefix: string) =>
  fs.existsSync(runsDir()) ? fs.readdirSync(runsDir()).filter((n) => n.startsWith(prefix)) : [];
const events = (name: string): RunEvent[] =>
  fs
    .readFileSync(path.join(runsDir(), name, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RunEvent);

async function waitFor(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  for (let t = 0; t < ms && !ok(); t += 250) await new Promise((r) => setTimeout(r, 250));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

/** The walkthrough's tab; a step is done when its button is aria-checked (VS Code 1.100's markup). */
const walkTab = () => vs.page.locator('.tabs-container .tab', { hasText: 'Walkthrough: LLM Lens' }).first();
const stepOf = (id: string) => vs.page.locator(`.getting-started-step[data-step-id$="${id}"]`).first();
const doneSteps = () => vs.page.locator('.getting-started-step[aria-checked="true"]');

/**
 * Welcome: Open Walkthrough… → ours, chosen by keyboard: a webview left open (the sample's README preview)
 * can lie over the quick pick's rows and take a click.
 */
async function openWalkthrough(): Promise<void> {
  // a preview or panel that opens meanwhile can take the focus and close the quick pick: try again
  let last: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await vs.runCommand('Welcome: Open Walkthrough...');
      const input = vs.page.locator('.quick-input-widget input').first();
      await input.fill('Get Started with LLM Lens', { timeout: 10_000 });
      await vs.page
        .locator('.quick-input-widget .monaco-list-row', { hasText: 'Get Started with LLM Lens' })
        .first()
        .waitFor({ timeout: 15_000 });
      await input.press('Enter', { timeout: 5_000 });
      await walkTab().waitFor({ timeout: 15_000 });
      return;
    } catch (e) {
      last = e;
      await vs.page.keyboard.press('Escape');
    }
  }
  throw last;
}

/** The walkthrough's editor in front (opened again when it was closed), with step `id` expanded. */
async function showStep(id: string) {
  if (
    await walkTab()
      .isVisible()
      .catch(() => false)
  )
    await walkTab().click();
  else {
    await openWalkthrough();
  }
  const step = stepOf(id);
  await step.waitFor({ timeout: 30_000 });
  if ((await step.getAttribute('aria-expanded')) !== 'true') await step.click();
  return step;
}

/**
 * Clicks a button of step `id` (a description line that is only a command link renders as a button), the
 * walkthrough alone on screen: vs.webview finds the one visible webview, and the walkthrough's markdown
 * beside a panel, or two panels side by side, would be two.
 */
async function clickButton(id: string, text: string): Promise<void> {
  await vs.runCommand('View: Close All Editor Groups');
  const step = await showStep(id);
  await step.locator('.monaco-button', { hasText: text }).first().click();
}

/**
 * Types `text` into the open input titled `title` and accepts it, pressing Enter again while it stays open:
 * VS Code's folder dialog first opens a typed folder other than the one it lists, and an Enter can land
 * while a multi-step input is still replacing its box.
 */
async function accept(title: string, text: string): Promise<void> {
  await vs.input(text);
  const box = vs.page.locator('.quick-input-widget .quick-input-title', { hasText: title });
  for (let i = 0; i < 5 && (await box.isVisible().catch(() => false)); i++) {
    await vs.page.keyboard.press('Enter');
    await vs.page.waitForTimeout(700);
  }
  assert.equal(await box.isVisible().catch(() => false), false, `the input "${title}" is still open`);
}

/** Picks the CPU when a GPU provider works here too and the command asks which (no question otherwise). */
async function cpuIfAsked(): Promise<void> {
  const title = vs.page.locator('.quick-input-widget .quick-input-title', { hasText: 'device' });
  if (
    await title.waitFor({ timeout: 5_000 }).then(
      () => true,
      () => false,
    )
  )
    await vs.pick('cpu');
}

/**
 * The walkthrough shows step `id` as not done, a moment after what did not complete it (a context key is
 * set through the workbench's command service: it lands within milliseconds).
 */
async function notDone(id: string): Promise<void> {
  const step = await showStep(id);
  await vs.page.waitForTimeout(2_000);
  assert.notEqual(await step.getAttribute('aria-checked'), 'true', `the ${id} step is done too early`);
}

/** Waits until the walkthrough shows step `id` as done (its context key was set). */
async function stepDone(id: string): Promise<void> {
  await showStep(id);
  await vs.page
    .locator(`.getting-started-step[aria-checked="true"][data-step-id$="${id}"]`)
    .waitFor({ state: 'attached', timeout: 30_000 });
}

test('the walkthrough opens from a fresh profile, every step not done yet', () =>
  vs.step('walk-open', async () => {
    await openWalkthrough();
    const steps = vs.page.locator('.getting-started-step');
    await steps.first().waitFor({ timeout: 30_000 });
    assert.equal(await steps.count(), 10);
    assert.equal(await doneSteps().count(), 0);
    await vs.screenshot('walkthrough-open');
  }));

test('Create Sample Workspace… writes the sample into the empty open folder', () =>
  vs.step('walk-sample', async () => {
    await clickButton('sampleWorkspace', 'Create Sample Workspace');
    await accept('Create Sample Workspace', ws);
    await waitFor(() => fs.existsSync(path.join(ws, 'llmlens-sample.json')), 'the sample');
    for (const f of ['strawberry.txt', 'corpus/shakespeare.txt', 'chat.jsonl', 'pretrain.llmlens.json'])
      assert.ok(fs.existsSync(path.join(ws, f)), f);
    // the folder is the open one: its README shows (wait for it, or it opens over the next step's button)
    await vs.page
      .locator('.tabs-container .tab', { hasText: 'Preview README.md' })
      .waitFor({ timeout: 30_000 });
    await stepDone('sampleWorkspace');
  }));

test('tokens: "strawberry" is 3 tokens in cl100k_base', () =>
  vs.step('walk-tokens', async () => {
    await clickButton('tokens', 'Tokenize');
    const view = await vs.webview('LLM Lens: Tokens');
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    assert.equal(
      await view.locator('.result[data-key="builtin:cl100k_base"] [data-count=tokens]').innerText(),
      '3',
    );
    await stepDone('tokens');
  }));

test('pretraining: the sample run file trains the tiny model to the end', () =>
  vs.step('walk-pretrain', async () => {
    await clickButton('pretrain', 'Start Training');
    await waitFor(() => runs('sample-').length === 1, 'the run folder');
    const name = runs('sample-')[0];
    const view = await vs.webview(`Training: ${name}`);
    await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 240_000 });
    const steps = events(name).filter((e) => e.kind === 'step');
    assert.equal(steps.at(-1)!.step, 200);
    assert.ok(steps.at(-1)!.loss < steps[0].loss - 1, `loss ${steps[0].loss} → ${steps.at(-1)!.loss}`);
    await stepDone('pretrain');
  }));

test('sampling: the Sampler generates from the run’s newest checkpoint', () =>
  vs.step('walk-sampling', async () => {
    await clickButton('sampling', 'Open Sampler');
    const view = await vs.webview('Sampler');
    await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    assert.match(await view.locator('#model').innerText(), /step-200/);
    await view.locator('#generate').click();
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    assert.ok((await view.locator('.universe .tok.gen').count()) > 0);
    await stepDone('sampling');
  }));

test('checkpoints: the Checkpoint Inspector opens the newest checkpoint', () =>
  vs.step('walk-checkpoints', async () => {
    await clickButton('checkpoints', 'Checkpoint Inspector');
    const view = await vs.webview('model.safetensors');
    const count = view.locator('#param-count');
    await count.waitFor({ timeout: 60_000 });
    assert.ok(Number(await count.getAttribute('data-value')) > 100_000);
    assert.match(await view.locator('#training').innerText(), /step 200/);
    await stepDone('checkpoints');
  }));

test('lab: the checkpoint opens as a model folder and runs "What is 2+2?"', () =>
  vs.step('walk-lab', async () => {
    await clickButton('lab', 'Open Model Folder');
    await (
      await vs.webview('Sampler')
    )
      .locator('#status[data-state="ready"]')
      .waitFor({ state: 'attached', timeout: 60_000 });
    await notDone('lab'); // the folder is open in the Sampler: no experiment ran yet
    const view = await vs.webview('Sampler');
    await view.locator('#lab > summary').click();
    await view.locator('#lab-list vscode-button[data-lab="two-plus-two"]').click();
    await view.locator('.universe[data-state="done"]').nth(1).waitFor({ timeout: 60_000 });
    assert.equal(await view.locator('#prompt textarea').inputValue(), 'What is 2+2?');
    await stepDone('lab');
  }));

test('chat: fine-tuning on chat.jsonl finishes and the chat answers', () =>
  vs.step('walk-chat', async () => {
    await clickButton('chat', 'Fine-Tune');
    await cpuIfAsked();
    await waitFor(() => runs('sft-').length === 1, 'the fine-tuning run');
    const name = runs('sft-')[0];
    const view = await vs.webview(`Training: ${name}`);
    await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 420_000 });
    const request = JSON.parse(fs.readFileSync(path.join(runsDir(), name, 'request.json'), 'utf8')) as {
      data: string[];
      stage: string;
      maxIters: number;
    };
    // the button's 200 steps (07-chat.md says so), asked of nobody
    assert.deepEqual(
      [request.stage, request.data, request.maxIters],
      ['sft', [path.join(ws, 'chat.jsonl')], 200],
    );
    await stepDone('chat');
    await clickButton('chat', 'Open Chat');
    const chat = await vs.webview('Chat: ');
    await chat.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    await chat.locator('#p-maxTokens input').fill('16');
    await chat.locator('#message textarea').fill('Who are you?');
    await chat.locator('#send').click();
    await chat.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    assert.ok((await chat.locator('.answers[data-slot="main"] .answer .tok.gen').count()) > 0);
  }));

test('tools: a cancelled Probe Knowledge completes nothing; one run to its report does', () =>
  vs.step('walk-tools', async () => {
    await clickButton('tools', 'Probe Knowledge');
    // the button gives the fine-tuned checkpoint (1/5): the questions come first
    await vs.page
      .locator('.quick-input-widget .quick-input-title', { hasText: 'Probe Knowledge (2/5)' })
      .waitFor({ timeout: 30_000 });
    await vs.page.keyboard.press('Escape');
    await notDone('tools');

    await clickButton('tools', 'Probe Knowledge');
    await vs.pick('Made-up people');
    await vs.input('2'); // samples: the fewest that agree or not, so the probe takes seconds
    await vs.input('1'); // temperature
    await vs.input('0.5'); // threshold
    const sft = runs('sft-')[0];
    const report = await vs.webview(`Probe: ${sft}/step-`);
    await report.locator('#totals').waitFor({ timeout: 120_000 });
    assert.equal(await report.locator('section.question').count(), 20, 'the 20 generated questions');
    const totals = /(\d+) known · (\d+) wrong · (\d+) unsure/.exec(
      await report.locator('#totals').innerText(),
    );
    assert.ok(totals, 'the totals line');
    assert.equal(Number(totals[1]) + Number(totals[2]) + Number(totals[3]), 20, totals[0]);
    // the refusals and what it knows, as fine-tuning data (probeCommand.ts sftFileFor)
    const data = fs.readdirSync(path.join(ws, '.llmlens', 'data'));
    assert.ok(
      data.some((f) => f.startsWith('probe-the-refusal-task-sft-') && f.endsWith('.jsonl')),
      data.join(),
    );
    await stepDone('tools');
  }));

test('RL: Start RL on the fine-tuned checkpoint makes its steps', () =>
  vs.step('walk-rl', async () => {
    await clickButton('rl', 'Start RL');
    await vs.pick('addition');
    await accept('Start RL (3/3): steps', '2');
    await waitFor(() => runs('rl-addition-').length === 1, 'the RL run');
    const name = runs('rl-addition-')[0];
    const view = await vs.webview(`Training: ${name}`);
    await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 180_000 });
    assert.equal(events(name).filter((e) => e.kind === 'step').length, 2);
    await stepDone('rl');
  }));

test('elsewhere: a cancelled Export completes nothing; Export Run for PyTorch writes the trainer', () =>
  vs.step('walk-elsewhere', async () => {
    const run = runs('sample-')[0];
    await clickButton('elsewhere', 'Export Run for PyTorch');
    await vs.page
      .locator('.quick-input-widget .quick-input-title', { hasText: `Export ${run} for PyTorch` })
      .waitFor({ timeout: 30_000 });
    await vs.page.keyboard.press('Escape');
    await notDone('elsewhere');

    // the folder dialog takes an existing folder: a new empty one, as a person makes in it
    const out = path.join(ws, 'torch-export');
    fs.mkdirSync(out);
    await clickButton('elsewhere', 'Export Run for PyTorch');
    await vs.pick('Continue from step 200');
    await accept('Folder to write the PyTorch run into', out);
    await waitFor(() => fs.existsSync(path.join(out, 'README.md')), 'the export', 60_000);
    const read = (f: string) => fs.readFileSync(path.join(out, f), 'utf8');
    assert.match(
      read('run.sh'),
      /^exec torchrun --standalone --nproc_per_node \$\{NPROC:-1\} train\.py "\$@"$/m,
    );
    assert.match(read('train.py'), /^import torch/m);
    const spec = JSON.parse(read('run.json')) as { format: string; exportedFrom: string; resumeFrom: string };
    assert.deepEqual(
      [spec.format, spec.exportedFrom, spec.resumeFrom],
      ['llm-lens-torch-run', path.join(runsDir(), run), 'init'],
    );
    assert.match(read('README.md'), /It continues from step 200 of /);
    for (const f of ['init/model.safetensors', 'init/trainer.safetensors', 'data/train.bin', 'data/val.bin'])
      assert.ok(fs.existsSync(path.join(out, f)), f);
    await stepDone('elsewhere');
    assert.equal(await doneSteps().count(), 10, 'every step done');
    await vs.screenshot('walkthrough-done');
  }));
