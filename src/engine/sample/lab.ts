/**
 * The base-model lab: the experiments of Karpathy's "Deep Dive into LLMs" that show what a model fresh
 * from pretraining is (an internet-document simulator, not an assistant), each a prompt with the sampling
 * settings it runs with; and the regurgitation meter, which measures how much of a model's continuation
 * of a passage's first sentence is the passage word for word.
 *
 *   labExperiment('two-plus-two')!.prompt                  // 'What is 2+2?'
 *   labExperimentOfPrompt('What is 2+2?')?.id              // 'two-plus-two'
 *   const { prompt, remainder } = splitPassage('Four score and seven years ago … equal. Now we are …');
 *   // prompt 'Four score … equal.', remainder ' Now we are …' (the model continues the prompt)
 *   measureRegurgitation(remainder, [' Now', ' we', ' were', …])
 *   // { verbatimChars: 8, verbatimTokens: 2, divergeAt: 8, longest: { length: 8, at: 0, passageAt: 0 }, … }
 *
 * Characters are Unicode code points (`Array.from(text)`): a tokenizer-independent count of what the
 * panel shows. Tokens are the model's own: the leading generated tokens whose text lies wholly inside the
 * verbatim characters (a token that straddles the divergence does not count).
 */
import type { LabExperiment, LabSettings, RegurgitationMeasure } from '../../protocol/sampler';

/** Settings most experiments share: the raw distribution (no top-k, top-p, min-p, penalty). */
const RAW: Omit<LabSettings, 'temperature' | 'maxTokens' | 'stop' | 'streams'> = {
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
};

/** The Gettysburg Address (public domain), on thousands of web pages: a text a model may have memorized. */
export const GETTYSBURG =
  'Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived in ' +
  'Liberty, and dedicated to the proposition that all men are created equal. Now we are engaged in a great ' +
  'civil war, testing whether that nation, or any nation so conceived and so dedicated, can long endure. ' +
  'We are met on a great battle-field of that war. We have come to dedicate a portion of that field, as a ' +
  'final resting place for those who here gave their lives that that nation might live.';

