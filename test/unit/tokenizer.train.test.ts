/**
 * The BPE trainer against a naive reference (test/fixtures/tokenizer/naiveBpe.ts: recount every pair after every merge, same
 * tie rule), round trips of trained tokenizers through their files, and the `tiktoken` package given
 * the same ranks agreeing with our encoder.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tiktoken } from 'tiktoken';
import {
  trainBpe,
  trainedTokenizer,
  VocabTooLargeError,
  type TrainedBpe,
} from '../../src/engine/tokenizer/train';
import {
  loadTrainedTokenizer,
  saveTrainedTokenizer,
  TRAINED_META_FILE,
  TRAINED_RANKS_FILE,
  TRAINED_VOCAB_FILE,
} from '../../src/engine/tokenizer/trainedFiles';
import { loadTokenizer } from '../../src/engine/tokenizer/load';
import type { TokenizerProgress } from '../../src/engine/tokenizer/tokenizer';
import { base64Blob, hardCorpus, minifiedJs, mulberry32, randomText } from '../fixtures/tokenizer/corpus';
import { naiveTrain } from '../fixtures/tokenizer/naiveBpe';

/** The project's shared data folder sits beside the repository (../shared/data), as in the benchmarks. */
const shakespeare = readFileSync(
  process.env.LLM_LENS_TINYSHAKESPEARE ?? join('..', 'shared', 'data', 'tinyshakespeare.txt'),
  'utf8',
);

test('the worked example of train.ts: ties go to the smallest pair of ids', async () => {
  const t = await trainBpe('aaab aaab', { vocabSize: 258 });
  assert.deepEqual(t.merges, [
    [97, 97],
    [97, 98],
  ]); // computed by hand in train.ts's doc comment
  assert.deepEqual(naiveTrain('aaab aaab', 258, 'gpt4').merges, t.merges);
});

test('merges equal the naive reference on small seeded corpora (overlaps, ties, both patterns, special tokens)', async () => {
  const rand = mulberry32(42);
  const corpora: Array<[string, number, 'gpt4' | 'gpt2', string[]]> = [];
  for (let i = 0; i < 12; i++) {
    const alphabet = ['a', 'b', 'a', 'aa', ' ', ' a', 'ab', 'c', '\n', "'s", '1', '.'].slice(0, 3 + (i % 10));
    let text = '';
    const n = 50 + Math.floor(rand() * 400);
    for (let k = 0; k < n; k++) text += alphabet[Math.floor(rand() * alphabet.length)];
    corpora.push([text, 256 + 10 + Math.floor(rand() * 40), i % 2 ? 'gpt2' : 'gpt4', []]);
  }
  corpora.push([Array.from({ length: 30 }, () => randomText(rand, 20)).join(' '), 320, 'gpt4', []]);
  corpora.push([
    'a<|endoftext|>aaa bbb<|endoftext|>ab ab ab<|sep|>abab',
    262,
    'gpt4',
    ['<|endoftext|>', '<|sep|>'],
  ]);
  for (const [text, vocabSize, pattern, specials] of corpora) {
    let expected: Array<[number, number]>;
    try {
      expected = naiveTrain(text, vocabSize, pattern, specials).merges;
    } catch {
      await assert.rejects(
        trainBpe(text, { vocabSize, pattern, specialTokens: specials }),
        VocabTooLargeError,
      );
      continue;
    }
    const t = await trainBpe(text, { vocabSize, pattern, specialTokens: specials });
    assert.deepEqual(
      t.merges,
      expected,
      `${pattern} vocab ${vocabSize} on ${JSON.stringify(text.slice(0, 60))}`,
    );
    assert.deepEqual(
      [...t.specialTokens],
      specials.map((s, i) => [s, vocabSize + i]),
    );
  }
});

test('merges equal the naive reference on 20 kB of Shakespeare, GPT-4 and GPT-2 patterns', async () => {
  const text = shakespeare.slice(0, 20000);
  for (const pattern of ['gpt4', 'gpt2'] as const) {
    const t = await trainBpe(text, { vocabSize: 256 + 150, pattern });
    assert.deepEqual(t.merges, naiveTrain(text, 256 + 150, pattern).merges, pattern);
  }
});

