/**
 * The base-model lab (src/engine/sample/lab.ts): the regurgitation measure against brute force (a naive
 * O(n³) longest common run, prefixes by startsWith) on random strings and against hand-counted cases; the
 * passage split on hand cases and a property (prompt + remainder is the passage); the experiments against
 * the Sampler's message validator, which also checks the meter's message; a Generate's prompt recognized as
 * its experiment (the walkthrough's lab step).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  GETTYSBURG,
  LAB_EXPERIMENTS,
  labExperiment,
  labExperimentOfPrompt,
  longestCommonRun,
  measureRegurgitation,
  splitPassage,
} from '../../src/engine/sample/lab';
import { isSamplerWebviewMessage, SAMPLER_LIMITS } from '../../src/host/sampler/validate';
import type { SamplerParams } from '../../src/protocol/sampler';
import { Rng } from '../../src/engine/train/rng';

/** Naive longest common run: every start pair, extended; the earliest `at`, then the earliest `passageAt`. */
function bruteRun(a: string[], b: string[]): { length: number; at: number; passageAt: number } {
  let best = { length: 0, at: 0, passageAt: 0 };
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < b.length; j++) {
      let k = 0;
      while (i + k < a.length && j + k < b.length && a[i + k] === b[j + k]) k++;
      if (k > best.length) best = { length: k, at: i, passageAt: j };
    }
  return best;
}

function randomText(rng: Rng, alphabet: string[], n: number): string {
  return Array.from({ length: n }, () => alphabet[rng.randint(alphabet.length)]).join('');
}

/** Cuts a text into tokens of 0–4 characters (code points). */
function tokensOf(rng: Rng, text: string): string[] {
  const cps = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < cps.length;) {
    const n = rng.randint(5);
    out.push(cps.slice(i, i + n).join(''));
    i += n;
  }
  return out;
}

test('longestCommonRun equals a naive O(n³) search on 3,000 random pairs (small alphabets, emoji)', () => {
  const rng = new Rng(18);
  const alphabets = [['a', 'b'], ['a', 'b', 'c'], ['x', ' ', '🍓', 'é'], [...'abcdefgh']];
  for (let trial = 0; trial < 3000; trial++) {
    const abc = alphabets[trial % alphabets.length];
    const a = Array.from(randomText(rng, abc, rng.randint(25)));
    const b = Array.from(randomText(rng, abc, rng.randint(40)));
    assert.deepEqual(longestCommonRun(a, b), bruteRun(a, b), `${a.join('')} | ${b.join('')}`);
  }
});

test('measureRegurgitation equals brute force on random continuations that copy, skip and change the passage', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 2000; trial++) {
    const abc = trial % 2 ? ['a', 'b', ' '] : ['a', 'b', 'c', '🍓', ' '];
    const remainder = randomText(rng, abc, rng.randint(40));
    // the continuation: a copy of the remainder's start, then a change, then maybe more of the remainder
    const keep = rng.randint(remainder.length + 1);
    const rest = Array.from(remainder)
      .slice(keep + rng.randint(3))
      .join('');
    const text =
      Array.from(remainder).slice(0, keep).join('') +
      randomText(rng, abc, rng.randint(3)) +
      Array.from(rest).slice(0, 15).join('');
    const tokens = tokensOf(rng, text);
    const got = Array.from(tokens.join(''));
    const want = Array.from(remainder);
    const m = measureRegurgitation(remainder, tokens);
    let prefix = 0;
    while (prefix < got.length && prefix < want.length && got[prefix] === want[prefix]) prefix++;
    let wholeTokens = tokens.length;
    while (wholeTokens > 0 && !remainder.startsWith(tokens.slice(0, wholeTokens).join(''))) wholeTokens--;
    assert.equal(m.verbatimChars, prefix, `${remainder} | ${text}`);
    assert.equal(m.verbatimTokens, wholeTokens, `${remainder} | ${JSON.stringify(tokens)}`);
    assert.equal(m.continuationChars, got.length);
    assert.equal(m.continuationTokens, tokens.length);
    assert.equal(m.divergeAt, prefix < got.length ? prefix : null);
    assert.equal(m.passageEnded, prefix < got.length && prefix === want.length);
    assert.deepEqual(m.longest, bruteRun(got, want));
  }
});

