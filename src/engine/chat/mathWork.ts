/**
 * Two math chat tasks with their work shown, for fine-tuning and then RL with a checked answer
 * (rl/rlTasks.ts): multi-digit multiplication without tools, every digit times every digit and then one
 * sum, and small word problems in the style of GSM8K made from templates, one step a line and the
 * answer in a last line "The answer is N.". chatData.ts drives them (split keys, seeds). ASCII only.
 *
 *   multiplicationProblem(rng).answer   // for "What is 47 * 38?":
 *   // Multiply every part by every part.
 *   // 40 * 30 = 1200. 40 * 8 = 320. 7 * 30 = 210. 7 * 8 = 56.
 *   // Add them: 1200 + 320 + 210 + 56 = 1786.
 *   // So 47 * 38 = 1786.
 *   wordProblem(rng)
 *   // { key: 'buy-packs 5 3 4', question: 'Mia has 5 apples. She buys 3 bags with 4 apples in each.
 *   //   How many apples does she have now?', answer: 'She buys 3 * 4 = 12 apples.\n
 *   //   She has 5 + 12 = 17 apples.\nThe answer is 17.' }
 */
import type { Rng } from '../train/rng';
import { ASK, fill, pick, type Problem } from './chatWork';

/** A number of minDigits to maxDigits digits, at least 2 (multiplying by 0 or 1 teaches nothing). */
function operand(rng: Rng, minDigits: number, maxDigits: number): number {
  const d = minDigits + rng.randint(maxDigits - minDigits + 1);
  return d === 1 ? 2 + rng.randint(8) : 10 ** (d - 1) + rng.randint(9 * 10 ** (d - 1));
}

/** The nonzero place-value parts of n, largest first: 307 → [300, 7]. */
const placeParts = (n: number) =>
  [...String(n)].map((d, i, all) => Number(d) * 10 ** (all.length - 1 - i)).filter((p) => p > 0);

/**
 * a * b with a of 2–3 digits and b of 2 (capped by `maxDigits`), worked as the sum of the products of
 * their place-value parts; the key is arithmetic's, so a product held out there is held out here.
 */
export function multiplicationProblem(rng: Rng, maxDigits = 3): Problem {
  const [a, b] = [
    operand(rng, Math.min(2, maxDigits), Math.min(3, maxDigits)),
    operand(rng, Math.min(2, maxDigits), Math.min(2, maxDigits)),
  ];
  const products = placeParts(a).flatMap((x) => placeParts(b).map((y) => [x, y, x * y] as const));
  const lines = [
    'Multiply every part by every part.',
    products.map(([x, y, p]) => `${x} * ${y} = ${p}.`).join(' '),
  ];
  if (products.length > 1) lines.push(`Add them: ${products.map(([, , p]) => p).join(' + ')} = ${a * b}.`);
  return {
    key: `${a} * ${b}`,
    question: fill(pick(rng, ASK['*']), { a, b }),
    answer: [...lines, `So ${a} * ${b} = ${a * b}.`].join('\n'),
  };
}

// ---- word problems ---------------------------------------------------------------------------------

const PEOPLE: [string, 'He' | 'She'][] = [
  ['Mia', 'She'],
  ['Tom', 'He'],
  ['Ana', 'She'],
  ['Sam', 'He'],
  ['Lea', 'She'],
  ['Ben', 'He'],
  ['Zoe', 'She'],
  ['Max', 'He'],
];
const THINGS = ['apples', 'stickers', 'marbles', 'cookies', 'pencils', 'cards', 'shells', 'stamps'];

interface Template {
  id: string;
  /** The numbers of one problem. */
  draw: (rng: Rng) => Record<string, number>;
  question: string;
  /** The worked lines, each "… x op y = z …"; the last value is the answer. */
  work: (v: Record<string, number>) => [string[], number];
}

const n = (rng: Rng, lo: number, hi: number) => lo + rng.randint(hi - lo + 1);

