/**
 * Generated chat data checked from the outside: every question is read back and its answer recomputed
 * here (sums by BigInt, every equation of the shown work evaluated, letters counted by brute force,
 * decimals compared as numbers); the same seed gives the same data, and no problem of the held-out
 * split is in the training split.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import {
  CHAT_TASKS,
  generateChatData,
  generateChatDataAsync,
  toJsonl,
  type ChatTask,
} from '../../src/engine/chat/chatData';
import { parseConversations, type Conversation } from '../../src/engine/chat/conversation';

/** The question and the final answer (after the tool call and its output, for the tool tasks). */
const qa = (c: Conversation) => {
  const roles = c.messages.map((m) => m.role);
  if (roles.length === 4) assert.deepEqual(roles, ['user', 'assistant', 'tool', 'assistant']);
  else assert.deepEqual(roles, ['user', 'assistant']);
  return [c.messages[0].content, c.messages.at(-1)!.content] as const;
};

/** Value of `1410 + 376`, `15 - 1 - 3`, `47 * 30` (* before + and -), in BigInt. */
function evaluate(expr: string): bigint {
  return expr.split(/ ([+-]) /).reduce<[bigint, string]>(
    ([acc, op], tok, i) => {
      if (i % 2) return [acc, tok];
      const v = tok.split(' * ').reduce((p, x) => p * BigInt(x), 1n);
      return [op === '-' ? acc - v : acc + v, ''];
    },
    [0n, '+'],
  )[0];
}

/** The problem a question asks: [a, op, b]. */
function readArithmetic(q: string): [bigint, string, bigint] {
  const [x, y] = (q.match(/\d+/g) ?? []).map(BigInt);
  if (/^subtract/i.test(q)) return [y, '-', x]; // "Subtract b from a."
  if (/\+|plus|sum|add/i.test(q)) return [x, '+', y];
  if (/-|minus|take away/i.test(q)) return [x, '-', y];
  if (/\*|times|multiply|product/i.test(q)) return [x, '*', y];
  throw new Error(`no operation in ${q}`);
}

/** Checks one arithmetic conversation (the result and every step) and returns its problem. */
function checkArithmetic(c: Conversation): [bigint, string, bigint] {
  const [q, a] = qa(c);
  const [x, op, y] = readArithmetic(q);
  const want = { '+': x + y, '-': x - y, '*': x * y }[op]!;
  const lines = a.split('\n');
  assert.equal(lines.at(-1), `So ${x} ${op} ${y} = ${want}.`, q);
  assert.ok(want >= 0n, q);
  for (const m of a.matchAll(/(\d+(?: [-+*] \d+)+) = (\d+)/g))
    assert.equal(evaluate(m[1]), BigInt(m[2]), `${q}: ${m[0]}`);
  for (const m of a.matchAll(/Split (\d+) into ([\d +]+)\./g)) assert.equal(evaluate(m[2]), BigInt(m[1]));
  const written = [...a.matchAll(/Write (\d)/g)].map((m) => m[1]);
  if (op !== '*') assert.equal(BigInt(written.reverse().join('')), want, `${q}: written digits`);
  assert.ok(lines.length >= 2, `${q}: no work shown`);
  return [x, op, y];
}

test('arithmetic: the result is right and every step of the work is a true equation', () => {
  const seen = new Set<string>();
  for (const c of generateChatData({ task: 'arithmetic', count: 600, seed: 3 }))
    seen.add(checkArithmetic(c)[1]);
  assert.deepEqual([...seen].sort(), ['*', '+', '-']);
});

test('addition: one line "a + b = sum." with the sum computed here, operands within maxDigits', () => {
  for (const maxDigits of [1, 2, 3]) {
    let biggest = 0n;
    for (const c of generateChatData({ task: 'addition', count: 200, seed: 5, maxDigits })) {
      const [q, a] = qa(c);
      const [x, op, y] = readArithmetic(q);
      assert.equal(op, '+', q);
      assert.equal(a, `${x} + ${y} = ${x + y}.`, q);
      biggest = [x, y, biggest].reduce((m, v) => (v > m ? v : m));
    }
    assert.ok(biggest < 10n ** BigInt(maxDigits) && biggest >= 10n ** BigInt(maxDigits - 1), `${maxDigits}`);
  }
});

test('arithmetic with maxDigits 2: every number below 100, the work still right, the default reaches 4 digits', () => {
  const ops = new Set<string>();
  let big = 0n;
  for (const c of generateChatData({ task: 'arithmetic', count: 400, seed: 5, maxDigits: 2 })) {
    const [x, op, y] = checkArithmetic(c);
    ops.add(op);
    assert.ok(x < 100n && y < 100n, c.messages[0].content);
    if (x > big) big = x;
  }
  assert.deepEqual([...ops].sort(), ['*', '+', '-']);
  assert.ok(big >= 90n, `the largest first number is ${big}: two-digit numbers are drawn`);
  const unbounded = generateChatData({ task: 'arithmetic', count: 400, seed: 5 }).map(checkArithmetic);
  assert.ok(unbounded.some(([x, , y]) => x >= 1000n || y >= 1000n));
  for (const d of [0, 5, 1.5])
    assert.throws(
      () => generateChatData({ task: 'arithmetic', count: 1, maxDigits: d }),
      /maxDigits must be an integer from 1 to 4/,
    );
});

