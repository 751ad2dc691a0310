/**
 * Chat tasks whose answers show their work, one step a line, because a model computes only as much per
 * token as one forward pass: column arithmetic with carries and borrows, letter counting one character
 * at a time (why "strawberry" is hard for a model that sees "straw" + "berry"), and comparing decimals
 * by their digits (9.11 < 9.9). Each `*Problem` draws a problem from rng and returns its split key (the
 * problem, not its phrasing), the question and the answer; chatData.ts drives them. ASCII only.
 *
 *   arithmeticProblem(rng).answer   // for "What is 47 + 38?":
 *   // Add column by column, from the right.
 *   // Ones: 7 + 8 = 15. Write 5, carry 1.
 *   // Tens: 4 + 3 + 1 = 8. Write 8.
 *   // So 47 + 38 = 85.
 */
import type { Rng } from '../train/rng';

export interface Problem {
  /** What makes two problems the same (the split keeps each key on one side). */
  key: string;
  question: string;
  answer: string;
}

export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.randint(xs.length)];
/** A number of minDigits to maxDigits digits (the count of digits uniform, then the value). */
const number = (rng: Rng, minDigits: number, maxDigits: number): number => {
  const d = minDigits + rng.randint(maxDigits - minDigits + 1);
  return d === 1 ? rng.randint(10) : 10 ** (d - 1) + rng.randint(9 * 10 ** (d - 1));
};
/** 'Who is {p}?' with v.p in place of {p}. */
export const fill = (template: string, v: Record<string, string | number>) =>
  template.replace(/\{(\w+)\}/g, (_, k: string) => String(v[k]));
export const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** Digits, ones first. */
const digits = (n: number) => [...String(n)].reverse().map(Number);
const PLACES = ['ones', 'tens', 'hundreds', 'thousands', 'ten-thousands', 'hundred-thousands'];

// ---- arithmetic ------------------------------------------------------------------------------------

export const ASK = {
  '+': [
    'What is {a} + {b}?',
    "What's {a} plus {b}?",
    'Add {a} and {b}.',
    'Compute {a} + {b}.',
    '{a} + {b} = ?',
    'How much is {a} plus {b}?',
    'What is the sum of {a} and {b}?',
    'Please calculate {a} + {b}.',
  ],
  '-': [
    'What is {a} - {b}?',
    "What's {a} minus {b}?",
    'Subtract {b} from {a}.',
    'Compute {a} - {b}.',
    '{a} - {b} = ?',
    'How much is {a} minus {b}?',
    'What is {a} take away {b}?',
  ],
  '*': [
    'What is {a} * {b}?',
    "What's {a} times {b}?",
    'Multiply {a} by {b}.',
    'Compute {a} * {b}.',
    '{a} * {b} = ?',
    'How much is {a} times {b}?',
    'What is the product of {a} and {b}?',
  ],
};

function addWork(a: number, b: number): string[] {
  const [x, y] = [digits(a), digits(b)];
  const lines = ['Add column by column, from the right.'];
  let carry = 0;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const s = (x[i] ?? 0) + (y[i] ?? 0) + carry;
    const terms = [x[i] ?? 0, y[i] ?? 0, ...(carry ? [carry] : [])].join(' + ');
    carry = s >= 10 ? 1 : 0;
    lines.push(`${cap(PLACES[i])}: ${terms} = ${s}. Write ${s % 10}${carry ? ', carry 1' : ''}.`);
  }
  if (carry) lines.push(`${cap(PLACES[Math.max(x.length, y.length)])}: the carried 1. Write 1.`);
  return lines;
}

function subtractWork(a: number, b: number): string[] {
  const [x, y] = [digits(a), digits(b)];
  const lines = ['Subtract column by column, from the right.'];
  let borrow = 0;
  for (let i = 0; i < x.length; i++) {
    const terms = [x[i], ...(borrow ? [borrow] : []), y[i] ?? 0];
    const d = x[i] - borrow - (y[i] ?? 0);
    const place = cap(PLACES[i]);
    if (d >= 0) lines.push(`${place}: ${terms.join(' - ')} = ${d}. Write ${d}.`);
    else {
      const t = [10 + x[i], ...terms.slice(1)].join(' - ');
      lines.push(
        `${place}: ${terms.join(' - ')} is below 0, so borrow 1 from the ${PLACES[i + 1]}: ${t} = ${d + 10}. Write ${d + 10}.`,
      );
    }
    borrow = d < 0 ? 1 : 0;
  }
  return lines;
}

