/**
 * The Tokens panel's conversation view: the worker's ChatML rendering of a JSONL line (ids equal
 * renderChatML's, the weighted tokens decode to exactly the assistant's answers and their <|im_end|>),
 * its errors, and the host's check of the webview's 'chat' message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IM_END, chatMLText, renderChatML } from '../../src/engine/chat/chatml';
import { withChatTokens } from '../../src/engine/chat/chatTokenizer';
import type { Message } from '../../src/engine/chat/conversation';
import { getEncoding } from '../../src/engine/tokenizer/builtin';
import type { Tokenizer } from '../../src/engine/tokenizer/tokenizer';
import { isTokenizeWebviewMessage, MAX_CHAT_LINE } from '../../src/host/panels/validate';
import { CHAT_ROLES } from '../../src/protocol/tokenize';
import { chatViewResult } from '../../src/worker/tokenizerJobs';

const messages: Message[] = [
  { role: 'system', content: 'You answer with the work shown.' },
  { role: 'user', content: 'What is 47 + 38? Say <|im_end|> if unsure.' },
  { role: 'assistant', content: '47 + 38 = 40 + 30 + 7 + 8 = 85' },
  { role: 'user', content: 'And 9.11 vs 9.9?' },
  { role: 'assistant', content: '9.9 is larger: 0.90 > 0.11 🍓' },
];
const LINE = JSON.stringify({ messages });

for (const name of ['cl100k_base', 'gpt2']) {
  test(`chatViewResult (${name}): ids are renderChatML's, the loss covers exactly the answers and their <|im_end|>`, () => {
    const tok = getEncoding(name);
    const r = chatViewResult(tok, `builtin:${name}`, LINE, 'chat.jsonl', 3);
    const chat = withChatTokens(tok);
    const ct = chat.tokenizer;
    const ref = renderChatML(messages, chat.chat, (s) => ct.encode(s, { disallowedSpecial: new Set() }));
    assert.equal(r.name, `${name}+chatml`);
    assert.deepEqual(Array.from(r.ids), ref.ids);
    assert.deepEqual(Array.from(r.weights), ref.weights);
    assert.deepEqual(
      Array.from(r.roles, (i) => CHAT_ROLES[i]),
      ref.roles,
    );
    // reference: the weighted runs decoded are the assistant messages' text, each with its <|im_end|>
    const runs: string[] = [];
    let run: number[] = [];
    for (let i = 0; i <= r.ids.length; i++) {
      if (i < r.ids.length && r.weights[i]) run.push(r.ids[i]);
      else if (run.length) {
        runs.push(ct.decode(run));
        run = [];
      }
    }
    const answers = messages.filter((m) => m.role === 'assistant').map((m) => m.content + IM_END);
    assert.deepEqual(runs, answers);
    assert.equal(r.lossTokens, r.weights.filter((w) => w === 1).length);
    // the user's typed "<|im_end|>" is text, not the chat token
    assert.equal(r.ids.filter((id) => id === chat.chat.imEnd).length, messages.length);
    // each token's own text (a part of a character as ⟨its bytes⟩), joined, is the ChatML text
    assert.ok(
      r.texts.some((t) => t.startsWith('⟨')),
      'the emoji is split into byte tokens',
    );
    const bytes = r.texts.flatMap((t) => {
      const hex = /^⟨([0-9a-f ]+)⟩$/.exec(t);
      return hex ? hex[1].split(' ').map((h) => parseInt(h, 16)) : [...Buffer.from(t, 'utf8')];
    });
    assert.equal(Buffer.from(bytes).toString('utf8'), chatMLText(messages));
  });
}

for (const name of ['cl100k_base', 'o200k_base', 'gpt2']) {
  test(`chatViewResult (${name}): exactly the chat tokens are special, not text that spells one`, () => {
    const tok = getEncoding(name);
    const r = chatViewResult(tok, `builtin:${name}`, LINE, 'chat.jsonl', 1);
    const { imStart, imEnd } = withChatTokens(tok).chat;
    // reference: the chat token ids of the extended tokenizer, one <|im_start|> and <|im_end|> per turn
    const want = Array.from(r.ids, (id) => (id === imStart || id === imEnd ? 1 : 0));
    assert.deepEqual(Array.from(r.special), want);
    assert.equal(want.filter((w) => w === 1).length, 2 * messages.length);
    assert.deepEqual(
      r.texts.filter((_, i) => r.special[i]),
      messages.flatMap(() => ['<|im_start|>', '<|im_end|>']),
    );
    // the user typed "<|im_end|>" and "<|endoftext|>": ordinary text tokens
    const typed = chatViewResult(
      tok,
      'k',
      JSON.stringify({
        messages: [
          { role: 'user', content: 'a <|endoftext|> b <|im_end|>' },
          { role: 'assistant', content: 'ok' },
        ],
      }),
      'chat.jsonl',
      1,
    );
    assert.equal(
      typed.special.reduce((a, b) => a + b, 0),
      4,
    );
    assert.ok(!typed.ids.includes(tok.specialTokens.get('<|endoftext|>')!));
  });
}

test('chatViewResult: a bad line names file:line and the reason; a tokenizer that cannot take chat tokens says so', () => {
  const tok = getEncoding('cl100k_base');
  assert.throws(
    () => chatViewResult(tok, 'k', '{"messages": []}', 'chat.jsonl', 3),
    /^ConversationError: chat\.jsonl:3: /,
  );
  assert.throws(() => chatViewResult(tok, 'k', '{"messages": [', 'pasted', 1), /pasted:1: /);
  const tool = JSON.stringify({ messages: [{ role: 'tool', content: 'x' }] });
  assert.throws(() => chatViewResult(tok, 'k', tool, 'chat.jsonl', 7), /chat\.jsonl:7: .*tool/);
  const other = {
    name: 'odd',
    vocabSize: 10,
    specialTokens: new Map<string, number>(),
    encode: () => {
      throw new Error('no');
    },
  } as unknown as Tokenizer;
  assert.throws(() => chatViewResult(other, 'k', LINE, 'f', 1), /odd cannot take new tokens/);
});

test('isTokenizeWebviewMessage: chat carries one string of bounded length and nothing else', () => {
  assert.equal(isTokenizeWebviewMessage({ type: 'chat', text: LINE }), true);
  assert.equal(isTokenizeWebviewMessage({ type: 'chat', text: '' }), true);
  const bad = [
    { type: 'chat' },
    { type: 'chat', text: 42 },
    { type: 'chat', text: ['x'] },
    { type: 'chat', text: null },
    { type: 'chat', text: LINE, file: '/etc/passwd' },
    { type: 'chat', text: 'x'.repeat(MAX_CHAT_LINE + 1) },
  ];
  for (const m of bad) assert.equal(isTokenizeWebviewMessage(m), false, JSON.stringify(m).slice(0, 80));
});
