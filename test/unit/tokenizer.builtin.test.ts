/**
 * Our byte-level BPE encoder against the reference, the `tiktoken` package (OpenAI's Rust core in WASM),
 * for every built-in encoding: a hard hand-written corpus, seeded random strings, long runs, special
 * tokens; and offsets that tile the input exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get_encoding, type Tiktoken } from 'tiktoken';
import type { Tiktoken as JsTiktokenType } from 'js-tiktoken/lite' with { 'resolution-mode': 'import' };
import { BUILTIN_ENCODINGS, getEncoding } from '../../src/engine/tokenizer/builtin';
import type { BpeTokenizer } from '../../src/engine/tokenizer/bpe';
import type { TokenSpan } from '../../src/engine/tokenizer/tokenizer';
import { base64Blob, hardCorpus, minifiedJs, mulberry32, randomText } from '../fixtures/tokenizer/corpus';

/** Each encoding loaded once per file, ours and the reference. */
const pairs = new Map<string, { ours: BpeTokenizer; ref: Tiktoken }>();
function encodings(name: string) {
  let p = pairs.get(name);
  if (!p) {
    p = { ours: getEncoding(name), ref: get_encoding(name as Parameters<typeof get_encoding>[0]) };
    pairs.set(name, p);
  }
  return p;
}

const refIds = (
  ref: Tiktoken,
  text: string,
  allowed: 'all' | string[] = [],
  disallowed: 'all' | string[] = 'all',
) => Array.from(ref.encode(text, allowed, disallowed));

/** Spans tile the text: contiguous from 0 to its length, same ids as encode, and each span's bytes are its tokens' bytes. */
export function assertSpansTile(
  tok: { decode(ids: number[]): string; tokenBytes(id: number): Uint8Array },
  text: string,
  spans: TokenSpan[],
  ids: number[],
): void {
  assert.deepEqual(
    spans.map((s) => s.id),
    ids,
  );
  let at = 0;
  for (const s of spans) {
    assert.equal(s.start, at, `span ${JSON.stringify(s)} does not start where the previous one ended`);
    assert.ok(s.end >= s.start);
    at = s.end;
  }
  assert.equal(at, text.length);
  assert.equal(spans.map((s) => text.slice(s.start, s.end)).join(''), text);
  // Between character boundaries, the UTF-8 of the text equals the bytes of the tokens spanning it.
  let runText = '';
  let runBytes: number[] = [];
  for (const s of spans) {
    runText += text.slice(s.start, s.end);
    runBytes.push(...tok.tokenBytes(s.id));
    if (runBytes.length === Buffer.byteLength(runText, 'utf8')) {
      assert.deepEqual(
        Buffer.from(runBytes),
        Buffer.from(runText, 'utf8'),
        `bytes of ${JSON.stringify(runText)}`,
      );
      if (!s.special && runText === text.slice(s.start, s.end))
        assert.equal(
          tok.decode([s.id]),
          runText.replace(/[\uD800-\uDFFF]/g, (c, i: number, all: string) =>
            isPaired(all, i) ? c : '\uFFFD',
          ),
        );
      runText = '';
      runBytes = [];
    }
  }
  assert.equal(runText, '');
  assert.equal(runBytes.length, 0);
}

function isPaired(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c <= 0xdbff) return i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
  return i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff;
}

