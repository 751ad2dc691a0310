/**
 * `npm run bench:engine`: training steps (forward, backward, clip, AdamW) of nanoGPT's
 * shakespeare_char model — 6 layers, 6 heads, 384 wide, block 256, batch 16, vocab 65, no biases —
 * on the engine (onnxruntime-node CPU) against gpt_ref.py (PyTorch + oneDNN), same machine, same
 * thread count, alternating (torch runs in one long-lived process on gpt_ref.py's model). The engine
 * takes its steps as the trainer does on CPU: k per ONNX run (train/stepLoop.ts, k = stepsPerRun of
 * its warm-up steps' median time); a pair is k torch steps and one engine run of k steps;
 * reports the median of the per-pair tokens/s ratios (over the undisturbed pairs when there are enough)
 * and both processes' peak RSS. The engine runs in the training process's environment (train/processEnv.ts).
 * Also: which embedding gradient is faster (ScatterElements vs one-hot MatMul) and an ORT profile
 * of one step, summarised by op type.
 *
 * Env: ENGINE_BENCH_PAIRS (max(5, ⌈15 / k⌉)), ENGINE_BENCH_PROFILE=0 to skip the profile, ENGINE_BENCH_GEMM=0 to skip the GEMM peers,
 *      TORCH_BASELINE (../shared/bench/torch-baseline), TORCH_BASELINE_DIR (/tmp/torch-baseline, the oneDNN shim).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gradients } from '../src/engine/graph/autodiff';
import { emitOnnx } from '../src/engine/graph/emit';
import { Graph } from '../src/engine/graph/graph';
import { buildGptTrainGraph, gaussian, initGptWeights, type GptConfig } from '../src/engine/model/gpt';
import { flushDenormalsToZero, GraphRunner, type HostTensor } from '../src/engine/runtime/session';
import { TrainRunner } from '../src/engine/runtime/trainRunner';
import { stepsPerRun } from '../src/engine/train/loop';
import { trainingProcessEnv } from '../src/engine/train/processEnv';
import { emitTrainLoop } from '../src/engine/train/stepLoop';
import { benchLine, median, timeRuns } from './lib';

const env = (k: string, d: number) => Number(process.env[k] ?? d);
const THREADS = Math.min(availableParallelism(), env('ENGINE_BENCH_THREADS', availableParallelism()));
const BASELINE = resolve(process.env.TORCH_BASELINE ?? '../shared/bench/torch-baseline');

const config: GptConfig = {
  vocabSize: 65,
  blockSize: 256,
  nLayer: 6,
  nHead: 6,
  nEmbd: 384,
  bias: false,
  batchSize: 16,
};
const optimizer = { kind: 'adamw', weightDecay: 0.1, beta1: 0.9, beta2: 0.99, clip: 1 } as const;
const tokensPerStep = config.batchSize * config.blockSize;

/** Random tokens in nanoGPT's .bin format (uint16); speed does not depend on the text. */
function writeTokens(dir: string): { file: string; tokens: Uint16Array } {
  const r = gaussian(7);
  const tokens = Uint16Array.from(
    { length: 200_000 },
    () => Math.floor(Math.abs(r() * 1e6)) % config.vocabSize,
  );
  const file = join(dir, 'train.bin');
  writeFileSync(file, tokens);
  return { file, tokens };
}

function batch(tokens: Uint16Array, seed: number): Record<string, HostTensor> {
  const { batchSize: B, blockSize: T } = config;
  const idx = new BigInt64Array(B * T);
  const tgt = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    const off = (seed * 7919 + b * 104729) % (tokens.length - T - 1);
    for (let t = 0; t < T; t++) {
      idx[b * T + t] = BigInt(tokens[off + t]);
      tgt[b * T + t] = BigInt(tokens[off + t + 1]);
    }
  }
  return {
    idx: { dtype: 'i64', shape: [B, T], data: idx },
    targets: { dtype: 'i64', shape: [B, T], data: tgt },
  };
}

/**
 * gpt_ref.py's model, AdamW (decay on 2-D weights) and clipping, stepped on request in one long-lived
 * process so that torch and engine steps can alternate one by one (the machine is shared and noisy).
 */
