/**
 * One whole flow with the keyboard only, in a real VS Code: Quick Open a file (Ctrl+P), select all
 * (Ctrl+A), Tokenize Selection by its keybinding (Ctrl+Shift+Alt+T), move into the Tokens panel
 * (Ctrl+2, then Tab to the tokens), walk the tokens with →, ←, End and Home while the focused token's id,
 * position and text are shown in the tooltip the token is described by, and press Enter to select that
 * token in the editor (the status bar then counts 1 token; back in the editor, Ctrl+1, it names the
 * selected columns). Expected ids come from the `tiktoken`
 * package (OpenAI's), not from LLM Lens. No mouse event is sent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { get_encoding } from 'tiktoken';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const TEXT = "How many r's are in strawberry? The model sees tokens, not letters.";
const enc = get_encoding('cl100k_base');
const IDS = Array.from(enc.encode(TEXT));
const PIECES = IDS.map((id) => new TextDecoder().decode(enc.decode(new Uint32Array([id]))));
enc.free();

let vs: VSCodeSession;
before(async () => {
  vs = await openVSCode({
    workspace: makeWorkspace({ 'notes.txt': TEXT }),
    vsix: installedVsix(),
    settings: { 'llmLens.tokenizer': 'cl100k_base' },
  });
});
after(async () => vs?.close());

/** Where the Tokens panel's keyboard focus is: the focused token's index, or the focused element's tag. */
async function focused(view: FrameLocator): Promise<string> {
  return view.locator('body').evaluate(() => {
    const active = (globalThis as unknown as { document: { activeElement: Focused | null } }).document
      .activeElement;
    if (!active) return 'none';
    return active.classList.contains('tok') ? `tok ${active.dataset.i}` : active.tagName.toLowerCase();
  });
}
interface Focused {
  classList: { contains(c: string): boolean };
  dataset: Record<string, string | undefined>;
  tagName: string;
}

/** The tooltip that describes the focused token. */
async function details(view: FrameLocator): Promise<string> {
  const tip = view.locator('#tooltip');
  await tip.waitFor({ state: 'visible', timeout: 5000 });
  return (await tip.innerText()).replace(/\s+/g, ' ');
}

async function expectToken(view: FrameLocator, i: number): Promise<void> {
  assert.equal(await focused(view), `tok ${i}`, `after the keys, token ${i} should have focus`);
  const tip = await details(view);
  assert.ok(tip.includes(`id ${IDS[i]}`), `token ${i}: "${tip}" lacks id ${IDS[i]}`);
  assert.ok(tip.includes(`token ${i + 1} of ${IDS.length}`), `token ${i}: "${tip}"`);
  assert.ok(
    tip.includes(JSON.stringify(PIECES[i])),
    `token ${i}: "${tip}" lacks ${JSON.stringify(PIECES[i])}`,
  );
  const span = view.locator(`.tokens .tok[data-i="${i}"]`);
  assert.equal(await span.getAttribute('aria-describedby'), 'tooltip');
}

test('keyboard only: Ctrl+P, Ctrl+A, Ctrl+Shift+Alt+T, Tab to the tokens, arrows, Enter selects one', () =>
  vs.step('keyboard', async () => {
    const { page } = vs;
    await page.locator('.monaco-workbench').waitFor();
    // Quick Open the file; the palette may not answer until the workbench has settled
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'notes.txt' }).first();
    for (let attempt = 0; attempt < 20; attempt++) {
      await page.keyboard.press('Control+P');
      await page.keyboard.type('notes.txt');
      if (
        await row.waitFor({ timeout: 3000 }).then(
          () => true,
          () => false,
        )
      )
        break;
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1000);
    }
    await page.keyboard.press('Enter');
    await page.locator('.editor-instance .monaco-editor.focused').waitFor({ timeout: 30_000 });
    await page.keyboard.press('Control+A');
    // the extension activates on the first command: retry the keybinding until the panel is there
    const tab = page.locator('.tabs-container .tab', { hasText: 'LLM Lens: Tokens' });
    for (let attempt = 0; attempt < 20 && !(await tab.count()); attempt++) {
      await page.keyboard.press('Control+Shift+Alt+T');
      await tab.waitFor({ timeout: 3000 }).catch(() => undefined);
    }
    assert.equal(await tab.count(), 1, 'Ctrl+Shift+Alt+T opened no Tokens panel');
    const view = page.frameLocator('iframe.webview.ready:visible').frameLocator('iframe#active-frame');
    await view.locator('#status[data-state="done"]').waitFor({ timeout: 60_000 });
    assert.equal(await view.locator('.count[data-count="tokens"]').innerText(), String(IDS.length));
    const group = view.locator('.tokens[role="group"]');
    assert.match((await group.getAttribute('aria-label')) ?? '', new RegExp(`${IDS.length} tokens`));

    // the panel opened beside the editor without taking focus: Ctrl+2 focuses its group, Tab walks to the tokens
    await page.keyboard.press('Control+2');
    const path: string[] = [];
    for (let i = 0; i < 20 && !(await focused(view)).startsWith('tok'); i++) {
      await page.keyboard.press('Tab');
      path.push(await focused(view));
    }
    console.log(`Tab order to the tokens: ${path.join(' → ')}`);
    await expectToken(view, 0);

    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expectToken(view, 3);
    await page.keyboard.press('ArrowLeft');
    await expectToken(view, 2);
    await page.keyboard.press('End');
    await expectToken(view, IDS.length - 1);
    await page.keyboard.press('Home');
    await expectToken(view, 0);
    // the token with "straw": Enter selects its text in the editor, which the status bar counts as 1 token
    const straw = PIECES.findIndex((p) => p.includes('straw'));
    assert.ok(straw > 0, `no "straw" token in ${JSON.stringify(PIECES)}`);
    for (let i = 0; i < straw; i++) await page.keyboard.press('ArrowRight');
    await expectToken(view, straw);
    await vs.screenshot('keyboard-tokens');
    await page.keyboard.press('Enter');
    let status = '';
    for (let i = 0; i < 40 && !/\b1 token\b/.test(status); i++) {
      await page.waitForTimeout(250);
      status = await vs.statusBarText();
    }
    assert.match(status, /\b1 token\b/, `the status bar after Enter: ${status}`);
    // back to the editor (Ctrl+1): its status bar names the selection, the token's characters
    await page.keyboard.press('Control+1');
    const start = PIECES.slice(0, straw).join('').length;
    const end = start + PIECES[straw].length;
    const where = new RegExp(`Ln 1, Col ${end + 1} \\(${end - start} selected\\)`);
    for (let i = 0; i < 40 && !where.test(status); i++) {
      await page.waitForTimeout(250);
      status = await vs.statusBarText();
    }
    assert.match(status, where, 'the editor selection after Enter');
  }));