for (const name of BUILTIN_ENCODINGS) {
  test(`${name}: the hard corpus encodes to tiktoken's ids, and offsets tile the text`, () => {
    const { ours, ref } = encodings(name);
    for (const text of hardCorpus) {
      const ids = ours.encode(text, { disallowedSpecial: new Set() });
      assert.deepEqual(ids, refIds(ref, text, [], []), `${name} on ${JSON.stringify(text).slice(0, 80)}`);
      assertSpansTile(ours, text, ours.encodeWithOffsets(text, { disallowedSpecial: new Set() }), ids);
    }
  });

  test(`${name}: seeded random strings encode to tiktoken's ids and decode back`, () => {
    const { ours, ref } = encodings(name);
    const rand = mulberry32(1234 + name.length);
    for (let i = 0; i < 400; i++) {
      const text = randomText(rand, 1 + Math.floor(rand() * 80));
      const ids = ours.encode(text, { disallowedSpecial: new Set() });
      assert.deepEqual(ids, refIds(ref, text, [], []), `${name} on ${JSON.stringify(text)}`);
      assert.equal(
        ours.decode(ids),
        new TextDecoder('utf-8', { ignoreBOM: true }).decode(Buffer.from(text, 'utf8')),
      );
      if (i % 4 === 0)
        assertSpansTile(ours, text, ours.encodeWithOffsets(text, { disallowedSpecial: new Set() }), ids);
    }
  });

  test(`${name}: special tokens are allowed, disallowed or plain text exactly as in tiktoken`, () => {
    const { ours, ref } = encodings(name);
    const text = 'Hello<|endoftext|> world<|endoftext|><|endoftext|>!';
    assert.throws(() => ours.encode(text), /special token <\|endoftext\|>.*not allowed/);
    assert.throws(() => ref.encode(text));
    assert.deepEqual(ours.encode(text, { allowedSpecial: 'all' }), refIds(ref, text, 'all'));
    assert.deepEqual(
      ours.encode(text, { allowedSpecial: new Set(['<|endoftext|>']) }),
      refIds(ref, text, ['<|endoftext|>']),
    );
    assert.deepEqual(ours.encode(text, { disallowedSpecial: new Set() }), refIds(ref, text, [], []));
    const eot = ours.specialTokens.get('<|endoftext|>') as number;
    assert.equal(ours.encode(text, { allowedSpecial: 'all' }).filter((id) => id === eot).length, 3);
    const spans = ours.encodeWithOffsets(text, { allowedSpecial: 'all' });
    assert.deepEqual(
      spans.filter((s) => s.special).map((s) => [s.start, s.end]),
      [
        [5, 18],
        [24, 37],
        [37, 50],
      ],
    );
    assert.equal(ours.decode(ours.encode(text, { allowedSpecial: 'all' })), text);
    if (ours.specialTokens.size > 1) {
      const [, other] = [...ours.specialTokens.keys()];
      const mixed = `a${other}b<|endoftext|>c`;
      assert.throws(
        () => ours.encode(mixed, { allowedSpecial: new Set(['<|endoftext|>']) }),
        new RegExp(escape(other)),
      );
      assert.deepEqual(
        ours.encode(mixed, { allowedSpecial: new Set(['<|endoftext|>']), disallowedSpecial: new Set() }),
        refIds(ref, mixed, ['<|endoftext|>'], []),
      );
    }
  });

  test(`${name}: long runs and blobs (one letter, spaces, digits, base64, minified code) match tiktoken`, () => {
    const { ours, ref } = encodings(name);
    const rand = mulberry32(99);
    const base64 = Buffer.from(Array.from({ length: 6000 }, () => Math.floor(rand() * 256))).toString(
      'base64',
    );
    const minified = 'function(a,b){return a.map(function(c){return c*b+1e3})};var x={"k":[1,2,3]};'.repeat(
      100,
    );
    for (const text of [
      'a'.repeat(4000),
      ' '.repeat(3000) + 'x',
      '\n'.repeat(2000),
      '7'.repeat(3001),
      'ab'.repeat(2500),
      '🙂'.repeat(700),
      base64,
      minified,
    ]) {
      assert.deepEqual(
        ours.encode(text),
        refIds(ref, text),
        `${name} on ${JSON.stringify(text.slice(0, 30))}… (${text.length})`,
      );
    }
  });
}

