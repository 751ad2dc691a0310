/**
 * Every panel readable in Light+, Dark+ and High Contrast, in one real VS Code: the Tokens panel, the
 * Sampler and Chat on a tiny checkpoint, a run's dashboard, the Checkpoint Inspector and the Environment
 * panel are opened once; for each theme (switched with Preferences: Color Theme, as a person does) each panel is screenshotted (test-results/theme-THEME-PANEL.png) and the colours the webview
 * computed are measured with WCAG 2's contrast ratio (test/e2e/harness/contrast.ts): every visible line
 * of text ≥ 4.5 against what is behind it, every token's text ≥ 4.5 against its own tint over the page,
 * and the colours that mark tokens out (a token's edge, the keyboard focus ring) ≥ 3 against the page.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import type { RunEvent } from '../../src/protocol/training';
import { chatCheckpoint } from '../fixtures/chat/chatCheckpoint';
import { makeWorkspace } from './harness/codeServer';
import { backdrop, contrastRatio, hex, over, parseColor, type Rgb } from './harness/contrast';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

/** The themes by their name in Preferences: Color Theme, and the classes they give the workbench and webviews. */
const THEMES = [
  { name: 'light', label: 'Light+', workbench: 'vs', body: 'vscode-light' },
  { name: 'dark', label: 'Dark+', workbench: 'vs-dark', body: 'vscode-dark' },
  { name: 'high-contrast', label: 'Dark High Contrast', workbench: 'hc-black', body: 'vscode-high-contrast' },
];

/** Elements whose own text is a panel's main text. */
const TEXT = 'h1, h2, h3, p, li, td, th, label, summary, .status, .counts, .umeta, .dist-info';

interface Panel {
  name: string;
  /** The editor tab's title. */
  tab: string;
  /** Token spans whose text is read on their tint. */
  tokens?: string;
  /** Token spans whose edge (box-shadow) marks each token out from the page. */
  edges?: string;
}

const PANELS: Panel[] = [
  { name: 'tokens', tab: 'LLM Lens: Tokens', tokens: '.tokens .tok', edges: '.tokens .tok' },
  { name: 'sampler', tab: 'Sampler', tokens: '.utext .tok.gen' },
  { name: 'chat', tab: 'Chat: ', tokens: '.utext .tok' },
  { name: 'dashboard', tab: 'Training: tiny' },
  { name: 'checkpoint', tab: 'model.safetensors' },
  { name: 'environment', tab: 'LLM Lens: Environment' },
];

/** What the browser computed for one element: its colours and those of everything behind it. */
interface Sample {
  text: string;
  color: string;
  /** The element's and its ancestors' opacity, multiplied. */
  opacity: number;
  /** Background colours from the element up to <html>, innermost first. */
  backgrounds: string[];
  boxShadow: string;
  outlineColor: string;
  outlineStyle: string;
}

/** The minimal DOM this file's browser-side functions use (the test build has no DOM types). */
interface DomElement {
  textContent: string | null;
  parentElement: DomElement | null;
  childNodes: ArrayLike<{ nodeType: number; textContent: string | null }>;
  getBoundingClientRect(): { width: number; height: number };
  focus(): void;
}
interface DomWindow {
  getComputedStyle(e: DomElement): {
    color: string;
    opacity: string;
    backgroundColor: string;
    boxShadow: string;
    outlineColor: string;
    outlineStyle: string;
    visibility: string;
  };
}

/** Reads the colours of up to `max` visible elements matching `selector` that show text of their own. */
async function samples(view: FrameLocator, selector: string, max: number, ownText = true): Promise<Sample[]> {
  return view.locator(selector).evaluateAll(
    (els, [limit, needText]) => {
      const w = globalThis as unknown as DomWindow;
      const out: Sample[] = [];
      for (const raw of els) {
        const e = raw as unknown as DomElement;
        const box = e.getBoundingClientRect();
        const style = w.getComputedStyle(e);
        if (!box.width || !box.height || style.visibility === 'hidden') continue;
        const own = Array.from(e.childNodes)
          .filter((n) => n.nodeType === 3)
          .map((n) => n.textContent ?? '')
          .join('')
          .trim();
        if (needText && !own) continue;
        const backgrounds: string[] = [];
        let opacity = 1;
        for (let n: DomElement | null = e; n; n = n.parentElement) {
          const s = w.getComputedStyle(n);
          backgrounds.push(s.backgroundColor);
          opacity *= Number(s.opacity);
        }
        out.push({
          text: (e.textContent ?? '').trim().slice(0, 40),
          color: style.color,
          opacity,
          backgrounds,
          boxShadow: style.boxShadow,
          outlineColor: style.outlineColor,
          outlineStyle: style.outlineStyle,
        });
        if (out.length >= limit) break;
      }
      return out;
    },
    [max, ownText] as const,
  );
}

