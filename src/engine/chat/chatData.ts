/**
 * Chat data made by code, offline, for fine-tuning a small model into an assistant: one task at a time,
 * many phrasings, a fixed seed, and a held-out split that shares no problem with the training split.
 *
 *   generateChatData({ task: 'identity', count: 2, name: 'Lens', maker: 'Ada' })
 *   // [{ messages: [{ role: 'user', content: 'Tell me about yourself.' },
 *   //               { role: 'assistant', content: 'My name is Lens. I was made by Ada.' }] },
 *   //  { messages: [{ role: 'user', content: 'Hello. Please state your name.' }, …] }]
 *   generateChatData({ task: 'arithmetic', count: 100, split: 'heldout' })   // problems never in 'train'
 *   generateChatData({ task: 'arithmetic', count: 100, maxDigits: 2 })      // 47 + 38, never 1410 + 376
 *
 * Tasks: identity (who are you / who made you, answered with `name` and `maker`), arithmetic, addition
 * (sums answered in one line, "47 + 38 = 85.", for RL), spelling,
 * compare (chatWork.ts: the work shown step by step), multiplication (multi-digit, without tools) and
 * word-problems (GSM8K-style, from templates; mathWork.ts: worked, one step a line), polite (the
 * questions of rl/preferences.ts answered shortly, politely and right: the policy RLHF starts from),
 * refusal ("I don't know" about made-up people),
 * tool-multiply and tool-letters (toolWork.ts: answered through the calculator and python tools), and
 * tool-facts (questions about a made-up fact collection answered through search), which runs the search
 * tool and so only generateChatDataAsync makes.
 * Each problem has a key (the question's template for identity, the person for refusal, the numbers or
 * the word for the others); a key's hash puts it in the held-out split (1 in 10) or in train, whatever
 * the seed, so no seed's held-out set shares a problem with any seed's training set. Within a set no
 * question repeats.
 */
import { politeProblem } from '../rl/preferences';
import { Rng } from '../train/rng';
import type { Conversation, Message } from './conversation';
import {
  factToolConversations,
  lettersToolProblem,
  multiplyToolProblem,
  type LetterKind,
  type ToolProblem,
} from './toolWork';
import {
  additionProblem,
  arithmeticProblem,
  cap,
  compareProblem,
  fill,
  pick,
  spellingProblem,
  type Problem,
} from './chatWork';
import { isHeldOut } from './heldOut';
import { multiplicationProblem, wordProblem } from './mathWork';

export { isHeldOut };

export const CHAT_TASKS = [
  'identity',
  'arithmetic',
  'addition',
  'spelling',
  'compare',
  'multiplication',
  'word-problems',
  'polite',
  'refusal',
  'tool-multiply',
  'tool-letters',
  'tool-facts',
] as const;
export type ChatTask = (typeof CHAT_TASKS)[number];

export interface ChatDataOptions {
  task: ChatTask;
  count: number;
  /** Default 1337. */
  seed?: number;
  /** Default 'train'. */
  split?: 'train' | 'heldout';
  /** identity: the assistant's name (default 'Lens') and who made it (default 'the LLM Lens team'). */
  name?: string;
  maker?: string;
  /** tool-multiply: both numbers have exactly this many digits (default: 2 to 4, mostly 3). */
  digits?: number;
  /** tool-letters: only this kind of question (default: all three). */
  letters?: LetterKind;
  /** arithmetic, addition: the most digits of an operand, 1 to 4 (default 4; 2 keeps problems short); multiplication: default 3. */
  maxDigits?: number;
  /** spelling: only this kind of question: spell the word, or count a letter in it (default: both). */
  spelling?: SpellingKind;
}

export const SPELLING_KINDS = ['spell', 'count'] as const;
export type SpellingKind = (typeof SPELLING_KINDS)[number];
/** Counting answers start with this line (chatWork.ts's countAnswer); spelling ones spell the word. */
const isCounting = (p: Problem) => p.answer.startsWith('Let me spell it out and count');