test('every trained token has distinct bytes (tiktoken rank files need it), and each merge is its two parents', async () => {
  // The trainer skips a pair whose bytes already are a token; in our searches no corpus ever produced
  // one (a merge order fixes how each byte string splits), the naive reference applies the same rule.
  const t = await trainedOnShakespeare();
  assert.equal(new Set(t.vocab).size, t.vocab.length);
  t.merges.forEach(([a, b], i) => assert.equal(t.vocab[256 + i], t.vocab[a] + t.vocab[b]));
});

let shakespeareTokenizer: Promise<TrainedBpe> | undefined;
const trainedOnShakespeare = () =>
  (shakespeareTokenizer ??= trainBpe(shakespeare, {
    vocabSize: 1024,
    specialTokens: ['<|endoftext|>'],
    name: 'shakespeare',
  }));

test('decode(encode(x)) == x on random text, including text made of random bytes', async () => {
  const tok = trainedTokenizer(await trainedOnShakespeare());
  const rand = mulberry32(3);
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(rand() * 100) }, () => Math.floor(rand() * 256));
    const text = i % 2 ? decoder.decode(bytes) : randomText(rand, 30).replace(/[\uD800-\uDFFF]/g, '');
    const ids = tok.encode(text);
    assert.equal(tok.decode(ids), text);
    assert.deepEqual(Buffer.from(tok.decodeBytes(ids)), Buffer.from(text, 'utf8'));
  }
});

test('a trained tokenizer round-trips through its files, and tiktoken given the same ranks agrees', async () => {
  const trained = await trainedOnShakespeare();
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-tok-'));
  saveTrainedTokenizer(dir, trained);
  const loaded = loadTrainedTokenizer(dir);
  const viaLoad = loadTokenizer(dir);
  const original = trainedTokenizer(trained);
  assert.equal(loaded.vocabSize, 1025);
  assert.deepEqual([...loaded.specialTokens], [['<|endoftext|>', 1024]]);
  const ranksText = readFileSync(join(dir, TRAINED_RANKS_FILE), 'utf8');
  assert.match(ranksText.split('\n')[32], /^IA== 32$/);
  const vocabText = readFileSync(join(dir, TRAINED_VOCAB_FILE), 'utf8');
  assert.ok(vocabText.includes(`[ ][t] -> [ t] 256`), vocabText.slice(0, 300));
  const meta = JSON.parse(readFileSync(join(dir, TRAINED_META_FILE), 'utf8'));
  const ref = new Tiktoken(ranksText, meta.specialTokens, meta.pattern);
  const rand = mulberry32(11);
  const texts = [
    shakespeare.slice(50000, 70000),
    ...hardCorpus,
    ...Array.from({ length: 200 }, () => randomText(rand, 40)),
  ];
  for (const text of texts) {
    const ids = original.encode(text, { disallowedSpecial: new Set() });
    assert.deepEqual(loaded.encode(text, { disallowedSpecial: new Set() }), ids);
    assert.deepEqual(viaLoad.encode(text, { disallowedSpecial: new Set() }), ids);
    assert.deepEqual(Array.from(ref.encode(text, [], [])), ids, JSON.stringify(text.slice(0, 60)));
  }
  const withSpecial = 'To be<|endoftext|>or not';
  assert.deepEqual(
    loaded.encode(withSpecial, { allowedSpecial: 'all' }),
    Array.from(ref.encode(withSpecial, 'all')),
  );
  ref.free();
});

