/**
 * The sample workspace of the Getting Started walkthrough: everything its steps need, made offline by
 * the project's own code, written into an empty folder.
 *
 *   writeSampleWorkspace('/home/me/llm-lens-sample', 'media/walkthrough/shakespeare.txt')
 *   // ['README.md', 'strawberry.txt', 'corpus/shakespeare.txt', 'tokenizer/vocab.char.json', 'chat.jsonl',
 *   //  'tools.jsonl', 'rl-addition.jsonl', 'pretrain.llmlens.json', 'llmlens-sample.json']
 *
 * - corpus/shakespeare.txt: about 200 KB of Shakespeare (public domain), the text the first model reads.
 * - tokenizer/vocab.char.json: a character vocabulary (printable ASCII, newline and every character of
 *   the files here), so the chat, tool and RL text that comes later encodes with the pretrained model's
 *   tokenizer: a character-level model cannot read a character it has no id for.
 * - chat.jsonl: "who are you?" answered as Lens, and two-digit sums (chat/chatData.ts), shuffled.
 * - tools.jsonl: multiplication and letter questions answered through the calculator and python tools.
 * - rl-addition.jsonl: prompts and answers of the addition task (rl/rlTasks.ts) as a task file.
 * - pretrain.llmlens.json: the tiny preset, PRETRAIN_STEPS steps: about a minute on a laptop CPU.
 * - llmlens-sample.json: the marker by which the extension knows the folder (SAMPLE_MARKER).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateChatData, toJsonl } from '../chat/chatData';
import type { Conversation } from '../chat/conversation';
import { rlTask } from '../rl/rlTasks';
import { CharTokenizer, CHAR_VOCAB_FILE } from '../tokenizer/charLevel';
import { writeFileAtomic } from '../train/data';
import { Rng } from '../train/rng';

export const SAMPLE_MARKER = 'llmlens-sample.json';
export const SAMPLE_FORMAT = 'llm-lens-sample-workspace';
export const SAMPLE_FORMAT_VERSION = 1;
/** Steps of the sample's pretraining run: ~1 minute of the tiny preset on a laptop CPU. */
export const PRETRAIN_STEPS = 200;
/** Steps of the walkthrough's fine-tuning runs on chat.jsonl and tools.jsonl: a couple of minutes. */
export const FINE_TUNE_STEPS = 200;
/** The sample's files, by their role in the walkthrough. */
export const SAMPLE_FILES = {
  readme: 'README.md',
  strawberry: 'strawberry.txt',
  corpus: 'corpus/shakespeare.txt',
  vocab: `tokenizer/${CHAR_VOCAB_FILE}`,
  chat: 'chat.jsonl',
  tools: 'tools.jsonl',
  rlTask: 'rl-addition.jsonl',
  pretrain: 'pretrain.llmlens.json',
  marker: SAMPLE_MARKER,
} as const;

const SEED = 1337;

const STRAWBERRY = `How many times does the letter r appear in strawberry?

strawberry

A model does not see letters. It sees tokens: pieces of words, each one a number.
Tokenize this file and look at how "strawberry" is cut into pieces.
`;

const README = `# LLM Lens sample workspace

Made by **LLM Lens: Create Sample Workspace…** for the Getting Started walkthrough
(Help › Welcome › Walkthroughs › Get Started with LLM Lens). Everything here was generated offline.

| File | What it is for |
| --- | --- |
| \`strawberry.txt\` | Tokenize it: why counting letters is hard for a model |
| \`corpus/shakespeare.txt\` | ~200 KB of Shakespeare (public domain): the text the first model learns |
| \`tokenizer/vocab.char.json\` | one token per character: printable ASCII, newline and every character here |
| \`pretrain.llmlens.json\` | a run file: the tiny model, ${PRETRAIN_STEPS} steps (about a minute on a laptop CPU) |
| \`chat.jsonl\` | conversations to fine-tune the model into an assistant (who it is, two-digit sums) |
| \`tools.jsonl\` | conversations that use the calculator and python tools |
| \`rl-addition.jsonl\` | prompts and answers for reinforcement learning (Start RL… › Task file…) |

Runs are saved in \`.llmlens/runs/\`. Edit \`pretrain.llmlens.json\` (\`"maxIters": 2000\`) to train longer.
`;