test('measureRegurgitation by hand: the Gettysburg Address, a recited run after a skip, emoji as one character', () => {
  const { prompt, remainder } = splitPassage(GETTYSBURG);
  assert.ok(prompt.startsWith('Four score') && prompt.endsWith('created equal.'), prompt);
  assert.ok(remainder.startsWith(' Now we are engaged'));
  const tokens = [
    ' Now',
    ' we',
    ' are',
    ' engaged',
    ' in',
    ' a',
    ' great',
    ' civil',
    ' war',
    ',',
    ' testing',
  ];
  const m = measureRegurgitation(remainder, [...tokens, ' whether', ' this', ' land']);
  // " Now we are engaged in a great civil war, testing whether th" then "is" ≠ "at": 60 characters
  assert.equal(m.verbatimChars, 60);
  assert.equal(m.divergeAt, 60);
  assert.equal(m.verbatimTokens, 12);
  assert.equal(m.continuationTokens, 14);
  assert.equal(m.continuationChars, 67);
  assert.equal(m.passageEnded, false);

  // skips "are": " Now we " (8) then "e" ≠ "a"; the longest run is "e engaged in a" (14: "wE engaged",
  // "arE engaged") from 6, passage 10
  const skip = measureRegurgitation(' Now we are engaged in a', [' Now', ' we', ' engaged', ' in', ' a']);
  assert.deepEqual(
    { v: skip.verbatimChars, d: skip.divergeAt, t: skip.verbatimTokens, l: skip.longest },
    { v: 8, d: 8, t: 2, l: { length: 14, at: 6, passageAt: 10 } },
  );

  const emoji = measureRegurgitation(' 🍓 ab', [' 🍓', ' a', 'c']);
  assert.deepEqual([emoji.verbatimChars, emoji.continuationChars, emoji.verbatimTokens], [4, 5, 2]);

  const all = measureRegurgitation(' to the end', [' to', ' the']);
  assert.deepEqual([all.verbatimChars, all.divergeAt, all.passageEnded], [7, null, false]);
  const past = measureRegurgitation(' end', [' end', '.']);
  assert.deepEqual([past.verbatimChars, past.divergeAt, past.passageEnded], [4, 4, true]);
  const none = measureRegurgitation(' x', []);
  assert.deepEqual([none.continuationChars, none.divergeAt, none.longest.length], [0, null, 0]);
});

test('splitPassage: the first sentence at least 20 characters long, closing quotes, CRLF, ? and !', () => {
  assert.deepEqual(splitPassage('  Dr. Smith went to Washington. He stayed.  '), {
    prompt: 'Dr. Smith went to Washington.',
    remainder: ' He stayed.',
    split: 'sentence',
  });
  assert.deepEqual(splitPassage('She said "that is enough for today." Then\r\nshe left.'), {
    prompt: 'She said "that is enough for today."',
    remainder: ' Then\nshe left.',
    split: 'sentence',
  });
  assert.equal(
    splitPassage('Is this the very first question?\nYes!').prompt,
    'Is this the very first question?',
  );
  assert.equal(splitPassage('Stop right there, you villain! Or not.').remainder, ' Or not.');
  // the fifth "Ok." ends at 19, the sixth at 23
  assert.equal(splitPassage('Ok. Ok. Ok. Ok. Ok. Ok. Ok. Ok. Ok.').prompt, 'Ok. Ok. Ok. Ok. Ok. Ok.');
  assert.throws(() => splitPassage(' \n '), /passage is empty/);
});

