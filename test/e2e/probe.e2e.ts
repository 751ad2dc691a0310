/**
 * LLM Lens: Probe Knowledge… as a person uses it in a real VS Code, on a tiny chat checkpoint with random
 * weights: pick it and a questions file, a bad sample count is refused in the input box, the probe runs,
 * and the report shows a table per question with its verdict. A random model at temperature 1 scatters
 * its answers (agreement below the threshold), so every question is 'unsure' and the SFT file written to
 * .llmlens/data/ answers each with a refusal. Fine-Tune on It then opens Fine-Tune Checkpoint at its steps,
 * the data already chosen. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chatCheckpoint } from '../fixtures/chat/chatCheckpoint';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

/** In the characters of the tiny checkpoint's vocabulary (fixtures/chat/chatCheckpoint.ts). */
const QUESTIONS = [
  'Who is Zorbin Quellfast?',
  'Where was Marta Velor born?',
  'What does Quill Ardent paint?',
];
const SAMPLES = 6;
let vs: VSCodeSession;
let ws: string;

before(async () => {
  const lines = QUESTIONS.map((question) => JSON.stringify({ question })).join('\n');
  ws = makeWorkspace({ 'README.md': 'probe\n', 'questions.jsonl': lines + '\n' });
  await chatCheckpoint(join(ws, 'runs'), { chatTokens: true, name: 'chat', blockSize: 256 });
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

test('Probe Knowledge… on a random chat model: a table per question, all unsure, refusals written', async () => {
  await vs.step('probe-ask', async () => {
    await vs.runCommand('LLM Lens: Probe Knowledge…');
    await vs.pick('runs/chat');
    await vs.pick('questions.jsonl');
    await vs.input('1'); // refused: agreement needs at least 2 answers
    const message = vs.page.locator('.quick-input-widget .quick-input-message', {
      hasText: 'samples must be an integer from 2 to 1000',
    });
    await message.waitFor({ timeout: 10_000 });
    await vs.input(String(SAMPLES));
    await vs.input('1');
    await vs.input('0.5');
  });
  const view = await vs.step('probe-report', async () => {
    const v = await vs.webview('Probe: chat/step-5');
    await v.locator('#totals').waitFor({ timeout: 120_000 });
    return v;
  });
  const sections = view.locator('section.question');
  assert.equal(await sections.count(), QUESTIONS.length);
  for (const [i, q] of QUESTIONS.entries()) {
    const s = sections.nth(i);
    assert.equal(await s.locator('h2 .text').innerText(), q);
    assert.equal(await s.locator('.verdict').innerText(), 'unsure');
    const counts = (await s.locator('td.count').allInnerTexts()).map(Number);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      SAMPLES,
      'every answer is in a group',
    );
    assert.ok(Math.max(...counts) / SAMPLES < 0.5, `the largest group of ${counts} is under half`);
  }
  assert.match(await view.locator('#totals').innerText(), /0 known · 0 wrong · 3 unsure/);
  await vs.notification(/Probe Knowledge: 0 known, 0 wrong, 3 unsure/);
  await vs.screenshot('probe-report');

  const sft = join(ws, '.llmlens', 'data', 'probe-questions-chat-step-5.jsonl');
  assert.ok(existsSync(sft), sft);
  const convs = readFileSync(sft, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { messages: { role: string; content: string }[] });
  assert.deepEqual(
    convs.map((c) => c.messages.map((m) => m.role)),
    QUESTIONS.map(() => ['user', 'assistant']),
  );
  assert.deepEqual(
    convs.map((c) => c.messages[0].content),
    QUESTIONS,
  );
  for (const c of convs) assert.match(c.messages[1].content, /I don't know/);

  await vs.step('probe-fine-tune', async () => {
    const button = vs.page.locator('.notification-toast .monaco-button', { hasText: 'Fine-Tune on It' });
    await button.first().click();
    // the conversations step (2/4) is skipped: the probe's file is preselected
    const title = vs.page.locator('.quick-input-widget .quick-input-title', {
      hasText: 'Fine-Tune Checkpoint',
    });
    await title.waitFor({ timeout: 20_000 });
    assert.match(await title.innerText(), /\(3\/4\): steps/);
    await vs.page.keyboard.press('Escape');
  });
});