test('loading a tokenizer folder written by a newer version, or damaged, says what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-tok-'));
  saveTrainedTokenizer(dir, await trainBpe('hello hello world', { vocabSize: 260 }));
  const metaFile = join(dir, TRAINED_META_FILE);
  const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  writeFileSync(metaFile, JSON.stringify({ ...meta, version: 2 }));
  assert.throws(
    () => loadTrainedTokenizer(dir),
    /format version 2, newer than this LLM Lens reads \(1\); update LLM Lens, or retrain/,
  );
  writeFileSync(metaFile, JSON.stringify({ ...meta, format: 'something-else' }));
  assert.throws(() => loadTrainedTokenizer(dir), /not an LLM Lens tokenizer/);
  writeFileSync(metaFile, '{ not json');
  assert.throws(() => loadTrainedTokenizer(dir), /not valid JSON/);
  writeFileSync(metaFile, JSON.stringify(meta));
  writeFileSync(join(dir, TRAINED_RANKS_FILE), 'IA== 32\n!!! x\n');
  assert.throws(() => loadTrainedTokenizer(dir), /tokenizer\.tiktoken:2: expected "base64 rank"/);
});

test('bad input: vocab below 256, vocab larger than the data allows, empty data', async () => {
  await assert.rejects(trainBpe('hello', { vocabSize: 100 }), /vocab size must be an integer ≥ 256/);
  await assert.rejects(trainBpe('', { vocabSize: 300 }), /no training text/);
  await assert.rejects(
    trainBpe('<|endoftext|>', { vocabSize: 300, specialTokens: ['<|endoftext|>'] }),
    /no training text/,
  );
  // 'ab ab' has chunks 'ab', ' ab': merges ab, then ' ' + ab, then nothing is left: at most 258 ids.
  const err = await trainBpe('ab ab', { vocabSize: 300 }).then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof VocabTooLargeError);
  assert.equal(err.maxVocabSize, 258);
  assert.match(err.message, /larger than this data allows.*at most 258/);
  await assert.rejects(trainBpe('x', { vocabSize: 300, pattern: 'gpt3' as 'gpt2' }), /unknown split pattern/);
});

test('progress events and AbortSignal', async () => {
  const events: TokenizerProgress[] = [];
  await trainBpe(shakespeare.slice(0, 200000), { vocabSize: 700, onProgress: (p) => events.push(p) });
  const merging = events.filter((e) => e.stage === 'merging');
  assert.ok(events.some((e) => e.stage === 'counting' && e.done === e.total));
  assert.ok(merging.length >= 50);
  for (let i = 1; i < merging.length; i++) assert.ok(merging[i].done >= merging[i - 1].done);
  assert.equal(merging[merging.length - 1].done, 444);
  const before = new AbortController();
  before.abort();
  await assert.rejects(trainBpe(shakespeare, { vocabSize: 4096, signal: before.signal }), {
    name: 'AbortError',
  });
  const during = new AbortController();
  let last = 0;
  await assert.rejects(
    trainBpe(shakespeare, {
      vocabSize: 4096,
      signal: during.signal,
      onProgress: (p) => {
        last = p.done;
        if (p.stage === 'merging' && p.done > 500) during.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.ok(last < 3840, `training went on to ${last} merges after the abort`);
});

// Training time on these inputs is measured in bench/tokenizer.bench.ts, not here.
test('training on 1 MB of base64, of minified code and of one letter completes with the asked vocabulary', async () => {
  const rand = mulberry32(8);
  const inputs = [
    ['base64', base64Blob(rand, 1 << 20)],
    ['minified', minifiedJs(rand, 1 << 20)],
  ] as const;
  for (const [label, text] of inputs) {
    const vocabSize = 2048;
    const t = await trainBpe(text, { vocabSize });
    assert.equal(t.vocab.length, vocabSize, label);
    const tok = trainedTokenizer(t);
    assert.equal(tok.decode(tok.encode(text)), text, label);
  }
  const err = await trainBpe('a'.repeat(1 << 20), { vocabSize: 4096 }).catch((e: unknown) => e);
  assert.ok(err instanceof VocabTooLargeError, String(err));
  // 2^20 letters in one chunk: merges a+a, aa+aa, … down to one token of 2^20 bytes: 20 merges.
  assert.equal(err.maxVocabSize, 256 + 20);
});
