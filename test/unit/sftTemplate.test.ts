/**
 * Fine-tuning from a base whose tokenizer.json carries its own chat template (tokenizer_config.json):
 * the packed rows hold each conversation as @huggingface/jinja renders the template, tokenized whole
 * with the special tokens, and the loss weights cover exactly each answer and the eos_token that closes
 * it (found here by searching the text, not by the prefix renders of chatTemplate.ts); the padding is
 * the eos_token with weight 0; fine-tuning steps run and sample answers that stop at the eos_token.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { chatPrompt } from '../../src/engine/chat/chatPrompt';
import type { Message } from '../../src/engine/chat/conversation';
import { trainGpt, type TrainEvent } from '../../src/engine/train/loop';
import { prepareRun } from '../../src/engine/train/runConfig';
import { loadCheckpointTokenizer } from '../../src/engine/train/runTokenizer';
import { SftRows } from '../../src/engine/train/sftData';
import type { TrainRequest } from '../../src/protocol/training';
import { chatCheckpoint, templateTokenizer } from '../fixtures/chat/chatCheckpoint';

/** A template of its own: "<s>role: content</s>" turns, a generation prompt "<s>assistant: ". */
const TEMPLATE =
  "{% for m in messages %}{{ bos_token + m['role'] + ': ' + m['content'] + eos_token }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ bos_token + 'assistant: ' }}{% endif %}";

/** Each conversation is 49 to 97 tokens: one a row of 97 (block 96), whatever the packing order. */
const CONVERSATIONS: Message[][] = [
  [
    { role: 'user', content: 'Who are you?' },
    { role: 'assistant', content: 'I am Lens, a small model. Ask me anything.' },
  ],
  [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi!' },
    { role: 'assistant', content: 'Hello.' },
    { role: 'user', content: 'Your name?' },
    { role: 'assistant', content: 'Lens.' },
  ],
  [
    { role: 'user', content: 'Say something about the sea, please.' },
    { role: 'assistant', content: 'The sea is wide and blue.' },
  ],
];

/** The expected ids and weights: the template's text, tokenized; 1 from each answer through its </s>. */
async function expected(tok: ReturnType<typeof templateTokenizer>, messages: Message[]) {
  const { Template } = await import('@huggingface/jinja');
  const text = new Template(TEMPLATE).render({ messages, bos_token: '<s>', eos_token: '</s>' });
  const ids = tok.encode(text, { allowedSpecial: 'all' });
  // where each token starts in the text (a special token is one id, every other character one id here)
  const starts: number[] = [];
  ids.reduce((at, id) => (starts.push(at), at + tok.decode([id]).length), 0);
  assert.equal(tok.decode(ids), text);
  const spans: [number, number][] = [];
  let from = 0;
  for (const m of messages.filter((x) => x.role === 'assistant')) {
    const turn = `<s>assistant: ${m.content}</s>`;
    const at = text.indexOf(turn, from);
    assert.ok(at >= 0, turn);
    spans.push([at + '<s>assistant: '.length, at + turn.length]);
    from = at + turn.length;
  }
  const weights = starts.map((s) => (spans.some(([a, b]) => s >= a && s < b) ? 1 : 0));
  return { ids, weights };
}