/** The nonzero place-value parts of n, largest first: 307 → [300, 7]. */
const parts = (n: number) =>
  digits(n)
    .map((d, i) => d * 10 ** i)
    .filter((p) => p > 0)
    .reverse();

function multiplyWork(a: number, b: number): string[] {
  const [split, other] = b < 10 ? [a, b] : [b, a]; // split the number with more than one digit
  const ps = parts(split);
  if (ps.length < 2) return [`${a} * ${b} = ${a * b}.`];
  const products = ps.map((p) => p * other);
  const line = (p: number) => (split === a ? `${p} * ${other}` : `${other} * ${p}`);
  return [
    `Split ${split} into ${ps.join(' + ')}.`,
    ...ps.map((p, i) => `${line(p)} = ${products[i]}.`),
    `Add them: ${products.join(' + ')} = ${a * b}.`,
  ];
}

const OPS = {
  '+': { work: addWork, result: (a: number, b: number) => a + b },
  '-': { work: subtractWork, result: (a: number, b: number) => a - b },
  '*': { work: multiplyWork, result: (a: number, b: number) => a * b },
};

/**
 * +, - (no negative results) or * with the work shown: a and b of 1 to 4 digits for + and -, 2–3 digits
 * times 1–2 for *; `maxDigits` caps every operand (2: problems up to 99 + 99, short enough for a small
 * model's block). The draws are the same whatever the cap, so a seed gives the same sequence of choices.
 */
export function arithmeticProblem(rng: Rng, maxDigits = 4): Problem {
  const op = pick(rng, ['+', '-', '*'] as const);
  const n = (lo: number, hi: number) => number(rng, Math.min(lo, maxDigits), Math.min(hi, maxDigits));
  let [a, b] = op === '*' ? [n(2, 3), n(1, 2)] : [n(1, 4), n(1, 4)];
  if (op === '-' && a < b) [a, b] = [b, a];
  const { work, result } = OPS[op];
  return {
    key: `${a} ${op} ${b}`,
    question: fill(pick(rng, ASK[op]), { a, b }),
    answer: [...work(a, b), `So ${a} ${op} ${b} = ${result(a, b)}.`].join('\n'),
  };
}

/**
 * + only, answered in one line without the work ("47 + 38 = 85."): short answers for RL, where every
 * answer token is sampled and scored. Operands of 1 to `maxDigits` digits; the key is arithmetic's, so a
 * sum held out there is held out here.
 */
export function additionProblem(rng: Rng, maxDigits = 4): Problem {
  const [a, b] = [number(rng, 1, maxDigits), number(rng, 1, maxDigits)];
  return {
    key: `${a} + ${b}`,
    question: fill(pick(rng, ASK['+']), { a, b }),
    answer: `${a} + ${b} = ${a + b}.`,
  };
}

// ---- spelling and letter counting ---------------------------------------------------------------

export const WORDS = (
  'strawberry banana mississippi apple orange cherry raspberry blueberry pineapple coconut tomato potato ' +
  'necessary occasionally embarrass committee bookkeeper balloon coffee letter address success accommodate ' +
  'parallel millennium questionnaire recommend tomorrow beginning different difficult library february ' +
  'wednesday government environment restaurant separate definitely calendar category cemetery conscience ' +
  'elephant giraffe kangaroo alligator hippopotamus butterfly caterpillar dolphin octopus penguin squirrel ' +
  'rhythm syllable alphabet paragraph sentence grammar dictionary language keyboard computer internet ' +
  'programming algorithm variable function parameter transformer attention embedding gradient tokenizer ' +
  'bottle kettle puzzle little middle pepper happiness mirror carrot cabbage lettuce broccoli spaghetti ' +
  'umbrella vanilla chocolate cinnamon peppermint marshmallow lollipop popcorn bubblegum sassafras ' +
  'possess assassin tennessee connecticut massachusetts philippines caribbean referee teenager ' +
  'excellent independent persistent committed beekeeper assessment successful unnecessary'
).split(' ');

const SPELL = [
  'How do you spell {w}?',
  'Spell {w} letter by letter.',
  'Can you spell the word {w}?',
  "Spell out '{w}'.",
  'What are the letters of {w}?',
];
export const COUNT = [
  "How many {l}'s are in {w}?",
  'How many times does the letter {l} appear in {w}?',
  'Count the letter {l} in the word {w}.',
  "How many {l}'s are there in '{w}'?",
  "In the word {w}, how many {l}'s are there?",
  'How often does {l} occur in {w}?',
];

