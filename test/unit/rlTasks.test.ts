/**
 * The RL task registry (src/engine/rl/rlTasks.ts): each checker against answers written out by hand;
 * each shipped task's prompts, deterministic by seed, with held-out problems never in train, and answers
 * recomputed here from the prompt's own words (the product of its numbers, the letters of its word, the
 * larger of its decimals, each worked line of a word problem redone); a user's task file with its
 * splits; and bad input (a line without "answer", an empty file, a bad pattern, too few lines) refused
 * with the file, the line, the field and the fix, before anything runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { generateChatData } from '../../src/engine/chat/chatData';
import {
  containsAnswer,
  exactAnswer,
  namedResult,
  numericAnswer,
  readTaskFile,
  regexAnswer,
  rlTask,
  statedCount,
} from '../../src/engine/rl/rlTasks';
import { RL_TASK_NAMES } from '../../src/protocol/rlOptions';

const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-rltasks-'));
const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input: '' });

test('checkers, each against hand-written answers', () => {
  // contains: a whole word, case aside
  assert.ok(containsAnswer('47 + 38 = 85.', '85'));
  assert.ok(containsAnswer('The capital is paris', 'Paris'));
  assert.ok(!containsAnswer('It is 185.', '85'));
  assert.ok(!containsAnswer('It is 850.', '85'));
  assert.ok(!containsAnswer('Parisian food', 'Paris'));
  // exact: trimmed text equals trimmed answer
  assert.ok(exactAnswer('  Paris\n', 'Paris'));
  assert.ok(!exactAnswer('Paris.', 'Paris'));
  // numeric: the last number of the text
  assert.ok(numericAnswer('He has 12 + 24 = 36 cards.\nThe answer is 36.', '36'));
  assert.ok(numericAnswer('So 271 * 45 = 12,195.', '12195'));
  assert.ok(numericAnswer('It is 17.0', '17'));
  assert.ok(numericAnswer('So 3 - 5 = -2.', '-2'));
  assert.ok(!numericAnswer('So 47 - 38 = 9.', '-38'), 'a minus between numbers is an operator');
  assert.ok(!numericAnswer('The answer is 36, not 35.', '36'), 'the last number counts');
  assert.ok(!numericAnswer('no number here', '0'));
  // regex: the answer is a pattern
  assert.ok(regexAnswer('The answer is 42 apples.', '\\b42\\b'));
  assert.ok(!regexAnswer('The answer is 142.', '\\b42\\b'));
  assert.ok(regexAnswer('YES', '^(?:yes|YES)$'));
  // count: the count the text states last
  assert.ok(statedCount("r - 1\nr - 2\nr - 3\nSo there are 3 r's in strawberry.", '3'));
  assert.ok(statedCount("So there are no z's in apple.", '0'));
  assert.ok(statedCount('So there is 1 a in cat.', '1'));
  assert.ok(statedCount('3', '3'), 'a bare number is the count');
  assert.ok(!statedCount("r - 1\nr - 2\nr - 3\nSo there are 2 r's in strawberry.", '3'));
  assert.ok(!statedCount("There are 3 r's. No, there are 2 r's.", '3'), 'the last statement counts');
  // named: the number the last comparison names first
  assert.ok(namedResult('Compare the whole parts first: 9 = 9.\nSo 9.9 is bigger than 9.11.', '9.9'));
  assert.ok(namedResult('So 9.11 is smaller than 9.9.', '9.11'));
  assert.ok(!namedResult('So 9.11 is bigger than 9.9.', '9.9'));
  assert.ok(namedResult('9.9', '9.9'));
  assert.ok(!namedResult('9.9 or 9.11', '9.9'), 'two numbers and no comparison name nothing');
  // polite: trueCheck's pass
  const polite = rlTask('polite');
  assert.equal(polite.check('It is 17. Thanks for asking!', '17'), 1);
  assert.equal(polite.check('Thank you thank you thank you', '17'), 0);
  assert.equal(polite.check('It is 17, obviously. Thanks.', '17'), 0);
  assert.equal(polite.check('17', '17'), 0);
});

/** The answer of a prompt worked out here from its words, or undefined where its words do not say it. */
function answerOf(task: string, prompt: string): string | undefined {
  const nums = (prompt.match(/\d+(?:\.\d+)?/g) ?? []).map(Number);
  if (task === 'addition' || (task === 'polite' && /plus|\+|add|and \d/.test(prompt)))
    return String(nums[0] + nums[1]);
  if (task === 'polite' && /after|follows|one more/.test(prompt)) return String(nums[0] + 1);
  if (task === 'multiplication') return String(BigInt(nums[0]) * BigInt(nums[1]));
  if (task === 'arithmetic') {
    if (/^subtract/i.test(prompt)) return String(nums[1] - nums[0]);
    if (/\+|plus|sum|add/i.test(prompt)) return String(nums[0] + nums[1]);
    if (/-|minus|take away/i.test(prompt)) return String(nums[0] - nums[1]);
    return String(nums[0] * nums[1]);
  }
  if (task === 'compare')
    return String(/bigger|larger|greater/.test(prompt) ? Math.max(...nums) : Math.min(...nums));
  if (task === 'spelling') {
    const words = prompt.toLowerCase().match(/[a-z]+/g) ?? [];
    const template = new Set(
      'how many are there times does the letter appear count word often occur in'.split(' '),
    );
    const l = words.find((w) => w.length === 1)!;
    const w = words.filter((x) => x.length > 2 && !template.has(x));
    assert.equal(w.length, 1, prompt);
    return String([...w[0]].filter((c) => c === l).length);
  }
  return undefined;
}

