/**
 * Drives a real VS Code workbench (code-server in Chromium) as a person would: command palette,
 * quick picks, editor context menus, webview contents, notifications and screenshots.
 *
 *   const vs = await openVSCode({ workspace: makeWorkspace({ 'a.txt': 'hello' }) });
 *   await vs.runCommand('LLM Lens: Show Environment');
 *   const view = vs.webview('LLM Lens: Environment');
 *   await view.locator('#status[data-state=done]').waitFor();
 *   await vs.screenshot('environment');
 *   await vs.close();
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { launchBrowser } from './browser';
import { RESULTS, startCodeServer, type CodeServer, type CodeServerOptions } from './codeServer';

export interface VSCodeSession {
  page: Page;
  server: CodeServer;
  /** Runs a command by its palette title ("LLM Lens: Show Environment"), retrying while the extension host starts. */
  runCommand(title: string): Promise<void>;
  /** Picks the quick-pick row that contains `text` (or types `text` into an input box and accepts it). */
  pick(text: string): Promise<void>;
  /** Types into the open input box (replacing its value) and accepts it. */
  input(text: string): Promise<void>;
  /** Right-clicks a file or folder in the Explorer and chooses a context-menu item. */
  explorerContextMenu(name: string, item: string): Promise<void>;
  /** Opens a workspace file by name through Quick Open and focuses its editor. */
  openFile(name: string): Promise<void>;
  /** Clicks the active editor's first CodeLens whose text contains `text`. */
  clickCodeLens(text: string): Promise<void>;
  /** Selects the whole active editor's text. */
  selectAll(): Promise<void>;
  /** Right-clicks the active editor and chooses a context-menu item. */
  contextMenu(item: string): Promise<void>;
  /** Brings the editor tab with this title to the front and returns its webview's content frame. */
  webview(title: string): Promise<FrameLocator>;
  /** The visible text of an element, with Monaco's non-breaking spaces made plain. */
  text(selector: string): Promise<string>;
  /** Text of the status bar. */
  statusBarText(): Promise<string>;
  /** Waits for a notification whose message contains `text`; returns its full text. */
  notification(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Saves a PNG of the whole window into test-results/NAME.png. */
  screenshot(name: string): Promise<string>;
  /**
   * VS Code's own Reload Window, as a person does it: the workbench saves its editors before it goes (a
   * bare page reload races that save); resolves once the new workbench is up.
   */
  reloadWindow(): Promise<void>;
  /** Runs a test step; when it throws, saves test-results/failed-NAME.png first (the error is rethrown). */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions extends CodeServerOptions {
  workspace: string;
  /** URL payload entries (extensionDevelopmentPath, extensionTestsPath …), given the started server. */
  payload?: (server: CodeServer) => [string, string][];
  /** Called before the page loads, e.g. to expose functions. */
  beforeLoad?: (page: Page) => Promise<void>;
}

export async function openVSCode(opts: OpenOptions): Promise<VSCodeSession> {
  const server = await startCodeServer(opts);
  const browser = await launchBrowser().catch(async (e) => {
    await server.stop();
    throw e;
  });
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await opts.beforeLoad?.(page);
  const payload = opts.payload ? `&payload=${encodeURIComponent(JSON.stringify(opts.payload(server)))}` : '';
  await page.goto(`${server.base}/?folder=${encodeURIComponent(opts.workspace)}${payload}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });

  const quickInput = page.locator('.quick-input-widget');
  const input = quickInput.locator('input').first();

  /**
   * The text editor of the active editor group (the first editor may be in another group), else, when
   * the active group shows a panel, the first text editor.
   */
  const EDITOR = '.editor-instance .monaco-editor .view-lines';
  async function activeEditor(): Promise<Locator> {
    const active = page.locator(`.editor-group-container.active ${EDITOR}`).first();
    return (await active.count()) ? active : page.locator(EDITOR).first();
  }

  /** What a failed step saw: the active tab, the notifications and the visible webviews' text. */
  async function describeWindow(): Promise<string> {
    const texts = (l: Locator) => l.allInnerTexts().catch(() => [] as string[]);
    const tab = await texts(page.locator('.editor-group-container.active .tab.active .label-name'));
    const notes = await texts(page.locator('.notification-toast .notification-list-item-message'));
    const views: string[] = [];
    const frames = page.locator('iframe.webview.ready:visible');
    for (let i = 0; i < (await frames.count()); i++) {
      const body = frames.nth(i).contentFrame().locator('iframe#active-frame').contentFrame().locator('body');
      views.push(
        (await body.innerText({ timeout: 2000 }).catch(() => '')).replace(/\s+/g, ' ').slice(0, 1500),
      );
    }
    return [
      `active tab: ${tab.join(', ')}`,
      `notifications: ${notes.join(' | ')}`,
      ...views.map((v, i) => `webview ${i}: ${v}`),
    ].join('\n');
  }

  async function palette(prefix: string, text: string, rowText: string, key: string): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await page.keyboard.press(key);
        await input.waitFor({ state: 'visible', timeout: 3000 });
        await input.fill(prefix + text, { timeout: 3000 });
        const row = quickInput.locator('.monaco-list-row', { hasText: rowText }).first();
        await row.waitFor({ timeout: 3000 });
        await row.click();
        return;
      } catch (e) {
        lastError = e;
        await page.keyboard.press('Escape');
        await page.waitForTimeout(1000);
      }
    }
    throw new Error(`the palette never offered "${rowText}": ${String(lastError)}`);
  }

  /**
   * Opens a context menu and activates one of its items. Menus render in a shadow root and animate in;
   * the item is hovered, then clicked, and the menu must close — else the attempt is repeated.
   */
  async function chooseFromContextMenu(
    open: () => Promise<void>,
    item: string,
    where: string,
  ): Promise<void> {
    const menu = page.locator('.monaco-menu').first();
    for (let attempt = 0; attempt < 8; attempt++) {
      await open();
      const entry = page
        .locator('.monaco-menu .action-item:not(.disabled) .action-label', { hasText: item })
        .first();
      if (
        await entry.waitFor({ timeout: 3000 }).then(
          () => true,
          () => false,
        )
      ) {
        await page.waitForTimeout(150);
        await entry.hover();
        await entry.click();
        if (
          await menu.waitFor({ state: 'hidden', timeout: 2000 }).then(
            () => true,
            () => false,
          )
        )
          return;
      }
      await page.keyboard.press('Escape');
      await page.waitForTimeout(500);
    }
    throw new Error(`the context menu of ${where} never offered "${item}"`);
  }

  const session: VSCodeSession = {
    page,
    server,
    runCommand: (title) => palette('>', title, title, 'F1'),
    async pick(text) {
      await input.waitFor({ state: 'visible', timeout: 30_000 });
      const row = quickInput.locator('.monaco-list-row', { hasText: text }).first();
      if (await row.isVisible().catch(() => false)) {
        await row.click();
      } else {
        await input.fill(text);
        await page.keyboard.press('Enter');
      }
    },
    async input(text) {
      await input.waitFor({ state: 'visible', timeout: 30_000 });
      // some inputs (the file dialog) set their own initial value a moment after they open: type until it sticks
      for (let attempt = 0; attempt < 10; attempt++) {
        await input.fill(text);
        await page.waitForTimeout(200);
        if ((await input.inputValue()) === text) break;
      }
      await page.keyboard.press('Enter');
      // the next step of a multi-step input replaces the widget's content; let it settle
      await page.waitForTimeout(300);
    },
    async explorerContextMenu(name, item) {
      await page.keyboard.press('Control+Shift+E');
      const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
      await row.waitFor({ timeout: 30_000 });
      await chooseFromContextMenu(() => row.click({ button: 'right' }), item, `the Explorer's ${name}`);
    },
    async openFile(name) {
      await palette('', name, name, 'Control+P');
      // the file opens in the active group (which may hold a panel, not the first editor): wait for its tab
      await page
        .locator('.editor-group-container.active .tab.active .label-name', { hasText: name })
        .waitFor({ timeout: 30_000 });
      const editor = page.locator(`.editor-group-container.active ${EDITOR}`).first();
      await editor.waitFor({ timeout: 30_000 });
      await editor.click();
    },
    async clickCodeLens(text) {
      const lens = page
        .locator('.contentWidgets .codelens-decoration a, .codelens-decoration a', { hasText: text })
        .first();
      await lens.waitFor({ timeout: 30_000 });
      await lens.click();
    },
    async selectAll() {
      await (await activeEditor()).click();
      await page.keyboard.press('Control+A');
    },
    async contextMenu(item) {
      const editor = await activeEditor();
      await chooseFromContextMenu(() => editor.click({ button: 'right' }), item, 'the editor');
    },
    async webview(title) {
      // Each webview is an iframe.webview (outside the editor's DOM) whose inner iframe#active-frame holds the
      // content; only the webview of the active tab in a group is visible, so activate the tab first.
      const tab = page
        .locator('.tabs-container .tab', { has: page.locator('.label-name', { hasText: title }) })
        .first();
      await tab.waitFor({ timeout: 30_000 });
      await tab.click();
      return page.frameLocator('iframe.webview.ready:visible').frameLocator('iframe#active-frame');
    },
    async text(selector) {
      return (await page.locator(selector).first().innerText()).replace(/\u00a0/g, ' ');
    },
    async statusBarText() {
      return (await page.locator('.statusbar').innerText()).replace(/\s+/g, ' ');
    },
    async notification(text, timeoutMs = 30_000) {
      const toast = page
        .locator('.notification-toast, .notifications-list-container .monaco-list-row', { hasText: text })
        .first();
      await toast.waitFor({ timeout: timeoutMs });
      return (await toast.innerText()).trim();
    },
    async screenshot(name) {
      mkdirSync(RESULTS, { recursive: true });
      const file = join(RESULTS, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    async reloadWindow() {
      const reloaded = page.waitForEvent('framenavigated', {
        predicate: (f) => f === page.mainFrame(),
        timeout: 60_000,
      });
      await session.runCommand('Developer: Reload Window');
      await reloaded;
      await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    },
    async step(name, fn) {
      try {
        return await fn();
      } catch (e) {
        await session
          .screenshot(`failed-${name.replace(/[^\w.-]+/g, '-').slice(0, 60)}`)
          .catch(() => undefined);
        // CI keeps no screenshots: say in the error what the window showed
        if (e instanceof Error)
          e.message += `\n${await describeWindow().catch((d) => `(not described: ${d})`)}`;
        throw e;
      }
    },
    async close() {
      if (errors.length) console.log(`page errors (${errors.length}): ${errors.slice(0, 5).join(' | ')}`);
      await browser.close();
      await server.stop();
    },
  };
  return session;
}
