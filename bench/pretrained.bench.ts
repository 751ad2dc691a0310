/**
 * npm run bench pretrained — greedy generation on real model shapes, random weights, against PyTorch:
 * GPT-2 124M (12L/12H/768, vocab 50257, block 1024, gelu_new) and SmolLM2-135M's Llama shape (30 layers,
 * hidden 576, 9 heads, 3 kv heads, intermediate 1536, vocab 49152, rope_theta 1e5, tied, RMSNorm eps 1e-5).
 *
 * bench/gen/pretrained_ref.py writes each model as transformers saves it (config.json + model.safetensors;
 * GPT-2 F32 in Conv1D layout, Llama BF16 as on the hub) to a temp folder; we open it with loadModel
 * (maxContext 512) and KvCacheModel.forFamily, PyTorch with the script's hand-written float32 forward on a
 * preallocated KV cache (after transformers' modeling_gpt2 / modeling_llama, oneDNN shim), on the same
 * threads (BENCH_THREADS, default 2; PyTorch with OMP_WAIT_POLICY=PASSIVE unless set: see python()).
 * Both engines run the same loop: prefill a 64-token prompt and argmax its last logits (time to first
 * token), then 63 more tokens, one cached forward + argmax each (decode tokens/s). Before timing, the two
 * must agree: the same 64 greedy tokens and the same top-5 first logits. GPT-2 keeps its 1024-slot cache
 * (loadModel leaves learned positions as trained); the Llama's is 512.
 * Rounds alternate between engines, medians. Memory: the resident-set growth of loading the 135M model
 * (weights as float32), then after its graphs are built and one generation has run; PyTorch's load for
 * reference. BENCH_QUICK=1 shortens everything (a smoke run).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FamilyConfig } from '../src/engine/model/family';
import { KvCacheModel } from '../src/engine/model/kvCache';
import { loadModel } from '../src/engine/model/pretrained';
import { generateTokens } from '../src/engine/sample/generate';
import { Rng } from '../src/engine/train/rng';
import { benchLine, median } from './lib';

const ROOT = path.resolve(__dirname, '..', '..');
const REF = path.join(ROOT, 'bench', 'gen', 'pretrained_ref.py');
const QUICK = process.env.BENCH_QUICK === '1';
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const PROMPT_LEN = 64;
const NEW_TOKENS = QUICK ? 16 : 64;
const MAX_CONTEXT = 512;
const REPEATS = QUICK ? 1 : 3;
const ROUNDS = QUICK ? 1 : 2;

const MODELS = [
  { name: 'gpt2_124m', family: 'gpt2', vocab: 50257 },
  { name: 'llama_135m', family: 'llama', vocab: 49152 },
] as const;

interface TorchRun {
  tokens: number[];
  first_top: [number, number][];
  ttft_ms: number[];
  decode_tok_per_s: number[];
  rss_load_mb: number;
}

function python(args: string[]): string {
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(THREADS),
    // on cores shared with other work, libgomp's spinning barriers starve: 1.1 tok/s spinning vs 14.5 passive
    // (135M decode, 2 threads, load 8), so the peer gets its better setting
    OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
    LD_PRELOAD: path.join(process.env.TORCH_BASELINE_DIR ?? '/tmp/torch-baseline', 'libdnnlshim.so'),
  };
  const r = spawnSync('/usr/bin/python3', [REF, ...args, '--threads', String(THREADS)], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0)
    throw new Error(`pretrained_ref.py ${args[0]} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

function torch(dir: string, prompt: number[]): TorchRun {
  return JSON.parse(
    python([
      'bench',
      '--dir',
      dir,
      '--prompt',
      prompt.join(','),
      '--new-tokens',
      String(NEW_TOKENS),
      '--repeats',
      String(REPEATS),
      '--max-context',
      String(MAX_CONTEXT),
    ]),
  ) as TorchRun;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** One greedy generation: the tokens, ms to the first, decode tokens/s of the other n - 1. */
