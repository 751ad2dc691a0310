/**
 * llm-lens chat-data as a person runs it (node dist/cli.js): it writes what the engine generates, read
 * back by the conversation reader, and refuses bad counts and options with clear messages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { generateChatData } from '../../src/engine/chat/chatData';
import { readConversations, type Conversation } from '../../src/engine/chat/conversation';

const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input: '' });
const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-chat-'));

test('chat-data writes the generated conversations as JSONL and refuses counts that are not positive integers', async () => {
  const dir = tmp();
  const r = cli(dir, 'chat-data', '--task', 'identity', '--name', 'Quill', '--maker', 'Ada', '--count', '25');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--out FILE\.jsonl is required/);
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
    ['--task arithmetic --count 0', /--count must be a positive integer, got "0"/],
    ['--task arithmetic --count 2.5', /--count must be a positive integer, got "2\.5"/],
    ['--task arithmetic --count -3', /--count must be a positive integer, got "-3"/],
    ['--task arithmetic --count ten', /--count must be a positive integer, got "ten"/],
    ['--task arithmetic', /--count N is required/],
    [
      '--task poetry --count 3',
      /--task must be one of identity, arithmetic, spelling, compare, refusal, got "poetry"/,
    ],
    ['--task identity --count 3', /--task identity needs --name NAME/],
    ['--task compare --count 3 --name X', /--name and --maker are for --task identity only/],
    ['--task compare --count 3 --split test', /--split must be train or heldout, got "test"/],
    ['--task compare --count 3 --seed 1.5', /--seed must be an integer ≥ 0, got "1\.5"/],
  ] as const) {
    const bad = cli(dir, 'chat-data', ...args.split(' '), '--out', 'bad.jsonl');
    assert.equal(bad.status, 2, args);
    assert.match(bad.stderr, message, args);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'bad.jsonl')));
});