test('lone surrogates encode as U+FFFD, as tiktoken does (its WASM binding converts the string with TextEncoder)', () => {
  const { ours, ref } = encodings('cl100k_base');
  for (const text of ['\uD800', 'a\uDC00b', '\uDBFF\uDBFF', '😀\uD83D', '\uDE00x']) {
    assert.deepEqual(ours.encode(text), refIds(ref, text));
    assert.deepEqual(
      ours.encode(text),
      refIds(
        ref,
        text.replace(/[\uD800-\uDFFF]/g, (c, i: number, all: string) => (isPaired(all, i) ? c : '\uFFFD')),
      ),
    );
  }
  assert.equal(ours.decode(ours.encode('a\uD800b')), 'a\uFFFDb');
  const spans = ours.encodeWithOffsets('a\uD800b');
  assert.equal(spans[spans.length - 1].end, 3);
});

test("U+0085 is whitespace for tiktoken (Rust's \\s), not for JavaScript's: we follow tiktoken, js-tiktoken does not", () => {
  const { ours, ref } = encodings('cl100k_base');
  /* eslint-disable @typescript-eslint/no-require-imports -- the CommonJS builds, as builtin.ts loads them */
  const { Tiktoken: JsTiktoken }: { Tiktoken: typeof JsTiktokenType } = require('js-tiktoken/lite');
  const jsTiktoken = new JsTiktoken(require('js-tiktoken/ranks/cl100k_base'));
  /* eslint-enable @typescript-eslint/no-require-imports */
  const text = 'a  \u0085\n';
  assert.deepEqual(ours.encode(text), refIds(ref, text));
  assert.notDeepEqual(jsTiktoken.encode(text), refIds(ref, text));
});

test('a token split inside a character is partial, and the character belongs to the token with its first byte', () => {
  const { ours } = encodings('cl100k_base');
  // Find a character that cl100k splits across tokens (rare CJK / emoji), then check its spans.
  const text = '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🫠 ꙮ';
  const spans = ours.encodeWithOffsets(text);
  const partial = spans.filter((s) => s.partial);
  assert.ok(partial.length > 0, 'expected at least one split character in this text');
  assert.ok(
    spans.some((s) => s.partial && s.start === s.end),
    'a continuation-only token has an empty span',
  );
  assertSpansTile(ours, text, spans, ours.encode(text));
});

// How fast these are is measured against tiktoken in bench/tokenizer.bench.ts, not here.
test('1 MB of one letter, of base64 and of minified code encode and decode back exactly', () => {
  const { ours } = encodings('cl100k_base');
  const rand = mulberry32(7);
  const inputs = {
    letter: 'a'.repeat(1 << 20),
    base64: base64Blob(rand, 1 << 20),
    minified: minifiedJs(rand, 1 << 20),
  };
  for (const [label, text] of Object.entries(inputs)) {
    const ids = ours.encode(text);
    assert.equal(ours.decode(ids), text, label);
    assert.ok(
      ids.length > 0 && ids.length < text.length,
      `${label}: ${ids.length} tokens for ${text.length} characters`,
    );
  }
});

test('every built-in name is a registry entry with tiktoken’s vocabulary size and special tokens', () => {
  for (const name of BUILTIN_ENCODINGS) {
    const { ours, ref } = encodings(name);
    assert.equal(ours.name, name);
    assert.equal(ours.vocabSize, N_VOCAB[name]);
    assert.equal(ours.ranks.size, ref.token_byte_values().length);
    for (const [text, id] of ours.specialTokens) assert.deepEqual(refIds(ref, text, 'all'), [id]);
    for (const id of [0, 100, 255, 1000, 50000])
      assert.deepEqual(ours.tokenBytes(id), ref.decode_single_token_bytes(id));
  }
  assert.throws(() => getEncoding('cl200k'), /unknown encoding 'cl200k'.*cl100k_base/);
});

/** tiktoken's Encoding.n_vocab (max token id + 1); cl100k and o200k leave ids unused between their special tokens. */
const N_VOCAB: Record<string, number> = {
  gpt2: 50257,
  r50k_base: 50257,
  p50k_base: 50281,
  cl100k_base: 100277,
  o200k_base: 200019,
};

function escape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
