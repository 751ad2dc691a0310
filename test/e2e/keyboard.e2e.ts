/**
 * Whole flows with the keyboard only, in a real VS Code; no mouse event is sent.
 *
 * Tokens: Quick Open a file (Ctrl+P), select all (Ctrl+A), Tokenize Selection by its keybinding
 * (Ctrl+Shift+Alt+T), move into the Tokens panel (Ctrl+2, then Tab to the tokens), walk the tokens with →, ←,
 * End and Home while the focused token's id, position and text are shown in the tooltip the token is
 * described by, and press Enter to select that token in the editor (the status bar then counts 1 token;
 * back in the editor, Ctrl+1, it names the selected columns). Expected ids come from the `tiktoken`
 * package (OpenAI's), not from LLM Lens.
 *
 * Sampler, on a tiny checkpoint (test/fixtures/chat): Open Sampler… from the palette (F1), Tab to the
 * prompt and type it, Tab to Max tokens and set it, Tab to Generate and press Enter; Tab to the generated
 * tokens, walk them with the arrow keys, Home and End, press Enter on one: its distribution opens with
 * focus, and it is that token's (its text, its p); Tab reaches a branch button named by its token; Escape
 * closes the distribution and gives the focus back to the token.
 *
 * Chat, on the same checkpoint: Open Chat…, Tab to the message box, type, send with Ctrl+Enter; the turn
 * shows what was typed; Shift+Tab reaches the answer's tokens, the arrow keys walk them, Enter opens the
 * focused token in the Sampler with its distribution focused; Escape there returns to the token.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { get_encoding } from 'tiktoken';
import { chatCheckpoint } from '../fixtures/chat/chatCheckpoint';
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
  const ws = makeWorkspace({ 'notes.txt': TEXT });
  await chatCheckpoint(join(ws, 'runs'), { chatTokens: true, name: 'chat', blockSize: 128 });
  vs = await openVSCode({
    workspace: ws,
    vsix: installedVsix(),
    settings: { 'llmLens.tokenizer': 'cl100k_base' },
  });
});
after(async () => vs?.close());

/**
 * Where a panel's keyboard focus is: a focused token as "tok INDEX" (data-i in the Tokens panel, data-index
 * in a universe or an answer), another element as "tag#id" (or its tag alone).
 */
async function focused(view: FrameLocator): Promise<string> {
  return view.locator('body').evaluate(() => {
    const active = (globalThis as unknown as { document: { activeElement: Focused | null } }).document
      .activeElement;
    if (!active) return 'none';
    if (active.classList.contains('tok')) return `tok ${active.dataset.i ?? active.dataset.index}`;
    return active.tagName.toLowerCase() + (active.id ? `#${active.id}` : '');
  });
}
interface Focused {
  classList: { contains(c: string): boolean };
  dataset: Record<string, string | undefined>;
  tagName: string;
  id: string;
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

/** Max tokens typed into the Sampler's and the Chat panel's field. */
const MAX_TOKENS = 12;

/** Runs a command from the palette: F1, its title, Enter (the palette may not answer at once). */
async function command(title: string): Promise<void> {
  const { page } = vs;
  const row = page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: title });
  for (let attempt = 0; attempt < 20; attempt++) {
    await page.keyboard.press('F1');
    await page.keyboard.type(title);
    if (
      await row.waitFor({ timeout: 3000 }).then(
        () => true,
        () => false,
      )
    ) {
      await page.keyboard.press('Enter');
      return;
    }
    await page.keyboard.press('Escape');
    await page.waitForTimeout(1000);
  }
  throw new Error(`the palette never offered "${title}"`);
}

/** Answers the open quick pick by typing `text` and pressing Enter on the item it leaves first. */
async function choose(text: string): Promise<void> {
  const { page } = vs;
  await page.locator('.quick-input-widget input').first().waitFor({ state: 'visible', timeout: 30_000 });
  await page.keyboard.type(text);
  await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: text }).waitFor();
  await page.keyboard.press('Enter');
}

/** The visible webview that has `marker` (the Tokens panel stays visible in the other group). */
async function panel(marker: string): Promise<FrameLocator> {
  const frames = vs.page.frameLocator('iframe.webview.ready:visible');
  for (let t = 0; t < 120; t++) {
    const n = await vs.page.locator('iframe.webview.ready:visible').count();
    for (let i = 0; i < n; i++) {
      const view = frames.nth(i).frameLocator('iframe#active-frame');
      if (await view.locator(marker).count()) return view;
    }
    await vs.page.waitForTimeout(500);
  }
  throw new Error(`no visible webview shows ${marker}`);
}

