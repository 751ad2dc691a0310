/**
 * Chat tasks answered with tools (tools/toolLoop.ts), for fine-tuning a model to call them rather than
 * compute in its head: the assistant writes a call, the tool's output comes back, the assistant answers
 * from it. The outputs here are what the tools return (the calculator's digits, python's print without
 * its last newline), so a model fine-tuned on them sees at sampling time what it saw in training.
 *
 *   multiplyToolProblem(rng).messages   // for "What is 347 * 582?":
 *   // [{ role: 'assistant', content: '', toolCalls: [{ name: 'calculator', input: '347 * 582' }] },
 *   //  { role: 'tool', content: '201954' },
 *   //  { role: 'assistant', content: '347 * 582 = 201954.' }]
 *   lettersToolProblem(rng)   // "How many r's are in strawberry?" → python: print("strawberry".count("r")) → 3
 *                             // "What is every 3rd letter of 'ubiquitous'?" → print("ubiquitous"[2::3]) → iiu
 *   await factToolConversations({ count: 100 })   // "When was Marta Haldeido born?" → search: Marta Haldeido
 *
 * Words are real words (chatWork.ts's list and more) and made-up ones, so the model learns to copy any
 * word into its code; the split key is the word (the numbers for multiplication).
 */
import { Rng } from '../train/rng';
import { factDocuments, generateFactQuestions } from '../tools/factDocs';
import { createSearchTool } from '../tools/search';
import { ASK, COUNT as LETTER_COUNT, fill, pick, WORDS, type Problem } from './chatWork';
import type { Conversation, Message } from './conversation';

/** A problem whose answer is the assistant's messages after the question (tool calls and outputs included). */
export interface ToolProblem extends Omit<Problem, 'answer'> {
  messages: Message[];
}

/** The arithmetic task's ways to ask for a product, and one more. */
const MULTIPLY = [...ASK['*'], 'Calculate {a} x {b}.'];

/** A number of exactly d digits. */
const digitsOf = (rng: Rng, d: number) => 10 ** (d - 1) + rng.randint(9 * 10 ** (d - 1));

/** a * b with 2 to 4 digits each (3 × 3 most often), or `digits` each, through the calculator. */
export function multiplyToolProblem(rng: Rng, digits?: number): ToolProblem {
  const size = () => digits ?? pick(rng, [2, 3, 3, 3, 4]);
  const [a, b] = [digitsOf(rng, size()), digitsOf(rng, size())];
  const input = `${a} * ${b}`;
  const product = String(BigInt(a) * BigInt(b));
  return {
    key: input,
    question: fill(pick(rng, MULTIPLY), { a, b }),
    messages: [
      { role: 'assistant', content: '', toolCalls: [{ name: 'calculator', input }] },
      { role: 'tool', content: product },
      { role: 'assistant', content: `${input} = ${product}.` },
    ],
  };
}

/** The letter-counting task's phrasings, but its last. */
const COUNT = LETTER_COUNT.slice(0, 5);
const NTH = [
  "What is the {n} letter of '{w}'?",
  'Which letter is the {n} one in {w}?',
  'Give me the {n} letter of {w}.',
];
const EVERY = [
  "What is every {n} letter of '{w}'?",
  'Take every {n} letter of {w}.',
  "Write every {n} letter of the word '{w}'.",
];

const ordinal = (n: number) => `${n}${['th', 'st', 'nd', 'rd'][n] ?? 'th'}`;
const SYLLABLES =
  'ba be bi bo bu ka ke ki ko ru ra ri lo la li mo ma mi na ne no ta te to sa se so pe pi po zu za do de ga go ve vi fa fu'.split(
    ' ',
  );