/** The answer made wrong: its last number one more, or for compare the two numbers of the end swapped. */
function wrongOf(task: string, s: string): string {
  if (task === 'compare') return s.replace(/So (\S+) is (\w+) than (\S+)\.$/, 'So $3 is $2 than $1.');
  if (/there are no \w's in \w+\.$/.test(s)) return s.replace(/there are no (\w)'s/, 'there is 1 $1');
  return s.replace(/(\d+)(\D*)$/, (_, n: string, rest: string) => `${Number(n) + 1}${rest}`);
}

for (const name of RL_TASK_NAMES)
  test(`${name}: deterministic by seed, held-out problems never in train, answers right and checked`, () => {
    const t = rlTask(name, { maxDigits: 3 });
    assert.equal(t.name, name);
    const train = t.items('train', 300, 5);
    assert.equal(train.length, 300);
    assert.deepEqual(t.items('train', 300, 5), train);
    assert.notDeepEqual(t.items('train', 300, 6), train);
    const held = t.items('heldout', 40, 5);
    assert.equal(held.length, 40);
    const trainPrompts = new Set([...train, ...t.items('train', 300, 9)].map((x) => x.prompt));
    for (const x of held) assert.ok(!trainPrompts.has(x.prompt), `held-out "${x.prompt}" is in train`);
    let worked = 0;
    for (const x of [...train.slice(0, 100), ...held]) {
      const want = answerOf(name, x.prompt);
      if (want === undefined) continue;
      assert.equal(x.answer, want, x.prompt);
      worked++;
    }
    if (name !== 'word-problems') assert.ok(worked >= 30, `only ${worked} answers worked out`);
    // the answers SFT teaches (chat-data, the same prompts) pass the checker; a wrong last number fails
    const convs = generateChatData({
      task: name,
      count: 40,
      seed: 5,
      split: 'heldout',
      maxDigits: ['addition', 'arithmetic', 'multiplication'].includes(name) ? 3 : undefined,
      spelling: name === 'spelling' ? 'count' : undefined,
    });
    for (const [i, c] of convs.entries()) {
      const [q, a] = [c.messages[0].content, c.messages[1].content];
      const answer = name === 'polite' ? answerOf(name, q) : held[i].answer;
      if (answer === undefined) continue; // a polite question about a colour or a capital
      if (name !== 'polite') assert.equal(q, held[i].prompt);
      assert.equal(t.check(a, answer), 1, a);
      const wrong = wrongOf(name, a);
      assert.notEqual(wrong, a);
      // contains (addition) still passes a wrong sum that has the answer elsewhere ("0 + 33 = 34." for 33)
      const elsewhere = name === 'addition' && wrong.split(/[^0-9]+/).includes(answer);
      assert.equal(t.check(wrong, answer), elsewhere ? 1 : 0, wrong);
      if (name === 'word-problems') {
        // each worked line's arithmetic redone, and the last result is the answer
        const steps = [...a.matchAll(/(\d+) ([-+*/]) (\d+) = (\d+)/g)];
        assert.ok(steps.length >= 1, a);
        for (const [, x, op, y, z] of steps)
          assert.equal({ '+': +x + +y, '-': +x - +y, '*': +x * +y, '/': +x / +y }[op], +z, a);
        assert.equal(steps.at(-1)![4], answer);
      }
    }
  });