const DRIVER = `
import json, resource, sys, time, types
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
import gpt_ref
torch.set_num_threads(int(sys.argv[2])); torch.manual_seed(1337)
a = types.SimpleNamespace(vocab=65, n_layer=6, n_head=6, n_embd=384, block=256, bias=False)
model = gpt_ref.GPT(a)
decay = [p for p in model.parameters() if p.dim() >= 2]; no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
data = np.fromfile(sys.argv[3], dtype='<u2'); rng = np.random.default_rng(1)
print('ready', flush=True)
for line in sys.stdin:
    if line.strip() == 'quit': break
    if line.startswith('mm '):  # mm M K N transA transB reps: median ms of torch.mm on fresh random operands
        M, K, N, ta, tb, reps = map(int, line.split()[1:])
        A = torch.rand(K, M).t() if ta else torch.rand(M, K); B = torch.rand(N, K).t() if tb else torch.rand(K, N)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter(); A.mm(B); ts.append((time.perf_counter() - t0) * 1e3)
        print(json.dumps({'ms': sorted(ts)[reps // 2]}), flush=True)
        continue
    ix = rng.integers(0, len(data) - 257, 16)
    x = torch.stack([torch.from_numpy(data[i:i + 256].astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy(data[i + 1:i + 257].astype(np.int64)) for i in ix])
    t0 = time.perf_counter()
    model.train(); loss = model(x, y); opt.zero_grad(set_to_none=True); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
    ms = (time.perf_counter() - t0) * 1e3
    print(json.dumps({'ms': ms, 'loss': loss.item(), 'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
`;

class TorchPeer {
  private buffer = '';
  private waiting: ((line: string) => void)[] = [];
  private readonly proc: ChildProcessWithoutNullStreams;
  constructor(trainFile: string) {
    this.proc = spawn('/usr/bin/python3', ['-c', DRIVER, BASELINE, String(THREADS), trainFile], {
      env: {
        ...process.env,
        GLIBC_TUNABLES: process.env.ENGINE_BENCH_PEER_TUNABLES,
        OMP_NUM_THREADS: String(THREADS),
        LD_PRELOAD: join(process.env.TORCH_BASELINE_DIR ?? '/tmp/torch-baseline', 'libdnnlshim.so'),
      },
    });
    this.proc.stdout.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    let err = '';
    this.proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    this.proc.on(
      'exit',
      (code) =>
        code &&
        console.error(
          `torch driver exited ${code}: ${err.slice(-2000)} (run bash ${BASELINE}/setup.sh first?)`,
        ),
    );
  }
  private next(): Promise<string> {
    return new Promise((r) => this.waiting.push(r));
  }
  async ready(): Promise<void> {
    const line = await this.next();
    if (line !== 'ready') throw new Error(`torch driver: ${line}`);
  }
  async step(): Promise<{ ms: number; rssMb: number }> {
    const reply = this.next();
    this.proc.stdin.write('step\n');
    const r = JSON.parse(await reply) as { ms: number; maxrss_kb: number };
    return { ms: r.ms, rssMb: r.maxrss_kb / 1024 };
  }
  /** Median ms of torch.mm (oneDNN sgemm through the shim) for op(A) (M×K) @ op(B) (K×N). */
  async mm(M: number, K: number, N: number, transA: boolean, transB: boolean, reps: number): Promise<number> {
    const reply = this.next();
    this.proc.stdin.write(`mm ${M} ${K} ${N} ${+transA} ${+transB} ${reps}\n`);
    return (JSON.parse(await reply) as { ms: number }).ms;
  }
  quit(): void {
    this.proc.stdin.write('quit\n');
  }
}

