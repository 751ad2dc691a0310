/**
 * npm run bench rollout — RL rollout speed: G answers of 64 tokens to one 16-token prompt decoded as one
 * batch on the KV cache (sample/generateBatch.ts: one prefill, then one G-row decode graph per step,
 * temperature 1), rollout tokens/s = G·64 / (prefill + decode + sampling time), against PyTorch batched
 * generation of the same model shape (bench/gen/rollout_ref.py: gpt_ref.py's GPT, random init, float32,
 * torch.no_grad, a preallocated KV cache, torch.multinomial; oneDNN shim) on the same machine and the same
 * threads, for G = 8 and 16 on two shapes: shakespeare-char (6L/6H/384, block 256, vocab 65) and the tiny
 * preset's (4L/4H/128, vocab 65; block 128 so that 16 + 64 tokens fit).
 *
 * Rounds alternate between engines; each round times REPEATS rollouts after a warm-up (for us, one rollout
 * that builds the decode graphs of every cache capacity, as an RL run's first step does); BENCH lines give
 * medians. A last figure (ours only) runs the same rollout with a tool answering every call: each stream
 * writes <|tool_end|> as its 8th token and takes a 12-token output, one per decode step, so that forced
 * tokens cost what sampled ones do. Threads: BENCH_THREADS (default 1: on 2 shared cores PyTorch's decode
 * step at 2 threads was 7x slower than at 1, and our decode graphs default to 1 thread at this size).
 * BENCH_QUICK=1 shortens everything (a smoke run).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initGptWeights } from '../src/engine/model/gpt';
import type { GptModelConfig } from '../src/engine/model/inference';
import { KvCacheModel } from '../src/engine/model/kvCache';
import type { ForcedTokens } from '../src/engine/sample/generate';
import { generateBatch } from '../src/engine/sample/generateBatch';
import { Rng } from '../src/engine/train/rng';
import { benchLine, median } from './lib';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = path.resolve(ROOT, '..', 'shared');
const GPT_REF = path.join(SHARED, 'bench', 'torch-baseline', 'gpt_ref.py');
const ROLLOUT_REF = path.join(ROOT, 'bench', 'gen', 'rollout_ref.py');
const QUICK = process.env.BENCH_QUICK === '1';
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const NEW_TOKENS = QUICK ? 16 : 64;
const PROMPT_LEN = 16;
const REPEATS = QUICK ? 1 : 5;
const ROUNDS = QUICK ? 1 : 3;

const SHAPES: { name: string; config: GptModelConfig }[] = [
  {
    name: 'char',
    config: { vocabSize: 65, blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 384, bias: false },
  },
  { name: 'tiny', config: { vocabSize: 65, blockSize: 128, nLayer: 4, nHead: 4, nEmbd: 128, bias: true } },
];
const GROUPS = [8, 16];

/** The PyTorch peer: tokens/s of each of its timed rollouts. */
function torch(c: GptModelConfig, G: number): number[] {
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(THREADS),
    LD_PRELOAD: path.join(process.env.TORCH_BASELINE_DIR ?? '/tmp/torch-baseline', 'libdnnlshim.so'),
  };
  const args = [
    ROLLOUT_REF,
    '--gpt-ref',
    GPT_REF,
    '--threads',
    String(THREADS),
    ...['--vocab', String(c.vocabSize), '--n-layer', String(c.nLayer), '--n-head', String(c.nHead)],
    ...['--n-embd', String(c.nEmbd), '--block', String(c.blockSize), ...(c.bias ? ['--bias'] : [])],
    ...['--groups', String(G), '--new-tokens', String(NEW_TOKENS), '--prompt-len', String(PROMPT_LEN)],
    ...['--repeats', String(REPEATS)],
  ];
  const r = spawnSync('/usr/bin/python3', args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rollout_ref.py failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tok_per_s: number[] }).tok_per_s;
}

/** Tokens/s of `REPEATS` rollouts of G answers (all tokens, sampled and forced, over the wall time), after an 8-token one. */
async function ours(
  m: KvCacheModel,
  prompt: number[],
  G: number,
  seed: number,
  force?: (ids: readonly number[]) => Promise<ForcedTokens | undefined>,
): Promise<number[]> {
  const out: number[] = [];
  await generateBatch(m, prompt, G, { temperature: 1, maxTokens: 8, seed }, { force }); // warm-up, as the peer's
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const answers = await generateBatch(
      m,
      prompt,
      G,
      { temperature: 1, maxTokens: NEW_TOKENS, seed: seed + 100 * r },
      { force },
    );
    const tokens = answers.reduce((s, a) => s + a.ids.length, 0);
    out.push(tokens / ((performance.now() - t0) / 1000));
  }
  return out;
}

/** A stand-in tool: after the 8th sampled token, 12 tokens of output (so that every stream makes one call). */
const fixedCall = async (ids: readonly number[]): Promise<ForcedTokens | undefined> =>
  ids.length === 8 ? { ids: Array.from({ length: 12 }, (_, i) => (i * 7) % 65) } : undefined;

async function main(): Promise<void> {
  for (const f of [GPT_REF, ROLLOUT_REF])
    if (!fs.existsSync(f)) throw new Error(`the PyTorch baseline is missing: ${f}`);
  const lines: (() => void)[] = [];
  for (const { name, config } of SHAPES) {
    const m = await KvCacheModel.create(config, initGptWeights({ ...config, batchSize: 1 }, 1337), {
      threads: THREADS,
      decodeThreads: THREADS,
    });
    const rng = new Rng(3);
    const prompt = Array.from({ length: PROMPT_LEN }, () => rng.randint(config.vocabSize));
    for (const G of GROUPS) {
      await generateBatch(m, prompt, G, { temperature: 1, maxTokens: NEW_TOKENS }); // builds the graphs (one per cache capacity)
      const a: number[] = [];
      const b: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        a.push(...(await ours(m, prompt, G, 10 + round)));
        b.push(...torch(config, G));
        console.log(
          `${name} G=${G} round ${round + 1}: llm-lens ${a
            .slice(-REPEATS)
            .map((x) => x.toFixed(0))
            .join(', ')} tok/s; pytorch ${b
            .slice(-REPEATS)
            .map((x) => x.toFixed(0))
            .join(', ')} tok/s`,
        );
      }
      lines.push(() =>
        benchLine(
          `rollout_${name}_g${G}_${NEW_TOKENS}tok`,
          median(a),
          'tok/s',
          'pytorch_kv',
          median(b),
          true,
        ),
      );
      if (G === 8) {
        const tools = await ours(m, prompt, G, 50, fixedCall);
        const plain = await ours(m, prompt, G, 50);
        console.log(
          `${name} G=8 with one 12-token tool output per answer: ${median(tools).toFixed(0)} tok/s (sampled + forced), without: ${median(plain).toFixed(0)} tok/s`,
        );
      }
    }
    await m.release();
  }
  console.log('');
  for (const print of lines) print();
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
