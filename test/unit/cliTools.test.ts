/**
 * The tool commands as a person runs them (node dist/cli.js): `llm-lens tool` runs each tool as the
 * sampler would (values checked by hand and, for python, against what CPython prints), and
 * `eval-task` scores a chat model on held-out questions: each item's verdict is re-derived here from
 * its answer by brute force (the result after the last tool output, as a whole word).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { withChatTokens } from '../../src/engine/chat/chatTokenizer';
import { generateChatData } from '../../src/engine/chat/chatData';
import type { Conversation } from '../../src/engine/chat/conversation';
import { containsResult, expectedResult } from '../../src/engine/chat/evalTask';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { chatCheckpoint } from '../fixtures/chat/chatCheckpoint';

const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input: '' });
const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-tools-'));

test('llm-lens tool runs the calculator, python and search as the sampler would', () => {
  const dir = tmp();
  assert.equal(cli(dir, 'tool', 'calculator', '347 * 582').stdout, '201954\n');
  const bad = cli(dir, 'tool', 'calculator', '1/0', '--json');
  assert.equal(bad.status, 1);
  assert.deepEqual(
    { ...JSON.parse(bad.stdout), ms: 0 },
    {
      name: 'calculator',
      input: '1/0',
      ok: false,
      output: 'Error: division by zero',
      ms: 0,
    },
  );
  const code = 'w = "ubiquitous"\nprint(w.count("u"), w[2::3])';
  // a generous limit: the first call of a loaded machine may be slow; the limits have their own tests
  const py = cli(dir, 'tool', 'python', code, '--tool-timeout', '60000');
  const cpython = spawnSync('python3', ['-c', code], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stdout + py.stderr);
  assert.equal(py.stdout, cpython.stdout);
  fs.writeFileSync(
    path.join(dir, 'notes.md'),
    '# Notes\n\nThe kettle whistles at noon.\n\nUnrelated text here.\n',
  );
  const found = cli(dir, 'tool', 'search', 'kettle', '--search-dir', dir);
  assert.equal(found.status, 0, found.stderr);
  assert.match(found.stdout, /^notes\.md:1: # Notes The kettle whistles at noon\./);
  assert.match(
    cli(dir, 'tool', 'search', 'zeppelin', '--search-dir', dir).stdout,
    /no results for "zeppelin"/,
  );
  const unknown = cli(dir, 'tool', 'shell', 'ls');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown tool "shell" \(tools: calculator, python, search, or none\)/);
  assert.match(cli(dir, 'tool', 'calculator').stderr, /give the tool and its input/);
});

test('eval-task: every verdict is the answer holding the result after the last tool output', async () => {
  const dir = tmp();
  const chars = new Set('\n ');
  for (const c of generateChatData({ task: 'tool-multiply', count: 200 }))
    for (const m of c.messages)
      for (const ch of m.content + (m.toolCalls?.[0]?.input ?? '') + 'calculator') chars.add(ch);
  const tok = withChatTokens(new CharTokenizer('chars', [...chars].sort()), { tools: true }).tokenizer;
  const ckpt = await chatCheckpoint(dir, { chatTokens: true, tokenizer: tok, blockSize: 128 });
  for (const tools of ['calculator', 'none']) {
    const r = cli(
      dir,
      'eval-task',
      '--checkpoint',
      ckpt,
      '--task',
      'tool-multiply',
      '--count',
      '6',
      '--digits',
      '3',
      '--tools',
      tools,
      '--max-tokens',
      '40',
      '--temperature',
      '1',
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const items = lines.slice(0, -1);
    const summary = lines.at(-1);
    assert.equal(items.length, 6);
    const held = generateChatData({ task: 'tool-multiply', count: 6, digits: 3, split: 'heldout' });
    items.forEach((item, i) => {
      assert.equal(item.question, held[i].messages[0].content);
      const [a, b] = item.question.match(/\d+/g).map(BigInt);
      assert.equal(item.expected, String(a * b));
      const end = item.answer.lastIndexOf('<|output_end|>');
      const after = end < 0 ? item.answer : item.answer.slice(end + '<|output_end|>'.length);
      const words = after.split(/[^A-Za-z0-9]+/);
      assert.equal(item.right, words.includes(item.expected), item.answer);
      if (tools === 'none') assert.ok(!item.answer.includes('<|tool_start|>'), 'the call token is banned');
    });
    assert.deepEqual(summary, {
      task: 'tool-multiply',
      tools,
      correct: items.filter((x) => x.right).length,
      total: 6,
      accuracy: items.filter((x) => x.right).length / 6,
    });
  }
});

test('the checker: the result after "=" without the sentence\'s full stop, matched as a whole word', () => {
  const conv = (answer: string): Conversation => ({
    messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: answer },
    ],
  });
  assert.equal(expectedResult(conv('Add the ones.\nSo 47 + 38 = 85.')), '85');
  assert.equal(expectedResult(conv('47 + 38 = 85')), '85');
  assert.equal(expectedResult(conv('So 1.5 + 2.25 = 3.75.')), '3.75');
  assert.equal(expectedResult(conv('So 3 - 5 = -2.')), '-2');
  assert.throws(() => expectedResult(conv('No result here.')), /no result to check/);
  assert.ok(containsResult('3 + 85 = 88.d ', '88'));
  assert.ok(containsResult('It is 88', '88'));
  assert.ok(!containsResult('It is 188.', '88'));
  assert.ok(!containsResult('It is 880.', '88'));
  assert.ok(!containsResult('x88y', '88'));
});