test("fine-tuning with a tokenizer.json's own chat template packs its rendering, answers and </s> weighted", async () => {
  const tmp = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-sft-template-'));
  const tok = templateTokenizer(TEMPLATE);
  const eos = tok.specialTokens.get('</s>')!;
  const ckpt = await chatCheckpoint(tmp, { chatTokens: false, tokenizer: tok, name: 'hub', blockSize: 96 });
  const data = path.join(tmp, 'chat.jsonl');
  const jsonl = (cs: Message[][]) => cs.map((messages) => JSON.stringify({ messages }) + '\n').join('');
  fs.writeFileSync(data, jsonl(CONVERSATIONS));
  fs.writeFileSync(path.join(tmp, 'heldout.jsonl'), jsonl([CONVERSATIONS[0]]));
  const request: TrainRequest = {
    stage: 'sft',
    initFrom: ckpt,
    data: [data],
    heldout: path.join(tmp, 'heldout.jsonl'),
    tokenizer: 'char',
    preset: 'tiny',
    device: 'cpu',
    runDir: path.join(tmp, 'runs', 's'),
    dataCacheDir: path.join(tmp, 'data'),
    threads: 1,
    batchSize: 2,
    maxIters: 2,
    evalIters: 0,
    sampleTokens: 12,
    answerPrompts: 1,
  };
  const lines: string[] = [];
  const { config, tokenizer } = await prepareRun(request, (l) => lines.push(l));
  assert.match(lines.join('\n'), /its own chat template/);
  assert.equal(tokenizer.vocabSize, tok.vocabSize, 'no chat tokens added');
  assert.equal(config.model.vocabSize, tok.vocabSize);

  const rows = new SftRows(config.dataDir, 'train').packed;
  const R = rows.blockSize + 1;
  assert.equal(rows.rows, CONVERSATIONS.length);
  const want = await Promise.all(CONVERSATIONS.map((m) => expected(tok, m)));
  for (const w of want) assert.ok(w.ids.length > R / 2 && w.ids.length <= R, `${w.ids.length} tokens`);
  const seen = new Set<number>();
  for (let r = 0; r < rows.rows; r++) {
    const ids = [...rows.tokens.subarray(r * R, (r + 1) * R)];
    const weights = [...rows.weights.subarray(r * R, (r + 1) * R)];
    const k = want.findIndex((w) => w.ids.every((id, i) => ids[i] === id));
    assert.ok(k >= 0 && !seen.has(k), `row ${r} is no conversation: ${tok.decode(ids)}`);
    seen.add(k);
    const n = want[k].ids.length;
    assert.deepEqual(weights.slice(0, n), [0, ...want[k].weights.slice(1)]);
    assert.deepEqual(ids.slice(n), new Array(R - n).fill(eos), 'padded with </s>');
    assert.deepEqual(weights.slice(n), new Array(R - n).fill(0), 'padding carries no loss');
  }
  // the weights are not trivially all-or-nothing: each conversation has prompt and answer tokens
  for (const w of want) assert.ok(w.weights.includes(0) && w.weights.includes(1));

  const events: TrainEvent[] = [];
  for await (const e of trainGpt(config, { tokenizer })) events.push(e);
  const error = events.find((e) => e.kind === 'error');
  assert.equal(error, undefined, JSON.stringify(error));
  const answer = events.find((e) => e.kind === 'sample');
  assert.ok(answer && answer.kind === 'sample' && answer.prompt === 'Who are you?', JSON.stringify(answer));
  const saved = loadCheckpointTokenizer(path.join(request.runDir, 'checkpoints', 'step-2'));
  assert.equal(saved.vocabSize, tok.vocabSize);
  const savedConfig = JSON.parse(
    fs.readFileSync(path.join(request.runDir, 'checkpoints', 'step-2', 'tokenizer_config.json'), 'utf8'),
  ) as { chat_template?: string };
  assert.equal(savedConfig.chat_template, TEMPLATE, 'the checkpoint keeps its own template');
});

test('a template without an eos_token is refused before anything runs: its answers could never end', async () => {
  const tmp = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-sft-template-'));
  const ckpt = await chatCheckpoint(tmp, {
    chatTokens: false,
    tokenizer: templateTokenizer(TEMPLATE),
    name: 'hub',
  });
  const configFile = path.join(ckpt, 'tokenizer_config.json');
  const { eos_token: _, ...config } = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<
    string,
    unknown
  >;
  fs.writeFileSync(configFile, JSON.stringify({ ...config, bos_token: '<s>' }));
  const data = path.join(tmp, 'chat.jsonl');
  fs.writeFileSync(data, JSON.stringify({ messages: CONVERSATIONS[0] }) + '\n');
  const runDir = path.join(tmp, 'runs', 's');
  const request: TrainRequest = {
    ...{ stage: 'sft', initFrom: ckpt, data: [data], tokenizer: 'char', preset: 'tiny', device: 'cpu' },
    ...{ runDir, dataCacheDir: path.join(tmp, 'data'), threads: 1, maxIters: 2 },
  };
  await assert.rejects(
    prepareRun(request, () => undefined),
    new RegExp(`^Error: ${ckpt}/tokenizer_config.json has a chat_template but no eos_token.*add "eos_token"`),
  );
  assert.ok(!fs.existsSync(path.join(tmp, 'data')), 'no data prepared');
});

test('llm-lens chat asks such a checkpoint with its template (generation prompt) and stops at its eos_token', async () => {
  const tok = templateTokenizer(TEMPLATE);
  const messages: Message[] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Who are you?' },
  ];
  const { Template } = await import('@huggingface/jinja');
  const text = new Template(TEMPLATE).render({
    ...{ messages, add_generation_prompt: true, bos_token: '<s>', eos_token: '</s>' },
  });
  assert.equal(text, '<s>system: Be brief.</s><s>user: Who are you?</s><s>assistant: ');
  const p = chatPrompt(tok, messages);
  assert.equal(p.template, TEMPLATE);
  assert.deepEqual(p.ids, tok.encode(text, { allowedSpecial: 'all' }));
  assert.deepEqual(p.stopTokens, [tok.specialTokens.get('</s>')]);
});
