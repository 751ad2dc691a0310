/**
 * The Chat panel as a person uses it in a real VS Code, on tiny checkpoints written here (random
 * weights, a character vocabulary with and without the chat tokens): LLM Lens: Open Chat… on the one
 * with chat tokens, send a message, answers stream in, the raw view shows the <|im_start|> tokens the
 * model sees; Compare with… a base checkpoint, which says it has no chat tokens and gets the plain
 * transcript; click an answer's token and the Sampler opens with it selected: its distribution, and the
 * attention of the position that predicted it. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { CHAT_CHARS, chatCheckpoint } from '../fixtures/chat/chatCheckpoint';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const MAX_TOKENS = 24;
let vs: VSCodeSession;
let ws: string;

/** Conversations in the characters of the tiny checkpoints' vocabulary (fixtures/chat/chatCheckpoint.ts). */
const CONVERSATIONS = Array.from({ length: 20 }, (_, i) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: ['Who are you?', 'What is your name?'][i % 2] },
      { role: 'assistant', content: 'I am Lumo, an assistant.' },
    ],
  }),
).join('\n');

before(async () => {
  ws = makeWorkspace({ 'README.md': 'chat checkpoints\n', 'convs.jsonl': CONVERSATIONS + '\n' });
  await chatCheckpoint(join(ws, 'runs'), { chatTokens: true, name: 'chat', blockSize: 256 });
  await chatCheckpoint(join(ws, 'runs'), { chatTokens: false, name: 'base', blockSize: 256 });
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

async function chat(): Promise<FrameLocator> {
  return vs.webview('Chat: ');
}

async function send(view: FrameLocator, text: string): Promise<void> {
  await view.locator('#message textarea').fill(text);
  await view.locator('#send').click();
  await view.locator('#status[data-state="running"]').waitFor({ state: 'attached', timeout: 30_000 });
  await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
}

test('Open Chat… on a checkpoint with chat tokens: answers stream in; the raw view shows <|im_start|>', async () => {
  await vs.runCommand('LLM Lens: Open Chat…');
  await vs.pick('runs/chat');
  const view = await chat();
  await view.locator('#status[data-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.match(await view.locator('#model').innerText(), /chat\/step-5/);
  assert.equal(await view.locator('#base-note').isVisible(), false);
  await view.locator('#system input').fill('You are a tiny model.');
  await view.locator('#p-maxTokens input').fill(String(MAX_TOKENS));
  await view.locator('#p-answers input').fill('2');
  await send(view, 'Who are you?');
  assert.equal(await view.locator('.msg[data-role="user"]').count(), 1);
  const answers = view.locator('.answers[data-slot="main"] .answer');
  assert.equal(await answers.count(), 2);
  for (let i = 0; i < 2; i++) {
    const n = await answers.nth(i).locator('.tok.gen').count();
    assert.ok(n >= 1 && n <= MAX_TOKENS, `answer ${i}: ${n} tokens`);
  }
  await view.locator('#raw-view summary').click();
  const special = view.locator('#raw .tokens[data-slot="main"] .tok.special');
  assert.equal(await special.first().innerText(), '<|im_start|>');
  const texts = await special.allInnerTexts();
  assert.deepEqual(
    texts.slice(0, 5),
    ['<|im_start|>', '<|im_end|>', '<|im_start|>', '<|im_end|>', '<|im_start|>'],
    'system, user, then the generation prompt',
  );
  assert.match(await view.locator('#raw').innerText(), /ChatML/);
  await vs.screenshot('chat-answer');
});

test('Compare with… a base checkpoint: it says it has no chat tokens and continues the transcript', async () => {
  const view = await chat();
  await view.locator('#compare').click();
  await vs.pick('runs/base');
  await view.locator('#base-note').waitFor({ state: 'visible', timeout: 60_000 });
  assert.match(await view.locator('#base-note').innerText(), /this is a base model: no chat tokens/);
  await view.locator('#p-answers input').fill('1');
  await view.locator('.answers[data-slot="main"] .answer').first().locator('.choose-btn').click();
  await send(view, 'And what can you do?');
  assert.equal(await view.locator('.msg[data-role="assistant"]').count(), 1, 'the chosen answer was kept');
  assert.equal(await view.locator('.answers[data-slot="main"] .answer').count(), 1);
  assert.equal(await view.locator('.answers[data-slot="compare"] .answer').count(), 1);
  assert.match(await view.locator('#raw .tokens[data-slot="compare"]').innerText(), /User: Who are you\?/);
  assert.equal(await view.locator('#raw .tokens[data-slot="compare"] .tok.special').count(), 0);
  assert.match(await view.locator('#raw').innerText(), /plain transcript \(no chat tokens\)/);
  await vs.screenshot('chat-compare');
});

test("clicking an answer's token opens it in the Sampler: its distribution and attention", async () => {
  const view = await chat();
  const answer = view.locator('.answers[data-slot="main"] .answer').first();
  const n = await answer.locator('.tok.gen').count();
  const k = Math.min(2, n - 1);
  const token = answer.locator('.tok.gen').nth(k);
  const chatTitle = (await token.getAttribute('title'))!; // "p 12.3%, rank 4"
  const chatP = Number(/^p ([\d.]+)%/.exec(chatTitle)![1]) / 100;
  // the raw view shows the first answer of the turn: its prompt tokens, then its tokens with their ids
  const raw = view.locator('#raw .tokens[data-slot="main"]');
  const promptLength = await raw.locator('.tok:not(.gen)').count();
  const id = Number(/^id (\d+)/.exec((await raw.locator('.tok.gen').nth(k).getAttribute('title'))!)![1]);
  await token.click();

  const sampler = await vs.webview('Sampler');
  await sampler.locator('#status[data-state="inspected"]').waitFor({ state: 'attached', timeout: 60_000 });
  const universe = sampler.locator('.universe');
  assert.equal(await universe.count(), 1);
  assert.equal(await universe.locator('.tok.prompt').count(), promptLength);
  const prompt = (await universe.locator('.tok.prompt').allInnerTexts()).join('');
  assert.ok(prompt.endsWith('<|im_start|>assistant\n'), JSON.stringify(prompt.slice(-40)));
  assert.equal(await universe.locator('.tok.gen').count(), n, 'the whole answer');
  // the token is selected, and its distribution is the one the chat drew it from
  const selected = universe.locator('.tok.gen.selected');
  assert.equal(await selected.count(), 1);
  assert.equal(await selected.getAttribute('data-index'), String(k));
  assert.equal(await selected.getAttribute('title'), chatTitle);
  assert.match(
    await sampler.locator('#dist-info').innerText(),
    new RegExp(`: chose .* \\(id ${id}\\) with p`),
  );
  const chosen = sampler.locator('#dist-table tr.chosen'); // a top-20 row, or its own row below them
  assert.equal(await chosen.getAttribute('data-id'), String(id));
  const p = Number(await chosen.getAttribute('data-p'));
  assert.ok(Math.abs(p - chatP) <= 0.0005 + 1e-9, `Sampler p ${p}, chat ${chatTitle}`);
  // attention: the context it was drawn from, from its last position (the one that predicted the token)
  const strip = sampler.locator('#att-text .tok');
  assert.equal(await strip.count(), promptLength + k);
  await sampler.locator('#att-big[data-layer="0"][data-head="0"]').waitFor({ timeout: 20_000 });
  assert.equal(
    await sampler.locator('#att-text .tok.query').getAttribute('data-pos'),
    String(promptLength + k - 1),
  );
  // reference: the inspection pass's last row at that position is the model's own next-token
  // distribution: its top probability equals the largest model probability of the sampled step
  const raws = (await sampler
    .locator('#dist-table tr.dist-row')
    .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-raw'))))) as number[];
  const lens = Number(
    await sampler
      .locator('#lens-table tbody tr')
      .last()
      .locator('td.lens-cell')
      .last()
      .getAttribute('data-p'),
  );
  assert.ok(
    Math.abs(lens - Math.max(...raws)) < 1e-5,
    `logit lens ${lens}, sampled step ${Math.max(...raws)}`,
  );
  await vs.screenshot('chat-sampler');
});

test('after a window reload the Chat panel comes back with its checkpoints and conversation', async () => {
  await vs.reloadWindow();
  const view = await chat();
  await view.locator('#compare-model', { hasText: 'base/step-5' }).waitFor({ timeout: 60_000 });
  assert.match(await view.locator('#model').innerText(), /chat\/step-5/);
  assert.equal(await view.locator('.msg').count(), 3, 'user, the kept answer, user');
  assert.equal(await view.locator('#system input').inputValue(), 'You are a tiny model.');
  await view.locator('#regenerate').click();
  await view.locator('#status[data-state="done"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.equal(await view.locator('.answers[data-slot="compare"] .answer').count(), 1);
  await vs.screenshot('chat-after-reload');
});

test('Fine-Tune Checkpoint… on the base checkpoint runs SFT to the end; its checkpoint has the chat tokens', async () => {
  await vs.runCommand('LLM Lens: Fine-Tune Checkpoint…');
  await vs.pick('runs/base');
  await vs.pick('convs.jsonl');
  await vs.input('12');
  const runs = join(ws, '.llmlens', 'runs');
  const sftRun = () => (existsSync(runs) ? readdirSync(runs).find((n) => n.startsWith('sft-')) : undefined);
  for (let i = 0; i < 60 && !sftRun(); i++) await new Promise((r) => setTimeout(r, 500));
  const name = sftRun();
  assert.ok(name, 'the fine-tuning run folder');
  const view = await vs.webview(`Training: ${name}`);
  await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 180_000 });
  // samples are answers to held-out questions, and the steps count the answer tokens that carry loss
  const sample = view.locator('#samples .sample').first();
  await sample.waitFor({ timeout: 10_000 });
  assert.match(await sample.locator('.sample-prompt').innerText(), /^> (Who are you\?|What is your name\?)$/);
  const answerTokens = Number((await view.locator('#stat-answer-tokens').innerText()).replace(/,/g, ''));
  await vs.screenshot('fine-tune-dashboard');
  // the reference: what the run wrote
  const events = readFileSync(join(runs, name, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; lossTokens?: number; prompt?: string });
  const steps = events.filter((e) => e.kind === 'step');
  assert.equal(steps.length, 12);
  assert.ok(
    steps.every((e) => (e.lossTokens ?? 0) > 0),
    'every step trains on answer tokens',
  );
  assert.equal(answerTokens, steps.at(-1)!.lossTokens);
  assert.ok(
    events.some((e) => e.kind === 'sample' && /Who are you\?|What is your name\?/.test(e.prompt ?? '')),
  );
  const ckpt = join(runs, name, 'checkpoints', 'step-12');
  const config = JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8')) as {
    vocab_size: number;
    llm_lens: { stage?: string };
  };
  assert.equal(config.llm_lens.stage, 'sft');
  assert.equal(config.vocab_size, CHAT_CHARS.length + 2, 'the base vocabulary and <|im_start|>, <|im_end|>');
});