/** Median ms of the embedding-gradient subgraph at the benchmark's shapes, both ways. */
async function embeddingGradChoice(): Promise<void> {
  const { batchSize: B, blockSize: T, vocabSize: V, nEmbd: C } = config;
  for (const mode of ['scatter', 'onehot'] as const) {
    const g = new Graph({ embeddingGrad: mode });
    const idx = g.input('idx', 'i64', [B, T]); // (B, T)
    const wte = g.param('wte', [V, C]); // (V, C)
    const dy = g.input('dy', 'f32', [B, T, C]); // (B, T, C)
    const emb = g.gather(wte, idx); // (B, T, C)
    const grads = gradients(g, g.reduceSum(g.mul(emb, dy)), [wte]);
    g.output('grad', grads.get(wte)!);
    const runner = await GraphRunner.create(emitOnnx(g), { threads: THREADS });
    const r = gaussian(3);
    const feeds = {
      ...batch(writeTokensCache!, 1),
      wte: { dtype: 'f32' as const, shape: [V, C], data: new Float32Array(V * C) },
      dy: { dtype: 'f32' as const, shape: [B, T, C], data: Float32Array.from({ length: B * T * C }, r) },
    };
    const ms = median(await timeRuns(() => runner.run(feeds), 15, 3));
    console.log(
      `embedding gradient via ${mode === 'scatter' ? 'ScatterElements(add)' : 'one-hot MatMul     '}: ${ms.toFixed(2)} ms (incl. Gather forward)`,
    );
    await runner.release();
  }
}
/**
 * The GEMMs of the step alone, ORT (MLAS, kernel time from its profile) against torch.mm (oneDNN), in
 * alternating rounds: matrix products are most of a step, so their ratio bounds the step's.
 */
async function gemmPeers(torch: TorchPeer, dir: string): Promise<void> {
  const shapes: [string, number, number, number, boolean, boolean][] = [
    ['fwd-c_fc', 4096, 384, 1536, false, false],
    ['fwd-mlp-c_proj', 4096, 1536, 384, false, false],
    ['dx-c_attn', 4096, 1152, 384, false, false], // dX = dY·Wᵀ runs on a materialised Wᵀ (matmul.ts)
    ['dw-c_fc', 384, 4096, 1536, true, false],
  ];
  for (const [name, M, K, N, ta, tb] of shapes) {
    const g = new Graph();
    const aShape = ta ? [K, M] : [M, K];
    const bShape = tb ? [N, K] : [K, N];
    g.output(
      'y',
      g.matmul(g.input('a', 'f32', aShape), g.input('b', 'f32', bShape), { transA: ta, transB: tb }),
    );
    const prefix = join(dir, `gemm-${name}`);
    const runner = await GraphRunner.create(emitOnnx(g), { threads: THREADS, profilePrefix: prefix });
    const normal = gaussian(3);
    const feed = (shape: number[]): HostTensor => ({
      dtype: 'f32',
      shape,
      data: Float32Array.from({ length: shape[0] * shape[1] }, normal),
    });
    const feeds = { a: feed(aShape), b: feed(bShape) };
    const theirs: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 7; i++) await runner.run(feeds);
      theirs.push(await torch.mm(M, K, N, ta, tb, 7));
    }
    runner.endProfiling();
    await runner.release();
    const file = readdirSync(dir)
      .map((f) => join(dir, f))
      .find((f) => f.includes(`gemm-${name}`))!;
    const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number }[];
    rmSync(file, { force: true });
    const kernels = events
      .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'))
      .map((e) => e.dur / 1000);
    const ours = median(kernels.slice(2)); // the first two runs pay first-touch page faults
    const gflop = (2 * M * K * N) / 1e9;
    console.log(
      `gemm ${name.padEnd(15)} ${M}x${K}x${N}${ta ? ' transA' : ''}${tb ? ' transB' : ''}: ORT ${ours.toFixed(2)} ms (${((gflop / ours) * 1000).toFixed(0)} GFLOP/s), torch ${median(theirs).toFixed(2)} ms (${((gflop / median(theirs)) * 1000).toFixed(0)} GFLOP/s)`,
    );
    benchLine(
      `engine-gemm-${name}`,
      (gflop / ours) * 1000,
      'GFLOP/s',
      'torch-onednn',
      (gflop / median(theirs)) * 1000,
      true,
    );
  }
}

let writeTokensCache: Uint16Array | undefined;
let loadAtStart = '';

/**
 * Profiles four steps and counts the last two; prints the most expensive op types.
 * The first two runs are left out: they include first-touch page faults on fresh output buffers
 * (the optimizer moments start as untouched zero pages), which inflate Add/Mul by ~10% of a step.
 */
