/**
 * bpeToHuggingFaceJson against tiktoken: gpt2, cl100k_base, o200k_base and tokenizers trained here (both
 * split patterns), written as tokenizer.json + tokenizer_config.json and loaded by @huggingface/tokenizers
 * (through this repo's loader) and by transformers.js, must encode a varied text to tiktoken's ids and
 * decode them back to the text.
 *
 * Seeded random strings are checked too. Their random code points include letters from recent Unicode
 * versions that V8's RegExp knows and tiktoken's regex does not (U+3240D, CJK Extension H, is a letter
 * to one and not the other): there both JS libraries split like this repo's own encoder, so a difference
 * from tiktoken is accepted only where that encoder differs from tiktoken the same way.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { get_encoding, Tiktoken } from 'tiktoken';
import { BpeTokenizer } from '../../src/engine/tokenizer/bpe';
import { getEncoding } from '../../src/engine/tokenizer/builtin';
import { loadHuggingFaceTokenizer, type HuggingFaceTokenizer } from '../../src/engine/tokenizer/huggingface';
import {
  GPT2_SPLIT_PATTERN,
  GPT4O_SPLIT_PATTERN,
  GPT4_SPLIT_PATTERN,
  portableSplitPattern,
  toJsRegExp,
} from '../../src/engine/tokenizer/splitPattern';
import { bpeToHuggingFaceJson, huggingFaceTokenizerConfig } from '../../src/engine/tokenizer/toHuggingFace';
import { trainBpe, type SplitPatternName } from '../../src/engine/tokenizer/train';
import {
  loadTrainedTokenizer,
  saveTrainedTokenizer,
  TRAINED_RANKS_FILE,
} from '../../src/engine/tokenizer/trainedFiles';
import { hardCorpus, mulberry32, randomText } from '../fixtures/tokenizer/corpus';

const shakespeare = readFileSync(
  process.env.LLM_LENS_TINYSHAKESPEARE ?? join('..', 'shared', 'data', 'tinyshakespeare.txt'),
  'utf8',
);

const varied = [
  "The quick brown fox jumps over the lazy dog. I'm sure they'll say it's \"fine\" — isn't it?",
  'function add(a, b) {\n\treturn a + b; // sum\n}\n\nconst xs = [1, 2, 3].map((x) => x ** 2);\n',
  'runs:' + ' '.repeat(17) + 'x\n\n\n\n' + '\t'.repeat(5) + 'y   \r\n  \u3000 z' + ' '.repeat(3),
  'numbers 3.14159 2025-01-01 1,234,567 1234567890 0xDEADBEEF 1e-10 ١٢٣٤',
  'emoji 👍🏽 👩🏿‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 ❤️‍🔥',
  'CJK 漢字とカタカナ、ひらがな。中文分词测试：北京欢迎你！한국어 텍스트',
  'first document<|endoftext|>second document <|endoftext|><|endoftext|> end',
].join('\n');

/** The text the reference is compared on: the varied sample, the hard corpus, 20 kB of Shakespeare. */
const fixedTexts = [varied, ...hardCorpus.filter((t) => t.length), shakespeare.slice(0, 20000)];

/** What decode must give back: the text, with lone surrogates as U+FFFD (they have no UTF-8). */
const utf8RoundTrip = (text: string) =>
  new TextDecoder('utf-8', { ignoreBOM: true }).decode(Buffer.from(text, 'utf8'));

interface Converted {
  dir: string;
  hf: HuggingFaceTokenizer;
  tjs: {
    encode(text: string, options: { add_special_tokens: boolean }): number[];
    decode(ids: number[], options?: object): string;
  };
}