/** Presses Tab (Shift+Tab with `back`) until `target` (as focused() names it) has focus; returns the path. */
async function tabTo(view: FrameLocator, target: string, back = false): Promise<string[]> {
  const path: string[] = [];
  for (let i = 0; i < 30 && (await focused(view)) !== target; i++) {
    await vs.page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    path.push(await focused(view));
  }
  assert.equal(
    await focused(view),
    target,
    `${back ? 'Shift+' : ''}Tab never reached ${target}: ${path.join(' → ')}`,
  );
  return path;
}

/** The focused element's accessible name (aria-label). */
async function focusedLabel(view: FrameLocator): Promise<string> {
  return view.locator('body').evaluate(() => {
    const d = (
      globalThis as unknown as {
        document: { activeElement: { getAttribute(a: string): string | null } | null };
      }
    ).document;
    return d.activeElement?.getAttribute('aria-label') ?? '';
  });
}

/** Walks a row of tokens with the arrow keys, End and Home, checking the focus after each. */
async function walk(view: FrameLocator, n: number): Promise<void> {
  const { page } = vs;
  const expect = async (i: number) =>
    assert.equal(await focused(view), `tok ${i}`, `after the keys, token ${i} should have focus`);
  for (let i = 1; i <= Math.min(3, n - 1); i++) {
    await page.keyboard.press('ArrowRight');
    await expect(i);
  }
  await page.keyboard.press('ArrowLeft');
  await expect(Math.min(3, n - 1) - 1);
  await page.keyboard.press('End');
  await expect(n - 1);
  await page.keyboard.press('ArrowRight'); // the last stays
  await expect(n - 1);
  await page.keyboard.press('Home');
  await expect(0);
}

/** A token's text as the distribution's table shows it: white space made visible, empty as ∅. */
const visible = (s: string) =>
  s.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍') || '∅';

/** The probability in a drawn token's title ("p 12.3%, rank 1"), as a fraction. */
const titleP = (title: string | null) => Number(/^p ([\d.]+)%/.exec(title ?? '')?.[1]) / 100;

test('keyboard only: the Sampler: Tab to the prompt, Enter on Generate, arrows through the tokens, Enter opens a distribution, Escape closes it', () =>
  vs.step('keyboard-sampler', async () => {
    const { page } = vs;
    await command('LLM Lens: Open Sampler');
    await choose('step-5');
    const view = await panel('#universes');
    await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    console.log(`Tab order to the prompt: ${(await tabTo(view, 'vscode-textarea#prompt')).join(' → ')}`);
    await page.keyboard.type('How many r');
    await tabTo(view, 'vscode-textfield#p-maxTokens');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(String(MAX_TOKENS));
    console.log(`Tab order to Generate: ${(await tabTo(view, 'vscode-button#generate')).join(' → ')}`);
    await page.keyboard.press('Enter');
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    // the universe is what was typed: the prompt, then at most Max tokens
    const card = view.locator('.universe').first();
    assert.equal((await card.locator('.tok.prompt').allInnerTexts()).join(''), 'How many r');
    const n = await card.locator('.tok.gen').count();
    const meta = await card.locator('.umeta').innerText();
    assert.match(meta, new RegExp(`^${n} tokens · (maxTokens|stopToken)$`));
    if (meta.endsWith('maxTokens')) assert.equal(n, MAX_TOKENS);
    assert.ok(n >= 4, `only ${n} tokens generated`);
    const universe = await card.getAttribute('data-universe');

    // Tab from Generate reaches the generated tokens (past the universe's Inspect button), a group named for them
    console.log(`Tab order to the tokens: ${(await tabTo(view, 'tok 0')).join(' → ')}`);
    assert.match(
      (await card.locator('.utext').getAttribute('aria-label')) ?? '',
      /the generated tokens\. Arrow keys move between them, Enter inspects one\./,
    );
    await walk(view, n);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const token = card.locator('.tok.gen[data-index="2"]');
    const text = (await token.innerText()).replace(/^∅$/, '');
    await page.keyboard.press('Enter');

    // Enter: the token's distribution, focused and named by its position
    await view.locator('#dist-info').waitFor({ timeout: 30_000 });
    assert.equal(await focused(view), 'section#dist');
    assert.equal(await focusedLabel(view), `Next-token distribution: Universe #${universe}, token 3`);
    assert.ok(
      (await view.locator('#dist-info').innerText()).startsWith(
        `Universe #${universe}, token 3: chose ${JSON.stringify(text)} (id `,
      ),
    );
    assert.equal(await view.locator('.universe .tok.selected').getAttribute('data-index'), '2');
    const chosen = view.locator('#dist-table tr.chosen');
    const p = Number(await chosen.getAttribute('data-p'));
    assert.ok(Math.abs(p - titleP(await token.getAttribute('title'))) <= 0.0005 + 1e-9, `p ${p}`);
    // the chart is an image named by its first bars, the table's first rows
    const first = view.locator('#dist-table tr.dist-row').first();
    assert.match(
      (await view.locator('#dist-chart').getAttribute('aria-label')) ?? '',
      new RegExp(
        `^Top 20 next-token probabilities; the first: ".*" ${await first.locator('td.num').first().innerText()}`,
      ),
    );
    // Tab: a branch button, named by the token of its row
    await page.keyboard.press('Tab');
    assert.equal(await focused(view), 'vscode-button');
    const label = await focusedLabel(view);
    const branch = /^Branch: continue the text with (".*")$/.exec(label);
    assert.ok(branch, `the focused button is "${label}"`);
    const row = view.locator('#dist-table tr', { has: view.locator('vscode-button.branch:focus') });
    assert.equal(await row.locator('td.tok-cell').innerText(), visible(JSON.parse(branch[1]) as string));
    await vs.screenshot('keyboard-sampler');
    // Escape: closed, and the focus is back on the token
    await page.keyboard.press('Escape');
    assert.equal(await view.locator('#dist > *').count(), 0, 'the distribution is still open');
    assert.equal(await focused(view), 'tok 2');
    assert.equal(await view.locator('.universe .tok.selected').count(), 0);
  }));