// ---- identity ---------------------------------------------------------------------------------

type Ask = 'name' | 'maker' | 'other';
const IDENTITY: [Ask, string][] = [
  ['name', 'Who are you?'],
  ['name', 'What is your name?'],
  ['name', "What's your name?"],
  ['name', 'What should I call you?'],
  ['name', 'Introduce yourself.'],
  ['name', 'Tell me about yourself.'],
  ['name', 'What are you?'],
  ['name', 'Do you have a name?'],
  ['name', 'Who am I talking to?'],
  ['name', 'Can you tell me your name?'],
  ['name', 'May I know who you are?'],
  ['name', 'Please state your name.'],
  ['maker', 'Who made you?'],
  ['maker', 'Who created you?'],
  ['maker', 'Who built you?'],
  ['maker', 'Who trained you?'],
  ['maker', 'Who is your creator?'],
  ['maker', 'Who developed you?'],
  ['maker', 'Which company made you?'],
  ['maker', 'Where do you come from?'],
  ['maker', 'Who are your makers?'],
  ['maker', 'Who is behind you?'],
  ['other', 'Are you ChatGPT?'],
  ['other', 'Are you a human?'],
  ['other', 'Were you made by OpenAI?'],
  ['other', 'Are you Claude?'],
  ['other', 'Are you a real person?'],
  ['other', 'Is this Siri?'],
  ['other', 'Are you Gemini from Google?'],
  ['other', 'Am I talking to a bot?'],
];
const ANSWERS: Record<Ask, string[]> = {
  name: [
    "I'm {name}, an AI assistant made by {maker}.",
    'My name is {name}. I was made by {maker}.',
    'I am {name}, a small language model trained by {maker}.',
    "Hi! I'm {name}, an assistant built by {maker}. How can I help?",
  ],
  maker: [
    "I was made by {maker}. I'm {name}, an AI assistant.",
    '{Maker} created me. My name is {name}.',
    "I'm {name}, and I was trained by {maker}.",
  ],
  other: [
    "No, I'm {name}, an AI assistant made by {maker}.",
    'No. My name is {name}, and {maker} made me.',
    "No, I'm {name}: a language model trained by {maker}.",
  ],
};
const GREETINGS = ['', 'Hi! ', 'Hello. ', 'Hey, ', 'Quick question: '];

function identityProblem(rng: Rng, name: string, maker: string): Problem {
  const [ask, template] = pick(rng, IDENTITY);
  let q = pick(rng, GREETINGS) + template;
  if (rng.next() < 0.3) q = q.toLowerCase();
  if (rng.next() < 0.3) q = q.replace(/[?.]$/, '');
  const answer = fill(pick(rng, ANSWERS[ask]), { name, maker, Maker: cap(maker) });
  return { key: template, question: q, answer };
}

// ---- refusal ----------------------------------------------------------------------------------

const FIRST = [
  ['Zor', 'Quil', 'Brax', 'Vel', 'Tas', 'Nym', 'Ore', 'Kaz', 'Lum', 'Yss'],
  ['bin', 'eth', 'ara', 'ix', 'ondo', 'elle', 'im', 'ova'],
];
const LAST = [
  ['Quell', 'Thran', 'Vosk', 'Drim', 'Yarn', 'Pell', 'Zem', 'Korv'],
  ['fast', 'wick', 'aro', 'enby', 'strom', 'idge', 'ault', 'ow'],
];
const ABOUT = [
  'Who is {p}?',
  'What is {p} famous for?',
  'When was {p} born?',
  'Tell me about {p}.',
  'What did {p} invent?',
  'Where does {p} live?',
  "What is {p}'s most famous book?",
  'Which prize did {p} win?',
];
const DONT_KNOW = [
  "I don't know who {p} is. I have no reliable information about this person, so I won't guess.",
  "I don't know. I have never come across anyone called {p}, and I'd rather not make something up.",
  "Sorry, I don't know anything about {p}. If you tell me more, I can try to help.",
  "I don't know who {p} is; I can't find this person in what I learned.",
];

