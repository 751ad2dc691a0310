/** llm-lens prepare / train / sample / eval as a person runs them (node dist/cli.js), checked against the engine's recompute path. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { GptInference } from '../../src/engine/model/inference';
import { flagOf } from '../../src/engine/options';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import { loadCheckpointTokenizer } from '../../src/engine/train/runTokenizer';
import type { OptionSpec } from '../../src/protocol/options';
import { TRAIN_OPTIONS } from '../../src/protocol/trainOptions';

const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
/** A model that trains in milliseconds a step. */
const TINY = '--n-layer 1 --n-head 2 --n-embd 16 --block-size 16 --batch-size 4'.split(' ');
/** Each lower-case letter shifted by one: as many characters as the text has, other ones. */
const shiftLetters = (text: string) =>
  text.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 1) % 26) + 97));
const TEXT = 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n'.repeat(
  60,
);

test('train prints nanoGPT-like lines and saves a checkpoint; sample --json at temperature 0 equals greedy recompute; eval prints both splits', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  fs.writeFileSync(path.join(dir, 'input.txt'), TEXT);
  const train = cli(
    dir,
    'train',
    '--data',
    'input.txt',
    ...TINY,
    '--max-iters',
    '12',
    '--eval-interval',
    '6',
    '--eval-iters',
    '2',
    '--sample-tokens',
    '20',
    '--log-interval',
    '4',
    '--threads',
    '1',
    '--run-dir',
    'runs/r',
  );
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /^iter 4: loss \d+\.\d{4}, time \d+(\.\d)?ms, lr \d\.\d\de-\d, \d+ tok\/s/m);
  assert.match(train.stdout, /^step 6: train loss \d+\.\d{4}, val loss \d+\.\d{4}$/m);
  assert.match(train.stdout, /--- sample at step 12 ---/);
  assert.match(train.stdout, /^finished at step 12/m);
  const ckpt = path.join(dir, 'runs', 'r', 'checkpoints', 'step-12');
  assert.ok(fs.existsSync(path.join(ckpt, 'model.safetensors')));

  const sample = cli(
    dir,
    'sample',
    '--checkpoint',
    ckpt,
    '--prompt',
    'To be',
    '--max-tokens',
    '24',
    '--temperature',
    '0',
    '--json',
    '--top',
    '3',
  );
  assert.equal(sample.status, 0, sample.stderr);
  const out = JSON.parse(sample.stdout) as {
    text: string;
    tokens: { id: number; top: { id: number; p: number }[] }[];
  };
  assert.equal(out.tokens.length, 24);
  // reference: greedy decoding by recomputing the whole context each token (no KV cache)
  const c = await loadCheckpoint(ckpt);
  const tok = loadCheckpointTokenizer(ckpt);
  const m = await GptInference.create(c.config, c.weights, { threads: 1 });
  const greedy = await m.generate(tok.encode('To be'), 24, { temperature: 0 }, () => 0);
  await m.release();
  assert.deepEqual(
    out.tokens.map((t) => t.id),
    greedy,
  );
  assert.equal(out.text, tok.decode(greedy));
  for (const t of out.tokens) assert.equal(t.top[0].id, t.id);

  const data = fs.readdirSync(path.join(dir, 'runs', '..', 'data'))[0];
  const ev = cli(
    dir,
    'eval',
    '--checkpoint',
    ckpt,
    '--data',
    path.join('data', data),
    '--iters',
    '2',
    '--batch-size',
    '2',
  );
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /^train loss \d+\.\d{4}\nval loss \d+\.\d{4}\n$/);
});