async function greedy(
  m: KvCacheModel<FamilyConfig>,
  prompt: number[],
  n: number,
): Promise<{ tokens: number[]; ttft: number; tps: number; first: Float32Array }> {
  const cache = m.newCache();
  const t0 = performance.now();
  const first = await m.prefill(cache, prompt);
  let tok = argmax(first);
  const t1 = performance.now();
  const tokens = [tok];
  for (let i = 1; i < n; i++) {
    tok = argmax(await m.append(cache, tok));
    tokens.push(tok);
  }
  const t2 = performance.now();
  return { tokens, ttft: t1 - t0, tps: (n - 1) / ((t2 - t1) / 1000), first };
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;

async function bench(model: (typeof MODELS)[number], tmp: string, lines: (() => void)[]): Promise<void> {
  const dir = path.join(tmp, model.name);
  python(['write', '--family', model.family, '--out', dir, '--seed', '1']);
  const rng = new Rng(7);
  const prompt = Array.from({ length: PROMPT_LEN }, () => rng.randint(model.vocab));

  const before = rssMb();
  const loaded = await loadModel(dir, { maxContext: MAX_CONTEXT });
  const afterLoad = rssMb();
  const o = { threads: THREADS };
  const m: KvCacheModel<FamilyConfig> =
    loaded.family === 'gpt2'
      ? await KvCacheModel.forFamily(loaded.fam, loaded.config, loaded.weights, o)
      : await KvCacheModel.forFamily(loaded.fam, loaded.config, loaded.weights, o);
  const ref = await greedy(m, prompt, NEW_TOKENS); // builds the graphs
  const afterRun = rssMb();

  // the correctness guard: the same greedy tokens and first logits as PyTorch on the same weights
  const peer = torch(dir, prompt);
  const diverge = ref.tokens.findIndex((t, i) => t !== peer.tokens[i]);
  if (diverge >= 0)
    throw new Error(
      `${model.name}: greedy tokens differ from PyTorch's at step ${diverge}: ours ${ref.tokens.slice(0, diverge + 1).join(',')}, theirs ${peer.tokens.slice(0, diverge + 1).join(',')}`,
    );
  for (const [id, v] of peer.first_top)
    if (Math.abs(ref.first[id] - v) > 1e-3 * Math.max(1, Math.abs(v)))
      throw new Error(
        `${model.name}: first logits differ from PyTorch's at id ${id}: ${ref.first[id]} vs ${v}`,
      );
  console.log(
    `${model.name}: ${loaded.config.nLayer} layers, blockSize ${loaded.config.blockSize}; same ${NEW_TOKENS} greedy tokens as PyTorch (${new Set(ref.tokens).size} distinct), first logits top-5 within 1e-3`,
  );

  const ttft: number[] = [];
  const tps: number[] = [];
  const tTtft: number[] = [...peer.ttft_ms];
  const tTps: number[] = [...peer.decode_tok_per_s];
  for (let round = 0; round < ROUNDS; round++) {
    for (let r = 0; r < REPEATS; r++) {
      const g = await greedy(m, prompt, NEW_TOKENS);
      if (g.tokens.join() !== ref.tokens.join()) throw new Error(`${model.name}: greedy run ${r} changed`);
      ttft.push(g.ttft);
      tps.push(g.tps);
    }
    if (round > 0) {
      const p = torch(dir, prompt);
      tTtft.push(...p.ttft_ms);
      tTps.push(...p.decode_tok_per_s);
    }
    const f = (xs: number[], d = 0) =>
      xs
        .slice(-REPEATS)
        .map((x) => x.toFixed(d))
        .join(', ');
    console.log(
      `${model.name} round ${round + 1}: ttft llm-lens ${f(ttft)} ms, pytorch ${f(tTtft)} ms; decode llm-lens ${f(tps, 1)} tok/s, pytorch ${f(tTps, 1)} tok/s`,
    );
  }

  // the sampler's path (generateTokens: softmax, step summaries), for reference
  const t0 = performance.now();
  let count = 0;
  // generateTokens is typed for GPT-2 until the sampler takes other families; it only uses the cache API
  const sampler = m as unknown as KvCacheModel;
  for await (const _ of generateTokens(sampler, prompt, { temperature: 0, maxTokens: NEW_TOKENS })) count++;
  console.log(
    `${model.name}: generateTokens (greedy, step summaries) ${((count / (performance.now() - t0)) * 1000).toFixed(1)} tok/s including the prefill`,
  );
  await m.release();

  lines.push(() => {
    benchLine(`pretrained_${model.name}_decode`, median(tps), 'tok/s', 'pytorch_kv', median(tTps), true);
    benchLine(`pretrained_${model.name}_ttft`, median(ttft), 'ms', 'pytorch_kv', median(tTtft), false);
    if (model.family === 'llama')
      console.log(
        `memory ${model.name}: llm-lens RSS +${(afterLoad - before).toFixed(0)} MB loaded (float32 weights), +${(afterRun - before).toFixed(0)} MB after its graphs ran (cache for ${loaded.config.blockSize} tokens); pytorch +${peer.rss_load_mb.toFixed(0)} MB loaded`,
      );
  });
}

async function main(): Promise<void> {
  if (!fs.existsSync(REF)) throw new Error(`the PyTorch peer is missing: ${REF}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-pretrained-'));
  const lines: (() => void)[] = [];
  try {
    // the Llama first: its memory is measured in a process that has loaded nothing else
    for (const model of [...MODELS].reverse()) await bench(model, tmp, lines);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(
    `\nload: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (1/5/15 min), threads ${THREADS}`,
  );
  for (const print of lines) print();
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
