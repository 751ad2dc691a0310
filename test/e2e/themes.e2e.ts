/**
 * Every panel readable in Light+, Dark+, Dark High Contrast and Light High Contrast, in one real VS Code.
 * Opened once: the Tokens panel (plain text, and a chat JSONL line as fine-tuning sees it: role colours,
 * loss underlines), the Sampler on a tiny checkpoint (universes, a token's distribution, the inspection:
 * attention grid, one head, "from this token", logit lens; the base-model lab with a lesson and the
 * regurgitation meter's verbatim and divergence marks), Chat (the conversation, an answer, the raw tokens),
 * a pretraining run's dashboard, an RL run's dashboard (its Groups view: answers tinted by advantage), the
 * Checkpoint Inspector and the Environment panel. For each theme (switched with Preferences: Color Theme,
 * as a person does) each view is screenshotted (test-results/theme-THEME-VIEW.png) and the colours the
 * webview computed are measured with WCAG 2's contrast ratio (test/e2e/harness/contrast.ts): every visible
 * line of text ≥ 4.5 against what is behind it, every token's text ≥ 4.5 against its own tint over the
 * page, the charts' text (ticks, axis titles, legends: the colours a chart names in data-ink) ≥ 4.5, and the
 * colours that mark tokens out (a token's edge, a loss underline, an answer's advantage bar, the keyboard
 * focus ring) ≥ 3 against what they are drawn on. The charts were drawn in the default dark theme, so
 * their text shows that they follow the theme.
 *
 *   node scripts/build.mjs && node scripts/package.mjs --target linux-x64 &&
 *     node --test --test-timeout=600000 out/test/e2e/themes.e2e.js
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import type { RunEvent } from '../../src/protocol/training';
import { writeRlRun } from './harness/rlRun';
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
  {
    name: 'high-contrast-light',
    label: 'Light High Contrast',
    workbench: 'hc-light',
    body: 'vscode-high-contrast-light',
  },
];

/** Elements whose own text is a panel's main text. */
const TEXT = 'h1, h2, h3, h4, p, li, td, th, label, summary, .status, .counts, .umeta, .dist-info';

/** A conversation line as fine-tuning sees it (the Tokens panel's conversation view). */
const CHAT_LINE = JSON.stringify({
  messages: [
    { role: 'system', content: 'You are Lens.' },
    { role: 'user', content: 'Who are you?' },
    { role: 'assistant', content: 'I am Lens, a small model made by the LLM Lens team.' },
  ],
});

/** Text measured on its backdrop: up to `max` visible elements with text of their own. */
interface TextPart {
  what: string;
  selector: string;
  max?: number;
}
/** Token spans whose text is read on their tint; `focus`: the first takes keyboard focus, its ring measured. */
interface TokenPart {
  what: string;
  selector: string;
  min: number;
  focus?: boolean;
}
/** A colour that marks something out (3:1): a box-shadow edge, a left border, an underline, an outline. */
interface MarkPart {
  what: string;
  selector: string;
  mark: 'edge' | 'border' | 'underline';
  /** What it is drawn on: the page, or the element's own backdrop (an underline on a token's tint). */
  against: 'page' | 'backdrop';
  min: number;
}

interface View {
  name: string;
  /** The editor tab's title. */
  tab: string;
  /** Brings the panel into the state measured (the Tokens panel shows one view at a time). */
  show?(view: FrameLocator): Promise<void>;
  text: TextPart[];
  tokens?: TokenPart[];
  /** Focusable elements other than tokens whose focus ring is measured (the first visible one). */
  focus?: string[];
  marks?: MarkPart[];
  /** chart.js canvases whose text colours (data-ink, common/chartTheme.ts) are measured like text. */
  charts?: { selector: string; min: number };
}

/** The Tokens panel shows the plain text: select it again in the editor (the panel follows the selection). */
async function showPlain(view: FrameLocator): Promise<void> {
  if (!(await view.locator('.tokens.chat').count())) return;
  await vs.selectAll();
  await view.locator('.tokens:not(.chat) .tok').first().waitFor({ timeout: 30_000 });
}

