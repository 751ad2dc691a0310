/**
 * llm-lens chat-data and chat as a person runs them (node dist/cli.js). chat-data writes what the engine
 * generates, read back by the conversation reader, and refuses bad counts. chat on a base model trained
 * here gets the plain-text prompt and continues it; on the same model given the chat tokens (chatModel)
 * and weights built to answer "o" a known number of times and then <|im_end|>, it renders the ChatML
 * prompt (checked against the ChatML text encoded with special tokens allowed), answers, and stops at
 * <|im_end|>, which it does not print.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { generateChatData } from '../../src/engine/chat/chatData';
import { chatModel } from '../../src/engine/chat/chatModel';
import { chatMLText, IM_END } from '../../src/engine/chat/chatml';
import { readConversations, type Conversation, type Message } from '../../src/engine/chat/conversation';
import type { HostTensor } from '../../src/engine/runtime/session';
import { saveTokenizer } from '../../src/engine/tokenizer/save';
import { loadCheckpoint, saveCheckpoint } from '../../src/engine/train/checkpoint';
import { loadCheckpointTokenizer } from '../../src/engine/train/runTokenizer';

const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input: '' });
const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-chat-'));

interface ChatJson {
  chatTokens: boolean;
  prompt: string;
  promptIds: number[];
  answer: string;
  finish: string;
  tokens: { id: number; text: string }[];
}

test('chat-data writes the generated conversations as JSONL and refuses counts that are not positive integers', async () => {
  const dir = tmp();
  const r = cli(dir, 'chat-data', '--task', 'identity', '--name', 'Quill', '--maker', 'Ada', '--count', '25');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /chat-data: --out is required/);
  const ok = cli(
    dir,
    'chat-data',
    ...'--task identity --name Quill --maker Ada --count 25 --seed 7 --split heldout --out out/id.jsonl'.split(
      ' ',
    ),
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /wrote 25 identity conversations \(heldout split, seed 7\) to out\/id\.jsonl/);
  const read: Conversation[] = [];
  for await (const c of readConversations(path.join(dir, 'out', 'id.jsonl'))) read.push(c);
  const expected = generateChatData({
    task: 'identity',
    name: 'Quill',
    maker: 'Ada',
    count: 25,
    seed: 7,
    split: 'heldout',
  });
  assert.deepEqual(
    read.map((c) => c.messages),
    expected.map((c) => c.messages),
  );
  assert.ok(read.every((c) => /Quill/.test(c.messages[1].content)));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'out')), ['id.jsonl']); // no temporary file left

  for (const [args, message] of [
    ['--task arithmetic --count 0', /--count must be a whole number ≥ 1, got 0/],
    ['--task arithmetic --count 2.5', /--count must be a whole number ≥ 1, got 2\.5/],
    ['--task arithmetic --count -3', /--count must be a whole number ≥ 1, got -3/],
    ['--task arithmetic --count ten', /--count must be a whole number ≥ 1, got ten/],
    ['--task arithmetic', /chat-data: --count is required/],
    [
      '--task poetry --count 3',
      /--task must be one of identity, arithmetic, addition, spelling, compare, multiplication, word-problems, polite, refusal, tool-multiply, tool-letters, tool-facts, got poetry/,
    ],
    ['--task identity --count 3', /--task identity needs --name NAME/],
    ['--task compare --count 3 --name X', /--name and --maker are for --task identity only/],
    ['--task compare --count 3 --split test', /--split must be one of train, heldout, got test/],
    ['--task compare --count 3 --seed 1.5', /--seed must be a whole number ≥ 0 and ≤ 4294967295, got 1\.5/],
    ['--task compare --count 3 extra', /unexpected argument extra/],
  ] as const) {
    const bad = cli(dir, 'chat-data', ...args.split(' '), '--out', 'bad.jsonl');
    assert.equal(bad.status, 2, args);
    assert.match(bad.stderr, message, args);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'bad.jsonl')));
  const help = cli(dir, 'chat-data', '--help');
  assert.equal(help.status, 0);
  assert.match(
    help.stdout,
    /llm-lens chat-data --task identity\|arithmetic\|addition\|spelling\|compare\|multiplication\|word-problems\|polite\|refusal\|tool-multiply\|tool-letters\|tool-facts\n/,
  );
});

/** Weights whose answer after a prompt of P tokens is `o` repeated (Q - P + 1) times, then <|im_end|>. */
function answerThenStop(
  weights: Record<string, HostTensor>,
  C: number,
  blockSize: number,
  ids: { o: number; imEnd: number },
  Q: number,
): Record<string, HostTensor> {
  const w = Object.fromEntries(
    Object.entries(weights).map(([k, t]) => [k, { ...t, data: (t.data as Float32Array).slice() }]),
  );
  // the blocks add nothing to the residual stream: x = wte[token] + wpe[position]
  for (const [k, t] of Object.entries(w)) if (/\.c_proj\.(weight|bias)$/.test(k)) t.data.fill(0);
  const set = (name: string, fill: (data: Float32Array) => void) => fill(w[name].data as Float32Array);
  set('transformer.ln_f.weight', (d) => d.fill(1));
  set('transformer.ln_f.bias', (d) => d.fill(0));
  // tied head: the logit of a token is ln_f(x) · its wte row; only "o" (direction 1) and <|im_end|> (3) have one
  set('transformer.wte.weight', (d) => {
    d.fill(0);
    d[ids.o * C + 1] = 5;
    d[ids.imEnd * C + 3] = 5;
  });
  // positions before Q point at "o", from Q on at <|im_end|>: the token after position t is decided there
  set('transformer.wpe.weight', (d) => {
    d.fill(0);
    for (let t = 0; t < blockSize; t++) d[t * C + (t < Q ? 1 : 3)] = 1000;
  });
  return w;
}