test("keyboard only: Chat: type a message, Ctrl+Enter sends, Shift+Tab to the answer's tokens, Enter opens one in the Sampler", () =>
  vs.step('keyboard-chat', async () => {
    const { page } = vs;
    await command('LLM Lens: Open Chat');
    await choose('step-5');
    const view = await panel('#conversation');
    await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    await tabTo(view, 'vscode-textfield#p-maxTokens');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(String(MAX_TOKENS));
    console.log(`Tab order to the message: ${(await tabTo(view, 'vscode-textarea#message')).join(' → ')}`);
    await page.keyboard.type('Who are you?');
    await page.keyboard.press('Control+Enter');
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    // the turn is what was typed; the box is empty for the next
    assert.equal(await view.locator('.msg[data-role="user"] div').innerText(), 'Who are you?');
    assert.equal(
      await view.locator('#message').evaluate((e) => (e as unknown as { value: string }).value),
      '',
    );
    const answer = view.locator('.answer').first();
    const n = await answer.locator('.tok.gen').count();
    assert.ok(n >= 4 && n <= MAX_TOKENS, `${n} tokens in the answer`);

    // Shift+Tab from the message box: the answer's tokens, just above it
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(view), 'tok 0');
    await walk(view, n);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const chatTitle = await answer.locator('.tok.gen[data-index="2"]').getAttribute('title');
    await page.keyboard.press('Enter');

    // Enter: the Sampler, the answer's token selected and its distribution focused
    const sampler = await panel('#universes');
    await sampler.locator('#status[data-state="inspected"]').waitFor({ state: 'attached', timeout: 60_000 });
    const selected = sampler.locator('.universe .tok.selected');
    assert.equal(await selected.getAttribute('data-index'), '2');
    assert.equal(await selected.getAttribute('title'), chatTitle);
    const p = Number(await sampler.locator('#dist-table tr.chosen').getAttribute('data-p'));
    assert.ok(Math.abs(p - titleP(chatTitle)) <= 0.0005 + 1e-9, `Sampler p ${p}, chat ${chatTitle}`);
    assert.equal(await focused(sampler), 'section#dist');
    await vs.screenshot('keyboard-chat-sampler');
    await page.keyboard.press('Escape');
    assert.equal(await sampler.locator('#dist > *').count(), 0, 'the distribution is still open');
    assert.equal(await focused(sampler), 'tok 2');
  }));
