/** A person runs LLM Lens: Show Environment from the palette of a real VS Code with the packaged VSIX installed. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

let vs: VSCodeSession;
before(async () => {
  vs = await openVSCode({ workspace: makeWorkspace({ 'notes.txt': 'strawberry\n' }), vsix: installedVsix() });
});
after(async () => vs?.close());

test('Show Environment reports VS Code, onnxruntime-node and a working CPU provider', async () => {
  await vs.runCommand('LLM Lens: Show Environment');
  const view = await vs.webview('LLM Lens: Environment');
  await view.locator('#status[data-state="done"]').waitFor({ timeout: 60_000 });
  const cell = async (key: string) => (await view.locator(`tr[data-key="${key}"] td`).innerText()).trim();

  const ortVersion = (
    JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }
  ).version;
  assert.equal(await cell('ort'), ortVersion);
  assert.match(await cell('vscode'), /^1\.100\.3 /);
  const pkgVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  assert.equal(await cell('extension'), pkgVersion);
  assert.match(await cell('provider-cpu'), /^works/);
  for (const ep of ['webgpu', 'cuda']) assert.match(await cell(`provider-${ep}`), /^(works|unavailable)/);
  assert.match(await view.locator('#status').innerText(), /Execution providers that work here: cpu/);
  await vs.screenshot('environment');
});

test('the report is also written to the LLM Lens output channel', async () => {
  await vs.runCommand('LLM Lens: Show Log');
  const ortVersion = (
    JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }
  ).version;
  const output = vs.page.locator('.part.panel .view-lines');
  await output
    .filter({ hasText: `onnxruntime-node | ${ortVersion}` })
    .first()
    .waitFor({ timeout: 30_000 });
  assert.match(await vs.text('.part.panel .view-lines'), /Provider cpu \| works/);
  await vs.screenshot('environment-log');
});

test('the LLM Lens activity bar container shows the Runs view', async () => {
  await vs.page.locator('.activitybar .action-label[aria-label^="LLM Lens"]').click();
  await vs.page
    .locator('.part.sidebar .title-label', { hasText: /LLM Lens: Runs/i })
    .waitFor({ timeout: 15_000 });
  await vs.page
    .locator('.welcome-view-content', { hasText: 'No training runs' })
    .waitFor({ timeout: 15_000 });
  await vs.screenshot('runs-view');
});