test('a task file: every 10th line held out and kept out of training, or a --heldout file', () => {
  const dir = tmp();
  const file = path.join(dir, 'capitals.jsonl');
  const lines = Array.from({ length: 25 }, (_, i) => ({ prompt: `Question ${i + 1}?`, answer: `A${i + 1}` }));
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n\n');
  const t = rlTask(file, { checker: 'exact' });
  assert.throws(
    () => rlTask('addition', { checker: 'exact' }),
    /--checker is for a task file; addition is checked by its own checker \(contains\): leave --checker out/,
  );
  assert.deepEqual(
    t.items('heldout', 100, 1).map((x) => x.prompt),
    ['Question 10?', 'Question 20?'],
  );
  const train = t.items('train', 100, 1);
  assert.equal(train.length, 23);
  assert.deepEqual(
    train.map((x) => x.prompt).sort(),
    lines
      .filter((_, i) => (i + 1) % 10)
      .map((l) => l.prompt)
      .sort(),
  );
  assert.deepEqual(t.items('train', 100, 1), train, 'the same order for the same seed');
  assert.notDeepEqual(t.items('train', 100, 2), train);
  assert.equal(t.check(' A3 ', 'A3'), 1);
  assert.equal(t.check('A3.', 'A3'), 0);
  // a held-out file: its prompts leave training
  const held = path.join(dir, 'held.jsonl');
  fs.writeFileSync(held, JSON.stringify({ prompt: 'Question 3?', answer: 3 }) + '\n');
  const t2 = rlTask(file, { checker: 'exact', heldout: held });
  assert.deepEqual(t2.items('heldout', 5, 1), [{ prompt: 'Question 3?', answer: '3' }]);
  const trainPrompts = t2.items('train', 100, 1).map((x) => x.prompt);
  assert.equal(trainPrompts.length, 24);
  assert.ok(!trainPrompts.includes('Question 3?'));
});