test('chat: a base model continues "User: …\\nAssistant:"; with chat tokens it answers in ChatML and stops at <|im_end|>', async () => {
  const dir = tmp();
  const text =
    'You are Hamlet. User: who are you? <|im_end|> typed\nAssistant: I am the prince of Denmark.\n'.repeat(
      40,
    );
  fs.writeFileSync(path.join(dir, 'input.txt'), text);
  const tiny = '--n-layer 1 --n-head 2 --n-embd 16 --block-size 128 --batch-size 4 --max-iters 4';
  const train = cli(
    dir,
    'train',
    '--data',
    'input.txt',
    ...tiny.split(' '),
    ...'--eval-iters 0 --sample-tokens 0 --threads 1 --run-dir runs/base'.split(' '),
  );
  assert.equal(train.status, 0, train.stderr);
  const base = path.join(dir, 'runs', 'base', 'checkpoints', 'step-4');

  // the base model: plain text, no stop, a note on stderr
  const b = cli(dir, 'chat', '--checkpoint', base, '--prompt', 'who are you?', '--max-tokens', '6', '--json');
  assert.equal(b.status, 0, b.stderr);
  assert.match(
    b.stderr,
    /has no chat tokens \(<\|im_start\|>, <\|im_end\|>\): it is a base model.*continues the document/,
  );
  const bj = JSON.parse(b.stdout) as ChatJson;
  assert.equal(bj.chatTokens, false);
  assert.equal(bj.prompt, 'User: who are you?\nAssistant:');
  assert.deepEqual(bj.promptIds, loadCheckpointTokenizer(base).encode('User: who are you?\nAssistant:'));
  assert.equal(bj.tokens.length, 6);
  assert.equal(bj.finish, 'maxTokens');
  const withSystem = cli(
    dir,
    'chat',
    '--checkpoint',
    base,
    '--system',
    'You are Hamlet.',
    '--json',
    '--max-tokens',
    '1',
    '--prompt',
    'who are you?',
  );
  assert.equal(withSystem.status, 0, withSystem.stderr);
  assert.equal(
    (JSON.parse(withSystem.stdout) as ChatJson).prompt,
    'You are Hamlet.\n\nUser: who are you?\nAssistant:',
  );

  // the same model given the chat tokens, with weights that answer "o" until position Q, then <|im_end|>
  const ckpt = await loadCheckpoint(base);
  const m = chatModel(ckpt, loadCheckpointTokenizer(base));
  const o = m.tokenizer.encode('o')[0];
  const messages: Message[] = [
    { role: 'system', content: 'You are Hamlet.' },
    { role: 'user', content: 'who are you? <|im_end|> typed' },
  ];
  const prompt = chatMLText(messages, { addGenerationPrompt: true });
  // the reference prompt: the ChatML text, special tokens allowed only where ChatML puts them
  const expectedIds = [
    ...m.tokenizer.encode(chatMLText(messages.slice(0, 1)), { allowedSpecial: 'all' }),
    ...m.tokenizer.encode('<|im_start|>user\n', { allowedSpecial: 'all' }),
    ...m.tokenizer.encode(messages[1].content, { disallowedSpecial: new Set() }),
    ...m.tokenizer.encode('<|im_end|>\n<|im_start|>assistant\n', { allowedSpecial: 'all' }),
  ];
  const Q = expectedIds.length + 3;
  const weights = answerThenStop(m.weights, 16, 128, { o, imEnd: m.chat.imEnd }, Q);
  const tokDir = path.join(dir, 'chat-tokenizer');
  const saved = await saveCheckpoint({
    runDir: path.join(dir, 'runs', 'chat'),
    config: m.config,
    weights,
    moments: {},
    trainer: {
      format: 'llm-lens-trainer',
      version: 1,
      step: 1,
      rngState: 0,
      seed: 0,
      tokensSeen: 0,
      elapsedMs: 0,
    },
    tokenizerFiles: saveTokenizer(m.tokenizer, tokDir),
  });
  const args = ['--checkpoint', saved, '--system', messages[0].content, '--prompt', messages[1].content];
  for (const temperature of ['0', '1']) {
    const c = cli(dir, 'chat', ...args, '--temperature', temperature, '--max-tokens', '20', '--json');
    assert.equal(c.status, 0, c.stderr);
    assert.equal(c.stderr, '');
    const cj = JSON.parse(c.stdout) as ChatJson;
    assert.equal(cj.chatTokens, true);
    assert.deepEqual(cj.promptIds, expectedIds);
    assert.equal(cj.prompt, prompt);
    assert.equal(cj.promptIds.filter((id) => id === m.chat.imEnd).length, 2); // the two turns, not the typed one
    // generated token k sits at position P + k and is decided at P + k - 1: "o" while that is before Q
    assert.equal(cj.answer, 'o'.repeat(Q - expectedIds.length + 1));
    assert.equal(cj.finish, 'stopToken');
    assert.ok(!cj.answer.includes(IM_END));
  }
  const bad = cli(dir, 'chat', ...args, '--top-k', '-1', '--num-samples', '0');
  assert.equal(bad.status, 2);
  assert.match(
    bad.stderr,
    /chat: --top-k must be a whole number ≥ 0.*, got -1; --num-samples must be a whole number ≥ 1, got 0/,
  );
  assert.match(
    cli(dir, 'chat', '--help').stdout,
    /llm-lens chat --checkpoint DIR \[--system TEXT\] \[--prompt TEXT\]/,
  );
  const plain = cli(dir, 'chat', ...args, '--temperature', '0', '--num-samples', '2');
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout, `${'o'.repeat(4)}\n---------------\n`.repeat(2));
});