const TEMPLATES: Template[] = [
  {
    id: 'buy-more',
    draw: (rng) => ({ a: n(rng, 2, 30), b: n(rng, 2, 30) }),
    question: '{name} has {a} {things}. {Pro} buys {b} more. How many {things} does {pro} have now?',
    work: ({ a, b }) => [[`{Pro} has {a} + {b} = ${a + b} {things}.`], a + b],
  },
  {
    id: 'give-away',
    draw: (rng) => {
      const b = n(rng, 2, 20);
      return { a: b + n(rng, 1, 25), b };
    },
    question: '{name} has {a} {things} and gives {b} of them to a friend. How many {things} are left?',
    work: ({ a, b }) => [[`{Pro} has {a} - {b} = ${a - b} {things} left.`], a - b],
  },
  {
    id: 'bags',
    draw: (rng) => ({ a: n(rng, 2, 9), b: n(rng, 2, 12) }),
    question: '{name} buys {a} bags with {b} {things} in each. How many {things} is that?',
    work: ({ a, b }) => [[`{a} bags of {b} are {a} * {b} = ${a * b} {things}.`], a * b],
  },
  {
    id: 'buy-packs',
    draw: (rng) => ({ a: n(rng, 2, 20), b: n(rng, 2, 6), c: n(rng, 2, 9) }),
    question:
      '{name} has {a} {things}. {Pro} buys {b} packs with {c} {things} in each. How many {things} does {pro} have now?',
    work: ({ a, b, c }) => [
      [`{Pro} buys {b} * {c} = ${b * c} {things}.`, `{Pro} has {a} + ${b * c} = ${a + b * c} {things}.`],
      a + b * c,
    ],
  },
  {
    id: 'share',
    draw: (rng) => {
      const [q, b] = [n(rng, 2, 9), n(rng, 2, 6)];
      return { a: q * b, b, q };
    },
    question: '{name} shares {a} {things} equally among {b} friends. How many {things} does each friend get?',
    work: ({ q }) => [[`Each friend gets {a} / {b} = ${q} {things}.`], q],
  },
  {
    id: 'change',
    draw: (rng) => {
      const [a, b] = [n(rng, 2, 9), n(rng, 2, 5)];
      return { a, b, c: a * b + n(rng, 1, 20) };
    },
    question:
      'A toy costs {a} dollars. {name} buys {b} toys and pays with {c} dollars. How many dollars of change does {pro} get?',
    work: ({ a, b, c }) => [
      [`{b} toys cost {b} * {a} = ${a * b} dollars.`, `The change is {c} - ${a * b} = ${c - a * b} dollars.`],
      c - a * b,
    ],
  },
  {
    id: 'pages',
    draw: (rng) => ({ a: n(rng, 2, 12), b: n(rng, 2, 7), c: n(rng, 2, 20) }),
    question:
      '{name} reads {a} pages a day for {b} days, and then {c} more pages. How many pages does {pro} read in all?',
    work: ({ a, b, c }) => [
      [`In {b} days: {a} * {b} = ${a * b} pages.`, `In all: ${a * b} + {c} = ${a * b + c} pages.`],
      a * b + c,
    ],
  },
  {
    id: 'eat',
    draw: (rng) => {
      const [b, c] = [n(rng, 2, 9), n(rng, 2, 9)];
      return { a: b + c + n(rng, 1, 20), b, c };
    },
    question:
      '{name} has {a} {things}. {Pro} eats {b} on Monday and {c} on Tuesday. How many {things} are left?',
    work: ({ a, b, c }) => [
      [`{Pro} eats {b} + {c} = ${b + c}.`, `{a} - ${b + c} = ${a - b - c} {things} are left.`],
      a - b - c,
    ],
  },
];

/** A GSM8K-style problem from a template: one or two steps, numbers below 100, a whole answer ≥ 0. */
export function wordProblem(rng: Rng): Problem {
  const t = pick(rng, TEMPLATES);
  const v = t.draw(rng);
  const [name, Pro] = pick(rng, PEOPLE);
  const things = t.id === 'pages' || t.id === 'change' ? '' : pick(rng, THINGS);
  const words = { ...v, name, Pro, pro: Pro.toLowerCase(), things };
  const [lines, result] = t.work(v);
  return {
    key: `${t.id} ${Object.values(v).join(' ')}`,
    question: fill(t.question, words),
    answer: [...lines.map((l) => fill(l, words)), `The answer is ${result}.`].join('\n'),
  };
}