/** The Tokens panel shows the conversation line, pasted into its Conversation box. */
async function showConversation(view: FrameLocator): Promise<void> {
  if (await view.locator('.tokens.chat').count()) return;
  const bar = view.locator('details.chat-bar');
  if ((await bar.getAttribute('open')) === null) await bar.locator('summary').click();
  await view.locator('#chat-input').fill(CHAT_LINE);
  await view.locator('#chat-show').click();
  await view.locator('.tokens.chat .tok.loss').first().waitFor({ timeout: 30_000 });
}

const VIEWS: View[] = [
  {
    name: 'tokens',
    tab: 'LLM Lens: Tokens',
    show: showPlain,
    text: [{ what: 'text', selector: TEXT }],
    tokens: [{ what: 'token', selector: '.tokens .tok', min: 6, focus: true }],
    marks: [{ what: 'token edge', selector: '.tokens .tok', mark: 'edge', against: 'page', min: 6 }],
  },
  {
    name: 'tokens-conversation',
    tab: 'LLM Lens: Tokens',
    show: showConversation,
    text: [{ what: 'text', selector: `${TEXT}, .legend .tok` }],
    tokens: [{ what: 'token', selector: '.tokens.chat .tok', min: 20, focus: true }],
    marks: [
      { what: 'token edge', selector: '.tokens.chat .tok', mark: 'edge', against: 'page', min: 20 },
      {
        what: 'loss underline',
        selector: '.tokens.chat .tok.loss',
        mark: 'underline',
        against: 'backdrop',
        min: 6,
      },
    ],
  },
  {
    name: 'sampler',
    tab: 'Sampler',
    text: [
      { what: 'text', selector: TEXT },
      { what: 'lab', selector: '#lab :is(summary, p, h3, h4, strong, mark, .diverge, .after)' },
      { what: 'distribution', selector: '#dist :is(p, th, td)', max: 30 },
      { what: 'inspection', selector: '#inspect :is(h3, h4, p, .att-label, small)', max: 30 },
      { what: 'logit lens', selector: '#lens :is(th, td, small)', max: 40 },
    ],
    tokens: [
      { what: 'token', selector: '.utext .tok', min: 6 },
      { what: 'generated token', selector: '.utext .tok.gen', min: 6, focus: true },
      { what: 'attention token', selector: '#att-text .tok', min: 6, focus: true },
    ],
    focus: ['#att-grid .thumb'],
    charts: { selector: '#dist-chart', min: 1 },
  },
  {
    name: 'chat',
    tab: 'Chat: ',
    text: [
      { what: 'text', selector: TEXT },
      { what: 'answer', selector: '.msg :is(strong, div), .universe header strong' },
    ],
    tokens: [
      { what: 'answer token', selector: '.utext .tok', min: 6, focus: true },
      { what: 'raw token', selector: '#raw .tok', min: 12 },
    ],
  },
  {
    name: 'dashboard',
    tab: 'Training: tiny',
    text: [{ what: 'text', selector: TEXT }],
    charts: { selector: '#loss-chart, #lr-chart', min: 2 },
  },
  {
    name: 'dashboard-rl',
    tab: 'Training: rl-groups',
    text: [
      { what: 'text', selector: TEXT },
      { what: 'groups', selector: '#groups :is(.rl-prompt, .rl-expected, .rl-score, .rl-score-label)' },
    ],
    tokens: [{ what: 'token', selector: '#groups .rl-tok', min: 6 }],
    focus: ['#groups .rl-answer'],
    charts: { selector: '#rl-charts canvas', min: 2 },
    marks: [
      {
        what: 'advantage bar',
        selector: '#groups .rl-answer:is(.pos, .neg)',
        mark: 'border',
        against: 'page',
        min: 2,
      },
    ],
  },
  {
    name: 'checkpoint',
    tab: 'model.safetensors',
    text: [{ what: 'text', selector: TEXT }],
    charts: { selector: '#histogram', min: 1 },
  },
  { name: 'environment', tab: 'LLM Lens: Environment', text: [{ what: 'text', selector: TEXT }] },
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
  borderLeftColor: string;
  borderLeftStyle: string;
  textDecorationColor: string;
  textDecorationLine: string;
  /** A chart's text colours, separated by ; (data-ink). */
  ink: string;
}