/** Printable ASCII (space to ~) and the newline: what any English chat or sum needs. */
const ASCII = ['\n', ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))];

/** Shuffles a copy with the seeded RNG (Fisher–Yates). */
function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.randint(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The sample's files, relative path → content; the corpus text is given (the extension ships it). */
export function sampleWorkspaceFiles(corpus: string): Map<string, string> {
  const rng = new Rng(SEED);
  const chat: Conversation[] = shuffled(
    [
      ...generateChatData({ task: 'identity', count: 200, seed: SEED }),
      ...generateChatData({ task: 'addition', count: 400, maxDigits: 2, seed: SEED }),
    ],
    rng,
  );
  const tools: Conversation[] = shuffled(
    [
      ...generateChatData({ task: 'tool-multiply', count: 100, seed: SEED }),
      ...generateChatData({ task: 'tool-letters', count: 100, seed: SEED }),
    ],
    rng,
  );
  const rl = rlTask('addition', { maxDigits: 2 }).items('train', 200, SEED);
  const files = new Map<string, string>([
    [SAMPLE_FILES.readme, README],
    [SAMPLE_FILES.strawberry, STRAWBERRY],
    [SAMPLE_FILES.corpus, corpus],
    [SAMPLE_FILES.chat, toJsonl(chat)],
    [SAMPLE_FILES.tools, toJsonl(tools)],
    [SAMPLE_FILES.rlTask, rl.map((x) => JSON.stringify(x) + '\n').join('')],
  ]);
  const chars = new Set(ASCII);
  for (const text of files.values()) for (const c of text) chars.add(c);
  const byCodePoint = (a: string, b: string) => a.codePointAt(0)! - b.codePointAt(0)!;
  files.set(SAMPLE_FILES.vocab, new CharTokenizer('char', [...chars].sort(byCodePoint)).toJson());
  const run = {
    name: 'sample',
    data: [SAMPLE_FILES.corpus],
    tokenizer: SAMPLE_FILES.vocab,
    preset: 'tiny',
    // a block of 256 characters: the sample's conversations (up to ~130 tokens with their chat tokens) must
    // fit a row when the model is fine-tuned; a quarter of the preset's batch keeps the tokens per step
    blockSize: 256,
    batchSize: 3,
    maxIters: PRETRAIN_STEPS,
    evalInterval: 50,
    evalIters: 5,
    sampleTokens: 120,
    prompt: 'ROMEO:',
  };
  files.set(SAMPLE_FILES.pretrain, JSON.stringify(run, null, 2) + '\n');
  const marker = { format: SAMPLE_FORMAT, version: SAMPLE_FORMAT_VERSION, files: [...files.keys()] };
  files.set(SAMPLE_FILES.marker, JSON.stringify(marker, null, 2) + '\n');
  return files;
}

/** Why `dir` cannot take the sample (it holds files), or undefined; hidden entries (.git, .vscode) are allowed. */
export function sampleFolderProblem(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  if (!fs.statSync(dir).isDirectory())
    return `${dir} is a file: pick an empty folder for the sample workspace`;
  const visible = fs.readdirSync(dir).filter((n) => !n.startsWith('.'));
  if (!visible.length) return undefined;
  const some = visible.slice(0, 3).join(', ') + (visible.length > 3 ? ', …' : '');
  return `${dir} is not empty (${some}): pick an empty folder, or make a new one, for the sample workspace`;
}

/** Writes the sample into `dir` (made if missing; it must be empty); returns the relative paths written. */
export function writeSampleWorkspace(dir: string, corpusFile: string): string[] {
  const problem = sampleFolderProblem(dir);
  if (problem) throw new Error(problem);
  const files = sampleWorkspaceFiles(fs.readFileSync(corpusFile, 'utf8'));
  for (const [rel, text] of files) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, text);
  }
  return [...files.keys()];
}

/** Whether `dir` is a sample workspace (its marker file names this format). */
export function isSampleWorkspace(dir: string): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, SAMPLE_MARKER), 'utf8')) as { format?: unknown };
    return m.format === SAMPLE_FORMAT;
  } catch {
    return false;
  }
}
