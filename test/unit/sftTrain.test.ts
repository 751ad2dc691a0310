/**
 * Supervised fine-tuning (stage sft) on a tiny character model: resume equals an uninterrupted run, the
 * eval loss counts the answer tokens only (against a brute-force sum over per-token logits), bad
 * conversations are refused with file:line before anything runs, and `llm-lens sft` end to end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { chatModel } from '../../src/engine/chat/chatModel';
import { GptInference } from '../../src/engine/model/inference';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import { trainGpt, weightedLoss, type TrainConfig, type TrainEvent } from '../../src/engine/train/loop';
import { prepareRun } from '../../src/engine/train/runConfig';
import { loadCheckpointTokenizer, loadModelTokenizer } from '../../src/engine/train/runTokenizer';
import { SftRows } from '../../src/engine/train/sftData';
import type { Tokenizer } from '../../src/engine/tokenizer/tokenizer';
import type { TrainRequest } from '../../src/protocol/training';

const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-sft-'));
const QA: [string, string][] = [
  ['Who are you?', 'I am Lens.'],
  ['What is your name?', 'My name is Lens.'],
  ['Who made you?', 'The Lens team made me.'],
  ['Are you a bot?', 'Yes, I am Lens.'],
  ['Say hi.', 'Hi!'],
  ['Who am I talking to?', 'Lens, a small model.'],
];
const line = (q: string, a: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: q },
      { role: 'assistant', content: a },
    ],
  });
const JSONL = Array.from({ length: 4 }, () => QA.map(([q, a]) => line(q, a)).join('\n')).join('\n') + '\n';
/** Base text with every character of the conversations and of the ChatML headers. */
const BASE_TEXT = (QA.flat().join(' ') + ' user assistant system\n').repeat(40);
const TINY = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64, bias: false };

function request(dir: string, over: Partial<TrainRequest>): TrainRequest {
  return {
    data: [],
    tokenizer: 'char',
    preset: 'tiny',
    device: 'cpu',
    runDir: path.join(dir, 'runs', 'r'),
    dataCacheDir: path.join(dir, 'data'),
    threads: 1,
    batchSize: 4,
    evalIters: 0,
    sampleTokens: 0,
    ...over,
  };
}

async function run(c: TrainConfig, tokenizer: Tokenizer): Promise<TrainEvent[]> {
  const out: TrainEvent[] = [];
  for await (const e of trainGpt(c, { tokenizer })) out.push(e);
  const err = out.find((e) => e.kind === 'error');
  if (err && err.kind === 'error') throw new Error(err.message);
  return out;
}

/** A base checkpoint pretrained for a few steps on BASE_TEXT, and the chat data beside it. */
async function base(): Promise<{ dir: string; ckpt: string; chat: string }> {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'base.txt'), BASE_TEXT);
  fs.writeFileSync(path.join(dir, 'chat.jsonl'), JSONL);
  const { config, tokenizer } = await prepareRun(
    request(dir, {
      data: [path.join(dir, 'base.txt')],
      runDir: path.join(dir, 'base'),
      maxIters: 4,
      ...TINY,
    }),
    () => undefined,
  );
  await run(config, tokenizer);
  return { dir, ckpt: path.join(dir, 'base', 'checkpoints', 'step-4'), chat: path.join(dir, 'chat.jsonl') };
}

const sft = (dir: string, ckpt: string, chat: string, over: Partial<TrainRequest> = {}) =>
  prepareRun(
    request(dir, { stage: 'sft', initFrom: ckpt, data: [chat], maxIters: 10, ...over }),
    () => undefined,
  );

const losses = (events: TrainEvent[]) => events.flatMap((e) => (e.kind === 'step' ? [e.loss] : []));

test('an sft run stopped at step 4 and resumed matches the uninterrupted run, loss for loss and weight for weight', async () => {
  const b = await base();
  const a = await sft(b.dir, b.ckpt, b.chat, { runDir: path.join(b.dir, 'a') });
  const full = await run(a.config, a.tokenizer);
  const steps = full.filter((e) => e.kind === 'step');
  assert.ok(
    steps.every((e) => e.kind === 'step' && e.lossTokens! > 0),
    'each step counts its loss tokens',
  );

  const first = await sft(b.dir, b.ckpt, b.chat, { runDir: path.join(b.dir, 'b') });
  const part1 = await run({ ...first.config, stopAfter: 4 }, first.tokenizer);
  const resumeFrom = path.join(b.dir, 'b', 'checkpoints', 'step-4');
  const second = await sft(b.dir, b.ckpt, b.chat, { runDir: path.join(b.dir, 'b'), resumeFrom });
  const part2 = await run(second.config, second.tokenizer);
  assert.deepEqual([...losses(part1), ...losses(part2)], losses(full));

  const wa = await loadCheckpoint(path.join(b.dir, 'a', 'checkpoints', 'step-10'));
  const wb = await loadCheckpoint(path.join(b.dir, 'b', 'checkpoints', 'step-10'));
  assert.equal(wa.config.vocabSize, (await loadCheckpoint(b.ckpt)).config.vocabSize + 2, 'two chat tokens');
  for (const k of Object.keys(wa.weights)) assert.deepEqual(wb.weights[k].data, wa.weights[k].data, k);
  const cfg = JSON.parse(
    fs.readFileSync(path.join(b.dir, 'a', 'checkpoints', 'step-10', 'config.json'), 'utf8'),
  );
  assert.equal(cfg.llm_lens.stage, 'sft');
  assert.match(cfg.llm_lens.chatTemplate, /<\|im_start\|>/);
});

