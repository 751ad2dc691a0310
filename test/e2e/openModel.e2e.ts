/**
 * LLM Lens: Open Model Folder… in a real VS Code: a Llama fixture folder (test/fixtures/llama, given a
 * character tokenizer.json and a chat_template) opens in the Sampler, which reads its shape and generates
 * tokens, and "Chat with it" is offered; a folder of an unsupported model_type is refused with a message
 * that names it and what is supported.
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

test('Open Model Folder… refuses a model_type it does not run, naming it and what is supported', async () => {
  await vs.runCommand('LLM Lens: Open Model Folder…');
  await vs.input(join(ws, 'models', 'mistral'));
  const text = await vs.notification(/model_type "mistral" is not supported/, 30_000);
  assert.match(text, /LLM Lens runs gpt2, llama, qwen2/);
});
