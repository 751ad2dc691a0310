/**
 * `npm run bench:tokenizer`: our tokenizer engine against its peers.
 * - training vocab 4096 on tinyshakespeare: vs SentencePiece's BPE trainer (Debian python3-sentencepiece,
 *   2 threads, in a child process that times only the training call) and vs the naive reference
 *   (test/fixtures/tokenizer/naiveBpe.ts; it is too slow for 4096, so both train vocab 256+48 there);
 * - encoding throughput (MB/s) vs the `tiktoken` package on tinyshakespeare and on a code file;
 * - pathological 1 MB inputs (one repeated letter, base64, minified JS): our encode time vs tiktoken's
 *   on 100 kB of the same (tiktoken is quadratic in a pre-token's length), and our training time vs the
 *   1 s target.
 * Ours and theirs alternate, medians are reported; ratio > 1 means LLM Lens is better.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get_encoding } from 'tiktoken';
import { benchLine, median } from './lib';
import { getEncoding } from '../src/engine/tokenizer/builtin';
import { trainBpe, VocabTooLargeError } from '../src/engine/tokenizer/train';
import { naiveTrain } from '../test/fixtures/tokenizer/naiveBpe';
import { base64Blob, minifiedJs, mulberry32 } from '../test/fixtures/tokenizer/corpus';

const SHAKESPEARE =
  process.env.LLM_LENS_TINYSHAKESPEARE ?? join('..', 'shared', 'data', 'tinyshakespeare.txt');
const CODE_FILE = 'node_modules/typescript/lib/typescript.js';
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const lines: string[] = [];

function timeOnce(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

async function timeOnceAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** SentencePiece BPE training time in ms (only the Train call), or undefined when it is not installed. */
function sentencePieceMs(file: string, vocabSize: number): number | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'llmlens-spm-'));
  const script = [
    'import sys, time, sentencepiece as spm',
    't0 = time.perf_counter()',
    `spm.SentencePieceTrainer.train(input=sys.argv[1], model_prefix=sys.argv[2], vocab_size=${vocabSize}, model_type='bpe', num_threads=2, character_coverage=1.0, minloglevel=2)`,
    'print((time.perf_counter() - t0) * 1000)',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', script, file, join(dir, 'm')], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(
      `SentencePiece unavailable: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
    );
    return undefined;
  }
  return Number(r.stdout.trim());
}

async function benchTraining(text: string): Promise<void> {
  console.log('\n--- training, vocab 4096, tinyshakespeare (1.1 MB)');
  const ours: number[] = [];
  const theirs: number[] = [];
  await trainBpe(text, { vocabSize: 4096 }); // warm-up (JIT)
  for (let i = 0; i < 3; i++) {
    ours.push(await timeOnceAsync(() => trainBpe(text, { vocabSize: 4096 })));
    const sp = sentencePieceMs(SHAKESPEARE, 4096);
    if (sp !== undefined) theirs.push(sp);
    console.log(`run ${i + 1}: ours ${ours[i].toFixed(0)} ms, SentencePiece ${sp?.toFixed(0) ?? '–'} ms`);
  }
  if (theirs.length)
    lines.push(
      benchLine(
        'train_bpe_4096_tinyshakespeare',
        median(ours),
        'ms',
        'sentencepiece_bpe_2threads',
        median(theirs),
        false,
      ),
    );

  const naiveVocab = 256 + 48;
  const oursSmall: number[] = [];
  for (let i = 0; i < 3; i++)
    oursSmall.push(await timeOnceAsync(() => trainBpe(text, { vocabSize: naiveVocab })));
  const naive = timeOnce(() => naiveTrain(text, naiveVocab, 'gpt4'));
  console.log(
    `vocab ${naiveVocab}: ours ${median(oursSmall).toFixed(0)} ms, naive reference ${naive.toFixed(0)} ms (one run)`,
  );
  lines.push(
    benchLine(
      `train_bpe_${naiveVocab}_tinyshakespeare`,
      median(oursSmall),
      'ms',
      'naive_reference',
      naive,
      false,
    ),
  );
}

function benchEncoding(label: string, text: string, encodings: readonly string[]): void {
  const mb = Buffer.byteLength(text, 'utf8') / 1e6;
  for (const name of encodings) {
    const ours = getEncoding(name);
    const ref = get_encoding(name as Parameters<typeof get_encoding>[0]);
    ours.clearCache();
    const cold = timeOnce(() => ours.encode(text, { disallowedSpecial: new Set() }));
    ref.encode(text, [], []); // warm-up
    const oursMs: number[] = [];
    const refMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      oursMs.push(timeOnce(() => ours.encode(text, { disallowedSpecial: new Set() })));
      refMs.push(timeOnce(() => ref.encode(text, [], [])));
    }
    ref.free();
    console.log(
      `${label} ${name}: ours ${median(oursMs).toFixed(0)} ms (cold cache ${cold.toFixed(0)} ms), tiktoken ${median(refMs).toFixed(0)} ms`,
    );
    lines.push(
      benchLine(
        `encode_${label}_${name}`,
        mb / (median(oursMs) / 1000),
        'MB/s',
        'tiktoken',
        mb / (median(refMs) / 1000),
        true,
      ),
    );
    lines.push(
      benchLine(
        `encode_${label}_${name}_cold_cache`,
        mb / (cold / 1000),
        'MB/s',
        'tiktoken',
        mb / (median(refMs) / 1000),
        true,
      ),
    );
  }
}

async function benchPathological(): Promise<void> {
  console.log('\n--- pathological inputs: ours on 1 MB, tiktoken (cl100k_base) on 100 kB');
  const rand = mulberry32(1);
  const MB = 1 << 20;
  const inputs: Record<string, (n: number) => string> = {
    one_letter: (n) => 'a'.repeat(n),
    base64: (n) => base64Blob(rand, n),
    minified_js: (n) => minifiedJs(rand, n),
  };
  const ours = getEncoding('cl100k_base');
  for (const [label, make] of Object.entries(inputs)) {
    const big = make(MB);
    const small = big.slice(0, 100_000);
    const oursMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      ours.clearCache();
      oursMs.push(timeOnce(() => ours.encode(big)));
    }
    const ref = get_encoding('cl100k_base');
    const refMs = timeOnce(() => ref.encode(small)); // one run: 100 kB of one letter takes tiktoken seconds
    console.log(
      `${label}: ours 1 MB ${median(oursMs).toFixed(0)} ms, tiktoken 100 kB ${refMs.toFixed(0)} ms`,
    );
    lines.push(
      benchLine(
        `encode_1MB_${label}_cl100k_vs_tiktoken_100kB`,
        median(oursMs),
        'ms',
        'tiktoken_100kB',
        refMs,
        false,
      ),
    );
    if (label !== 'one_letter') {
      // Same size, same input: tiktoken is linear here (short pre-tokens), so 1 MB is a fair comparison.
      const refBig: number[] = [];
      for (let i = 0; i < 3; i++) refBig.push(timeOnce(() => ref.encode(big)));
      console.log(`${label}: tiktoken 1 MB ${median(refBig).toFixed(0)} ms`);
      lines.push(
        benchLine(
          `encode_1MB_${label}_cl100k_cold_cache`,
          median(oursMs),
          'ms',
          'tiktoken_1MB',
          median(refBig),
          false,
        ),
      );
    }
    ref.free();

    const vocabSize = label === 'one_letter' ? 256 + 20 : 4096; // 2^20 letters allow exactly 20 merges
    const trainMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      trainMs.push(
        await timeOnceAsync(() =>
          trainBpe(big, { vocabSize }).catch((e: unknown) => {
            if (!(e instanceof VocabTooLargeError)) throw e;
            console.log(`${label}: ${e.message}`);
          }),
        ),
      );
    }
    console.log(`${label}: training vocab ${vocabSize} on 1 MB ${median(trainMs).toFixed(0)} ms`);
    lines.push(
      benchLine(`train_1MB_${label}_vocab${vocabSize}`, median(trainMs), 'ms', 'target_1s', 1000, false),
    );
  }
}

async function main(): Promise<void> {
  const shakespeare = readFileSync(SHAKESPEARE, 'utf8');
  await benchTraining(shakespeare);
  console.log('\n--- encoding throughput');
  benchEncoding('tinyshakespeare', shakespeare, ['gpt2', 'cl100k_base', 'o200k_base']);
  const code = readFileSync(CODE_FILE, 'utf8').slice(0, 2_000_000);
  benchEncoding('typescript_js_2MB', code, ['cl100k_base', 'o200k_base']);
  await benchPathological();
  console.log('\n' + lines.join('\n'));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