/** The page behind everything: <body>'s background, which must be opaque. */
function page(s: Sample): Rgb {
  const body = parseColor(s.backgrounds[s.backgrounds.length - 2] ?? '');
  const html = parseColor(s.backgrounds[s.backgrounds.length - 1] ?? '');
  const opaque = [body, html].find((c) => c && c[3] === 1);
  assert.ok(opaque, `no opaque page background behind "${s.text}": ${s.backgrounds.join(' < ')}`);
  return [opaque[0], opaque[1], opaque[2]];
}

/** Text contrast of a sample: its colour (and opacity) over its backdrop. */
function textContrast(s: Sample): { ratio: number; fg: Rgb; bg: Rgb } {
  const bg = backdrop(s.backgrounds, page(s));
  const fg = over(parseColor(s.color) ?? [0, 0, 0, 0], bg, s.opacity);
  return { ratio: contrastRatio(fg, bg), fg, bg };
}

let vs: VSCodeSession;
let ws: string;
const failures: string[] = [];

function check(what: string, ratio: number, min: number, fg: Rgb, bg: Rgb): void {
  if (ratio < min) failures.push(`${what}: ${ratio.toFixed(2)} < ${min} (${hex(fg)} on ${hex(bg)})`);
}

/** A finished pretraining run's metrics: steps, evals and a sample, for the dashboard. */
function tinyRun(dir: string): string {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const events: RunEvent[] = [
    { kind: 'start', runDir: dir, params: 1000, tokensPerStep: 64, startStep: 0, maxIters: 20, time: t0 },
  ];
  for (let s = 1; s <= 20; s++) {
    events.push({
      kind: 'step',
      step: s,
      loss: 4 / Math.sqrt(s),
      lr: 1e-3,
      gradNorm: 1 / s,
      ms: 10,
      tokPerSec: 6400,
      tokensSeen: 64 * s,
      elapsedMs: 10 * s,
      etaMs: 10 * (20 - s),
      time: t0 + 10 * s,
    });
    if (s % 10 === 0)
      events.push({
        kind: 'eval',
        step: s,
        trainLoss: 4 / Math.sqrt(s),
        valLoss: 4.2 / Math.sqrt(s),
        time: t0,
      });
  }
  events.push({ kind: 'sample', step: 20, prompt: 'The', text: 'The model reads tokens.', time: t0 + 200 });
  events.push({ kind: 'done', step: 20, reason: 'finished', elapsedMs: 200, time: t0 + 200 });
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

before(async () => {
  ws = makeWorkspace({
    'notes.txt': "How many r's are in strawberry? The model sees tokens, not letters: 1,234 of them.",
    '.llmlens/runs/tiny/metrics.jsonl': '',
  });
  writeFileSync(
    join(ws, '.llmlens', 'runs', 'tiny', 'metrics.jsonl'),
    tinyRun(join(ws, '.llmlens', 'runs', 'tiny')),
  );
  await chatCheckpoint(join(ws, 'runs'), { chatTokens: true, name: 'chat', blockSize: 128 });
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

test('every panel opens once: Tokens, Sampler, Chat, dashboard, Checkpoint Inspector, Environment', () =>
  vs.step('themes-open', async () => {
    await vs.openFile('notes.txt');
    await vs.selectAll();
    await vs.runCommand('LLM Lens: Tokenize Selection');
    let view = await vs.webview('LLM Lens: Tokens');
    await view.locator('#status[data-state="done"]').waitFor({ timeout: 60_000 });

    await vs.runCommand('LLM Lens: Open Sampler…');
    await vs.pick('runs/chat');
    view = await vs.webview('Sampler');
    await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    await view.locator('#prompt textarea').fill('How many r');
    await view.locator('#p-maxTokens input').fill('12');
    await view.locator('#generate').click();
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    await view.locator('.utext .tok.gen').first().click();
    await view.locator('#dist-chart').waitFor({ timeout: 30_000 });
    assert.equal(await view.locator('#dist-chart').getAttribute('role'), 'img');
    assert.match((await view.locator('#dist-chart').getAttribute('aria-label')) ?? '', /^Top 20 next-token/);

    await vs.runCommand('LLM Lens: Open Chat…');
    await vs.pick('runs/chat');
    view = await vs.webview('Chat: ');
    await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    await view.locator('#p-maxTokens input').fill('12');
    await view.locator('#message textarea').fill('Who are you?');
    await view.locator('#send').click();
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });

    await vs.runCommand('LLM Lens: Open Training Dashboard');
    await vs.pick('tiny');
    view = await vs.webview('Training: tiny');
    await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 30_000 });
    // the loss chart is an image to screen readers, summarised by its lines' last points (the run file's values)
    const loss = view.locator('#loss-chart');
    assert.equal(await loss.getAttribute('role'), 'img');
    const summary = (await loss.getAttribute('aria-label')) ?? '';
    assert.match(summary, /\(raw\) at step 20: 0\.8944\b/, summary); // 4 / √20
    assert.match(summary, /val loss at step 20: 0\.9391\b/, summary); // 4.2 / √20

    await vs.runCommand('LLM Lens: Open Checkpoint…');
    await vs.input(join(ws, 'runs', 'chat', 'checkpoints', 'step-5', 'model.safetensors'));
    const accept = vs.page.locator('.quick-input-widget .monaco-button', { hasText: 'Open Checkpoint' });
    if (await accept.isVisible()) await accept.click();
    view = await vs.webview('model.safetensors');
    await view.locator('tr.tensor-row').first().click();
    await view.locator('#detail[data-state=done]').waitFor({ timeout: 30_000 });

    await vs.runCommand('LLM Lens: Show Environment');
    view = await vs.webview('LLM Lens: Environment');
    await view.locator('#status[data-state="done"]').waitFor({ timeout: 60_000 });
  }));

