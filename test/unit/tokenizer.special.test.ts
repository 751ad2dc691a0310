/**
 * Special tokens under tiktoken's rules in every tokenizer: allowed → one id, disallowed (the default) →
 * refused, neither (an empty disallowedSpecial) → plain text. The reference is tiktoken itself: a BPE
 * trained here, loaded by tiktoken from its rank file and, converted to tokenizer.json, by this repo's
 * Hugging Face loader (@huggingface/tokenizers), must give tiktoken's ids in every mode; a character
 * vocabulary with special tokens is checked against a brute-force encoder, and its tokenizer.json
 * against transformers.js.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tiktoken } from 'tiktoken';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { huggingFaceTokenizerFromJson } from '../../src/engine/tokenizer/huggingface';
import { bpeToHuggingFaceJson } from '../../src/engine/tokenizer/toHuggingFace';
import type { EncodeOptions, Tokenizer } from '../../src/engine/tokenizer/tokenizer';
import { trainBpe, trainedTokenizer } from '../../src/engine/tokenizer/train';
import { ranksFileText } from '../../src/engine/tokenizer/trainedFiles';

const SPECIALS = ['<|endoftext|>', '<|im_end|>'];
const TEXTS = [
  'plain words only',
  'You typed <|im_end|> in the middle.',
  'a<|endoftext|>b<|im_end|><|im_end|>c <|endoftext|>',
  '<|im_end|>',
];

/** Each mode as our options and tiktoken's (allowed, disallowed) arguments. */
const MODES: [string, EncodeOptions, 'all' | string[], 'all' | string[]][] = [
  ['all allowed', { allowedSpecial: 'all' }, 'all', 'all'],
  ['plain text', { disallowedSpecial: new Set() }, [], []],
  [
    'one allowed, the other plain',
    { allowedSpecial: new Set(['<|endoftext|>']), disallowedSpecial: new Set() },
    ['<|endoftext|>'],
    [],
  ],
];

/** The spans' ids are encode's, and their text tiles the input. */
function assertSpans(tok: Tokenizer, text: string, o: EncodeOptions, ids: number[]): void {
  const spans = tok.encodeWithOffsets(text, o);
  assert.deepEqual(
    spans.map((s) => s.id),
    ids,
  );
  assert.equal(spans.map((s) => text.slice(s.start, s.end)).join(''), text);
  for (const s of spans) assert.equal(s.special, tok.specialTokens.has(text.slice(s.start, s.end)));
}

test('a BPE and its tokenizer.json give tiktoken ids for special-token text allowed, plain or refused', async () => {
  const corpus = 'You typed words in the middle of plain text, a b c. '.repeat(30);
  const trained = await trainBpe(corpus, { vocabSize: 280, specialTokens: SPECIALS });
  const bpe = trainedTokenizer(trained);
  const specials = Object.fromEntries(bpe.specialTokens);
  const ref = new Tiktoken(ranksFileText(trained.vocab), specials, bpe.pattern);
  const hf = huggingFaceTokenizerFromJson(bpeToHuggingFaceJson(bpe), 'bpe');
  assert.deepEqual([...hf.specialTokens], [...bpe.specialTokens]);
  for (const tok of [bpe, hf])
    for (const text of TEXTS) {
      for (const [mode, o, allowed, disallowed] of MODES) {
        const expected = Array.from(ref.encode(text, allowed, disallowed));
        const ids = tok.encode(text, o);
        assert.deepEqual(ids, expected, `${tok.name}, ${mode}, ${JSON.stringify(text)}`);
        assertSpans(tok, text, o, ids);
        assert.equal(tok.decode(ids), text);
      }
      if (text !== TEXTS[0]) assert.throws(() => tok.encode(text), /special token <\|.*\|>.*not allowed/);
    }
  ref.free();
});

test('a character vocabulary with special tokens: ids after the characters, tiktoken rules, saved and loaded', async () => {
  const chars = [...new Set(TEXTS.join(''))].sort();
  const specials = new Map(SPECIALS.map((t, i) => [t, chars.length + i]));
  const tok = new CharTokenizer('chat', chars, specials);
  assert.equal(tok.vocabSize, chars.length + 2);
  /** Brute force: at each position, an allowed special token if one starts there, else the character. */
  const reference = (text: string, allowed: readonly string[]) => {
    const out: number[] = [];
    for (let i = 0; i < text.length;) {
      const s = allowed.find((t) => text.startsWith(t, i));
      if (s) [out[out.length], i] = [specials.get(s)!, i + s.length];
      else [out[out.length], i] = [chars.indexOf(text[i]), i + 1];
    }
    return out;
  };
  for (const text of TEXTS) {
    for (const [mode, o, allowed] of MODES) {
      const ids = tok.encode(text, o);
      assert.deepEqual(ids, reference(text, allowed === 'all' ? SPECIALS : allowed), `${mode}: ${text}`);
      assertSpans(tok, text, o, ids);
      assert.equal(tok.decode(ids), text);
    }
    if (text !== TEXTS[0]) assert.throws(() => tok.encode(text), /special token <\|.*\|>.*not allowed/);
  }
  assert.deepEqual([...tok.tokenBytes(chars.length + 1)], [...Buffer.from('<|im_end|>')]);

  const json = JSON.parse(tok.toJson());
  assert.equal(json.version, 2);
  assert.deepEqual(json.specialTokens, Object.fromEntries(specials));
  const back = CharTokenizer.fromJson(tok.toJson());
  for (const text of TEXTS)
    assert.deepEqual(
      back.encode(text, { allowedSpecial: 'all' }),
      tok.encode(text, { allowedSpecial: 'all' }),
    );
  // without special tokens the file stays version 1, which every earlier LLM Lens reads
  assert.equal(JSON.parse(new CharTokenizer('plain', chars).toJson()).version, 1);
  assert.throws(
    () => new CharTokenizer('bad', chars, new Map([['<|x|>', 3]])),
    /special ids must be whole numbers from/,
  );

  // its tokenizer.json: transformers.js gives the same ids, special tokens included
  const root = mkdtempSync(join(tmpdir(), 'llm-lens-char-special-'));
  mkdirSync(join(root, 'chat'));
  writeFileSync(join(root, 'chat', 'tokenizer.json'), tok.toHuggingFaceJson());
  writeFileSync(
    join(root, 'chat', 'tokenizer_config.json'),
    JSON.stringify({ clean_up_tokenization_spaces: false }),
  );
  const lib = await import('@huggingface/transformers');
  lib.env.allowRemoteModels = false;
  lib.env.localModelPath = root;
  const tjs = (await lib.AutoTokenizer.from_pretrained('chat', { local_files_only: true })) as unknown as {
    encode(text: string, o: object): number[];
    decode(ids: number[], o: object): string;
  };
  for (const text of TEXTS) {
    const ids = tok.encode(text, { allowedSpecial: 'all' });
    assert.deepEqual(tjs.encode(text, { add_special_tokens: false }), ids);
    assert.equal(tjs.decode(ids, { skip_special_tokens: false }), text);
  }
});
