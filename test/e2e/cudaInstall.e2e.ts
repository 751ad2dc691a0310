/**
 * A person on a linux-x64 machine without CUDA opens the Environment panel of the installed VSIX, sees
 * what the cuda provider lacks, clicks Install CUDA Support…, agrees to the download the modal describes
 * and gets the provider libraries from a NuGet feed on 127.0.0.1 (LLM_LENS_CUDA_FEED, inherited by
 * code-server's extension host) into the installed extension's own onnxruntime-node folder; the panel
 * then no longer lists them as missing. The libraries are fake bytes: the point is where they land.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fakeLibs, makeZip, startFeed, type FakeFeed } from '../unit/cudaInstallFeed';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
const libs = fakeLibs();
const nupkg = makeZip(libs);
let feed: FakeFeed;
let vs: VSCodeSession;
before(async () => {
  if (!linuxX64) return;
  feed = await startFeed(nupkg);
  process.env.LLM_LENS_CUDA_FEED = feed.url;
  vs = await openVSCode({ workspace: makeWorkspace({ 'notes.txt': 'gpu\n' }), vsix: installedVsix() });
});
after(async () => {
  await vs?.close();
  await feed?.close();
});

test(
  'Install CUDA Support… from the Environment panel puts the libraries in the extension',
  { skip: !linuxX64 && 'CUDA support installs on linux-x64 only' },
  async () => {
    await vs.runCommand('LLM Lens: Show Environment');
    const view = await vs.webview('LLM Lens: Environment');
    await view.locator('#status[data-state="done"]').waitFor({ timeout: 60_000 });
    const cuda = view.locator('tr[data-key="provider-cuda"] td');
    assert.match(await cuda.innerText(), /^unavailable/);
    await cuda.locator('li[data-piece="providers"]').waitFor({ timeout: 5_000 });
    assert.match(await cuda.innerText(), /CUDA provider libraries missing: .*Install CUDA Support/);

    await vs.step('install', async () => {
      await cuda.locator('#install-cuda').click();
      const dialog = vs.page.locator('.monaco-dialog-box');
      await dialog.waitFor({ timeout: 30_000 });
      const text = await dialog.innerText();
      assert.match(
        text,
        /Download Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux \d+\.\d+\.\d+ \(0\.\d MB\) to install CUDA support\?/,
      );
      assert.ok(text.includes(feed.url.replace('/v3/index.json', '/v3-flatcontainer/')), text);
      await dialog.locator('.monaco-button', { hasText: 'Download and Install' }).click();
      await vs.notification(/LLM Lens: CUDA provider libraries installed/, 60_000);
    });

    const ext = readdirSync(join(vs.server.dir, 'extensions')).find((d) => d.includes('llm-lens'))!;
    const bin = join(vs.server.dir, 'extensions', ext, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
    for (const [p, bytes] of Object.entries(libs).filter(([p]) => /providers_/.test(p)))
      assert.ok(readFileSync(join(bin, p.split('/').at(-1)!)).equals(bytes), p);
    assert.equal(feed.requests.filter((r) => r.url.endsWith('.nupkg')).length, 1);

    // the panel probes again: the provider libraries are no longer what is missing
    await cuda.locator('li[data-piece="providers"]').waitFor({ state: 'detached', timeout: 60_000 });
    await view.locator('#status[data-state="done"]').waitFor({ timeout: 60_000 });
    await cuda
      .locator('li[data-piece="driver"], li[data-piece="cuda"], li[data-piece="cudnn"]')
      .first()
      .waitFor();
    assert.equal(await cuda.locator('li[data-piece="providers"]').count(), 0);
    assert.equal(await cuda.locator('#install-cuda').count(), 0);
    await vs.screenshot('environment-cuda-installed');
  },
);
