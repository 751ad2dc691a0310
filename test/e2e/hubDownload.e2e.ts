/**
 * LLM Lens: Download Model from Hugging Face… in a real VS Code, against a hub on 127.0.0.1 (fakeHub.ts)
 * set as the machine setting llmLens.hub.endpoint: a tiny Llama with a chat template (the tied_llama3
 * fixture) is downloaded into the Hugging Face cache layout under llmLens.hub.cacheDir with the bytes the
 * hub served and opens in the Chat panel, which answers; Open Model Folder… then lists it first and opens
 * it in the Sampler, which generates and runs the base-model lab's "What is 2+2?". A gated repo is refused with "Set Token…", which stores a token in SecretStorage; the same
 * download then succeeds and the hub saw the token. Every request went to the test hub.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { copyHubFolder } from '../fixtures/llama/hubFolder';
import { startFakeHub, type FakeHub } from '../unit/fakeHub';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const TOKEN = 'hf_e2eTokenForTheGatedRepo';
let vs: VSCodeSession;
let hub: FakeHub;
let cache: string;
let files: Record<string, Buffer>;

before(async () => {
  const src = copyHubFolder('tied_llama3', fs.mkdtempSync(join(os.tmpdir(), 'llm-lens-hubsrc-')));
  files = Object.fromEntries(fs.readdirSync(src).map((f) => [f, fs.readFileSync(join(src, f))]));
  hub = await startFakeHub({
    'test-org/tiny-chat': { files },
    'test-org/gated': { files, gated: TOKEN },
  });
  cache = fs.mkdtempSync(join(os.tmpdir(), 'llm-lens-hubcache-'));
  const ws = makeWorkspace({ 'README.txt': 'models come from the hub\n' });
  vs = await openVSCode({
    workspace: ws,
    vsix: installedVsix(),
    settings: { 'llmLens.hub.endpoint': hub.url, 'llmLens.hub.cacheDir': cache },
  });
});
after(async () => {
  await vs?.close();
  await hub?.close();
  if (cache) fs.rmSync(cache, { recursive: true, force: true });
});

async function download(repo: string): Promise<void> {
  await vs.runCommand('LLM Lens: Download Model from Hugging Face…');
  await vs.pick('Another repository…');
  await vs.input(repo);
  await vs.input('main');
}

test('Download Model… fetches a chat model into the HF cache and opens it in Chat, which answers', async () => {
  await vs.step('download', async () => {
    await download('test-org/tiny-chat');
    await vs.notification(/Downloaded test-org\/tiny-chat \(.* kB\) into the Hugging Face cache/, 60_000);
  });
  const storage = join(cache, 'models--test-org--tiny-chat');
  const commit = fs.readFileSync(join(storage, 'refs', 'main'), 'utf8');
  for (const [name, bytes] of Object.entries(files)) {
    const got = fs.readFileSync(join(storage, 'snapshots', commit, name));
    assert.equal(
      createHash('sha256').update(got).digest('hex'),
      createHash('sha256').update(bytes).digest('hex'),
      `${name} has the bytes the hub served`,
    );
  }

  await vs.step('chat', async () => {
    // a downloaded model is named by its repo, not by its snapshot's commit hash
    const chat = await vs.webview('Chat: test-org/tiny-chat');
    await chat.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    await chat.locator('#p-maxTokens input').fill('6');
    await chat.locator('#message textarea').fill('hi');
    await chat.locator('#send').click();
    await chat.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    assert.equal(await chat.locator('.msg[data-role="user"]').count(), 1);
    assert.ok((await chat.locator('.answer .tok.gen').count()) >= 1, 'the model answered');
  });
});

test('Open Model Folder… lists the downloaded model; the Sampler generates and runs a lab experiment', async () => {
  await vs.runCommand('LLM Lens: Open Model Folder…');
  await vs.pick('test-org/tiny-chat');
  const view = await vs.webview('Sampler');
  await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.match(await view.locator('#model').innerText(), /2 layers, 4 heads/);
  await view.locator('#prompt textarea').fill('Once');
  await view.locator('#p-maxTokens input').fill('8');
  await view.locator('#generate').click();
  await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.ok((await view.locator('.universe').first().locator('.tok.gen').count()) >= 1);
  // one base-model lab experiment on the downloaded model: "What is 2+2?" in its two universes
  // the experiment's universes are numbered after the ones on the board (done already: wait for new ones)
  const last = Number(await view.locator('.universe').last().getAttribute('data-universe'));
  await view.locator('#lab > summary').click();
  await view.locator('#lab-list vscode-button[data-lab="two-plus-two"]').click();
  for (const id of [last + 1, last + 2])
    await view.locator(`.universe[data-universe="${id}"][data-state="done"]`).waitFor({ timeout: 60_000 });
  assert.equal(await view.locator('.universe').count(), 2);
  for (let u = 0; u < 2; u++) {
    const card = view.locator('.universe').nth(u);
    assert.equal((await card.locator('.tok.prompt').allTextContents()).join(''), 'What is 2+2?');
    const why = `${await card.innerText()}\nstatus: ${await view.locator('#status').innerText()}`;
    assert.ok((await card.locator('.tok.gen').count()) >= 1, `universe ${u} generated:\n${why}`);
  }
  await vs.screenshot('hub-download-sampler');
});

test('a gated repo is refused with Set Token…; with the token stored, it downloads', async () => {
  await download('test-org/gated');
  await vs.notification(/test-org\/gated is gated or private .*LLM Lens: Set Hugging Face Token…/, 60_000);
  const asked = hub.requests.filter((r) => r.url.startsWith('/test-org/gated/resolve/'));
  assert.equal(asked.at(-1)?.status, 401, 'no token was sent');
  await vs.page.locator('.notification-toast .monaco-button', { hasText: 'Set Token…' }).first().click();
  await vs.input(TOKEN);
  await vs.notification(/Hugging Face token saved/, 30_000);
  await download('test-org/gated');
  await vs.notification(/Downloaded test-org\/gated/, 60_000);
  const resolved = hub.requests.filter((r) => r.url.startsWith('/test-org/gated/resolve/'));
  assert.equal(resolved.at(-1)?.status, 200);
  assert.ok(fs.existsSync(join(cache, 'models--test-org--gated', 'refs', 'main')));
});