test('train refuses bad input with a clear message and a non-zero exit', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  fs.writeFileSync(path.join(dir, 'tiny.txt'), 'hello\n');
  const r = cli(
    dir,
    'train',
    '--data',
    'tiny.txt',
    '--block-size',
    '64',
    '--max-iters',
    '2',
    '--run-dir',
    'runs/x',
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not more than one block \(64\)/);
  const u = cli(dir, 'train');
  assert.equal(u.status, 2);
  assert.match(u.stderr, /give training text/);
  const s = cli(dir, 'sample', '--checkpoint', path.join(dir, 'nope'));
  assert.equal(s.status, 1);
  assert.match(s.stderr, /nope does not exist/);
});

test("resume and init-from encode the data with the checkpoint's tokenizer, and refuse data or a tokenizer it cannot take", () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  const train = (args: string) =>
    cli(
      dir,
      'train',
      ...TINY,
      ...'--eval-iters 0 --sample-tokens 0 --threads 1'.split(' '),
      ...args.split(' '),
    );
  fs.writeFileSync(path.join(dir, 'a.txt'), TEXT);
  const first = train('--data a.txt --max-iters 4 --run-dir runs/r');
  assert.equal(first.status, 0, first.stderr);
  const ckpt = path.join('runs', 'r', 'checkpoints', 'step-4');

  // the issue's case: as many characters, other ones (each lower-case letter shifted by one)
  const shifted = shiftLetters(TEXT);
  assert.equal(new Set(shifted).size, new Set(TEXT).size);
  fs.writeFileSync(path.join(dir, 'b.txt'), shifted);
  const lacking = [...new Set(shifted)].filter((c) => !TEXT.includes(c)).sort();
  for (const how of [`--resume ${ckpt} --max-iters 8`, `--init-from ${ckpt} --max-iters 4`]) {
    const r = train(`--data b.txt ${how} --run-dir runs/b`);
    assert.equal(r.status, 1, how);
    assert.match(
      r.stderr,
      new RegExp(
        `the training data has ${lacking.length} character\\(s\\) that the vocabulary of ${ckpt.replace(/\\/g, '\\\\')} lacks: "${lacking[0]}" \\(U\\+00[0-9A-F]{2}, in b\\.txt\\)`,
      ),
    );
  }

  // fewer characters than the checkpoint's: the data is encoded with its vocabulary, ids as in training
  const part = 'To be, or not to be\n'.repeat(40);
  fs.writeFileSync(path.join(dir, 'part.txt'), part);
  const resumed = train(`--data part.txt --resume ${ckpt} --max-iters 8 --run-dir runs/r`);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /^finished at step 8/m);
  const vocabFile = path.join(dir, ckpt, 'vocab.char.json');
  const vocab = JSON.parse(fs.readFileSync(vocabFile, 'utf8')) as { chars: string[] };
  const dataDir = fs
    .readdirSync(path.join(dir, 'data'))
    .map((d) => path.join(dir, 'data', d))
    .find((d) => fs.readFileSync(path.join(d, 'meta.json'), 'utf8').includes('part.txt'))!;
  const ids = Buffer.concat(['train.bin', 'val.bin'].map((f) => fs.readFileSync(path.join(dataDir, f))));
  const decoded = Array.from(
    new Uint16Array(ids.buffer, ids.byteOffset, ids.length / 2),
    (id) => vocab.chars[id],
  );
  assert.equal(decoded.join(''), part);
  const saved = path.join(dir, 'runs', 'r', 'checkpoints', 'step-8', 'vocab.char.json');
  assert.deepEqual(fs.readFileSync(saved), fs.readFileSync(vocabFile));

  const gpt2 = train(`--data a.txt --tokenizer gpt2 --resume ${ckpt} --run-dir runs/r`);
  assert.equal(gpt2.status, 1);
  assert.match(
    gpt2.stderr,
    /trained with the tokenizer char \(\d+ ids\), and this run asks for gpt2 \(50257 ids\).*--tokenizer char/,
  );
});