/** Converts `tok`, writes the folder, loads it with both libraries; logs the time of each step. */
async function convert(t: TestContext, tok: BpeTokenizer): Promise<Converted> {
  const t0 = performance.now();
  const json = bpeToHuggingFaceJson(tok);
  const convertMs = performance.now() - t0;
  const root = mkdtempSync(join(tmpdir(), 'llm-lens-hf-export-'));
  const dir = join(root, tok.name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'tokenizer.json'), json);
  writeFileSync(join(dir, 'tokenizer_config.json'), huggingFaceTokenizerConfig(tok, 1024));
  const t1 = performance.now();
  const hf = loadHuggingFaceTokenizer(join(dir, 'tokenizer.json'));
  const hfMs = performance.now() - t1;
  const tjsLib = await import('@huggingface/transformers');
  tjsLib.env.allowRemoteModels = false;
  tjsLib.env.localModelPath = root;
  const t2 = performance.now();
  const tjs = (await tjsLib.AutoTokenizer.from_pretrained(tok.name, {
    local_files_only: true,
  })) as unknown as Converted['tjs'];
  const tjsMs = performance.now() - t2;
  t.diagnostic(
    `${tok.name}: converted in ${convertMs.toFixed(0)} ms (${(json.length / 1e6).toFixed(1)} MB); ` +
      `loaded by @huggingface/tokenizers in ${hfMs.toFixed(0)} ms, by transformers.js in ${tjsMs.toFixed(0)} ms`,
  );
  return { dir, hf, tjs };
}

/** Both libraries encode each text to tiktoken's ids (all special tokens allowed) and decode it back. */
function assertMatchesTiktoken(c: Converted, ref: Tiktoken, texts: readonly string[], label: string): void {
  for (const text of texts) {
    const expected = Array.from(ref.encode(text, 'all'));
    const what = `${label} on ${JSON.stringify(text.slice(0, 80))}`;
    assert.deepEqual(
      c.hf.encode(text, { allowedSpecial: 'all' }),
      expected,
      `@huggingface/tokenizers, ${what}`,
    );
    assert.deepEqual(c.tjs.encode(text, { add_special_tokens: false }), expected, `transformers.js, ${what}`);
    assert.equal(c.hf.decode(expected), utf8RoundTrip(text), `@huggingface/tokenizers decode, ${what}`);
    assert.equal(
      c.tjs.decode(expected, { skip_special_tokens: false }),
      utf8RoundTrip(text),
      `transformers.js decode, ${what}`,
    );
  }
}

/** Random strings: both libraries equal tiktoken, or else this repo's encoder, which then differs from tiktoken too (see the file's comment). */
function assertRandomMatch(
  c: Converted,
  ours: BpeTokenizer,
  ref: Tiktoken,
  seed: number,
  count: number,
  t: TestContext,
): void {
  const rand = mulberry32(seed);
  let unicodeVersionDiffs = 0;
  for (let i = 0; i < count; i++) {
    const text = randomText(rand, 1 + Math.floor(rand() * 60));
    const expected = Array.from(ref.encode(text, 'all'));
    const hfIds = c.hf.encode(text, { allowedSpecial: 'all' });
    const what = `${ours.name} on ${JSON.stringify(text)}`;
    assert.deepEqual(
      c.tjs.encode(text, { add_special_tokens: false }),
      hfIds,
      `transformers.js and @huggingface/tokenizers, ${what}`,
    );
    if (JSON.stringify(hfIds) !== JSON.stringify(expected)) {
      const oursIds = ours.encode(text, { allowedSpecial: 'all' });
      assert.deepEqual(hfIds, oursIds, `not tiktoken's ids, nor this repo's encoder's: ${what}`);
      assert.notDeepEqual(oursIds, expected);
      unicodeVersionDiffs++;
    }
    if (hfIds.length) assert.equal(c.hf.decode(hfIds), utf8RoundTrip(text), `decode, ${what}`);
  }
  assert.ok(
    unicodeVersionDiffs <= count / 100,
    `${unicodeVersionDiffs} of ${count} random strings differ from tiktoken`,
  );
  t.diagnostic(
    `${ours.name}: ${count} random strings, ${unicodeVersionDiffs} split differently by V8's and tiktoken's Unicode tables`,
  );
}

for (const name of ['gpt2', 'cl100k_base', 'o200k_base']) {
  test(`${name}: tokenizer.json encodes and decodes like tiktoken in @huggingface/tokenizers and transformers.js`, async (t) => {
    const ours = getEncoding(name);
    const ref = get_encoding(name as Parameters<typeof get_encoding>[0]);
    const c = await convert(t, ours);
    assertMatchesTiktoken(c, ref, fixedTexts, name);
    assertRandomMatch(c, ours, ref, 99 + name.length, 300, t);
    // ids between the ordinary tokens and the special ones are unused (cl100k_base: 100256); the special ids are kept
    for (const [text, id] of ours.specialTokens)
      assert.deepEqual(c.hf.encode(text, { allowedSpecial: 'all' }), [id], text);
    ref.free();
  });
}

