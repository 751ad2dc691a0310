/**
 * npm run bench:sample — generation speed of the KV cache against recomputing the context:
 *   1. tokens/s for 256 new tokens on the shakespeare-char shape (6L/6H/384, block 256, vocab 65, random
 *      init) from a 1-token prompt, temperature 0.8, top-k 200: the KV cache (KvCacheModel +
 *      generateTokens) vs GptInference.generate (recomputes a padded full block per token, as the
 *      training loop's samples do) vs PyTorch recompute in nanoGPT's sample.py style with gpt_ref.py's GPT
 *      (bench/gen/sample_ref.py, oneDNN shim, 2 threads);
 *   2. time to first token for a 1,000-token prompt (4L/6H/384, block 1024): our prefill + first draw,
 *      warm (graphs built) and cold (including building the graphs), vs PyTorch's forward.
 * Rounds alternate between engines; medians. BENCH_QUICK=1 shortens everything (a smoke run).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initGptWeights } from '../src/engine/model/gpt';
import { GptInference, type GptModelConfig } from '../src/engine/model/inference';
import { KvCacheModel } from '../src/engine/model/kvCache';
import { generateTokens } from '../src/engine/sample/generate';
import type { HostTensor } from '../src/engine/runtime/session';
import { Rng } from '../src/engine/train/rng';
import { benchLine, median } from './lib';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = path.resolve(ROOT, '..', 'shared');
const GPT_REF = path.join(SHARED, 'bench', 'torch-baseline', 'gpt_ref.py');
const SAMPLE_REF = path.join(ROOT, 'bench', 'gen', 'sample_ref.py');
const QUICK = process.env.BENCH_QUICK === '1';
const THREADS = 2;
const NEW_TOKENS = QUICK ? 32 : 256;
const SAMPLING = { temperature: 0.8, topK: 200 };

const CHAR: GptModelConfig = { vocabSize: 65, blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 384, bias: false };
const LONG: GptModelConfig = { vocabSize: 65, blockSize: 1024, nLayer: 4, nHead: 6, nEmbd: 384, bias: false };

function weights(c: GptModelConfig): Record<string, HostTensor> {
  return initGptWeights({ ...c, batchSize: 1 }, 1337);
}

/** The PyTorch peer (one JSON line on stdout). */
function torch(args: string[]): Record<string, unknown> {
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(THREADS),
    LD_PRELOAD: path.join(process.env.TORCH_BASELINE_DIR ?? '/tmp/torch-baseline', 'libdnnlshim.so'),
  };
  const r = spawnSync(
    '/usr/bin/python3',
    [SAMPLE_REF, '--gpt-ref', GPT_REF, '--threads', String(THREADS), ...args],
    { env, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`sample_ref.py failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

function torchArgs(c: GptModelConfig): string[] {
  return [
    '--vocab',
    String(c.vocabSize),
    '--n-layer',
    String(c.nLayer),
    '--n-head',
    String(c.nHead),
    '--n-embd',
    String(c.nEmbd),
    '--block',
    String(c.blockSize),
  ];
}

/** tokens/s of the KV cache for `n` new tokens after a 1-token prompt. */
async function kvTokPerSec(m: KvCacheModel, n: number, seed: number): Promise<number> {
  const t0 = performance.now();
  let count = 0;
  for await (const _ of generateTokens(m, [0], { ...SAMPLING, seed, maxTokens: n })) count++;
  return count / ((performance.now() - t0) / 1000);
}

async function recomputeTokPerSec(m: GptInference, n: number, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const t0 = performance.now();
  const out = await m.generate([0], n, SAMPLING, () => rng.next());
  return out.length / ((performance.now() - t0) / 1000);
}

async function generationSpeed(): Promise<() => void> {
  const w = weights(CHAR);
  const kv = await KvCacheModel.create(CHAR, w, { threads: THREADS });
  const ref = await GptInference.create(CHAR, w, { threads: THREADS });
  await kvTokPerSec(kv, 8, 1); // builds the graphs
  await recomputeTokPerSec(ref, 2, 1);
  const ours: number[] = [];
  const recompute: number[] = [];
  const pytorch: number[] = [];
  const rounds = QUICK ? 1 : 2;
  for (let i = 0; i < rounds; i++) {
    ours.push(await kvTokPerSec(kv, NEW_TOKENS, 10 + i));
    recompute.push(await recomputeTokPerSec(ref, NEW_TOKENS, 10 + i));
    pytorch.push(
      torch([...torchArgs(CHAR), '--mode', 'gen', '--new-tokens', String(NEW_TOKENS)]).tok_per_s as number,
    );
    ours.push(await kvTokPerSec(kv, NEW_TOKENS, 20 + i));
    console.log(
      `round ${i + 1}: kv cache ${ours.at(-2)!.toFixed(1)} / ${ours.at(-1)!.toFixed(1)} tok/s, recompute (GptInference) ${recompute.at(-1)!.toFixed(1)} tok/s, pytorch recompute ${pytorch.at(-1)!.toFixed(1)} tok/s`,
    );
  }
  await kv.release();
  await ref.release();
  return () => {
    benchLine(
      `sample_kv_${NEW_TOKENS}_tok_per_s`,
      median(ours),
      'tok/s',
      'llm_lens_recompute',
      median(recompute),
      true,
    );
    benchLine(
      `sample_kv_${NEW_TOKENS}_tok_per_s`,
      median(ours),
      'tok/s',
      'pytorch_recompute',
      median(pytorch),
      true,
    );
  };
}

/** Time to the first generated token of a prompt: prefill + one draw. */
async function firstToken(m: KvCacheModel, prompt: number[]): Promise<number> {
  const t0 = performance.now();
  const gen = generateTokens(m, prompt, { ...SAMPLING, maxTokens: 1 });
  await gen.next();
  return performance.now() - t0;
}

async function timeToFirstToken(): Promise<() => void> {
  const w = weights(LONG);
  const promptLen = 1000;
  const rng = new Rng(3);
  const prompt = Array.from({ length: promptLen }, () => rng.randint(LONG.vocabSize));
  const t0 = performance.now();
  const kv = await KvCacheModel.create(LONG, w, { threads: THREADS });
  await firstToken(kv, prompt);
  const cold = performance.now() - t0;
  const warm: number[] = [];
  for (let i = 0; i < (QUICK ? 2 : 5); i++) warm.push(await firstToken(kv, prompt));
  await kv.release();
  const t = torch([
    ...torchArgs(LONG),
    '--mode',
    'ttft',
    '--prompt-len',
    String(promptLen),
    '--repeats',
    QUICK ? '2' : '5',
  ]).ttft_ms as number[];
  console.log(
    `time to first token, ${promptLen}-token prompt: warm ${warm.map((x) => x.toFixed(0)).join(', ')} ms (cold, building the graphs: ${cold.toFixed(0)} ms); pytorch ${t.map((x) => x.toFixed(0)).join(', ')} ms`,
  );
  return () => {
    benchLine(`sample_ttft_${promptLen}_prompt`, median(warm), 'ms', 'pytorch_forward', median(t), false);
    benchLine(`sample_ttft_${promptLen}_prompt_cold`, cold, 'ms', 'pytorch_forward', median(t), false);
  };
}

async function main(): Promise<void> {
  for (const f of [GPT_REF, SAMPLE_REF])
    if (!fs.existsSync(f)) throw new Error(`the PyTorch baseline is missing: ${f}`);
  const lines = [await generationSpeed(), await timeToFirstToken()];
  console.log('');
  for (const print of lines) print();
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