async function profile(
  bytes: Uint8Array,
  spec: ReturnType<typeof buildGptTrainGraph>['spec'],
  tokens: Uint16Array,
  dir: string,
): Promise<void> {
  const prefix = join(dir, 'ort-profile');
  const runner = await TrainRunner.create(bytes, spec, initGptWeights(config, 1), {
    threads: THREADS,
    profilePrefix: prefix,
  });
  for (let i = 0; i < 4; i++) await runner.step(batch(tokens, i), 1e-3);
  runner.runner.endProfiling();
  await runner.release();
  const file =
    readdirSync('.').find((f) => f.startsWith('ort-profile')) ??
    readdirSync(dir)
      .map((f) => join(dir, f))
      .find((f) => f.includes('ort-profile'));
  if (!file) return console.log('(no profile file written)');
  const all = JSON.parse(readFileSync(file, 'utf8')) as {
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string };
  }[];
  const keep = process.env.ENGINE_BENCH_KEEP_PROFILE; // a path: the raw ORT profile is copied there
  if (keep) writeFileSync(keep, readFileSync(file));
  rmSync(file, { force: true });
  const runs = all
    .filter((e) => e.name === 'model_run')
    .map((e) => e.ts)
    .sort((a, b) => a - b);
  const events = all.filter((e) => e.ts >= (runs[2] ?? 0)); // steps 3 and 4
  const byOp = new Map<string, number>();
  const byPart = new Map<string, number>();
  const part = (node: string) => {
    if (/^(update|clip)\//.test(node)) return 'optimizer';
    return node.startsWith('grad/') ? 'backward' : 'forward';
  };
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    const key = `${part(e.name)} ${e.args.op_name}`;
    byOp.set(key, (byOp.get(key) ?? 0) + e.dur / 2); // two steps counted
    byPart.set(part(e.name), (byPart.get(part(e.name)) ?? 0) + e.dur / 2);
    total += e.dur / 2;
  }
  console.log(
    `profile by part: ${[...byPart].map(([k, us]) => `${k} ${(us / 1000).toFixed(0)} ms`).join(', ')}`,
  );
  console.log(`profile (per step, ${(total / 1000).toFixed(0)} ms in kernels):`);
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 20))
    console.log(
      `  ${op.padEnd(30)} ${(us / 1000).toFixed(1).padStart(8)} ms  ${((100 * us) / total).toFixed(1)}%`,
    );
}

