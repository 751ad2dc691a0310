/**
 * The preference pairs (rl/preferences.ts) by brute force over thousands of generated pairs: seeded, no
 * prompt repeated, held-out questions never in train (a question's identity recomputed here from its
 * prompt, apart from the generator's key), every chosen answer passing the true checker and every
 * rejected one failing it, and the loophole the file's header promises: a scorer that only looks for a
 * polite word ranks every pair right, while no pair differs in whether it answers. The true checker on
 * hand-written answers; the reader's messages for bad lines.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  generatePreferencePairs,
  preferencesToJsonl,
  readPreferencePairs,
  trueCheck,
} from '../../src/engine/rl/preferences';

const TEMPLATE_WORDS = new Set(
  'what is plus can you add and how much number comes after which follows one more than color colour tell me the of many legs does have has got count capital city name'.split(
    ' ',
  ),
);
/** The question a prompt asks, whatever its phrasing: its non-template words and its answer. */
const identity = (prompt: string, answer: string) =>
  `${(prompt.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((w) => !TEMPLATE_WORDS.has(w)).join(' ')}|${answer}`;
const politeWord = (s: string) => /\b(thank you|thanks|please|happy to help|glad to help)\b/i.test(s);

const train = generatePreferencePairs({ count: 2000 });
const held = generatePreferencePairs({ count: 200, split: 'heldout' });

test('seeded: the same seed gives the same pairs, another seed others; no prompt repeats in a set', () => {
  assert.deepEqual(generatePreferencePairs({ count: 2000 }), train);
  const other = generatePreferencePairs({ count: 2000, seed: 7 });
  assert.notDeepEqual(other, train);
  for (const set of [train, held, other]) assert.equal(new Set(set.map((p) => p.prompt)).size, set.length);
  assert.throws(() => generatePreferencePairs({ count: 0 }), /count must be a positive integer, got 0/);
});

test('held-out questions never appear in train, under any phrasing or seed', () => {
  const trainQs = new Set(
    [...train, ...generatePreferencePairs({ count: 2000, seed: 99 })].map((p) =>
      identity(p.prompt, p.answer!),
    ),
  );
  const heldQs = new Set(held.map((p) => identity(p.prompt, p.answer!)));
  assert.ok(heldQs.size >= 40, `${heldQs.size} held-out questions`);
  for (const q of heldQs) assert.ok(!trainQs.has(q), `held-out question ${q} is in train`);
});

test('every chosen answer passes the true checker and every rejected one fails it; the answer is in both', () => {
  let rude = 0;
  let long = 0;
  for (const p of [...train, ...held]) {
    const a = p.answer!;
    // the right answer, computed here from the prompt where it is arithmetic
    const sum = /(\d+) (?:plus|\+|and) (\d+)/.exec(p.prompt);
    const next = /(?:after|follows|than) (\d+)/.exec(p.prompt);
    if (sum) assert.equal(a, String(+sum[1] + +sum[2]), p.prompt);
    else if (next) assert.equal(a, String(+next[1] + 1), p.prompt);
    const c = trueCheck(p.prompt, p.chosen, a);
    assert.deepEqual(c, { polite: true, answers: true, short: true, pass: true }, p.chosen);
    const r = trueCheck(p.prompt, p.rejected, a);
    assert.equal(r.pass, false, p.rejected);
    assert.equal(r.answers, true, p.rejected);
    if (!r.polite) rude++;
    if (!r.short) long++;
  }
  // both kinds of rejected answer are common
  assert.ok(rude > 500 && long > 500, `rude ${rude}, long ${long}`);
});

test('the loophole: a polite word alone ranks every pair, and no pair differs in answering', () => {
  for (const p of [...train, ...held]) {
    assert.ok(politeWord(p.chosen) && !politeWord(p.rejected), JSON.stringify(p));
    assert.equal(
      trueCheck(p.prompt, p.chosen, p.answer!).answers,
      trueCheck(p.prompt, p.rejected, p.answer!).answers,
    );
  }
  // so what games the polite-word scorer fails what was meant
  const gamed = trueCheck('What color is snow?', 'Thank you thank you thank you', 'white');
  assert.deepEqual(gamed, { polite: true, answers: false, short: true, pass: false });
});

test('trueCheck by hand: polite, short and answering, each alone', () => {
  const q = 'What is 9 plus 8?';
  assert.equal(trueCheck(q, 'Thanks! 17.', '17').pass, true);
  assert.equal(trueCheck(q, 'Thanks! 170.', '17').answers, false);
  assert.equal(trueCheck(q, 'It is 17.', '17').polite, false);
  assert.equal(trueCheck(q, 'Obviously 17, thanks.', '17').polite, false);
  assert.equal(trueCheck(q, `Thank you, ${'it is really '.repeat(4)}17.`, '17').short, false);
  assert.equal(trueCheck('Capital of Peru?', 'Happy to help: lima.', 'Lima').pass, true);
  assert.equal(trueCheck(q, 'Please.', '').answers, false);
});

test('readPreferencePairs: the file round-trips; bad lines are named by file:line with the field and fix', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prefs-'));
  try {
    const good = path.join(dir, 'good.jsonl');
    fs.writeFileSync(good, preferencesToJsonl(held) + '\n');
    assert.deepEqual(readPreferencePairs(good), held);
    const bad = path.join(dir, 'bad.jsonl');
    const ok = JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'b' });
    fs.writeFileSync(
      bad,
      [
        ok,
        '{"prompt": "p", "chosen": "a", ',
        JSON.stringify({ prompt: 'p', chosen: 'a' }),
        JSON.stringify({ prompt: 'p', chosen: 3, rejected: 'b' }),
        JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'a' }),
        '[1, 2]',
      ].join('\n'),
    );
    assert.throws(
      () => readPreferencePairs(bad),
      (e: Error) => {
        assert.match(e.message, new RegExp(`^${bad}: 5 bad lines \\(1 good\\)`));
        assert.match(e.message, new RegExp(`${bad}:2: not valid JSON`));
        assert.match(e.message, new RegExp(`${bad}:3: missing "rejected": each line needs`));
        assert.match(e.message, new RegExp(`${bad}:4: "chosen" must be a non-empty string, got 3`));
        assert.match(e.message, new RegExp(`${bad}:5: "chosen" and "rejected" are the same text`));
        assert.match(e.message, new RegExp(`${bad}:6: expected an object`));
        return true;
      },
    );
    const empty = path.join(dir, 'empty.jsonl');
    fs.writeFileSync(empty, '\n\n');
    assert.throws(() => readPreferencePairs(empty), /empty\.jsonl holds no preference pairs/);
    assert.throws(
      () => readPreferencePairs(path.join(dir, 'none.jsonl')),
      /cannot read the preference pairs/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