for (const theme of THEMES)
  test(`${theme.label}: every panel's text ≥ 4.5:1, its token colours ≥ 3:1`, () =>
    vs.step(`themes-${theme.name}`, async () => {
      await vs.runCommand('Preferences: Color Theme');
      await vs.pick(theme.label);
      await vs.page.locator(`.monaco-workbench.${theme.workbench}`).waitFor({ timeout: 30_000 });
      const start = failures.length;
      let measured = 0;
      for (const p of PANELS) {
        const view = await vs.webview(p.tab);
        await view.locator(`body.${theme.body}`).waitFor({ state: 'attached', timeout: 30_000 });
        await vs.page.waitForTimeout(300); // the chart.js charts redraw in the theme's colours
        await vs.screenshot(`theme-${theme.name}-${p.name}`);
        const text = await samples(view, TEXT, 60);
        assert.ok(text.length >= 2, `${p.name}: only ${text.length} lines of text found to measure`);
        for (const s of text) {
          const c = textContrast(s);
          check(`${theme.name} ${p.name} text "${s.text}"`, c.ratio, 4.5, c.fg, c.bg);
        }
        measured += text.length;
        if (p.tokens) {
          const toks = await samples(view, p.tokens, 24);
          assert.ok(toks.length >= 6, `${p.name}: only ${toks.length} tokens shown`);
          for (const s of toks) {
            const c = textContrast(s);
            check(`${theme.name} ${p.name} token "${s.text}"`, c.ratio, 4.5, c.fg, c.bg);
          }
          measured += toks.length;
          // the keyboard focus ring on a token, against the page
          await view
            .locator(p.tokens)
            .first()
            .evaluate((e) => (e as unknown as DomElement).focus());
          const [focused] = await samples(view, `${p.tokens}:focus`, 1, false);
          assert.ok(focused, `${p.name}: a token cannot take keyboard focus`);
          assert.notEqual(focused.outlineStyle, 'none', `${p.name}: a focused token shows no focus ring`);
          const ring = parseColor(focused.outlineColor);
          assert.ok(ring, `${p.name}: the focused token has no outline colour (${focused.outlineColor})`);
          const bg = page(focused);
          check(
            `${theme.name} ${p.name} focus ring`,
            contrastRatio(over(ring, bg), bg),
            3,
            over(ring, bg),
            bg,
          );
        }
        if (p.edges) {
          for (const s of await samples(view, p.edges, 6)) {
            const edge = parseColor(s.boxShadow.match(/(rgba?\([^)]*\)|color\([^)]*\))/)?.[1] ?? '');
            assert.ok(edge, `${p.name}: token "${s.text}" has no edge colour (${s.boxShadow})`);
            const bg = page(s);
            const fg = over(edge, bg);
            check(`${theme.name} ${p.name} token edge "${s.text}"`, contrastRatio(fg, bg), 3, fg, bg);
          }
        }
      }
      console.log(`${theme.label}: ${measured} text and token colours measured on ${PANELS.length} panels`);
      assert.deepEqual(failures.slice(start), [], `${theme.label}: colours below the contrast minimum`);
    }));