test('bad task files are refused naming the file, the line, the field and the fix', () => {
  const dir = tmp();
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const ok = (i: number) => JSON.stringify({ prompt: `q${i}`, answer: `${i}` });
  const noAnswer = write('no-answer.jsonl', [ok(1), '{"prompt": "What is 2 + 2?"}', ok(3)].join('\n'));
  assert.throws(
    () => readTaskFile(noAnswer, 'contains'),
    (e: Error) =>
      e.message.includes(`${noAnswer}: 1 bad line (2 good)`) &&
      e.message.includes(
        `${noAnswer}:2: "answer" is missing: add the answer the checker (contains) compares`,
      ),
  );
  const empty = write('empty.jsonl', '\n\n');
  assert.throws(
    () => rlTask(empty),
    new RegExp(`${empty} holds no prompts: write one \\{"prompt": "…", "answer": "…"\\} object a line`),
  );
  const badRegex = write(
    'regex.jsonl',
    [ok(1), JSON.stringify({ prompt: 'q', answer: '(unclosed' })].join('\n'),
  );
  assert.throws(
    () => rlTask(badRegex, { checker: 'regex' }),
    /regex\.jsonl:2: "answer" is not a valid regular expression for --checker regex: Invalid regular expression/,
  );
  const words = write(
    'words.jsonl',
    Array.from({ length: 10 }, (_, i) => ok(i)).join('\n') + '\n{"prompt": "x", "answer": "ten"}',
  );
  assert.throws(
    () => rlTask(words, { checker: 'numeric' }),
    /words\.jsonl:11: "answer" "ten" is not a number, and --checker numeric compares numbers/,
  );
  const notJson = write('bad.jsonl', `${ok(1)}\n{prompt: 1}\n[1]\n{"answer": "2"}`);
  assert.throws(
    () => readTaskFile(notJson, 'exact'),
    (e: Error) =>
      /bad\.jsonl:2: not valid JSON .*each line is \{"prompt": "…", "answer": "…"\}/.test(e.message) &&
      /bad\.jsonl:3: not an object/.test(e.message) &&
      /bad\.jsonl:4: "prompt" is missing/.test(e.message),
  );
  const few = write('few.jsonl', [ok(1), ok(2)].join('\n'));
  assert.throws(
    () => rlTask(few),
    /few\.jsonl has 2 prompts; every 10th is held out .* needs at least 10 \(or give held-out prompts with --heldout FILE\)/,
  );
  // twelve copies of one prompt: the copy on line 10 is held out, and with it every other copy
  const same = write('same.jsonl', Array.from({ length: 12 }, () => ok(1)).join('\n'));
  assert.throws(
    () => rlTask(same),
    /every prompt of .*same\.jsonl is also one of its held-out prompts .*nothing is left to train on/,
  );
  assert.throws(
    () => rlTask(path.join(dir, 'missing.jsonl')),
    /is neither a shipped task \(addition, .*\) nor a file/,
  );
  assert.throws(
    () => rlTask('addition', { heldout: few }),
    /--heldout is for a task file; addition has its own held-out split/,
  );
});

test('llm-lens rl and eval-task refuse a bad pattern before anything runs', () => {
  const dir = tmp();
  const file = path.join(dir, 'regex.jsonl');
  fs.writeFileSync(
    file,
    Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({ prompt: `q${i}`, answer: i === 4 ? '[a-' : `${i}` }),
    ).join('\n'),
  );
  const r = cli(dir, 'rl', '--from', 'nowhere', '--task', file, '--checker', 'regex', '--run-dir', 'rl');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /regex\.jsonl:5: "answer" is not a valid regular expression for --checker regex/);
  assert.ok(!fs.existsSync(path.join(dir, 'rl')), 'no run folder was made');
  const e = cli(dir, 'eval-task', '--checkpoint', 'nowhere', '--task', file, '--checker', 'regex');
  assert.equal(e.status, 1);
  assert.match(e.stderr, /regex\.jsonl:5: "answer" is not a valid regular expression/);
  const unknown = cli(dir, 'eval-task', '--checkpoint', 'nowhere', '--task', 'poetry');
  assert.equal(unknown.status, 2);
  assert.match(
    unknown.stderr,
    /--task poetry is neither a task \(identity, .*word-problems, polite.*\) nor a file/,
  );
});

test('polite holds out phrasings, not facts: each held-out fact is asked in train in other words', () => {
  const t = rlTask('polite');
  const train = t.items('train', 2000, 1);
  /** The thing a question asks about: its last word that is not "have" or "got". */
  const subject = (p: string) =>
    (p.toLowerCase().match(/[a-z]+/g) ?? []).filter((w) => w !== 'have' && w !== 'got').at(-1);
  const known = new Set(train.map((x) => `${subject(x.prompt)} ${x.answer}`));
  const facts = t.items('heldout', 300, 1).filter((x) => !/^\d+$/.test(x.answer));
  assert.ok(facts.length >= 5, `${facts.length} fact questions held out`);
  for (const x of facts) assert.ok(known.has(`${subject(x.prompt)} ${x.answer}`), x.prompt);
});
