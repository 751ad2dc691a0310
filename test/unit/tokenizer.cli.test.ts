/** `llm-lens tokenize` and `llm-lens train-tokenizer`, run as the built CLI (node dist/cli.js). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get_encoding, Tiktoken } from 'tiktoken';
import { hardCorpus } from '../fixtures/tokenizer/corpus';
import { wordModelJson } from '../fixtures/tokenizer/wordModel';

const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['dist/cli.js', ...args], { input, encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'llmlens-cli-'));

test('tokenize prints the ids tiktoken gives, from a file or standard input', () => {
  const text = hardCorpus.filter((t) => !t.includes('<|')).join('\n');
  const file = join(dir, 'hard.txt');
  writeFileSync(file, text);
  const ref = get_encoding('o200k_base');
  const expected =
    Array.from(ref.encode(new TextDecoder().decode(Buffer.from(text, 'utf8')))).join(' ') + '\n';
  ref.free();
  const fromFile = cli(['tokenize', '--tokenizer', 'o200k_base', file]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  assert.equal(fromFile.stdout, expected);
  const fromStdin = cli(['tokenize', '-t', 'o200k_base', '-'], readFileSync(file, 'utf8'));
  assert.equal(fromStdin.stdout, expected);
});

test('tokenize --json gives ids, offsets that tile the text, token strings, partial and special tokens', () => {
  const text = 'Hi 🫠<|endoftext|>';
  const r = cli(['tokenize', '--tokenizer', 'cl100k_base', '--json', '--allow-special'], text);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    tokenizer: string;
    count: number;
    ids: number[];
    offsets: Array<[number, number]>;
    tokens: string[];
    partial: number[];
    special: number[];
  };
  const ref = get_encoding('cl100k_base');
  assert.deepEqual(out.ids, Array.from(ref.encode(text, 'all')));
  ref.free();
  assert.equal(out.tokenizer, 'cl100k_base');
  assert.equal(out.count, out.ids.length);
  assert.equal(out.offsets.map(([s, e]) => text.slice(s, e)).join(''), text);
  assert.equal(out.tokens[0], 'Hi');
  assert.deepEqual(out.special, [out.ids.length - 1]);
  assert.ok(out.partial.length >= 2, 'the emoji is split into partial tokens');
});

test('tokenize refuses a disallowed special token, a binary file and an unknown tokenizer, clearly', () => {
  const special = cli(['tokenize', '--tokenizer', 'gpt2'], 'a <|endoftext|> b');
  assert.equal(special.status, 1);
  assert.match(special.stderr, /special token <\|endoftext\|>.*--allow-special/);
  const binary = join(dir, 'blob.bin');
  writeFileSync(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1]));
  assert.match(cli(['tokenize', '--tokenizer', 'gpt2', binary]).stderr, /looks binary/);
  assert.match(
    cli(['tokenize', '--tokenizer', 'gpt5_base'], 'x').stderr,
    /unknown tokenizer 'gpt5_base'.*o200k_base/,
  );
  const usage = cli(['tokenize'], 'x');
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--tokenizer NAME\|PATH is required/);
  assert.match(cli(['--help']).stdout, /llm-lens train-tokenizer --vocab-size N/);
});

test("tokenize and prepare turn an unknown word into the model's unk_token, or fail naming it when there is none", () => {
  const vocab = { hello: 0, world: 1, '[UNK]': 2 };
  const withUnk = join(dir, 'wordlevel-unk.json');
  const withoutUnk = join(dir, 'wordlevel.json');
  writeFileSync(withUnk, wordModelJson({ type: 'WordLevel', vocab, unk_token: '[UNK]' }));
  writeFileSync(withoutUnk, wordModelJson({ type: 'WordLevel', vocab }));
  const text = join(dir, 'words.txt');
  writeFileSync(text, 'hello zzz world\n');
  const known = cli(['tokenize', '--tokenizer', withUnk, text]);
  assert.equal(known.status, 0, known.stderr);
  assert.equal(known.stdout, '0 2 1\n'); // hello [UNK] world
  const unknown = cli(['tokenize', '--tokenizer', withoutUnk, text]);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stdout, '');
  assert.match(
    unknown.stderr,
    /wordlevel\.json: 1 piece\(s\) of the text are not in the vocabulary \("zzz"\)/,
  );
  const out = join(dir, 'prepared');
  const prepare = cli(['prepare', '--tokenizer', withoutUnk, '--out', out, text]);
  assert.equal(prepare.status, 1);
  assert.match(
    prepare.stderr,
    /words\.txt: .*wordlevel\.json: 1 piece\(s\) .*\("zzz"\), and its model has no "unk_token"/,
  );
  assert.ok(!existsSync(out) || !readdirSync(out).some((d) => existsSync(join(out, d, 'meta.json'))));
});

test('train-tokenizer writes a tokenizer that tokenize loads and tiktoken agrees with', () => {
  const a = join(dir, 'a.txt');
  const b = join(dir, 'b.txt');
  writeFileSync(a, 'the quick brown fox jumps over the lazy dog\n'.repeat(50));
  writeFileSync(
    b,
    'pack my box with five dozen liquor jugs; the five boxing wizards jump quickly\n'.repeat(50),
  );
  const out = join(dir, 'mine');
  const r = cli([
    'train-tokenizer',
    '--vocab-size',
    '300',
    '--pattern',
    'gpt2',
    '--special',
    '<|endoftext|>',
    '--out',
    out,
    a,
    b,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /trained mine: 300 tokens \+ 1 special \(gpt2 pattern\)/);
  for (const f of ['llmlens-tokenizer.json', 'tokenizer.tiktoken', 'vocab.txt'])
    assert.ok(existsSync(join(out, f)), f);
  const text = 'the lazy wizards box the quick dog<|endoftext|>';
  const ids = cli(['tokenize', '--tokenizer', out, '--allow-special'], text);
  assert.equal(ids.status, 0, ids.stderr);
  const meta = JSON.parse(readFileSync(join(out, 'llmlens-tokenizer.json'), 'utf8'));
  const ref = new Tiktoken(
    readFileSync(join(out, 'tokenizer.tiktoken'), 'utf8'),
    meta.specialTokens,
    meta.pattern,
  );
  assert.equal(ids.stdout, Array.from(ref.encode(text, 'all')).join(' ') + '\n');
  ref.free();
  const tooBig = cli(['train-tokenizer', '--vocab-size', '5000', '--out', join(dir, 'big'), a]);
  assert.equal(tooBig.status, 1);
  assert.match(tooBig.stderr, /larger than this data allows/);
  assert.match(cli(['train-tokenizer', '--vocab-size', '100', '--out', join(dir, 'x'), a]).stderr, /≥ 256/);
  assert.equal(cli(['train-tokenizer', '--vocab-size', '300', a]).status, 2);
  assert.match(
    cli(['train-tokenizer', '--vocab-size', '300', '--out', join(dir, 'y'), dir]).stderr,
    /is a folder/,
  );
});
