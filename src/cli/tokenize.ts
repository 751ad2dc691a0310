/**
 * Tokenizer commands of the llm-lens CLI:
 *   llm-lens tokenize --tokenizer NAME|PATH [--json] [--allow-special] [FILE|-]
 *       prints the ids, space-separated; --json prints {tokenizer, count, ids, offsets, tokens}
 *   llm-lens train-tokenizer --vocab-size N [--pattern gpt4|gpt2] [--special TOK]... [--name NAME] --out DIR FILES…
 *       trains a byte-level BPE and writes DIR/{llmlens-tokenizer.json, tokenizer.tiktoken, vocab.txt}
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './main';
import { loadTokenizer } from '../engine/tokenizer/load';
import { trainBpe, type SplitPatternName } from '../engine/tokenizer/train';
import { saveTrainedTokenizer } from '../engine/tokenizer/trainedFiles';
import { textFromBytes } from '../engine/tokenizer/textInput';

export async function tokenizeCommand(args: string[]): Promise<number> {
  let spec: string | undefined;
  let json = false;
  let allowSpecial = false;
  const inputs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--tokenizer' || a === '-t') spec = valueOf(args, ++i, a);
    else if (a.startsWith('--tokenizer=')) spec = a.slice('--tokenizer='.length);
    else if (a === '--json') json = true;
    else if (a === '--allow-special') allowSpecial = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`tokenize: unknown option ${a}`);
    else inputs.push(a);
  }
  if (!spec)
    throw new UsageError('tokenize: --tokenizer NAME|PATH is required (e.g. --tokenizer cl100k_base)');
  if (inputs.length > 1)
    throw new UsageError('tokenize: give one FILE, or - (or nothing) for standard input');
  const text = readText(inputs[0] ?? '-');
  const tokenizer = loadTokenizer(spec);
  const options = allowSpecial ? { allowedSpecial: 'all' as const } : undefined;
  let spans;
  try {
    if (!json) {
      process.stdout.write(tokenizer.encode(text, options).join(' ') + '\n');
      return 0;
    }
    spans = tokenizer.encodeWithOffsets(text, options);
  } catch (e) {
    if (e instanceof Error && /special token/.test(e.message))
      throw new Error(`${e.message.split('. ')[0]}. Pass --allow-special to encode special tokens as such.`, {
        cause: e,
      });
    throw e;
  }
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const out = {
    tokenizer: tokenizer.name,
    count: spans.length,
    ids: spans.map((s) => s.id),
    offsets: spans.map((s) => [s.start, s.end]),
    tokens: spans.map((s) => decoder.decode(tokenizer.tokenBytes(s.id))),
    partial: spans.flatMap((s, i) => (s.partial ? [i] : [])),
    special: spans.flatMap((s, i) => (s.special ? [i] : [])),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}

export async function trainTokenizerCommand(args: string[]): Promise<number> {
  let vocabSize: number | undefined;
  let pattern: SplitPatternName = 'gpt4';
  let out: string | undefined;
  let name: string | undefined;
  const specials: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--vocab-size') vocabSize = Number(valueOf(args, ++i, a));
    else if (a === '--pattern') {
      const p = valueOf(args, ++i, a);
      if (p !== 'gpt4' && p !== 'gpt2')
        throw new UsageError(`train-tokenizer: --pattern must be gpt4 or gpt2, got ${p}`);
      pattern = p;
    } else if (a === '--special') specials.push(valueOf(args, ++i, a));
    else if (a === '--out') out = valueOf(args, ++i, a);
    else if (a === '--name') name = valueOf(args, ++i, a);
    else if (a.startsWith('-')) throw new UsageError(`train-tokenizer: unknown option ${a}`);
    else files.push(a);
  }
  if (vocabSize === undefined || !Number.isInteger(vocabSize))
    throw new UsageError('train-tokenizer: --vocab-size N is required (an integer ≥ 256)');
  if (!out) throw new UsageError('train-tokenizer: --out DIR is required');
  if (!files.length) throw new UsageError('train-tokenizer: give at least one training FILE');
  const texts = files.map((f) => readText(f));
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const t0 = performance.now();
  let lastPercent = -1;
  try {
    const trained = await trainBpe(texts, {
      vocabSize,
      pattern,
      specialTokens: specials,
      name: name ?? path.basename(path.resolve(out)),
      signal: controller.signal,
      onProgress: (p) => {
        const percent = Math.floor((100 * p.done) / Math.max(1, p.total));
        if (p.stage === 'merging' && percent >= lastPercent + 10) {
          lastPercent = percent;
          process.stderr.write(`merging ${percent}% (${p.done}/${p.total})\n`);
        }
      },
    });
    saveTrainedTokenizer(out, trained);
    const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(
      `trained ${trained.name}: ${trained.vocab.length} tokens` +
        (specials.length ? ` + ${specials.length} special` : '') +
        ` (${pattern} pattern) on ${(bytes / 1e6).toFixed(2)} MB in ${seconds.toFixed(2)} s → ${out}\n`,
    );
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

function valueOf(args: string[], i: number, option: string): string {
  const v = args[i];
  if (v === undefined) throw new UsageError(`${option} needs a value`);
  return v;
}

/** Reads a text file (or standard input for '-'); refuses folders and binary files with a clear message. */
function readText(file: string): string {
  let data: Buffer;
  if (file === '-') data = fs.readFileSync(0);
  else {
    if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
    if (fs.statSync(file).isDirectory())
      throw new Error(`${file} is a folder; give the files in it (e.g. ${path.join(file, '*.txt')})`);
    data = fs.readFileSync(file);
  }
  return textFromBytes(data, file === '-' ? 'standard input' : file);
}