test('spelling: the letters spell the asked word, and letter counts match a brute-force count', () => {
  let counted = 0;
  let zero = 0;
  for (const c of generateChatData({ task: 'spelling', count: 400, seed: 4 })) {
    const [q, a] = qa(c);
    const lines = a.split('\n');
    if (lines[0].includes('-') && !lines[0].includes(' ')) {
      const word = lines[0].split('-').join('');
      assert.match(q, new RegExp(`\\b${word}\\b`));
      assert.equal(lines[1], `That is ${word.length} letters.`);
      continue;
    }
    counted++;
    const letters = lines.slice(1, -1);
    const word = letters.map((l) => l[0]).join('');
    assert.match(q, new RegExp(`\\b${word}\\b`), q);
    const letter = [...q.matchAll(/(?<!')\b([a-z])\b/g)].map((m) => m[1]);
    assert.equal(new Set(letter).size, 1, `${q}: one letter asked`);
    const l = letter[0];
    const n = [...word].filter((ch) => ch === l).length;
    if (n === 0) zero++;
    let k = 0;
    letters.forEach((line, i) => assert.equal(line, word[i] === l ? `${l} - ${++k}` : word[i], q));
    const total = lines.at(-1)!.match(/^So there (?:is|are) (no|\d+) /)?.[1];
    assert.equal(total === 'no' ? 0 : Number(total), n, q);
  }
  assert.ok(counted > 200 && zero > 0, `${counted} counting questions, ${zero} with none of the letter`);
  const berry = generateChatData({ task: 'spelling', count: 4000, seed: 4 }).find((c) =>
    /many r's are in strawberry/.test(c.messages[0].content),
  );
  assert.match(berry!.messages[1].content, /So there are 3 r's in strawberry\.$/);
});

test('compare: the bigger (or smaller) decimal is named, and every digit comparison is true', () => {
  let sameWhole = 0;
  for (const c of generateChatData({ task: 'compare', count: 400, seed: 5 })) {
    const [q, a] = qa(c);
    const [x, y] = q.match(/\d+\.\d+/g)!;
    assert.notEqual(Number(x), Number(y));
    const [big, small] = Number(x) > Number(y) ? [x, y] : [y, x];
    const bigger = /bigger|larger|greater/.test(q);
    assert.ok(bigger !== /smaller|less/.test(q), q);
    const want = bigger ? `So ${big} is bigger than ${small}.` : `So ${small} is smaller than ${big}.`;
    assert.equal(a.split('\n').at(-1), want, q);
    for (const m of a.matchAll(/(\d+) ([<>=]) (\d+)/g)) {
      const [u, v] = [Number(m[1]), Number(m[3])];
      assert.ok({ '<': u < v, '>': u > v, '=': u === v }[m[2]], `${q}: ${m[0]}`);
    }
    for (const m of a.matchAll(/(\d+\.\d+) is (\d+\.\d+)/g)) assert.equal(Number(m[1]), Number(m[2]));
    if (Math.trunc(Number(x)) === Math.trunc(Number(y))) sameWhole++;
  }
  assert.ok(sameWhole > 200, `${sameWhole} of 400 share the whole part (the 9.11 vs 9.9 case)`);
});

test('identity: every answer gives the name and the maker, in many phrasings', () => {
  const data = generateChatData({ task: 'identity', count: 300, name: 'Zed', maker: 'acme labs' });
  for (const c of data) {
    const [, a] = qa(c);
    assert.match(a, /\bZed\b/);
    assert.match(a, /[aA]cme labs/);
  }
  assert.equal(new Set(data.map((c) => c.messages[0].content)).size, 300);
  assert.ok(new Set(data.map((c) => c.messages[1].content)).size >= 8);
});

test('refusal: every answer says "I don\'t know" about the person asked about', () => {
  for (const c of generateChatData({ task: 'refusal', count: 300 })) {
    const [q, a] = qa(c);
    const person = q.match(/[A-Z][a-z]+ [A-Z][a-z]+/)![0];
    assert.match(a, /I don't know/);
    assert.ok(a.includes(person), `${a} does not name ${person}`);
  }
});

/** What a question is about, read from its text: the numbers, the word, the person, the phrasing. */
function problemOf(task: ChatTask, q: string, a: string): string {
  if (task === 'arithmetic' || task === 'addition') return readArithmetic(q).join(' ');
  if (task === 'compare') return (q.match(/\d+\.\d+/g) ?? []).sort().join(' ');
  if (task === 'refusal') return q.match(/[A-Z][a-z]+ [A-Z][a-z]+/)![0];
  if (task === 'tool-multiply') return (q.match(/\d+/g) ?? []).join(' ');
  if (task === 'tool-letters') return q.match(/(?:in|of|word) '?([a-z]+)'?[?.,]/)![1];
  if (task === 'spelling')
    return [...a.matchAll(/^([a-z])(?: - \d+)?$/gm)].map((m) => m[1]).join('') || a.split('\n')[0];
  return q
    .toLowerCase()
    .replace(/^(hi!|hello\.|hey,|quick question:) /, '')
    .replace(/[?.]$/, '');
}

/** problemOf, or for tool-facts the search the question asks for (its entity's name or invention). */
const problem = (task: ChatTask, c: Conversation) =>
  task === 'tool-facts' ? c.messages[1].toolCalls![0].input : problemOf(task, ...qa(c));

for (const task of CHAT_TASKS)
  test(`${task}: deterministic by seed, ASCII, and the held-out split shares no problem with train`, async () => {
    const n = task === 'identity' ? 30 : 60;
    const gen = generateChatDataAsync;
    const train = await gen({ task, count: 8 * n, seed: 11 });
    assert.deepEqual(await gen({ task, count: 8 * n, seed: 11 }), train);
    assert.notDeepEqual(await gen({ task, count: 8 * n, seed: 12 }), train);
    const held = [
      ...(await gen({ task, count: n, seed: 1, split: 'heldout' })),
      ...(await gen({ task, count: n, seed: 2, split: 'heldout' })),
    ];
    const problems = new Set(train.map((c) => problem(task, c)));
    for (const c of held) {
      const p = problem(task, c);
      assert.ok(!problems.has(p), `held-out ${task} problem "${p}" is also in train`);
    }
    for (const c of [...train, ...held])
      for (const m of c.messages) assert.match(m.content, /^[\n\x20-\x7e]*$/, `not ASCII: ${m.content}`);
  });

test("tool-multiply: the call copies the question's numbers; the output and the answer are the product", () => {
  for (const c of generateChatData({ task: 'tool-multiply', count: 300 })) {
    const [q, a] = qa(c);
    const [x, y] = q.match(/\d+/g)!;
    const product = String(BigInt(x) * BigInt(y));
    assert.deepEqual(c.messages[1].toolCalls, [{ name: 'calculator', input: `${x} * ${y}` }]);
    assert.equal(c.messages[2].content, product);
    assert.equal(a, `${x} * ${y} = ${product}.`);
  }
});

test('tool-letters: every output is what real Python prints for the call, and the answer uses it', () => {
  const data = generateChatData({ task: 'tool-letters', count: 300 });
  const codes = data.map((c) => c.messages[1].toolCalls![0].input);
  const script = codes.map((code) => `${code}\nprint("<<end>>")`).join('\n');
  const python = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  assert.equal(python.status, 0, python.stderr);
  const printed = python.stdout
    .split('<<end>>\n')
    .slice(0, -1)
    .map((s) => s.replace(/\n$/, ''));
  assert.equal(printed.length, data.length);
  data.forEach((c, i) => {
    const [q, a] = qa(c);
    const w = problemOf('tool-letters', q, a);
    assert.ok(codes[i].includes(`"${w}"`), `${codes[i]} does not use the word ${w} of "${q}"`);
    assert.equal(c.messages[2].content, printed[i], codes[i]);
    assert.ok(a.includes(` ${printed[i]}`), `${a} does not give ${printed[i]}`);
  });
  const count = (re: RegExp) => codes.filter((code) => re.test(code)).length;
  for (const kind of [/\.count\(/, /::/, /\[\d+\]\)$/]) assert.ok(count(kind) > 30, String(kind));
});

test('tool-facts: the call searches a name of the question, and the output it pastes holds the answer', async () => {
  const data = await generateChatDataAsync({ task: 'tool-facts', count: 200 });
  assert.throws(() => generateChatData({ task: 'tool-facts', count: 1 }), /use generateChatDataAsync/);
  for (const c of data) {
    const [q, a] = qa(c);
    const call = c.messages[1].toolCalls![0];
    assert.equal(call.name, 'search');
    assert.ok(q.includes(call.input), `${call.input} is not copied from "${q}"`);
    const answer = a.slice(a.indexOf(': ') + 2, -1);
    assert.ok(c.messages[2].content.includes(answer), `${c.messages[2].content} lacks ${answer}`);
    assert.ok(c.messages[2].content.length <= 320);
  }
});

test('JSONL written by toJsonl reads back as the same conversations', async () => {
  const data = [
    ...generateChatData({ task: 'arithmetic', count: 20 }),
    ...generateChatData({ task: 'tool-letters', count: 20 }),
  ];
  const back: Conversation[] = [];
  for await (const c of parseConversations(toJsonl(data).split('\n'), 'gen.jsonl')) back.push(c);
  assert.deepEqual(
    back.map((c) => c.messages),
    data.map((c) => c.messages),
  );
});

test('bad options are refused with what to do', () => {
  assert.throws(
    () => generateChatData({ task: 'poetry' as ChatTask, count: 1 }),
    /unknown chat task "poetry"; use one of identity/,
  );
  assert.throws(() => generateChatData({ task: 'identity', count: 0 }), /count must be a positive integer/);
  assert.throws(
    () => generateChatData({ task: 'identity', count: 5000, split: 'heldout' }),
    /only \d+ different identity questions could be made for the held-out split; ask for fewer/,
  );
});