test('the sft eval loss is the mean cross-entropy of the answer tokens only (brute force over per-token logits)', async () => {
  const b = await base();
  const p = await sft(b.dir, b.ckpt, b.chat, { valFraction: 0.25 });
  const ck = await loadCheckpoint(b.ckpt);
  const m = chatModel(ck, loadCheckpointTokenizer(ck.dir));
  const infer = await GptInference.create(m.config, m.weights, { threads: 1 });
  const rows = new SftRows(p.config.dataDir, 'val');
  assert.ok(rows.rows >= 2, `${rows.rows} held-out rows`);
  const ours = await weightedLoss(infer, rows, 4, 10);

  const T = rows.packed.blockSize;
  let sum = 0;
  let n = 0;
  let all = 0;
  for (let r = 0; r < rows.rows; r++) {
    const row = Array.from(rows.packed.tokens.subarray(r * (T + 1), (r + 1) * (T + 1)));
    for (let t = 0; t < T; t++) {
      const logits = await infer.nextLogits(row.slice(0, t + 1));
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
      const ce = lse - logits[row[t + 1]];
      all += ce;
      const w = rows.packed.weights[r * (T + 1) + t + 1];
      sum += w * ce;
      n += w;
    }
  }
  await infer.release();
  assert.ok(n > 0 && n < rows.rows * T, 'some targets, not all, carry loss');
  assert.ok(Math.abs(ours - sum / n) < 1e-4, `weighted ${ours} vs brute force ${sum / n}`);
  assert.ok(Math.abs(all / (rows.rows * T) - sum / n) > 1e-3, 'the unweighted mean differs');
});

test('a bad JSONL line and a conversation longer than the block are refused with file:line before anything runs', async () => {
  const b = await base();
  const bad = path.join(b.dir, 'bad.jsonl');
  fs.writeFileSync(bad, [line('Who are you?', 'I am Lens.'), '{"messages": [', line('Hi', 'Hi!')].join('\n'));
  const runDir = path.join(b.dir, 'never');
  await assert.rejects(sft(b.dir, b.ckpt, bad, { runDir }), /bad\.jsonl:2: not valid JSON/);
  assert.ok(!fs.existsSync(path.join(runDir, 'metrics.jsonl')), 'no run started');
  assert.ok(
    !fs.existsSync(path.join(b.dir, 'data')) ||
      !fs.readdirSync(path.join(b.dir, 'data')).some((d) => d.startsWith('sft-')),
  );

  const long = path.join(b.dir, 'long.jsonl');
  fs.writeFileSync(
    long,
    [line('Hi', 'Hi!'), line('Who are you?', 'I am Lens. '.repeat(8))].join('\n') + '\n',
  );
  await assert.rejects(
    sft(b.dir, b.ckpt, long, { runDir }),
    /long\.jsonl:2: the conversation is \d+ tokens, longer than the block of 64 \+ 1/,
  );
  assert.ok(!fs.existsSync(path.join(runDir, 'metrics.jsonl')), 'no run started');
});

test('a base checkpoint whose tokenizer has more ids than its vocab_size is refused, naming it and the fix', async () => {
  const b = await base();
  const vocabFile = path.join(b.ckpt, 'vocab.char.json');
  const vocab = JSON.parse(fs.readFileSync(vocabFile, 'utf8')) as { chars: string[] };
  const vocabSize = (
    JSON.parse(fs.readFileSync(path.join(b.ckpt, 'config.json'), 'utf8')) as { vocab_size: number }
  ).vocab_size;
  assert.equal(vocab.chars.length, vocabSize, 'the base was trained with its whole vocabulary');
  // another model's vocabulary: three more characters than the model has rows
  vocab.chars = [...vocab.chars, '\u00e9', '\u00f1', '\u00fc'].sort();
  fs.writeFileSync(vocabFile, JSON.stringify(vocab));
  const runDir = path.join(b.dir, 'never');
  await assert.rejects(sft(b.dir, b.ckpt, b.chat, { runDir }), (e: Error) => {
    assert.ok(e.message.startsWith(`${b.ckpt}: `), e.message);
    assert.match(
      e.message,
      new RegExp(`${vocabSize + 3} tokens\\) does not fit the model's vocabulary of ${vocabSize}`),
    );
    assert.match(e.message, /copy the tokenizer files the model was trained with beside the checkpoint/);
    return true;
  });
  assert.ok(!fs.existsSync(path.join(runDir, 'metrics.jsonl')), 'no run started');
});