/** The minimal DOM this file's browser-side functions use (the test build has no DOM types). */
interface DomElement {
  textContent: string | null;
  parentElement: DomElement | null;
  childNodes: ArrayLike<{ nodeType: number; textContent: string | null }>;
  getBoundingClientRect(): { width: number; height: number };
  getAttribute(name: string): string | null;
  focus(): void;
}
interface DomWindow {
  getComputedStyle(e: DomElement): Omit<Sample, 'text' | 'opacity' | 'backgrounds' | 'ink'> & {
    opacity: string;
    backgroundColor: string;
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
          borderLeftColor: style.borderLeftColor,
          borderLeftStyle: style.borderLeftStyle,
          textDecorationColor: style.textDecorationColor,
          textDecorationLine: style.textDecorationLine,
          ink: e.getAttribute('data-ink') ?? '',
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

/** The colour of a sample's mark, or undefined when it has none (no shadow, no border, no underline). */
function markColour(s: Sample, mark: MarkPart['mark']): string | undefined {
  if (mark === 'edge') return s.boxShadow.match(/(rgba?\([^)]*\)|color\([^)]*\))/)?.[1];
  if (mark === 'border') return s.borderLeftStyle === 'none' ? undefined : s.borderLeftColor;
  return s.textDecorationLine.includes('underline') ? s.textDecorationColor : undefined;
}