test("eval refuses a dataset prepared with another tokenizer than the checkpoint's, and says how to prepare it", () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  fs.writeFileSync(path.join(dir, 'a.txt'), TEXT);
  const quiet = '--eval-iters 0 --sample-tokens 0 --threads 1 --max-iters 2'.split(' ');
  const first = cli(dir, 'train', ...TINY, ...quiet, '--data', 'a.txt', '--run-dir', 'runs/r');
  assert.equal(first.status, 0, first.stderr);
  const ckpt = path.join('runs', 'r', 'checkpoints', 'step-2');
  // as many characters as a.txt, other ones: its own vocabulary has the checkpoint's size, not its meaning
  fs.writeFileSync(path.join(dir, 'b.txt'), shiftLetters(TEXT));
  assert.equal(new Set(shiftLetters(TEXT)).size, new Set(TEXT).size);
  const prepared = (args: string[]) => {
    const r = cli(dir, 'prepare', '--out', 'prepared', ...args);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n')[0];
  };
  const own = prepared(['b.txt']);
  const refused = cli(dir, 'eval', '--checkpoint', ckpt, '--data', own, '--iters', '1');
  assert.equal(refused.status, 1);
  const vocab = path.join(ckpt, 'vocab.char.json');
  assert.match(refused.stderr, /was prepared with another tokenizer \(char:[0-9a-f]{16} in its meta\.json\)/);
  assert.ok(refused.stderr.includes(`llm-lens prepare --tokenizer ${vocab} FILES`), refused.stderr);
  // prepared as it says, the same text the run trained on evaluates
  const same = prepared(['--tokenizer', vocab, 'a.txt']);
  const ok = cli(dir, 'eval', '--checkpoint', ckpt, '--data', same, '--iters', '1', '--batch-size', '2');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^train loss \d+\.\d{4}\nval loss \d+\.\d{4}\n$/);
});

test('a tokenizer.json of another name is saved beside checkpoints as tokenizer.json, where sample and resume find it', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  fs.copyFileSync(
    path.resolve('test/fixtures/tokenizer/wordpiece/tokenizer.json'),
    path.join(dir, 'bert.json'),
  );
  fs.writeFileSync(path.join(dir, 'w.txt'), 'hello world, the unaffable!\n'.repeat(100));
  const quiet = '--eval-iters 0 --sample-tokens 0 --threads 1 --tokenizer bert.json --data w.txt'.split(' ');
  const train = cli(dir, 'train', ...TINY, ...quiet, '--max-iters', '2', '--run-dir', 'runs/r');
  assert.equal(train.status, 0, train.stderr);
  const ckpt = path.join(dir, 'runs', 'r', 'checkpoints', 'step-2');
  assert.deepEqual(
    fs.readFileSync(path.join(ckpt, 'tokenizer.json')),
    fs.readFileSync(path.join(dir, 'bert.json')),
  );
  const sample = cli(dir, 'sample', '--checkpoint', ckpt, '--max-tokens', '3', '--json');
  assert.equal(sample.status, 0, sample.stderr);
  assert.equal((JSON.parse(sample.stdout) as { tokens: unknown[] }).tokens.length, 3);
  const resume = cli(
    dir,
    'train',
    ...TINY,
    ...quiet,
    '--max-iters',
    '3',
    '--run-dir',
    'runs/r',
    '--resume',
    ckpt,
  );
  assert.equal(resume.status, 0, resume.stderr);
});