test('llm-lens sft fine-tunes a checkpoint end to end: answers, loss tokens, a chat checkpoint', async () => {
  const b = await base();
  const r = spawnSync(
    process.execPath,
    [
      path.resolve('dist/cli.js'),
      'sft',
      '--from',
      b.ckpt,
      '--data',
      b.chat,
      '--run-dir',
      'runs/s',
      '--max-iters',
      '6',
      '--batch-size',
      '4',
      '--eval-iters',
      '1',
      '--sample-tokens',
      '8',
      '--answer-prompts',
      '1',
      '--log-interval',
      '3',
      '--threads',
      '1',
    ],
    { cwd: b.dir, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^data: \d+ train \+ \d+ held-out conversations in \d+ \+ \d+ rows of 65/m);
  assert.match(r.stdout, /^iter 3: loss \d+\.\d{4}, .* \d+ with loss, eta/m);
  assert.match(r.stdout, /--- answer at step 6 ---\n> [^\n]+\?/);
  assert.match(r.stdout, /^finished at step 6/m);
  const ck = path.join(b.dir, 'runs', 's', 'checkpoints', 'step-6');
  const vocab = JSON.parse(fs.readFileSync(path.join(ck, 'vocab.char.json'), 'utf8'));
  assert.match(JSON.stringify(vocab), /<\|im_end\|>/);
  const help = spawnSync(process.execPath, [path.resolve('dist/cli.js'), 'sft', '--help'], {
    encoding: 'utf8',
  });
  assert.match(help.stdout, /--from DIR/);
  assert.match(help.stdout, /--answer-prompts/);
});

test('sft on tool conversations adds the six chat and tool tokens; the loss counts the calls, not the outputs', async () => {
  const dir = tmp();
  const calls: [number, number][] = [
    [12, 34],
    [7, 89],
    [56, 3],
  ];
  const convs = calls.map(([a, b]) => ({
    messages: [
      { role: 'user', content: `What is ${a} * ${b}?` },
      { role: 'assistant', content: '', tool_calls: [{ name: 'calculator', input: `${a} * ${b}` }] },
      { role: 'tool', content: String(a * b) },
      { role: 'assistant', content: `${a} * ${b} = ${a * b}.` },
    ],
  }));
  fs.writeFileSync(path.join(dir, 'tools.jsonl'), convs.map((c) => JSON.stringify(c)).join('\n') + '\n');
  fs.writeFileSync(
    path.join(dir, 'base.txt'),
    ('What is 0123456789 * = ?. calculator user assistant system\n' + BASE_TEXT).repeat(2),
  );
  const { config, tokenizer } = await prepareRun(
    request(dir, {
      data: [path.join(dir, 'base.txt')],
      runDir: path.join(dir, 'base'),
      maxIters: 2,
      ...TINY,
      blockSize: 96,
    }),
    () => undefined,
  );
  await run(config, tokenizer);
  const baseCkpt = path.join(dir, 'base', 'checkpoints', 'step-2');
  const logged: string[] = [];
  const s = await prepareRun(
    request(dir, {
      stage: 'sft',
      initFrom: baseCkpt,
      data: [path.join(dir, 'tools.jsonl')],
      valFraction: 0,
      maxIters: 2,
      runDir: path.join(dir, 'sft'),
    }),
    (l) => logged.push(l),
  );
  // by hand, one character a token: the call (<|tool_start|> "calculator\n{a} * {b}" <|tool_end|>) and the
  // answer with its <|im_end|>; the forced output and the prompt carry none
  const want = calls.reduce((n, [a, b]) => {
    const call = 1 + `calculator\n${a} * ${b}`.length + 1;
    return n + call + `${a} * ${b} = ${a * b}.`.length + 1;
  }, 0);
  const carried = /([\d,]+) train tokens carry loss/.exec(logged.join('\n'))!;
  assert.equal(Number(carried[1].replace(/,/g, '')), want);
  await run(s.config, s.tokenizer);
  const out = path.join(dir, 'sft', 'checkpoints', 'step-2');
  const ckpt = await loadCheckpoint(out);
  assert.equal(ckpt.config.vocabSize, (await loadCheckpoint(baseCkpt)).config.vocabSize + 6);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.match(cfg.llm_lens.chatTemplate, /<\|tool_start\|>/);
  const tok = loadModelTokenizer(ckpt);
  for (const t of [
    '<|im_start|>',
    '<|im_end|>',
    '<|tool_start|>',
    '<|tool_end|>',
    '<|output_start|>',
    '<|output_end|>',
  ])
    assert.ok(tok.specialTokens.has(t), t);
});
