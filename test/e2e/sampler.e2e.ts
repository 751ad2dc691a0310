/**
 * The Sampler as a person uses it in a real VS Code: train a tiny checkpoint with the CLI, run
 * LLM Lens: Open Sampler… and pick it, generate two universes, click a token for its distribution
 * (20 bars whose probabilities, read from the webview, sum to at most 1), branch from another
 * candidate, inspect attention over 1,024 tokens (grid, one head large and drawn in under 300 ms,
 * hover, "from this token") and the logit lens. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { makeWorkspace, REPO } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const N_LAYER = 2;
const N_HEAD = 2;
const MAX_TOKENS = 40;
/** Block 1024 and a 1,000-character prompt: generation slides past the block, and the inspection covers 1,024 tokens. */
const BLOCK = 1024;
const PROMPT_CHARS = 1000;

/** Varied English for a character vocabulary. */
function corpus(): string {
  const words = [
    'the',
    'model',
    'samples',
    'one',
    'token',
    'at',
    'a',
    'time',
    'and',
    'attention',
    'looks',
    'back',
    'over',
    'text',
  ];
  const out: string[] = [];
  let x = 7;
  for (let i = 0; i < 4000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(words[x % words.length]);
    if (i % 11 === 10) out.push('.\n');
  }
  return out.join(' ');
}

const PROMPT = corpus();
let vs: VSCodeSession;
let ws: string;

before(async () => {
  ws = makeWorkspace({ 'data/corpus.txt': corpus() });
  const cli = join(REPO, 'dist', 'cli.js');
  const args = [
    cli,
    'train',
    '--data',
    join(ws, 'data'),
    '--run-dir',
    join(ws, 'runs', 'tiny'),
    '--max-iters',
    '30',
    '--n-layer',
    String(N_LAYER),
    '--n-head',
    String(N_HEAD),
    '--n-embd',
    '32',
    '--block-size',
    String(BLOCK),
    '--batch-size',
    '2',
    '--eval-interval',
    '0',
    '--sample-interval',
    '0',
    '--checkpoint-interval',
    '0',
  ];
  const r = spawnSync(process.execPath, args, { cwd: ws, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `llm-lens train failed: ${r.stderr}\n${r.stdout}`);
  assert.ok(existsSync(join(ws, 'runs', 'tiny', 'checkpoints', 'step-30', 'model.safetensors')));
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

async function sampler(): Promise<FrameLocator> {
  return vs.webview('Sampler');
}

async function setField(view: FrameLocator, key: string, value: string): Promise<void> {
  await view.locator(`#p-${key} input`).fill(value);
}

test('Open Sampler… on a trained checkpoint generates two universes token by token', async () => {
  await vs.runCommand('LLM Lens: Open Sampler…');
  await vs.pick('step-30');
  const view = await sampler();
  await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.match(await view.locator('#model').innerText(), new RegExp(`${N_LAYER} layers, ${N_HEAD} heads`));
  await view.locator('#prompt textarea').fill(PROMPT.slice(0, PROMPT_CHARS));
  await setField(view, 'streams', '2');
  await setField(view, 'maxTokens', String(MAX_TOKENS));
  await view.locator('#generate').click();
  await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.equal(await view.locator('.universe').count(), 2);
  for (let u = 0; u < 2; u++)
    assert.equal(await view.locator('.universe').nth(u).locator('.tok.gen').count(), MAX_TOKENS);
  assert.equal(await view.locator('.universe').first().locator('.tok.prompt').count(), PROMPT_CHARS);
  await vs.screenshot('sampler-generate');
});

test('clicking a token shows its top-20 distribution; the probabilities sum to at most 1', async () => {
  const view = await sampler();
  await view.locator('.universe').first().locator('.tok.gen').nth(3).click();
  await view.locator('#dist-chart').waitFor({ timeout: 10_000 });
  const rows = view.locator('#dist-table tr.dist-row');
  assert.equal(await rows.count(), 20);
  const probs = (await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-p')))).map(Number);
  const sum = probs.reduce((a, b) => a + b, 0);
  assert.ok(
    probs.every((p) => p >= 0 && p <= 1),
    `probabilities ${probs.join(', ')}`,
  );
  assert.ok(sum > 0 && sum <= 1 + 1e-9, `sum ${sum}`);
  assert.deepEqual(
    [...probs].sort((a, b) => b - a),
    probs,
    'sorted, most likely first',
  );
  assert.equal(await view.locator('#dist-table tr.dist-row.chosen').count(), 1);
  assert.match(await view.locator('#dist-info').innerText(), /rank \d+/);
  await vs.screenshot('sampler-distribution');
});

test('branching from another candidate starts a new universe from that token', async () => {
  const view = await sampler();
  await view.locator('#dist-table tr.dist-row:not(.chosen) vscode-button.branch').first().click();
  await view.locator('.universe').nth(2).waitFor({ timeout: 30_000 });
  await view.locator('.universe[data-state="done"]').nth(2).waitFor({ timeout: 60_000 });
  const branch = view.locator('.universe').nth(2);
  assert.equal(await branch.locator('.tok.forced').count(), 1);
  assert.equal(
    await branch
      .locator('.tok.gen')
      .nth(3)
      .getAttribute('class')
      .then((c) => c?.includes('forced')),
    true,
  );
});

test('Inspect shows the layer × head grid, one head large with hover, and the logit lens', async () => {
  const view = await sampler();
  await view.locator('.universe').first().locator('.inspect-btn').click();
  await view.locator('#status[data-state="inspected"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.equal(await view.locator('#att-grid .thumb').count(), N_LAYER * N_HEAD);
  await view.locator('#att-grid .thumb[data-layer="1"][data-head="1"]').click();
  const big = view.locator('#att-big[data-layer="1"][data-head="1"]');
  await big.waitFor({ timeout: 20_000 });
  const box = await big.boundingBox();
  assert.ok(box && box.width > 100, 'the large map is drawn');
  await big.hover({ position: { x: box!.width * 0.8, y: box!.height * 0.9 } });
  assert.match(await view.locator('#att-hover').innerText(), /query \d+ .* → key \d+ .*: \d\.\d{4}/);
  assert.match(await view.locator('#inspect h3').first().innerText(), /1024 tokens: the last 1024/);
  const renderMs = Number(await big.getAttribute('data-render-ms'));
  console.log(`large attention map, 1024 × 1024: drawn in ${renderMs} ms`);
  assert.ok(renderMs >= 0 && renderMs < 300, `the 1,024-token map took ${renderMs} ms to draw`);
  await view.locator('#att-text .tok').nth(20).click();
  assert.equal(await view.locator('#att-text .tok.query').count(), 1);
  assert.equal(await view.locator('#lens-table tbody tr').count(), N_LAYER + 1);
  await vs.screenshot('sampler-attention');
});
