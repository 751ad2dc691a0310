/** What the worker sends the Tokens panel, checked against tiktoken; and the panel's message validator. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get_encoding } from 'tiktoken';
import { getEncoding } from '../../src/engine/tokenizer/builtin';
import { isTokenizeWebviewMessage } from '../../src/host/panels/validate';
import { TOKEN_PARTIAL, TOKEN_SPECIAL } from '../../src/protocol/tokenize';
import { tokenizeToResult } from '../../src/worker/tokenizerJobs';

const TEXT = 'naïve 🍓 strawberry\tx  <|endoftext|> 9.11 한국어\r\n';

test('tokenizeToResult: ids equal tiktoken, special tokens shown as text, offsets cover the text, bytes are the token bytes', () => {
  const r = tokenizeToResult(getEncoding('cl100k_base'), 'builtin:cl100k_base', TEXT, false);
  const enc = get_encoding('cl100k_base');
  try {
    // tiktoken with no special tokens allowed or disallowed encodes '<|endoftext|>' as ordinary text
    assert.deepEqual(Array.from(r.ids), Array.from(enc.encode(TEXT, [], [])));
    for (const id of new Set(r.ids)) {
      assert.equal(
        r.bytesHex[id],
        Array.from(enc.decode_single_token_bytes(id), (b) => b.toString(16).padStart(2, '0')).join(' '),
      );
    }
  } finally {
    enc.free();
  }
  assert.equal(
    r.flags.some((f) => (f & TOKEN_SPECIAL) !== 0),
    false,
  );
  // non-partial spans, in order, rebuild the text; partial ones (inside 🍓) sit within it
  let rebuilt = '';
  let pos = 0;
  for (let i = 0; i < r.ids.length; i++) {
    assert.ok(r.starts[i] >= (i ? r.starts[i - 1] : 0) && r.ends[i] >= r.starts[i]);
    if (r.ends[i] > pos) {
      rebuilt += TEXT.slice(pos, r.ends[i]);
      pos = r.ends[i];
    }
  }
  assert.equal(rebuilt, TEXT);
  assert.ok(
    r.flags.some((f) => (f & TOKEN_PARTIAL) !== 0),
    'the emoji splits into partial byte tokens in cl100k_base',
  );
  assert.equal(r.bytes, Buffer.byteLength(TEXT));
  assert.equal(r.chars, [...TEXT].length);
});

test('tokenizeToResult with special tokens allowed marks <|endoftext|>', () => {
  const r = tokenizeToResult(getEncoding('cl100k_base'), 'k', TEXT, true);
  const i = Array.from(r.ids).indexOf(100257);
  assert.ok(i >= 0);
  assert.equal(r.flags[i] & TOKEN_SPECIAL, TOKEN_SPECIAL);
  assert.equal(TEXT.slice(r.starts[i], r.ends[i]), '<|endoftext|>');
});

test('Tokens panel messages are validated', () => {
  const ok = [
    { type: 'ready' },
    { type: 'select', keys: ['builtin:gpt2'] },
    { type: 'select', keys: ['a', 'b', 'c', 'd'] },
    { type: 'compare', on: true },
    { type: 'reveal', start: 0, end: 5 },
    { type: 'copyIds', key: 'builtin:gpt2' },
  ];
  for (const m of ok) assert.equal(isTokenizeWebviewMessage(m), true, JSON.stringify(m));
  const bad = [
    { type: 'select', keys: [] },
    { type: 'select', keys: ['a', 'b', 'c', 'd', 'e'] },
    { type: 'select', keys: [1] },
    { type: 'compare', on: 'yes' },
    { type: 'reveal', start: 5, end: 2 },
    { type: 'reveal', start: -1, end: 2 },
    { type: 'reveal', start: 0.5, end: 2 },
    { type: 'reveal', start: 0, end: 2, extra: true },
    { type: 'copyIds' },
    { type: 'run', command: 'rm -rf' },
    null,
    'ready',
  ];
  for (const m of bad) assert.equal(isTokenizeWebviewMessage(m), false, JSON.stringify(m));
});