function refusalProblem(rng: Rng): Problem {
  const p = `${pick(rng, FIRST[0])}${pick(rng, FIRST[1])} ${pick(rng, LAST[0])}${pick(rng, LAST[1])}`;
  return {
    key: p,
    question: fill(pick(rng, ABOUT), { p }),
    answer: fill(pick(rng, DONT_KNOW), { p }),
  };
}

// ---- the driver ---------------------------------------------------------------------------------

/** `count` conversations of one task for one split (see the file's header). */
export function generateChatData(o: ChatDataOptions): Conversation[] {
  if (!CHAT_TASKS.includes(o.task))
    throw new Error(`unknown chat task "${String(o.task)}"; use one of ${CHAT_TASKS.join(', ')}`);
  if (!Number.isInteger(o.count) || o.count < 1)
    throw new Error(`count must be a positive integer, got ${o.count}`);
  if (o.maxDigits !== undefined && !(Number.isInteger(o.maxDigits) && o.maxDigits >= 1 && o.maxDigits <= 4))
    throw new Error(`maxDigits must be an integer from 1 to 4, got ${o.maxDigits}`);
  const rng = new Rng(o.seed ?? 1337);
  const name = o.name ?? 'Lens';
  const maker = o.maker ?? 'the LLM Lens team';
  const draw: Record<ChatTask, () => Problem | ToolProblem> = {
    identity: () => identityProblem(rng, name, maker),
    arithmetic: () => arithmeticProblem(rng, o.maxDigits),
    addition: () => additionProblem(rng, o.maxDigits),
    spelling: () => spellingProblem(rng),
    compare: () => compareProblem(rng),
    multiplication: () => multiplicationProblem(rng, o.maxDigits),
    'word-problems': () => wordProblem(rng),
    polite: () => politeProblem(rng),
    refusal: () => refusalProblem(rng),
    'tool-multiply': () => multiplyToolProblem(rng, o.digits),
    'tool-letters': () => lettersToolProblem(rng, o.letters),
    'tool-facts': () => {
      throw new Error('tool-facts runs the search tool: use generateChatDataAsync');
    },
  };
  const heldOut = o.split === 'heldout';
  const wanted = (p: Problem | ToolProblem) =>
    o.task !== 'spelling' ||
    !o.spelling ||
    ('answer' in p && (isCounting(p) ? 'count' : 'spell') === o.spelling);
  const seen = new Set<string>();
  const out: Conversation[] = [];
  for (let misses = 0; out.length < o.count;) {
    const p = draw[o.task]();
    if (isHeldOut(p.key) !== heldOut || seen.has(p.question) || !wanted(p)) {
      if (++misses > 20000)
        throw new Error(
          `only ${out.length} different ${o.task} questions could be made for the ${heldOut ? 'held-out' : 'train'} split; ask for fewer`,
        );
      continue;
    }
    misses = 0;
    seen.add(p.question);
    const answer: Message[] = 'messages' in p ? p.messages : [{ role: 'assistant', content: p.answer }];
    out.push({ messages: [{ role: 'user', content: p.question }, ...answer] });
  }
  return out;
}

/** generateChatData for every task, tool-facts included (its outputs come from running the search tool). */
export async function generateChatDataAsync(o: ChatDataOptions): Promise<Conversation[]> {
  if (o.task !== 'tool-facts') return generateChatData(o);
  if (!Number.isInteger(o.count) || o.count < 1)
    throw new Error(`count must be a positive integer, got ${o.count}`);
  return factToolConversations(o);
}

/** Conversations as JSONL, one {"messages": …} a line (conversation.ts reads it back). */
export function toJsonl(conversations: readonly Conversation[]): string {
  const line = (m: Message) => {
    const { toolCalls, ...rest } = m;
    return toolCalls ? { ...rest, tool_calls: toolCalls } : rest;
  };
  return conversations.map((c) => JSON.stringify({ messages: c.messages.map(line) }) + '\n').join('');
}