export const LAB_EXPERIMENTS: readonly LabExperiment[] = [
  {
    id: 'two-plus-two',
    title: 'What is 2+2?',
    lesson:
      'A base model is an internet-document simulator: pretraining taught it to continue web pages, not to ' +
      'answer people. A line that asks "What is 2+2?" is, in its training data, mostly part of a quiz, a ' +
      'worksheet or a forum thread, so the likeliest continuation is more of that document.',
    lookFor:
      'More questions, a list, a page layout; an answer only if the document it imagines has one. Each ' +
      'universe imagines a different document.',
    kind: 'sample',
    prompt: 'What is 2+2?',
    settings: { ...RAW, temperature: 0.8, maxTokens: 60, stop: [], streams: 2 },
  },
  {
    id: 'few-shot-translation',
    title: 'Few-shot translation',
    lesson:
      'Few-shot prompting: a base model can be made useful by its prompt alone. A few examples of a pattern ' +
      'make the next item of the pattern the likeliest continuation (in-context learning): here English ' +
      'words and their French, with the last French left blank. Greedy, and a newline stops it.',
    lookFor:
      'A French word in the same format, then the line ends. A small model copies the format long before it ' +
      'knows the meaning; a large one gets both.',
    kind: 'sample',
    prompt:
      'English: sea otter => French: loutre de mer\n' +
      'English: cheese => French: fromage\n' +
      'English: peppermint => French: menthe poivrée\n' +
      'English: the cat => French: le chat\n' +
      'English: good morning => French:',
    settings: { ...RAW, temperature: 0, maxTokens: 12, stop: ['\n'], streams: 1 },
  },
  {
    id: 'assistant-transcript',
    title: 'An assistant from a transcript',
    lesson:
      'An assistant without any fine-tuning: the prompt is the start of a document that is a conversation ' +
      "between a helpful AI assistant and a human, a few turns long, with the assistant's next turn left " +
      'open. The base model plays the assistant because that is how such a document goes on.',
    lookFor:
      'An answer in the assistant\'s voice. The stop string "Human:" ends it; without it the model would go ' +
      "on to write the human's next line too: it simulates the whole transcript, not one side of it.",
    kind: 'sample',
    prompt:
      'Here is a conversation between a Human and an AI Assistant. The Assistant is helpful, knowledgeable ' +
      'and answers in a few sentences.\n\n' +
      'Human: Hi, who are you?\n' +
      'Assistant: I am an AI assistant. How can I help you today?\n' +
      'Human: What is the capital of France?\n' +
      'Assistant: The capital of France is Paris.\n' +
      'Human: Why is the sky blue?\n' +
      'Assistant:',
    settings: { ...RAW, temperature: 0.7, maxTokens: 80, stop: ['Human:'], streams: 1 },
  },
  {
    id: 'parallel-universes',
    title: 'Parallel universes',
    lesson:
      'Sampling is stochastic: every token is drawn from the distribution the model gives, so one prompt ' +
      'with different seeds takes different paths. The universes share the prompt and part at the first ' +
      'token where the draws differ; from there each lives in its own document.',
    lookFor:
      'Where the universes part. Click a token for its distribution and the tokens it could have been; ' +
      'set the temperature to 0 and all universes are the same.',
    kind: 'sample',
    prompt: 'The best thing about living by the sea is',
    settings: { ...RAW, temperature: 1, maxTokens: 40, stop: [], streams: 4 },
  },
  {
    id: 'regurgitation',
    title: 'Regurgitation meter',
    lesson:
      'A model that saw a text many times in pretraining (famous speeches, licences, Wikipedia pages copied ' +
      'across the web) can recite it from its weights. Paste a passage: the model continues its first ' +
      'sentence greedily, and the meter shows how much of the continuation is the passage word for word.',
    lookFor:
      'The highlighted verbatim start and where it diverges. A large model recites a famous text for ' +
      'sentences; a small one diverges at once; nobody recites a text written yesterday. Recall is not ' +
      'understanding: it is memory of frequent text.',
    kind: 'regurgitation',
    prompt: GETTYSBURG,
    settings: { ...RAW, temperature: 0, maxTokens: 64, stop: [], streams: 1 },
  },
];

/** The experiment with this id. */
export function labExperiment(id: string): LabExperiment | undefined {
  return LAB_EXPERIMENTS.find((e) => e.id === id);
}

/** The 'sample' experiment whose prompt this is (the lab runs one as a Generate of its prompt), if any. */
export function labExperimentOfPrompt(prompt: string): LabExperiment | undefined {
  return LAB_EXPERIMENTS.find((e) => e.kind === 'sample' && e.prompt === prompt);
}

/** How splitPassage cuts when the passage has no sentence end. */
export interface SplitOptions {
  /** A sentence end counts only this many characters into the passage or later ("Dr.", "1." do not). */
  minSentence?: number;
  /** Without a sentence end: the prefix is a third of the passage, at most this many characters. */
  maxPrefix?: number;
}

export interface PassageSplit {
  /** What the model is given: the first sentence (its end punctuation included), or a prefix. */
  prompt: string;
  /** The rest of the passage, from the first character after the prompt (its leading space included). */
  remainder: string;
  split: 'sentence' | 'prefix';
}