/** A real word, or a made-up one of 2 to 4 syllables (sometimes with a doubled letter). */
function word(rng: Rng): string {
  if (rng.next() < 0.5) return pick(rng, WORDS);
  let w = Array.from({ length: 2 + rng.randint(3) }, () => pick(rng, SYLLABLES)).join('');
  if (rng.next() < 0.3) {
    const i = rng.randint(w.length);
    w = w.slice(0, i + 1) + w.slice(i);
  }
  return w;
}

export const LETTER_KINDS = ['count', 'nth', 'every'] as const;
export type LetterKind = (typeof LETTER_KINDS)[number];

/** Letter counting, the n-th letter, or every n-th letter of a word (or only `only`), through python. */
export function lettersToolProblem(rng: Rng, only?: LetterKind): ToolProblem {
  const w = word(rng);
  const draw = rng.next();
  const kind = only ? { count: 0, nth: 0.7, every: 0.9 }[only] : draw;
  let question: string, code: string, output: string, answer: (out: string) => string;
  if (kind < 0.6) {
    const l = rng.next() < 0.85 ? pick(rng, [...w]) : pick(rng, [...'abcdefghijklmnopqrstuvwxyz']);
    const n = [...w].filter((c) => c === l).length;
    question = fill(pick(rng, COUNT), { l, w });
    code = `print("${w}".count("${l}"))`;
    output = String(n);
    answer = (out) => `There ${out === '1' ? 'is 1' : `are ${out}`} ${l}${out === '1' ? '' : "'s"} in ${w}.`;
  } else if (kind < 0.8) {
    const n = 1 + rng.randint(w.length);
    question = fill(pick(rng, NTH), { n: ordinal(n), w });
    code = `print("${w}"[${n - 1}])`;
    output = w[n - 1];
    answer = (out) => `The ${ordinal(n)} letter of ${w} is ${out}.`;
  } else {
    const n = 2 + rng.randint(2);
    question = fill(pick(rng, EVERY), { n: ordinal(n), w });
    code = `print("${w}"[${n - 1}::${n}])`;
    output = [...w].filter((_, i) => i % n === n - 1).join(''); // Python's w[n-1::n]
    answer = (out) => `Every ${ordinal(n)} letter of ${w}: ${out}.`;
  }
  return {
    key: w,
    question,
    messages: [
      { role: 'assistant', content: '', toolCalls: [{ name: 'python', input: code }] },
      { role: 'tool', content: output },
      { role: 'assistant', content: answer(output) },
    ],
  };
}

/** The search tool as the facts task uses it: the fact collection, the best passage (a whole document: ≤ 300 characters). */
export const FACT_SEARCH_OPTIONS = { topK: 1, maxOutputChars: 320 } as const;

const FROM_SEARCH = ['From the search: {a}.', 'The search says: {a}.', 'According to the documents: {a}.'];

/**
 * Questions about the made-up fact collection (factDocs.ts) answered through the search tool: the
 * output in each conversation is what the tool returns for the query, so the model sees at sampling
 * time what it saw in training.
 */
export async function factToolConversations(o: {
  count: number;
  seed?: number;
  split?: 'train' | 'heldout';
}): Promise<Conversation[]> {
  const rng = new Rng((o.seed ?? 1337) ^ 0x5eed);
  const search = createSearchTool({ documents: factDocuments() }, FACT_SEARCH_OPTIONS);
  const out: Conversation[] = [];
  try {
    for (const q of generateFactQuestions({ split: o.split ?? 'train', seed: o.seed, count: o.count })) {
      const r = await search.run(q.query, { timeoutMs: 60_000 });
      if (!r.ok) throw new Error(`the fact search failed for "${q.query}": ${r.output}`);
      out.push({
        messages: [
          { role: 'user', content: q.question },
          { role: 'assistant', content: '', toolCalls: [{ name: 'search', input: q.query }] },
          { role: 'tool', content: r.output },
          { role: 'assistant', content: fill(pick(rng, FROM_SEARCH), { a: q.answer }) },
        ],
      });
    }
  } finally {
    await search.dispose?.();
  }
  return out;
}