async function main(): Promise<void> {
  flushDenormalsToZero(true); // as the training process does (cli/train.ts)
  loadAtStart = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  const dir = mkdtempSync(join(tmpdir(), 'llm-lens-bench-'));
  const { file, tokens } = writeTokens(dir);
  writeTokensCache = tokens;
  await embeddingGradChoice();

  let t0 = performance.now();
  const { graph, spec } = buildGptTrainGraph(config, optimizer);
  const bytes = emitOnnx(graph);
  const loopBytes = emitTrainLoop(graph, spec);
  console.log(
    `graph: ${graph.nodes.length} nodes built + emitted in ${(performance.now() - t0).toFixed(0)} ms (${(bytes.length / 1e6).toFixed(1)} MB)`,
  );
  t0 = performance.now();
  const runner = await TrainRunner.create(loopBytes, spec, initGptWeights(config, 1337), {
    threads: THREADS,
  });
  console.log(`session (step loop) created in ${(performance.now() - t0).toFixed(0)} ms`);
  let seed = 0;
  const inputs = (n: number) => Array.from({ length: n }, () => ({ data: batch(tokens, seed++), lr: 1e-3 }));
  // warm-up: the first runs fault the arena in (hundreds of thousands of page faults); then k from
  // the median of three steps, as the trainer takes it from its recent steps
  await runner.runSteps(inputs(2));
  const warm = [];
  for (let i = 0; i < 3; i++) warm.push((await runner.runSteps(inputs(1)))[0].ms);
  const k = stepsPerRun(median(warm));
  const PAIRS = env('ENGINE_BENCH_PAIRS', Math.max(5, Math.ceil(15 / k)));
  console.log(
    `config: 6L 6H 384C T256 B16 V65 (no bias), threads ${THREADS}; ${k} steps per engine run (as the trainer would take them), ${PAIRS} alternating pairs of ${k} steps`,
  );

  const torch = new TorchPeer(file);
  await torch.ready();
  await torch.step(); // warm-up
  await torch.step();
  const ratios: number[] = [];
  const ours: number[] = [];
  const theirs: number[] = [];
  const faults: number[] = [];
  let torchRss = 0;
  for (let i = 0; i < PAIRS; i++) {
    let torchMs = 0;
    for (let j = 0; j < k; j++) {
      const t = await torch.step();
      torchRss = Math.max(torchRss, t.rssMb);
      torchMs += t.ms;
    }
    const f0 = process.resourceUsage().minorPageFault;
    const rs = await runner.runSteps(inputs(k));
    const engineMs = rs.reduce((a, r) => a + r.ms, 0);
    faults.push(Math.round((process.resourceUsage().minorPageFault - f0) / k));
    const ms = engineMs / k;
    const tms = torchMs / k;
    ours.push(ms);
    theirs.push(tms);
    ratios.push(tms / ms);
    console.log(
      `pair ${String(i + 1).padStart(2)}: engine ${ms.toFixed(0)} ms/step, torch ${tms.toFixed(0)} ms/step, ratio ${(tms / ms).toFixed(3)}x (engine: ${faults.at(-1)} page faults per step)`,
    );
  }
  await runner.release();
  if (process.env.ENGINE_BENCH_GEMM !== '0') await gemmPeers(torch, dir);
  torch.quit();
  const ourRss = process.resourceUsage().maxRSS / 1024;
  console.log(
    `median step: engine ${median(ours).toFixed(0)} ms (${(tokensPerStep / (median(ours) / 1000)).toFixed(0)} tok/s), torch ${median(theirs).toFixed(0)} ms (${(tokensPerStep / (median(theirs) / 1000)).toFixed(0)} tok/s)`,
  );
  console.log(
    `minor page faults per engine step: median ${median(faults)} (GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES})`,
  );
  console.log(`peak RSS: engine process ${ourRss.toFixed(0)} MB, torch process ${torchRss.toFixed(0)} MB`);
  if (process.env.ENGINE_BENCH_PROFILE !== '0') await profile(bytes, spec, tokens, dir);
  rmSync(dir, { recursive: true, force: true });
  // On a shared machine a pair is often disturbed (torch's OpenMP barriers suffer most). Quiet pairs:
  // both steps within 25% of that side's fastest step. Their median is the figure when there are ≥ 3.
  const quiet = ours
    .map((_, i) => i)
    .filter((i) => ours[i] <= 1.25 * Math.min(...ours) && theirs[i] <= 1.25 * Math.min(...theirs));
  const useQuiet = quiet.length >= 3;
  const ratio = useQuiet ? median(quiet.map((i) => ratios[i])) : median(ratios);
  const oursTok = tokensPerStep / (median(useQuiet ? quiet.map((i) => ours[i]) : ours) / 1000);
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores (at start: ${loadAtStart})`,
  );
  console.log(
    `median of per-pair ratios: all ${PAIRS} pairs ${median(ratios).toFixed(3)}x; ${quiet.length} quiet pairs ${quiet.length ? median(quiet.map((i) => ratios[i])).toFixed(3) + 'x' : '-'}; reported: ${useQuiet ? 'quiet pairs' : 'all pairs (too few quiet ones)'}`,
  );
  benchLine('engine-train-step-shakespeare-char', oursTok, 'tok/s', 'torch-onednn', oursTok / ratio, true);
  benchLine('engine-peak-rss', ourRss, 'MB', 'torch-onednn', torchRss, false);
}

// The engine runs in this process, so it starts again with the training process's environment
// (train/processEnv.ts, as the extension starts training); the torch peer keeps the original one.
if (process.env.ENGINE_BENCH_PEER_TUNABLES === undefined) {
  const env = trainingProcessEnv({
    ...process.env,
    ENGINE_BENCH_PEER_TUNABLES: process.env.GLIBC_TUNABLES ?? '',
  });
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env,
  });
  process.exit(r.status ?? 1);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