test('splitPassage without a sentence end takes a prefix: a third, at most maxPrefix, cut at a word', () => {
  // 33 characters, a third is 11: "one two thr" → back to the space after "two"
  assert.deepEqual(splitPassage('one two three four five six seven'), {
    prompt: 'one two',
    remainder: ' three four five six seven',
    split: 'prefix',
  });
  // one sentence only: its end has nothing after it
  assert.equal(splitPassage('A single sentence that ends the text.').split, 'prefix');
  // no white space at all: the third, as it is
  assert.deepEqual(splitPassage('abcdefghijkl'), { prompt: 'abcd', remainder: 'efghijkl', split: 'prefix' });
  assert.deepEqual(splitPassage('a'), { prompt: 'a', remainder: '', split: 'prefix' });
  assert.equal(splitPassage('word '.repeat(300), { maxPrefix: 50 }).prompt, 'word '.repeat(10).trim());
  // a code point is not cut in two
  assert.equal(splitPassage('🍓🍓🍓🍓🍓🍓').prompt, '🍓🍓');
});

test('splitPassage: prompt + remainder is the trimmed passage, the prompt never ends in white space', () => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 2000; trial++) {
    const text = randomText(rng, ['a', 'b', ' ', '.', '!', '\n', '"', '🍓'], 1 + rng.randint(60));
    if (!text.trim()) continue;
    const s = splitPassage(text, { minSentence: rng.randint(25) });
    assert.equal(s.prompt + s.remainder, text.trim(), JSON.stringify(text));
    assert.ok(s.prompt.length > 0 && !/\s$/.test(s.prompt), JSON.stringify(s));
    if (s.split === 'sentence') assert.match(s.prompt, /[.!?]"*$/);
  }
});

test('the experiments: unique ids, each valid as a Generate or a meter message, the lessons Karpathy names', () => {
  assert.equal(new Set(LAB_EXPERIMENTS.map((e) => e.id)).size, LAB_EXPERIMENTS.length);
  for (const e of LAB_EXPERIMENTS) {
    const { streams, ...rest } = e.settings;
    const params: SamplerParams = { ...rest, seed: 1337 };
    const message =
      e.kind === 'sample'
        ? { type: 'generate', prompt: e.prompt, params, streams }
        : { type: 'regurgitate', passage: e.prompt, params };
    assert.ok(isSamplerWebviewMessage(message), e.id);
    assert.ok(e.lesson.length > 80 && e.lookFor.length > 40, e.id);
  }
  assert.equal(labExperiment('two-plus-two')?.prompt, 'What is 2+2?');
  assert.ok(labExperiment('parallel-universes')!.settings.streams > 1);
  assert.equal(labExperiment('regurgitation')!.settings.temperature, 0);
  assert.equal(labExperiment('nope'), undefined);
});

test('labExperimentOfPrompt: a Generate of a sample experiment’s exact prompt is that experiment', () => {
  for (const e of LAB_EXPERIMENTS.filter((x) => x.kind === 'sample'))
    assert.equal(labExperimentOfPrompt(e.prompt)?.id, e.id);
  assert.equal(labExperimentOfPrompt('What is 2+2?')?.id, 'two-plus-two');
  // the meter's passage is sent as 'regurgitate', never as a Generate: it is no Generate's experiment
  assert.equal(labExperimentOfPrompt(GETTYSBURG), undefined);
  for (const other of ['What is 2+2', 'What is 2+2? ', 'ROMEO:', ''])
    assert.equal(labExperimentOfPrompt(other), undefined, JSON.stringify(other));
});

test('the validator: regurgitate takes a passage of 1 to 20,000 characters and full sampling params, nothing else', () => {
  const params = { ...labExperiment('regurgitation')!.settings, seed: 1 } as Record<string, unknown>;
  delete params.streams;
  const ok = { type: 'regurgitate', passage: 'Four score.', params };
  assert.ok(isSamplerWebviewMessage(ok));
  assert.ok(isSamplerWebviewMessage({ ...ok, passage: 'x'.repeat(SAMPLER_LIMITS.passage) }));
  for (const bad of [
    { ...ok, passage: '' },
    { ...ok, passage: 'x'.repeat(SAMPLER_LIMITS.passage + 1) },
    { ...ok, passage: 3 },
    { ...ok, params: { ...params, temperature: -1 } },
    { ...ok, params: { ...params, streams: 2 } },
    { ...ok, extra: 1 },
    { type: 'regurgitate', passage: 'x' },
  ])
    assert.equal(isSamplerWebviewMessage(bad), false, JSON.stringify(bad).slice(0, 120));
});