/** A sentence end: . ! or ? and any closing quotes or brackets, then white space. */
const SENTENCE_END = /[.!?]["'”’)\]]*(?=\s)/g;

/**
 * Splits a passage into its first sentence and the rest. Line ends are made \n and the passage is trimmed.
 * The first sentence ends at the first sentence end (SENTENCE_END) at least `minSentence` characters in
 * that has text after it. A passage without one (or with one sentence) gives a prefix instead: a third of
 * it, at most `maxPrefix` characters, cut back to a word boundary when there is one (the white space goes
 * to the remainder, where a model's BPE puts it: on the next word).
 */
export function splitPassage(passage: string, o: SplitOptions = {}): PassageSplit {
  const text = passage.replace(/\r\n?/g, '\n').trim();
  if (!text) throw new Error('the passage is empty: paste a few sentences of a text to measure');
  const minSentence = o.minSentence ?? 20;
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index + m[0].length;
    if (end >= minSentence && text.slice(end).trim())
      return { prompt: text.slice(0, end), remainder: text.slice(end), split: 'sentence' };
  }
  const chars = Array.from(text);
  const n = Math.max(1, Math.min(o.maxPrefix ?? 200, Math.floor(chars.length / 3)));
  let cut = n;
  // back to the last white space at or before n (keeping at least one character)
  while (cut > 1 && !/\s/.test(chars[cut] ?? '')) cut--;
  if (!/\s/.test(chars[cut] ?? '')) cut = n;
  let promptEnd = cut;
  while (promptEnd > 1 && /\s/.test(chars[promptEnd - 1])) promptEnd--;
  return {
    prompt: chars.slice(0, promptEnd).join(''),
    remainder: chars.slice(promptEnd).join(''),
    split: 'prefix',
  };
}

/** Length of the common prefix of two sequences. */
export function commonPrefixLength<T>(a: readonly T[], b: readonly T[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The longest run of `a` that occurs in `b`: its length, its start in `a` (the earliest of equally long
 * ones) and its first start in `b`. Linear: a suffix automaton of `b`, walked along `a`.
 */
export function longestCommonRun<T>(
  a: readonly T[],
  b: readonly T[],
): { length: number; at: number; passageAt: number } {
  // suffix automaton of b: per state the longest string's length, the suffix link, transitions, and the
  // end position of the first occurrence of its strings
  const len = [0];
  const link = [-1];
  const first = [-1];
  const next: Map<T, number>[] = [new Map()];
  let last = 0;
  b.forEach((c, pos) => {
    const cur = len.length;
    len.push(len[last] + 1);
    link.push(0);
    first.push(pos);
    next.push(new Map());
    let p = last;
    while (p !== -1 && !next[p].has(c)) {
      next[p].set(c, cur);
      p = link[p];
    }
    if (p !== -1) {
      const q = next[p].get(c)!;
      if (len[p] + 1 === len[q]) link[cur] = q;
      else {
        const clone = len.length;
        len.push(len[p] + 1);
        link.push(link[q]);
        first.push(first[q]);
        next.push(new Map(next[q]));
        while (p !== -1 && next[p].get(c) === q) {
          next[p].set(c, clone);
          p = link[p];
        }
        link[q] = clone;
        link[cur] = clone;
      }
    }
    last = cur;
  });
  let best = { length: 0, at: 0, passageAt: 0 };
  let state = 0;
  let l = 0;
  a.forEach((c, i) => {
    while (state !== 0 && !next[state].has(c)) {
      state = link[state];
      l = len[state];
    }
    const to = next[state].get(c);
    if (to === undefined) return; // state 0 without c: c is nowhere in b
    state = to;
    l++;
    if (l > best.length) best = { length: l, at: i - l + 1, passageAt: first[state] - l + 1 };
  });
  return best;
}

/**
 * How much of a continuation (the generated tokens' texts) repeats a passage's remainder word for word:
 * the characters before the first difference (compared from the same point: the continuation's first
 * character with the remainder's first), the whole generated tokens among them, and the longest run the
 * two share anywhere (the model may skip a word and go on reciting).
 */
export function measureRegurgitation(remainder: string, tokens: readonly string[]): RegurgitationMeasure {
  const want = Array.from(remainder);
  const got = Array.from(tokens.join(''));
  const verbatimChars = commonPrefixLength(got, want);
  let verbatimTokens = 0;
  for (let end = 0; verbatimTokens < tokens.length; verbatimTokens++) {
    end += Array.from(tokens[verbatimTokens]).length;
    if (end > verbatimChars) break;
  }
  const diverges = verbatimChars < got.length;
  return {
    verbatimChars,
    continuationChars: got.length,
    verbatimTokens,
    continuationTokens: tokens.length,
    divergeAt: diverges ? verbatimChars : null,
    passageEnded: diverges && verbatimChars === want.length,
    longest: longestCommonRun(got, want),
  };
}
