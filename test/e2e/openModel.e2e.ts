/**
 * LLM Lens: Open Model Folder… in a real VS Code: a Llama fixture folder (test/fixtures/llama, given a
 * character tokenizer.json and a chat_template) opens in the Sampler, which reads its shape and generates
 * tokens, and "Chat with it" is offered; a folder of an unsupported model_type is refused with a message
 * that names it and what is supported. On that model the Sampler's base-model lab runs "What is 2+2?" with
 * one click (its prompt and settings in the fields, two universes), and the regurgitation meter shows a
 * verbatim count that the test recomputes from the shown continuation and the passage.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { copyHubFolder } from '../fixtures/llama/hubFolder';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const MAX_TOKENS = 12;
let vs: VSCodeSession;
let ws: string;

before(async () => {
  ws = makeWorkspace({ 'README.txt': 'models here\n' });
  copyHubFolder('tied_llama3', join(ws, 'models', 'tied_llama3'));
  const mistral = copyHubFolder('gqa_bf16', join(ws, 'models', 'mistral'));
  const cfg = JSON.parse(fs.readFileSync(join(mistral, 'config.json'), 'utf8'));
  fs.writeFileSync(join(mistral, 'config.json'), JSON.stringify({ ...cfg, model_type: 'mistral' }));
  // an empty Hugging Face cache: the command goes straight to the folder dialog
  const cacheDir = fs.mkdtempSync(join(os.tmpdir(), 'llm-lens-nocache-'));
  vs = await openVSCode({
    workspace: ws,
    vsix: installedVsix(),
    settings: { 'llmLens.hub.cacheDir': cacheDir },
  });
});
after(async () => vs?.close());

test('Open Model Folder… opens a Llama folder in the Sampler, generates tokens and offers Chat with it', async () => {
  await vs.runCommand('LLM Lens: Open Model Folder…');
  await vs.input(join(ws, 'models', 'tied_llama3'));
  const view = await vs.webview('Sampler');
  await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.match(await view.locator('#model').innerText(), /2 layers, 4 heads/);
  await vs.notification(/tied_llama3 has a chat template/, 30_000);
  await view.locator('#prompt textarea').fill('Hello there');
  await view.locator('#p-maxTokens input').fill(String(MAX_TOKENS));
  await view.locator('#generate').click();
  await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
  const universe = view.locator('.universe').first();
  assert.equal(await universe.locator('.tok.prompt').count(), 'Hello there'.length);
  const generated = await universe.locator('.tok.gen').count();
  assert.ok(generated >= 1 && generated <= MAX_TOKENS, `${generated} tokens`);
  await vs.screenshot('open-model-folder-sampler');
});

test('the base-model lab: one click runs "What is 2+2?" with its settings in two universes', async () => {
  const view = await vs.webview('Sampler');
  await view.locator('#lab > summary').click();
  await view.locator('#lab-list vscode-button[data-lab="two-plus-two"]').click();
  // the Hello-there generation had one universe: two done ones are the experiment's
  await view.locator('.universe[data-state="done"]').nth(1).waitFor({ timeout: 60_000 });
  assert.equal(await view.locator('#prompt textarea').inputValue(), 'What is 2+2?');
  assert.equal(await view.locator('#p-maxTokens input').inputValue(), '60');
  assert.equal(await view.locator('#p-streams input').inputValue(), '2');
  assert.match(await view.locator('#lab-lesson').innerText(), /internet-document simulator/);
  assert.equal(await view.locator('.universe').count(), 2);
  for (let u = 0; u < 2; u++) {
    const card = view.locator('.universe').nth(u);
    const prompt = await card.locator('.tok.prompt').allTextContents();
    assert.equal(prompt.join(''), 'What is 2+2?');
    const generated = await card.locator('.tok.gen').count();
    assert.ok(generated >= 1 && generated <= 60, `universe ${u}: ${generated} tokens`);
  }
  await vs.screenshot('sampler-lab');
});

/**
 * A passage without white space: the meter's prompt is its first third, "The-lab-measures-wh" (19 of 57
 * characters), whose greedy continuation by this fixture repeats "L"; the rest is 20 L's then Q's.
 */
const PASSAGE = 'The-lab-measures-wh' + 'L'.repeat(20) + 'Q'.repeat(18);

test('the regurgitation meter: the count, the highlight and the divergence agree with the shown text', async () => {
  const view = await vs.webview('Sampler');
  await view.locator('#lab-passage textarea').fill(PASSAGE);
  await view.locator('#lab-list vscode-button[data-lab="regurgitation"]').click();
  await view.locator('#status[data-state="measured"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.equal(await view.locator('#p-temperature input').inputValue(), '0');
  const shown = (await view.locator('#lab-continuation').textContent()) ?? '';
  const card = view.locator('.universe').first();
  assert.equal(
    (await card.locator('.tok.gen').allTextContents()).join(''),
    shown,
    'the card shows the same text',
  );
  assert.equal((await card.locator('.tok.prompt').allTextContents()).join(''), 'The-lab-measures-wh');
  // recomputed here: the common start of the continuation and the passage after the prompt
  const got = Array.from(shown);
  const want = Array.from(PASSAGE.slice('The-lab-measures-wh'.length));
  let n = 0;
  while (n < got.length && n < want.length && got[n] === want[n]) n++;
  const count = await view.locator('#lab-count').innerText();
  console.log(`regurgitation meter: ${count}`);
  assert.match(count, new RegExp(`^${n} of ${got.length} characters verbatim`));
  // one character per token (a character vocabulary): as many verbatim tokens as characters
  assert.match(count, new RegExp(`${n} of ${await card.locator('.tok.gen').count()} tokens`));
  assert.equal(await view.locator('#lab-continuation mark.verbatim').textContent(), got.slice(0, n).join(''));
  assert.ok(n > 0, 'this fixture continues the prompt with L: a verbatim start to highlight');
  if (n < got.length) {
    assert.equal(await view.locator('#lab-continuation .diverge').textContent(), got[n]);
    assert.match(count, new RegExp(`diverges at character ${n}`));
  } else assert.equal(await view.locator('#lab-continuation .diverge').count(), 0);
  await vs.screenshot('sampler-regurgitation');
});

test('Open Model Folder… refuses a model_type it does not run, naming it and what is supported', async () => {
  await vs.runCommand('LLM Lens: Open Model Folder…');
  await vs.input(join(ws, 'models', 'mistral'));
  const text = await vs.notification(/model_type "mistral" is not supported/, 30_000);
  assert.match(text, /LLM Lens runs gpt2, llama, qwen2/);
});
