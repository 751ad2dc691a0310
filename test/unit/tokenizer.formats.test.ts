/**
 * Hugging Face tokenizer.json (hand-written tiny WordPiece and byte-level BPE models, expected ids and
 * offsets worked out by hand from the models' rules) and the character-level tokenizer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  huggingFaceTokenizerFromJson,
  loadHuggingFaceTokenizer,
} from '../../src/engine/tokenizer/huggingface';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { loadTokenizer, tokenizerKind } from '../../src/engine/tokenizer/load';
import { wordModelJson } from '../fixtures/tokenizer/wordModel';

const fixtures = join('test', 'fixtures', 'tokenizer');
const spansOf = (spans: Array<{ start: number; end: number }>) => spans.map((s) => [s.start, s.end]);

test('WordPiece tokenizer.json: lower-cased, ## continuations, offsets back in the original text', () => {
  const tok = loadHuggingFaceTokenizer(join(fixtures, 'wordpiece', 'tokenizer.json'));
  assert.equal(tok.name, 'wordpiece');
  assert.equal(tok.vocabSize, 12);
  assert.deepEqual([...tok.specialTokens.keys()], ['[PAD]', '[UNK]', '[CLS]', '[SEP]']);
  const text = 'Hello, unaffable world!';
  // BertNormalizer lowercases; BertPreTokenizer splits on spaces and punctuation; WordPiece: un ##aff ##able.
  assert.deepEqual(tok.encode(text), [4, 9, 6, 7, 8, 5, 10]);
  const spans = tok.encodeWithOffsets(text);
  assert.deepEqual(spansOf(spans), [
    [0, 5],
    [5, 6],
    [6, 9],
    [9, 12],
    [12, 16],
    [16, 22],
    [22, 23],
  ]);
  assert.equal(spans.map((s) => text.slice(s.start, s.end)).join(''), text);
  assert.deepEqual([...tok.tokenBytes(7)], [...Buffer.from('aff')]);
  assert.equal(tok.decode([4, 9, 6, 7, 8]), 'hello, unaffable');
  assert.deepEqual(tok.encode('xyz'), [1]); // unknown word → [UNK]
  // [UNK] stands for the whole word it replaced, so its span is that word (worked out by hand)
  const unk = 'hello xyzzy, world';
  assert.deepEqual(tok.encode(unk), [4, 1, 9, 5]);
  assert.deepEqual(spansOf(tok.encodeWithOffsets(unk)), [
    [0, 5],
    [5, 11],
    [11, 12],
    [12, 18],
  ]);
});

test('byte-level BPE tokenizer.json: merges, special token rules, a character split between tokens', () => {
  const tok = loadTokenizer(join(fixtures, 'bytelevel'));
  const text = 'hello world<|endoftext|>hé';
  assert.throws(() => tok.encode(text), /special token <\|endoftext\|>.*not allowed/);
  // hello = (hell o), Ġworld = (Ġwor ld); é = C3 A9 = byte-level 'Ã' '©', which do not merge.
  assert.deepEqual(tok.encode(text, { allowedSpecial: 'all' }), [11, 17, 12, 0, 18, 19]);
  const spans = tok.encodeWithOffsets(text, { allowedSpecial: 'all' });
  assert.deepEqual(spansOf(spans), [
    [0, 5],
    [5, 11],
    [11, 24],
    [24, 25],
    [25, 26],
    [26, 26],
  ]);
  assert.deepEqual(
    spans.map((s) => s.partial),
    [false, false, false, false, true, true],
  );
  assert.deepEqual(
    spans.map((s) => s.special),
    [false, false, true, false, false, false],
  );
  assert.deepEqual([...tok.tokenBytes(17)], [...Buffer.from(' world')]);
  assert.deepEqual([...tok.tokenBytes(18)], [0xc3]);
  assert.equal(tok.decode(tok.encode(text, { allowedSpecial: 'all' })), text);
  assert.equal(tok.decode([]), '');
  assert.throws(() => tok.decode([99]), /no token with id 99/);
});

test('SentencePiece-style (Llama) tokenizer.json: ▁ for spaces, byte fallback, offsets in the original text', () => {
  const tok = loadTokenizer(join(fixtures, 'metaspace'));
  // Prepend ▁ and spaces → ▁; BPE merges ▁Hi, ▁there; '\n' and '😀' are not in the vocabulary: byte fallback <0x..>.
  const text = 'Hi!\n😀';
  assert.deepEqual(tok.encode(text), [12, 13, 3, 4, 5, 6, 7]);
  const spans = tok.encodeWithOffsets(text);
  assert.deepEqual(spansOf(spans), [
    [0, 2],
    [2, 3],
    [3, 4],
    [4, 6],
    [6, 6],
    [6, 6],
    [6, 6],
  ]);
  assert.deepEqual(
    spans.map((s) => s.partial),
    [false, false, false, true, true, true, true],
  );
  assert.deepEqual([...tok.tokenBytes(12)], [...Buffer.from(' Hi')]);
  assert.deepEqual([...tok.tokenBytes(5)], [0x9f]);
  assert.equal(tok.decode(tok.encode(text)), text);
  assert.deepEqual(tok.encode('Hi there!'), [12, 22, 13]);
  assert.deepEqual(spansOf(tok.encodeWithOffsets('Hi there!')), [
    [0, 2],
    [2, 8],
    [8, 9],
  ]);
});

const wordModel = (model: object) =>
  huggingFaceTokenizerFromJson(wordModelJson(model), 'words', {}, 'words/tokenizer.json');

test("a word the vocabulary lacks becomes the model's unk_token (as in Hugging Face tokenizers), or an error that names it", () => {
  const text = 'hello zzz world';
  // WordLevel: an unknown word is unk_token's id, spanning the word (as [UNK] does in the WordPiece test)
  const words = { type: 'WordLevel', vocab: { hello: 0, world: 1, '[UNK]': 2 }, unk_token: '[UNK]' };
  const wl = wordModel(words);
  assert.deepEqual(wl.encode(text), [0, 2, 1]);
  assert.deepEqual(spansOf(wl.encodeWithOffsets(text)), [
    [0, 5],
    [5, 9],
    [9, 15],
  ]);
  // Hugging Face tokenizers fails where there is no unknown token (MissingUnkToken): so does encode, never an id-less token
  const refusals: [object, RegExp][] = [
    [
      { ...words, unk_token: undefined },
      /words\/tokenizer\.json: 1 piece\(s\) of the text are not in the vocabulary \("zzz"\), and its model has no "unk_token"/,
    ],
    [
      { ...words, vocab: { hello: 0, world: 1 } },
      /\("zzz"\), and its model's "unk_token" "\[UNK\]" is not in its "vocab"/,
    ],
    [
      { type: 'WordPiece', vocab: { hello: 0, world: 1, '##lo': 2 }, continuing_subword_prefix: '##' },
      /\("zzz"\), and its model has no "unk_token"/,
    ],
    [
      { type: 'BPE', vocab: { h: 0, e: 1, l: 2, o: 3, w: 4, r: 5, d: 6 }, merges: [], unk_token: '<unk>' },
      /1 piece\(s\) .* \("zzz"\), and its model's "unk_token" "<unk>" is not in its "vocab"/,
    ],
    [
      {
        type: 'Unigram',
        vocab: [
          ['h', -1],
          ['e', -1],
          ['l', -1],
          ['o', -1],
          ['w', -1],
          ['r', -1],
          ['d', -1],
        ],
        unk_id: null,
      },
      /\("zzz"\), and its model has no "unk_id"/,
    ],
  ];
  for (const [model, message] of refusals) {
    const tok = wordModel(model);
    assert.throws(() => tok.encode(text), message);
    assert.throws(() => tok.encodeWithOffsets(text), message);
  }
  // BPE without unk_token or byte fallback drops characters it lacks, as Hugging Face tokenizers does
  const bpe = wordModel({ type: 'BPE', vocab: { h: 0, e: 1, l: 2, o: 3, w: 4, r: 5, d: 6 }, merges: [] });
  assert.deepEqual(bpe.encode(text), [0, 1, 2, 2, 3, 4, 3, 5, 2, 6]);
});

test('an invalid tokenizer.json gets a message that says what is wrong', () => {
  assert.throws(
    () => huggingFaceTokenizerFromJson('{ nope', 'x', {}, 'a/tokenizer.json'),
    /invalid tokenizer\.json \(a\/tokenizer\.json\): not JSON/,
  );
  assert.throws(() => huggingFaceTokenizerFromJson('[1, 2]', 'x'), /expected a JSON object/);
  assert.throws(
    () => huggingFaceTokenizerFromJson('{"bos_token": "<s>"}', 'x'),
    /no "model" with a "vocab".*tokenizer_config\.json/,
  );
  assert.throws(
    () => huggingFaceTokenizerFromJson('{"model": {"type": "Quantum", "vocab": {"a": 0}}}', 'x'),
    /invalid tokenizer\.json/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-hf-'));
  writeFileSync(join(dir, 'tokenizer.json'), '{"model": 3}');
  assert.throws(() => loadTokenizer(dir), /invalid tokenizer\.json/);
  assert.throws(() => loadTokenizer(join(dir, 'missing.json')), /unknown tokenizer.*no such file/);
  writeFileSync(join(dir, 'notes.txt'), 'hello');
  assert.throws(() => loadTokenizer(join(dir, 'notes.txt')), /is not a tokenizer/);
});

test("character level: tinyshakespeare's vocabulary is nanoGPT's 65 characters", () => {
  const text = readFileSync(
    process.env.LLM_LENS_TINYSHAKESPEARE ?? join('..', 'shared', 'data', 'tinyshakespeare.txt'),
    'utf8',
  );
  const tok = CharTokenizer.fromText(text, 'shakespeare_char');
  // nanoGPT's data/shakespeare_char/prepare.py prints: vocab size: 65, all the unique characters: \n !$&',-.3:;?A…Zabc…z
  assert.equal(tok.vocabSize, 65);
  assert.equal(tok.chars.join(''), "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  assert.deepEqual(tok.encode('hii there'), [46, 47, 47, 1, 58, 46, 43, 56, 43]); // prepare.py's example
  assert.equal(tok.decode(tok.encode(text.slice(0, 2000))), text.slice(0, 2000));
});

test('character level: code points (not UTF-16 units), offsets, save and load, unknown characters', () => {
  const tok = CharTokenizer.fromText('hello 😀');
  assert.deepEqual(tok.chars, [' ', 'e', 'h', 'l', 'o', '😀']);
  assert.deepEqual(tok.encode('hole'), [2, 4, 3, 1]);
  assert.deepEqual(spansOf(tok.encodeWithOffsets('h😀o')), [
    [0, 1],
    [1, 3],
    [3, 4],
  ]);
  assert.deepEqual([...tok.tokenBytes(5)], [0xf0, 0x9f, 0x98, 0x80]);
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-char-'));
  const file = join(dir, 'vocab.char.json');
  writeFileSync(file, tok.toJson());
  assert.equal(tokenizerKind(file), 'char');
  const loaded = loadTokenizer(file);
  assert.deepEqual(loaded.encode('hello 😀'), tok.encode('hello 😀'));
  assert.throws(() => tok.encode('help'), /character "p" \(U\+0070\) at offset 3 is not in the vocabulary/);
  assert.throws(() => CharTokenizer.fromText(''), /no text/);
  writeFileSync(file, JSON.stringify({ format: 'llm-lens-char', version: 9, chars: [] }));
  assert.throws(() => loadTokenizer(file), /format version 9, newer than this LLM Lens reads/);
});
