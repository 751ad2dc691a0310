/**
 * The walkthrough's sample workspace, read back by the engine's own readers: the run file (and the
 * shipped JSON schema, by ajv), the conversations, the RL task file and the character vocabulary; the
 * corpus trains with the tiny preset from a loss of about ln(vocabulary size), as a model that knows
 * nothing yet guesses every character alike; a folder with files is refused, naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import Ajv from 'ajv';
import { readConversations, type Conversation } from '../../src/engine/chat/conversation';
import { readTaskFile, rlTask } from '../../src/engine/rl/rlTasks';
import { loadTokenizer } from '../../src/engine/tokenizer/load';
import { readRunFileOptions } from '../../src/engine/train/runFile';
import { stepOfRun } from '../../src/engine/walkthrough/runProgress';
import {
  PRETRAIN_STEPS,
  SAMPLE_FILES,
  isSampleWorkspace,
  writeSampleWorkspace,
} from '../../src/engine/walkthrough/sampleWorkspace';
import type { RunEvent } from '../../src/protocol/training';

const CORPUS = path.resolve('media/walkthrough/shakespeare.txt');
const CLI = path.resolve('dist/cli.js');
let dir: string;
let written: string[];

before(() => {
  dir = path.join(fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-sample-')), 'sample');
  written = writeSampleWorkspace(dir, CORPUS);
});

async function conversations(file: string): Promise<Conversation[]> {
  const out: Conversation[] = [];
  for await (const c of readConversations(path.join(dir, file))) out.push(c);
  return out;
}

test('the shipped corpus is Shakespeare, about 200 KB, copied as it is', () => {
  const text = fs.readFileSync(CORPUS, 'utf8');
  assert.ok(text.length > 150_000 && text.length < 250_000, `${text.length} characters`);
  assert.ok(text.startsWith('First Citizen:\nBefore we proceed any further, hear me speak.'));
  assert.equal(fs.readFileSync(path.join(dir, SAMPLE_FILES.corpus), 'utf8'), text);
});

test('every file is written, and the folder is known as a sample by its marker', () => {
  assert.deepEqual(written.slice().sort(), Object.values(SAMPLE_FILES).slice().sort());
  for (const f of written) assert.ok(fs.statSync(path.join(dir, f)).size > 0, f);
  assert.equal(isSampleWorkspace(dir), true);
  assert.equal(isSampleWorkspace(path.dirname(dir)), false);
  assert.match(fs.readFileSync(path.join(dir, SAMPLE_FILES.strawberry), 'utf8'), /\bstrawberry\b/);
});

test('the run file passes the shipped JSON schema and the engine’s run-file reader', () => {
  const file = path.join(dir, SAMPLE_FILES.pretrain);
  const schema = JSON.parse(fs.readFileSync('media/llmlens.schema.json', 'utf8')) as object;
  const validate = new Ajv({ allErrors: true }).compile(schema);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  assert.ok(validate(json), JSON.stringify(validate.errors));
  const o = readRunFileOptions(file);
  assert.deepEqual(o.data, [path.join(dir, SAMPLE_FILES.corpus)]);
  assert.equal(o.tokenizer, path.join(dir, SAMPLE_FILES.vocab));
  assert.equal(o.preset, 'tiny');
  assert.equal(o.maxIters, PRETRAIN_STEPS);
});

test('chat.jsonl and tools.jsonl read without error; tools.jsonl calls the calculator and python', async () => {
  const chat = await conversations(SAMPLE_FILES.chat);
  assert.equal(chat.length, 600);
  const text = (c: Conversation) => c.messages.map((m) => m.content).join('\n');
  assert.equal(chat.filter((c) => /\bLens\b/.test(text(c))).length, 200, 'identity: 200 answers as Lens');
  // a two-digit sum answered in one line, checked here by arithmetic
  const sums = chat.map((c) => /(\d+) \+ (\d+) = (\d+)\./.exec(c.messages.at(-1)!.content)).filter((m) => m);
  assert.equal(sums.length, 400);
  for (const m of sums) assert.equal(Number(m![1]) + Number(m![2]), Number(m![3]));
  const tools = await conversations(SAMPLE_FILES.tools);
  assert.equal(tools.length, 200);
  const called = new Set(
    tools.flatMap((c) => c.messages.flatMap((m) => m.toolCalls ?? []).map((t) => t.name)),
  );
  assert.deepEqual([...called].sort(), ['calculator', 'python']);
});

test('rl-addition.jsonl is a task file: the numeric checker takes its answers, 1 for right, 0 for wrong', () => {
  const file = path.join(dir, SAMPLE_FILES.rlTask);
  const items = readTaskFile(file, 'numeric');
  assert.equal(items.length, 200);
  const task = rlTask(file, { checker: 'numeric' });
  for (const { prompt, answer } of items.slice(0, 20)) {
    const [a, b] = (prompt.match(/\d+/g) ?? []).map(Number);
    assert.equal(Number(answer), a + b, prompt);
    assert.equal(task.check(`${a} + ${b} = ${a + b}.`, answer), 1);
    assert.equal(task.check(`${a} + ${b} = ${a + b + 1}.`, answer), 0);
  }
});

test('the character vocabulary encodes every file of the sample, and printable ASCII', () => {
  const tok = loadTokenizer(path.join(dir, SAMPLE_FILES.vocab));
  for (const f of written.filter((x) => x !== SAMPLE_FILES.vocab)) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.equal(tok.decode(tok.encode(text)), text, f);
  }
  const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
  assert.deepEqual(tok.encode(ascii).length, 95);
});

test('the corpus trains with the tiny preset: the first loss is about ln(vocabulary size)', () => {
  const vocab = (
    JSON.parse(fs.readFileSync(path.join(dir, SAMPLE_FILES.vocab), 'utf8')) as { chars: string[] }
  ).chars.length;
  const quick = '--max-iters 3 --eval-iters 0 --sample-tokens 0 --threads 1 --run-dir .llmlens/runs/t';
  const r = spawnSync(
    process.execPath,
    [CLI, 'train', '--config', SAMPLE_FILES.pretrain, ...quick.split(' ')],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const events = fs
    .readFileSync(path.join(dir, '.llmlens/runs/t/metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RunEvent);
  const steps = events.filter((e) => e.kind === 'step');
  assert.equal(steps.length, 3);
  assert.equal(stepOfRun(events), 'trained', 'the walkthrough counts the finished run');
  const first = steps[0].loss;
  assert.ok(
    Math.abs(first - Math.log(vocab)) < 0.15,
    `first loss ${first}, ln(${vocab}) = ${Math.log(vocab)}`,
  );
});

test('a folder with files is refused, naming the folder and what to do; hidden entries are allowed', () => {
  const full = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-full-'));
  fs.writeFileSync(path.join(full, 'notes.txt'), 'mine');
  assert.throws(
    () => writeSampleWorkspace(full, CORPUS),
    (e: Error) =>
      e.message.includes(full) && /not empty \(notes\.txt\): pick an empty folder/.test(e.message),
  );
  assert.equal(fs.readFileSync(path.join(full, 'notes.txt'), 'utf8'), 'mine', 'nothing overwritten');
  const hidden = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-hidden-'));
  fs.mkdirSync(path.join(hidden, '.vscode'));
  assert.ok(writeSampleWorkspace(hidden, CORPUS).length > 0);
});
