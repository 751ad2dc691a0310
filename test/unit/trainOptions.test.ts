/**
 * The option tables (src/protocol/trainOptions.ts): the command line, run files, the JSON schema and
 * prepareRun's defaults all come from them, so they cannot drift apart.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PRESETS } from '../../src/engine/model/presets';
import { flagOf, parseFlags } from '../../src/engine/options';
import { BUILTIN_ENCODINGS } from '../../src/engine/tokenizer/builtin';
import { prepareRun } from '../../src/engine/train/runConfig';
import { parseRunFileOptions, runFileSchema } from '../../src/engine/train/runFile';
import type { OptionSpec } from '../../src/protocol/options';
import { PRESET_NAMES, TOKENIZER_NAMES, TRAIN_OPTIONS } from '../../src/protocol/trainOptions';

const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-options-'));

test('the tables name the presets and built-in tokenizers the engine has', () => {
  assert.deepEqual(
    [...PRESET_NAMES],
    PRESETS.map((p) => p.name),
  );
  assert.deepEqual([...TOKENIZER_NAMES], ['char', ...BUILTIN_ENCODINGS]);
});

test('media/llmlens.schema.json is the schema made from the table', () => {
  const committed = JSON.parse(fs.readFileSync('media/llmlens.schema.json', 'utf8')) as unknown;
  assert.deepEqual(
    committed,
    runFileSchema(),
    'media/llmlens.schema.json differs from the option table: run npm run gen:schema',
  );
});

/** A valid value of an option that is not its default, chosen from its range. */
function someValue(name: string, s: OptionSpec): unknown {
  switch (s.type) {
    case 'int':
      return (s.min ?? 0) + 2;
    case 'num':
      return (s.min ?? s.gt ?? 0) + 0.5;
    case 'bool':
      return true;
    case 'enum':
      return s.values![1];
    case 'list':
      return ['a.txt', 'b.txt'];
    case 'str':
      return s.names?.[1] ?? (s.pattern ? 'run-1' : `some ${name}`);
  }
}

test('every option a run file takes, the command line takes too, and both read the same value', () => {
  const dir = tmp();
  for (const f of ['a.txt', 'b.txt']) fs.writeFileSync(path.join(dir, f), 'text\n');
  const file = path.join(dir, 'r.llmlens.json');
  const flags = new Set<string>();
  for (const [k, s] of Object.entries(TRAIN_OPTIONS) as [string, OptionSpec][]) {
    const v = someValue(k, s);
    const flag = flagOf(k, s);
    assert.ok(flag, `${k} has a flag`);
    assert.ok(!flags.has(flag), `--${flag} is the flag of one option`);
    flags.add(flag);
    const args = s.type === 'bool' ? [`--${flag}`] : [v].flat().flatMap((x) => [`--${flag}`, String(x)]);
    const cli = parseFlags(args, TRAIN_OPTIONS);
    assert.deepEqual(cli.problems, [], k);
    assert.deepEqual((cli.values as Record<string, unknown>)[k], v, `--${flag}`);
    if (s.file === false) {
      assert.throws(
        () => parseRunFileOptions(JSON.stringify({ data: 'a.txt', [k]: v }), file),
        new RegExp(`"${k}" is not a run-file field \\(it is --${flag} of llm-lens train\\)`),
      );
      continue;
    }
    const fromFile: Record<string, unknown> = parseRunFileOptions(
      JSON.stringify({ data: 'a.txt', [k]: v }),
      file,
    );
    // paths are relative to the run file, names (char, gpt2, …) are not paths
    const resolve = (x: unknown) => (s.names?.includes(x as string) ? x : path.join(dir, x as string));
    const expected = [v].flat().map((x) => (s.path ? resolve(x) : x));
    assert.deepEqual(fromFile[k], Array.isArray(v) ? expected : expected[0], `"${k}" in a run file`);
  }
});

test('command-line flags: whole numbers only where the table says so, --no- switches, lists, every problem', () => {
  const ok = parseFlags(
    ['--max-iters=20', '--lr', '3e-4', '--no-decay', '--bias', '--data', 'a', '--data', 'b', 'c'],
    TRAIN_OPTIONS,
  );
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.values, { maxIters: 20, lr: 3e-4, decayLr: false, bias: true, data: ['a', 'b'] });
  assert.deepEqual(ok.rest, ['c']);
  const bad = parseFlags(
    [
      '--eval-interval',
      '0.5',
      '--max-iters',
      '0',
      '--lr',
      'fast',
      '--top-k',
      '-1',
      '--colour',
      'red',
      '--seed',
    ],
    TRAIN_OPTIONS,
  );
  assert.deepEqual(bad.problems, [
    '--eval-interval must be a whole number ≥ 0, got 0.5',
    '--max-iters must be a whole number ≥ 1, got 0',
    '--lr must be a number > 0, got fast',
    '--top-k must be a whole number ≥ 0 and ≤ 10000000, got -1',
    'unknown option --colour',
    '--seed needs a value',
  ]);
});

test("prepareRun fills every option's default: the fixed ones from the table, the others from the preset", async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'in.txt'), 'To be, or not to be, that is the question.\n'.repeat(40));
  const { config } = await prepareRun(
    {
      data: [path.join(dir, 'in.txt')],
      tokenizer: 'char',
      preset: 'tiny',
      device: 'cpu',
      runDir: path.join(dir, 'runs', 'r'),
      dataCacheDir: path.join(dir, 'data'),
      maxIters: 40,
      sampleInterval: 7,
    },
    () => undefined,
  );
  // tiny: batch 12, lr 1e-3, min 1e-4, warmup 100, beta2 0.99, weight decay 0.1, eval every 250, 20 batches
  const { dataDir, tokenizerFiles, ...rest } = config;
  assert.ok(fs.existsSync(path.join(dataDir, 'train.bin')));
  assert.equal(tokenizerFiles.length, 1);
  assert.deepEqual(rest, {
    runDir: path.join(dir, 'runs', 'r'),
    tokenizerId: 'char',
    model: { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, bias: true },
    stage: 'pretrain',
    answerPrompts: 3,
    device: 'cpu',
    batchSize: 12,
    gradAccum: 1,
    maxIters: 40,
    lr: 1e-3,
    minLr: 1e-4,
    warmupIters: 4, // at most maxIters / 10
    lrDecayIters: 40,
    decayLr: true,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.99,
    gradClip: 1,
    evalInterval: 10, // at most maxIters / 4
    evalIters: 20,
    sampleInterval: 7,
    sampleTokens: 200,
    prompt: '\n',
    temperature: 0.8,
    topK: 200,
    checkpointInterval: 10,
    keepCheckpoints: 3,
    seed: 1337,
  });
});