/** A #rgb, #rrggbb or #rrggbbaa colour (as VS Code's theme variables give them, and charts draw them). */
function hexColour(css: string): [number, number, number, number] | undefined {
  const h = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(css.trim())?.[1];
  if (!h) return undefined;
  const full = h.length === 3 ? [...h].map((c) => c + c).join('') : h;
  const n = (i: number) => parseInt(full.slice(i, i + 2), 16) / 255;
  return [n(0), n(2), n(4), full.length === 8 ? n(6) : 1];
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

/**
 * A finished RL run against a reward model: rewards, the true checker, and one step's groups whose answers
 * are above, below and at the group's mean (advantages +0.5, −0.5, 0), one token forced by a tool.
 */
function rlRun(dir: string): void {
  writeRlRun(dir, [
    {
      prompt: 'What is 2+3?',
      expected: '5',
      answers: [
        { tokens: ['The', ' answer', ' is', ' 5', '.'], reward: 1, trueReward: 1, advantage: 0.5 },
        { tokens: ['It', ' is', '=', ' 6', '\n'], forced: [2], reward: 0, trueReward: 0, advantage: -0.5 },
        { tokens: ['Five', ' or', ' six'], reward: 0.5, trueReward: 0, advantage: 0 },
      ],
    },
  ]);
}

before(async () => {
  ws = makeWorkspace({
    'notes.txt': "How many r's are in strawberry? The model sees tokens, not letters: 1,234 of them.",
  });
  const tiny = join(ws, '.llmlens', 'runs', 'tiny');
  mkdirSync(tiny, { recursive: true });
  writeFileSync(join(tiny, 'metrics.jsonl'), tinyRun(tiny));
  rlRun(join(ws, '.llmlens', 'runs', 'rl-groups'));
  await chatCheckpoint(join(ws, 'runs'), { chatTokens: true, name: 'chat', blockSize: 128 });
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

/**
 * Open Training Dashboard on a run. The run's quick pick can close before it is answered when a webview
 * takes focus back as the palette closes: run the command again then.
 */
async function openDashboard(run: string): Promise<FrameLocator> {
  const tab = vs.page.locator('.tabs-container .tab', { hasText: `Training: ${run}` });
  for (let attempt = 0; attempt < 5 && !(await tab.count()); attempt++) {
    await vs.runCommand('LLM Lens: Open Training Dashboard');
    const row = vs.page.locator('.quick-input-widget .monaco-list-row', { hasText: run }).first();
    if (
      await row.waitFor({ timeout: 5000 }).then(
        () => true,
        () => false,
      )
    )
      await row.click();
    await tab.waitFor({ timeout: 5000 }).catch(() => vs.page.keyboard.press('Escape'));
  }
  const view = await vs.webview(`Training: ${run}`);
  await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 30_000 });
  return view;
}

/**
 * The base-model lab, filled: the Regurgitation meter experiment (its lesson, greedy settings) on a passage
 * with no white space (the prompt is then exactly its first third), which gives the model's continuation;
 * then the meter again on a passage whose rest starts with that continuation's first characters and then
 * leaves it: the verbatim start and the divergence are both marked.
 */
async function fillLab(view: FrameLocator): Promise<void> {
  await view.locator('#lab > summary').click();
  const prompt = 'TheModelReadsTokensOneByOne'; // 27 characters, the first third of each passage
  const passage = view.locator('#lab-passage textarea');
  await passage.fill(prompt + 'q'.repeat(2 * prompt.length));
  await view.locator('.lab-run[data-lab="regurgitation"]').click();
  await view.locator('#lab-count').waitFor({ timeout: 60_000 });
  const continuation = (await view.locator('#lab-continuation').textContent()) ?? '';
  // the verbatim part stops before a sentence end, which would split the passage there instead
  const k = Math.min(6, continuation.search(/[.!?]/) < 0 ? 6 : continuation.search(/[.!?]/));
  assert.ok(k > 0, `the continuation ${JSON.stringify(continuation)} starts with a sentence end`);
  const rest = continuation.slice(0, k) + (continuation[k] === 'Z' ? 'Q' : 'Z');
  await passage.fill(prompt + rest + 'q'.repeat(2 * prompt.length - rest.length));
  await view.locator('#lab-run').click();
  await view.locator(`#lab-count[data-verbatim="${k}"]`).waitFor({ timeout: 60_000 });
  await view.locator('#lab-continuation .diverge').waitFor({ timeout: 10_000 });
}

test('every view opens once: Tokens, Sampler, Chat, two dashboards, Checkpoint Inspector, Environment', () =>
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
    await fillLab(view);
    await view.locator('#prompt textarea').fill('How many r');
    await view.locator('#p-temperature input').fill('0.8');
    await view.locator('#p-maxTokens input').fill('12');
    await view.locator('#generate').click();
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    await view.locator('.utext .tok.gen').first().click();
    await view.locator('#dist-chart').waitFor({ timeout: 30_000 });
    assert.equal(await view.locator('#dist-chart').getAttribute('role'), 'img');
    assert.match((await view.locator('#dist-chart').getAttribute('aria-label')) ?? '', /^Top 20 next-token/);
    // the inspection: one head large, and what the tenth token attends to tinted over the text
    await view.locator('.universe .inspect-btn').first().click();
    await view.locator('#att-grid .thumb').first().click();
    await view.locator('#att-big[data-layer="0"][data-head="0"]').waitFor({ timeout: 30_000 });
    await view.locator('#att-text .tok').nth(9).click();
    await view.locator('#att-text .tok.query').waitFor({ timeout: 10_000 });

    await vs.runCommand('LLM Lens: Open Chat…');
    await vs.pick('runs/chat');
    view = await vs.webview('Chat: ');
    await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    await view.locator('#p-maxTokens input').fill('12');
    await view.locator('#message textarea').fill('Who are you?');
    await view.locator('#send').click();
    await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
    await view.locator('#raw-view > summary').click();

    view = await openDashboard('tiny');
    // the loss chart is an image to screen readers, summarised by its lines' last points (the run file's values)
    const loss = view.locator('#loss-chart');
    assert.equal(await loss.getAttribute('role'), 'img');
    const summary = (await loss.getAttribute('aria-label')) ?? '';
    assert.match(summary, /\(raw\) at step 20: 0\.8944\b/, summary); // 4 / √20
    assert.match(summary, /val loss at step 20: 0\.9391\b/, summary); // 4.2 / √20

    view = await openDashboard('rl-groups');
    assert.equal(await view.locator('#groups .rl-answer').count(), 3);

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

/** Measures one view in the current theme; returns how many colours it measured. */
async function measure(theme: string, v: View, view: FrameLocator): Promise<number> {
  let measured = 0;
  for (const part of v.text) {
    const text = await samples(view, part.selector, part.max ?? 60);
    assert.ok(text.length >= 1, `${v.name}: no ${part.what} found to measure (${part.selector})`);
    for (const s of text) {
      const c = textContrast(s);
      check(`${theme} ${v.name} ${part.what} "${s.text}"`, c.ratio, 4.5, c.fg, c.bg);
    }
    measured += text.length;
  }
  const rings = [...(v.tokens ?? []).filter((t) => t.focus).map((t) => t.selector), ...(v.focus ?? [])];
  for (const part of v.tokens ?? []) {
    const toks = await samples(view, part.selector, 24);
    assert.ok(toks.length >= part.min, `${v.name}: only ${toks.length} of ${part.min} ${part.what}s shown`);
    for (const s of toks) {
      const c = textContrast(s);
      check(`${theme} ${v.name} ${part.what} "${s.text}"`, c.ratio, 4.5, c.fg, c.bg);
    }
    measured += toks.length;
  }
  // the keyboard focus ring, against the page
  for (const selector of rings) {
    await view
      .locator(selector)
      .first()
      .evaluate((e) => (e as unknown as DomElement).focus());
    const [focused] = await samples(view, `${selector}:focus`, 1, false);
    assert.ok(focused, `${v.name}: ${selector} cannot take keyboard focus`);
    assert.notEqual(focused.outlineStyle, 'none', `${v.name}: a focused ${selector} shows no focus ring`);
    const ring = parseColor(focused.outlineColor);
    assert.ok(ring, `${v.name}: the focused ${selector} has no outline colour (${focused.outlineColor})`);
    const bg = page(focused);
    check(
      `${theme} ${v.name} focus ring on ${selector}`,
      contrastRatio(over(ring, bg), bg),
      3,
      over(ring, bg),
      bg,
    );
    measured++;
  }
  for (const part of v.marks ?? []) {
    let found = 0;
    for (const s of await samples(view, part.selector, 24, false)) {
      const css = markColour(s, part.mark);
      if (!css) continue;
      const colour = parseColor(css);
      assert.ok(colour, `${v.name}: ${part.what} of "${s.text}" has no colour (${css})`);
      const bg = part.against === 'page' ? page(s) : backdrop(s.backgrounds, page(s));
      const fg = over(colour, bg);
      check(`${theme} ${v.name} ${part.what} "${s.text}"`, contrastRatio(fg, bg), 3, fg, bg);
      found++;
    }
    assert.ok(found >= part.min, `${v.name}: only ${found} of ${part.min} ${part.what}s found`);
    measured += found;
  }
  if (v.charts) {
    const charts = await samples(view, v.charts.selector, 12, false);
    assert.ok(
      charts.length >= v.charts.min,
      `${v.name}: only ${charts.length} of ${v.charts.min} charts shown`,
    );
    for (const s of charts) {
      const inks = s.ink.split(';').filter(Boolean);
      assert.ok(inks.length, `${v.name}: a chart (${v.charts.selector}) names no text colours`);
      const bg = backdrop(s.backgrounds, page(s));
      for (const css of inks) {
        const colour = parseColor(css) ?? hexColour(css);
        assert.ok(colour, `${v.name}: a chart's text colour "${css}" does not parse`);
        const fg = over(colour, bg);
        check(`${theme} ${v.name} chart text`, contrastRatio(fg, bg), 4.5, fg, bg);
        measured++;
      }
    }
  }
  return measured;
}

for (const theme of THEMES)
  test(`${theme.label}: every view's text ≥ 4.5:1, its token colours ≥ 3:1`, () =>
    vs.step(`themes-${theme.name}`, async () => {
      await vs.runCommand('Preferences: Color Theme');
      await vs.pick(theme.label);
      await vs.page.locator(`.monaco-workbench.${theme.workbench}`).waitFor({ timeout: 30_000 });
      const start = failures.length;
      let measured = 0;
      for (const v of VIEWS) {
        const view = await vs.webview(v.tab);
        await view.locator(`body.${theme.body}`).waitFor({ state: 'attached', timeout: 30_000 });
        await v.show?.(view);
        if (v.charts) await vs.page.waitForTimeout(300); // the chart.js charts redraw in the theme's colours
        await vs.screenshot(`theme-${theme.name}-${v.name}`);
        measured += await measure(theme.name, v, view);
      }
      console.log(`${theme.label}: ${measured} text and token colours measured in ${VIEWS.length} views`);
      assert.deepEqual(failures.slice(start), [], `${theme.label}: colours below the contrast minimum`);
    }));