for (const pattern of ['gpt4', 'gpt2'] as SplitPatternName[]) {
  test(`a tokenizer trained here (${pattern} pattern), saved and loaded, exports a tokenizer.json that encodes like tiktoken`, async (t) => {
    const trained = await trainBpe(shakespeare.slice(0, 100000), {
      vocabSize: 600,
      pattern,
      specialTokens: ['<|endoftext|>', '<|sep|>'],
      name: `shakespeare-${pattern}`,
    });
    const dir = mkdtempSync(join(tmpdir(), 'llm-lens-hf-export-trained-'));
    saveTrainedTokenizer(dir, trained);
    const ours = loadTrainedTokenizer(dir);
    const ref = new Tiktoken(
      readFileSync(join(dir, TRAINED_RANKS_FILE), 'utf8'),
      Object.fromEntries(trained.specialTokens),
      trained.pattern,
    );
    const c = await convert(t, ours);
    assertMatchesTiktoken(
      c,
      ref,
      [...fixedTexts, 'a<|sep|>b<|endoftext|>', shakespeare.slice(500000, 520000)],
      ours.name,
    );
    assertRandomMatch(c, ours, ref, 7, 300, t);
    const config = JSON.parse(readFileSync(join(c.dir, 'tokenizer_config.json'), 'utf8'));
    assert.deepEqual(config, {
      tokenizer_class: 'PreTrainedTokenizerFast',
      clean_up_tokenization_spaces: false,
      model_max_length: 1024,
      bos_token: '<|endoftext|>',
      eos_token: '<|endoftext|>',
    });
    ref.free();
  });
}

test('o200k_base converts whole: every rank and special token in the vocab, byte-level spelled', () => {
  const enc = getEncoding('o200k_base');
  const json = bpeToHuggingFaceJson(enc);
  const parsed = JSON.parse(json);
  assert.equal(Object.keys(parsed.model.vocab).length, enc.ranks.size + enc.specialTokens.size);
  assert.equal(parsed.model.vocab['Ġthe'], enc.ranks.get(' the'));
  assert.deepEqual(
    parsed.added_tokens.map((a: { content: string; id: number }) => [a.content, a.id]),
    [...enc.specialTokens].sort((a, b) => a[1] - b[1]),
  );
});

test('the split pattern is rewritten without (?i:…) and possessive quantifiers, and matches the same pieces', () => {
  assert.equal(portableSplitPattern("(?i:'s|'ll)|\\s++$"), "(?:'[sS\u017F]|'[lL][lL])|\\s+$");
  assert.equal(
    portableSplitPattern('\\p{L}+|\\p{N}{1,3}+'),
    '\\p{L}+|\\p{N}{1,3}',
    'the } of \\p{L} is no quantifier',
  );
  assert.equal(portableSplitPattern(GPT2_SPLIT_PATTERN), GPT2_SPLIT_PATTERN);
  const rand = mulberry32(5);
  const texts = [...hardCorpus, ...Array.from({ length: 300 }, () => randomText(rand, 40))];
  for (const pattern of [GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, GPT4O_SPLIT_PATTERN]) {
    const portable = portableSplitPattern(pattern);
    assert.doesNotMatch(portable, /\(\?i/);
    for (const text of texts)
      assert.deepEqual(
        text.match(toJsRegExp(portable)),
        text.match(toJsRegExp(pattern)),
        JSON.stringify(text),
      );
  }
  assert.throws(() => portableSplitPattern('(?i:[a-z]+)'), /character class inside \(\?i:…\)/);
});

test('a special token whose text is also an ordinary token cannot be exported', () => {
  const ranks = new Map<string, number>();
  for (let b = 0; b < 256; b++) ranks.set(String.fromCharCode(b), b);
  ranks.set('ab', 256);
  const tok = new BpeTokenizer({
    name: 'clash',
    ranks,
    specialTokens: new Map([['ab', 257]]),
    pattern: GPT2_SPLIT_PATTERN,
  });
  assert.throws(
    () => bpeToHuggingFaceJson(tok),
    /special token ab \(id 257\) is also the text of ordinary token 256/,
  );
  assert.equal(JSON.parse(huggingFaceTokenizerConfig(tok, 64)).eos_token, undefined);
});
