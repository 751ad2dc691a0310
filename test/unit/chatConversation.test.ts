/** Conversation JSONL: good lines read as written, every bad line refused with file:line and its reason. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  ConversationError,
  ConversationFileError,
  parseConversation,
  parseConversations,
  readConversations,
  type Conversation,
} from '../../src/engine/chat/conversation';

const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-chat-'));
const line = (messages: unknown) => JSON.stringify({ messages });
const good = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello! ünïcödé 🍓\nSecond line.' },
];

async function collect(gen: AsyncIterable<Conversation>): Promise<Conversation[]> {
  const out: Conversation[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

test('a good line reads as its messages, with its file and line', () => {
  const c = parseConversation(line(good), 'a.jsonl', 7);
  assert.deepEqual(c.messages, good);
  assert.deepEqual(c.source, { file: 'a.jsonl', line: 7 });
  // other keys of the line and of a message are ignored
  const extra = parseConversation(
    JSON.stringify({ id: 3, messages: good.map((m) => ({ ...m, name: 'x' })) }),
    'a.jsonl',
    1,
  );
  assert.deepEqual(extra.messages, good);
});

const bad: [string, string, RegExp][] = [
  ['broken JSON', '{"messages": [', /^a\.jsonl:4: not valid JSON/],
  ['not an object', '[1, 2]', /^a\.jsonl:4: expected an object \{"messages"/],
  ['no messages key', '{"conversation": []}', /expected an object \{"messages"/],
  ['empty messages', line([]), /"messages" is empty/],
  ['unknown role', line([{ role: 'bot', content: 'x' }]), /message 1 has unknown role "bot"/],
  [
    'tool output with no call',
    line([{ role: 'user', content: 'x' }, { role: 'tool', content: '4' }, good[1]]),
    /message 2 is a tool output with no tool call before it/,
  ],
  [
    'function role',
    line([{ role: 'function', content: 'x' }]),
    /message 1 has role "function": write a tool's output as a message with role "tool"/,
  ],
  ['no role', line([{ content: 'x' }]), /message 1 has no "role"/],
  [
    'null content',
    line([good[1], { role: 'assistant', content: null }]),
    /message 2 \(assistant\): "content" must be a string, got null/,
  ],
  ['number content', line([{ role: 'user', content: 3 }]), /"content" must be a string, got a number/],
  ['content parts', line([{ role: 'user', content: [{ type: 'text', text: 'x' }] }]), /got a list/],
  ['message not an object', line(['hello']), /message 1 is not an object/],
  ['no assistant turn', line(good.slice(0, 2)), /^a\.jsonl:4: no assistant message/],
];
for (const [what, text, why] of bad)
  test(`refused with file:line and the reason: ${what}`, () => {
    assert.throws(
      () => parseConversation(text, 'a.jsonl', 4),
      (e: unknown) => e instanceof ConversationError && e.line === 4 && why.test(e.message),
    );
  });

test('a file: good lines stream in order, then one error lists every bad line (none dropped)', async () => {
  const lines = [line(good), '', '{oops', line(good.slice(1)), line(good.slice(0, 2)), '   ', line(good)];
  const seen: Conversation[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of parseConversations(lines, 'chat.jsonl')) seen.push(c);
    })(),
    (e: unknown) => {
      assert.ok(e instanceof ConversationFileError);
      assert.deepEqual(
        e.errors.map((x) => x.line),
        [3, 5],
      );
      assert.equal(e.good, 3);
      assert.match(e.message, /chat\.jsonl: 2 bad lines \(3 good\)/);
      assert.match(e.message, /chat\.jsonl:3: not valid JSON/);
      assert.match(e.message, /chat\.jsonl:5: no assistant message/);
      return true;
    },
  );
  assert.deepEqual(
    seen.map((c) => c.source?.line),
    [1, 4, 7],
  );
});

test('a file with many bad lines shows the first ten and counts the rest', async () => {
  const lines = Array.from({ length: 25 }, () => '{');
  await assert.rejects(collect(parseConversations(lines, 'x.jsonl')), (e: unknown) => {
    assert.ok(e instanceof ConversationFileError);
    assert.equal(e.errors.length, 25);
    assert.match(e.message, /x\.jsonl:10: /);
    assert.doesNotMatch(e.message, /x\.jsonl:11: /);
    assert.match(e.message, /… and 15 more/);
    return true;
  });
});

test('an empty file, or one of blank lines, is refused', async () => {
  for (const lines of [[], ['', '  ', '\t']])
    await assert.rejects(
      collect(parseConversations(lines, 'e.jsonl')),
      /e\.jsonl:1: no conversations: the file is empty/,
    );
});

test('readConversations streams a file from disk (CRLF, byte-order mark, 20k lines)', async () => {
  const dir = tmp();
  const file = path.join(dir, 'big.jsonl');
  const n = 20000;
  const rows = Array.from({ length: n }, (_, i) =>
    line([
      { role: 'user', content: `q${i}` },
      { role: 'assistant', content: `a${i}` },
    ]),
  );
  fs.writeFileSync(file, '\uFEFF' + rows.join('\r\n') + '\r\n');
  let k = 0;
  for await (const c of readConversations(file)) {
    assert.equal(c.messages[1].content, `a${k}`);
    assert.equal(c.source?.line, k + 1);
    k++;
  }
  assert.equal(k, n);
  await assert.rejects(
    collect(readConversations(path.join(dir, 'missing.jsonl'))),
    /cannot read .*missing\.jsonl/,
  );
});

test('readConversations stops when its signal aborts', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(collect(parseConversations([line(good)], 'a.jsonl', { signal: ac.signal })), /abort/i);
});
