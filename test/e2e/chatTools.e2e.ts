/**
 * Tools in the Chat panel, in a real VS Code, on a tiny checkpoint fine-tuned here to call the calculator
 * (fixtures/chat/toolCheckpoint.ts): the first run with tools asks once about python (declined here: the
 * calculator runs either way), the answer shows the call as a block (calculator, 12 * 34, 408, its time)
 * and the sentence that uses it, and the raw view marks the tool's output tokens; with the Tools toggle
 * off, Regenerate answers the same prompt without a call. The reference is 12 * 34 = 408, by hand.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  TOOL_ANSWER,
  TOOL_INPUT,
  TOOL_OUTPUT,
  TOOL_QUESTION,
  toolCheckpoint,
} from '../fixtures/chat/toolCheckpoint';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

let vs: VSCodeSession;

before(async () => {
  const ws = makeWorkspace({ 'README.md': 'a checkpoint that calls the calculator\n' });
  const t0 = performance.now();
  await toolCheckpoint(join(ws, 'runs'));
  console.log(`tool checkpoint trained in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

test('a chat that calls the calculator shows the call block, the tool output marked, and the right answer', async () => {
  await vs.runCommand('LLM Lens: Open Chat…');
  await vs.pick('runs/tool');
  const view = await vs.webview('Chat: ');
  await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
  await view.locator('#tools').waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await view.locator('#tools').getAttribute('checked'), '', 'Tools is on by default');
  await view.locator('#p-temperature input').fill('0');
  await view.locator('#p-maxTokens input').fill('60');
  await view.locator('#message textarea').fill(TOOL_QUESTION);
  await view.locator('#send').click();

  // the first run with tools asks about python, once (the workspace is trusted: trust is off in the harness)
  const dialog = vs.page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 30_000 });
  assert.match(await dialog.innerText(), /Let models run Python in a sandbox in this workspace\?/);
  await dialog.locator('.monaco-button', { hasText: "Don't Allow" }).click();
  await vs.screenshot('chat-tools-asked');

  const view2 = await vs.webview('Chat: ');
  await view2
    .locator('.answer[data-answer="1"][data-state="done"]')
    .waitFor({ state: 'attached', timeout: 60_000 });
  assert.match(await view2.locator('#tools-note').innerText(), /python is off: you chose not to/);
  const answer = view2.locator('.answers[data-slot="main"] .answer').first();
  const block = answer.locator('.tool-call');
  assert.equal(await block.count(), 1, 'one call block');
  assert.equal(await block.getAttribute('data-tool'), 'calculator');
  assert.equal(await block.getAttribute('data-ok'), 'true');
  assert.equal(await block.locator('.tool-name').innerText(), 'calculator');
  assert.equal(await block.locator('.tool-input').innerText(), TOOL_INPUT);
  assert.match(await block.locator('.tool-ms').innerText(), /^\d+(\.\d)? (ms|s)$/);
  const out = await block.locator('.tool-output .tok.tool-out').allInnerTexts();
  assert.deepEqual(
    out,
    ['<|output_start|>', ...TOOL_OUTPUT, '<|output_end|>'],
    'the forced tokens, in the block',
  );
  assert.equal(await answer.locator('.tok.tool-out').count(), out.length, 'no forced token outside it');
  // the sentence after the call, written by the model from the output in its context
  const text = (await answer.locator('.utext').innerText()).replace(/\s+/g, ' ');
  assert.ok(text.includes(TOOL_ANSWER), text);
  // the raw view: the same tokens, the tool's output marked as put there by the tool
  await view2.locator('#raw-view summary').click();
  const raw = view2.locator('#raw .tokens[data-slot="main"] .tok.tool-out');
  assert.deepEqual(await raw.allInnerTexts(), out);
  assert.match((await raw.first().getAttribute('title'))!, /put into the context by the tool/);
  const drawn = view2.locator('#raw .tokens[data-slot="main"] .tok.gen:not(.tool-out)').first();
  assert.match((await drawn.getAttribute('title'))!, /generated/);
  await vs.screenshot('chat-tools-call');
});

test('opened in the Sampler, the answer keeps its call block, and the tool output is not a drawn choice', async () => {
  const view = await vs.webview('Chat: ');
  const answer = view.locator('.answers[data-slot="main"] .answer').first();
  await answer.locator('.tok.gen:not(.tool-out)').first().click(); // <|tool_start|>, drawn
  const sampler = await vs.webview('Sampler');
  await sampler.locator('#status[data-state="inspected"]').waitFor({ state: 'attached', timeout: 60_000 });
  const universe = sampler.locator('.universe');
  const block = universe.locator('.tool-call');
  assert.equal(await block.count(), 1);
  assert.equal(await block.locator('.tool-input').innerText(), TOOL_INPUT);
  const out = universe.locator('.tok.tool-out');
  assert.deepEqual(await out.allInnerTexts(), ['<|output_start|>', ...TOOL_OUTPUT, '<|output_end|>']);
  assert.match((await out.first().getAttribute('title'))!, /put into the context by the tool/);
  assert.equal(await universe.locator('.tok.gen.selected').getAttribute('data-index'), '0');
  await out.nth(1).click(); // not drawn: no distribution to show, the selection stays
  assert.equal(await universe.locator('.tok.gen.selected').getAttribute('data-index'), '0');
  assert.equal(await universe.locator('.tok.tool-out.selected').count(), 0);
  await vs.screenshot('sampler-tools-call');
});

test('with Tools off, Regenerate answers the same prompt without a call', async () => {
  const view = await vs.webview('Chat: ');
  await view.locator('#tools').click();
  const checked = () =>
    view.locator('#tools').evaluate((e) => (e as unknown as { checked: boolean }).checked);
  assert.equal(await checked(), false, 'Tools is off');
  await view.locator('#regenerate').click();
  const answer = view.locator('.answer[data-answer="2"]'); // the regenerated answer replaces #1
  await answer.and(view.locator('[data-state="done"]')).waitFor({ state: 'attached', timeout: 60_000 });
  assert.equal(await view.locator('.answer').count(), 1);
  assert.equal(await answer.locator('.tool-call').count(), 0);
  assert.equal(await answer.locator('.tok.tool-out').count(), 0);
  assert.ok(!(await answer.locator('.utext').innerText()).includes('<|tool_start|>'));
  assert.equal(await vs.page.locator('.monaco-dialog-box').count(), 0, 'python was asked about once');
  await vs.screenshot('chat-tools-off');
});