/** 'there are no x's', 'there is 1 x', 'there are 3 x's'. */
function howMany(n: number, l: string): string {
  if (n === 0) return `there are no ${l}'s`;
  return n === 1 ? `there is 1 ${l}` : `there are ${n} ${l}'s`;
}

function countAnswer(w: string, l: string): string {
  let n = 0;
  const lines = [...w].map((c) => (c === l ? `${c} - ${++n}` : c));
  return [`Let me spell it out and count the ${l}'s:`, ...lines, `So ${howMany(n, l)} in ${w}.`].join('\n');
}

/** Spell a word, or count a letter in it (a letter it has, mostly), one character a line. */
export function spellingProblem(rng: Rng): Problem {
  const w = pick(rng, WORDS);
  if (rng.next() < 0.3) {
    const answer = `${[...w].join('-')}\nThat is ${w.length} letters.`;
    return { key: w, question: fill(pick(rng, SPELL), { w }), answer };
  }
  const l = rng.next() < 0.85 ? pick(rng, [...w]) : pick(rng, [...'abcdefghijklmnopqrstuvwxyz']);
  return { key: w, question: fill(pick(rng, COUNT), { w, l }), answer: countAnswer(w, l) };
}

// ---- comparing decimals ---------------------------------------------------------------------------

const BIGGER = [
  'Which is bigger, {a} or {b}?',
  'Which number is larger: {a} or {b}?',
  'Which is greater, {a} or {b}?',
  '{a} or {b}: which is bigger?',
  'Is {a} or {b} the larger number?',
];
const SMALLER = [
  'Which is smaller, {a} or {b}?',
  'Which number is less: {a} or {b}?',
  '{a} or {b}: which is smaller?',
];

/** A decimal with 1 to 3 digits after the point, not ending in 0: [whole, fraction digits]. */
function decimal(rng: Rng, whole: number): [number, string] {
  const n = 1 + rng.randint(3);
  const frac = Array.from({ length: n }, (_, i) => (i === n - 1 ? 1 + rng.randint(9) : rng.randint(10)));
  return [whole, frac.join('')];
}

const relation = (d: number) => ['<', '=', '>'][Math.sign(d) + 1];

/** The steps that compare two decimals, and the sign of a - b. */
function compareWork([wa, fa]: [number, string], [wb, fb]: [number, string]): [string[], number] {
  const [a, b] = [`${wa}.${fa}`, `${wb}.${fb}`];
  if (wa !== wb)
    return [[`Compare the whole parts first: ${wa} ${relation(wa - wb)} ${wb}.`], Math.sign(wa - wb)];
  const n = Math.max(fa.length, fb.length);
  const [pa, pb] = [fa.padEnd(n, '0'), fb.padEnd(n, '0')];
  const steps: string[] = [];
  let sign = 0;
  for (let i = 0; i < n && !sign; i++) {
    sign = Math.sign(Number(pa[i]) - Number(pb[i]));
    steps.push(`${pa[i]} ${relation(sign)} ${pb[i]}`);
  }
  return [
    [
      `Compare the whole parts first: ${wa} = ${wb}.`,
      `Then the decimals, padded to the same length: ${a} is ${wa}.${pa} and ${b} is ${wb}.${pb}.`,
      `Digit by digit after the point: ${steps.join(', ')}.`,
    ],
    sign,
  ];
}

/** Which of two decimals is bigger (or smaller); mostly with the same whole part, as 9.11 and 9.9. */
export function compareProblem(rng: Rng): Problem {
  let x: [number, string], y: [number, string], work: string[], sign: number;
  do {
    const w = rng.randint(20);
    x = decimal(rng, w);
    y = decimal(rng, rng.next() < 0.75 ? w : rng.randint(20));
    [work, sign] = compareWork(x, y);
  } while (!sign); // the same number twice: draw again
  const [a, b] = [`${x[0]}.${x[1]}`, `${y[0]}.${y[1]}`];
  const bigger = rng.next() < 0.7;
  const [first, second] = sign > 0 === bigger ? [a, b] : [b, a];
  return {
    key: [a, b].sort().join(' '),
    question: fill(pick(rng, bigger ? BIGGER : SMALLER), { a, b }),
    answer: [...work, `So ${first} is ${bigger ? 'bigger' : 'smaller'} than ${second}.`].join('\n'),
  };
}