test('train refuses an interval or count that is not a whole number, before anything runs', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  fs.writeFileSync(path.join(dir, 'input.txt'), TEXT);
  for (const flag of [
    'eval-interval',
    'checkpoint-interval',
    'sample-interval',
    'log-interval',
    'steps-per-run',
    'max-iters',
    'keep-checkpoints',
  ]) {
    // the old CLI took 0.5 and evaluated, sampled and rewrote step-0 forever: the timeout ends it
    const r = spawnSync(
      process.execPath,
      [CLI, 'train', 'input.txt', '--run-dir', 'runs/x', '--max-iters', '4', `--${flag}`, '0.5'],
      { cwd: dir, encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(r.status, 2, `--${flag} 0.5: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`^llm-lens: train: --${flag} must be a whole number ≥ \\d, got 0\\.5$`, 'm'),
    );
    assert.ok(!fs.existsSync(path.join(dir, 'runs')), `--${flag} 0.5: nothing runs`);
  }
});

test('train --help lists every option of the table with its default', () => {
  const r = cli(tmpdir(), 'train', '--help');
  assert.equal(r.status, 0, r.stderr);
  for (const [k, s] of Object.entries(TRAIN_OPTIONS) as [string, OptionSpec][]) {
    const flag = flagOf(k, s)!;
    const shown = s.type === 'bool' && !flag.startsWith('no-') ? `--[no-]${flag}` : `--${flag}`;
    assert.match(r.stdout, new RegExp(`^  ${shown.replace(/[[\]]/g, '\\$&')}\\b`, 'm'), `${k} is listed`);
  }
  assert.match(
    r.stdout,
    /^ {2}--max-iters N +Optimizer steps\. A whole number ≥ 1; default: the preset's\.$/m,
  );
  // long lines wrap under the doc column
  assert.match(r.stdout, /^ {2}--keep-checkpoints N +Keep the last N .*;\s+default: 3\.$/ms);
});

test('train --config takes a run file as the extension does: one path for data, saveInitial, paths relative to it', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  fs.mkdirSync(path.join(dir, 'conf'));
  fs.writeFileSync(path.join(dir, 'conf', 'input.txt'), TEXT);
  const file = path.join(dir, 'conf', 'tiny.llmlens.json');
  const run = {
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    blockSize: 16,
    batchSize: 4,
    maxIters: 4,
    checkpointInterval: 4,
  };
  fs.writeFileSync(file, JSON.stringify({ data: 'input.txt', saveInitial: true, sampleTokens: 0, ...run }));
  const r = cli(dir, 'train', '--config', file, '--run-dir', 'runs/c', '--threads', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^finished at step 4/m);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'runs', 'c', 'checkpoints')).sort(), ['step-0', 'step-4']);
  fs.writeFileSync(file, JSON.stringify({ data: 'input.txt', maxIters: 0, evalInterval: 2.5 }));
  const bad = cli(dir, 'train', '--config', file);
  assert.equal(bad.status, 1);
  assert.match(
    bad.stderr,
    /tiny\.llmlens\.json: "maxIters" must be a whole number ≥ 1, got 0; "evalInterval" must be a whole number ≥ 0, got 2\.5/,
  );
});

test('sample and eval refuse out-of-range options before loading anything', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-'));
  const refused: [string[], string][] = [
    [['--min-p', '2'], '--min-p must be a number ≥ 0 and ≤ 1, got 2'], // picked the last token every time
    [['--top-p', '0'], '--top-p must be a number > 0 and ≤ 1, got 0'],
    [['--top-p', '1.5'], '--top-p must be a number > 0 and ≤ 1, got 1.5'],
    [['--top-k', '-1'], '--top-k must be a whole number ≥ 0 and ≤ 10000000, got -1'],
    [['--max-tokens', '0'], '--max-tokens must be a whole number ≥ 1, got 0'],
    [['--num-samples', '0'], '--num-samples must be a whole number ≥ 1, got 0'],
    [['--temperature', '-1'], '--temperature must be a number ≥ 0 and ≤ 10, got -1'],
  ];
  for (const [args, message] of refused) {
    const r = cli(dir, 'sample', '--checkpoint', 'nowhere', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^llm-lens: sample: ${message.replace(/[.+]/g, '\\$&')}$`, 'm'));
  }
  const e = cli(dir, 'eval', '--checkpoint', 'nowhere', '--data', 'nowhere', '--iters', '0'); // printed NaN
  assert.equal(e.status, 2, e.stderr);
  assert.match(e.stderr, /^llm-lens: eval: --iters must be a whole number ≥ 1, got 0$/m);
});
