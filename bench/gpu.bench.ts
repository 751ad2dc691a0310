/**
 * npm run bench gpu (or bench/gpu.sh on a GPU machine) — LLM Lens's GPU path against PyTorch on the same
 * device, float32 eager:
 *   1. the training step of shakespeare-char (6L/6H/384, block 256, batch 16) and gpt2-124m (12L/12H/768,
 *      vocabulary 50257, block 1024, batch 8): the training loop's graph (flat AdamW with GPU_MAX_JOIN,
 *      weights and moments kept on the device, the loss back each step), tokens/s from the median step;
 *   2. greedy decoding with the key/value cache: a 16-token prompt, then 64 tokens, tokens/s.
 * For each execution provider in GPU_DEVICES (default "cuda,webgpu") that loads; one that does not is
 * reported with onnxruntime's reason and skipped. The peer (bench/gen/gpu_peer.py, the PyTorch export's GPT)
 * runs on CUDA when torch sees a GPU, else on the CPU (then the line names torch-cpu: a smoke run).
 * BENCH_QUICK=1 shrinks the models and the counts (a check of the script, not a measurement).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { emitOnnx } from '../src/engine/graph/emit';
import { Graph } from '../src/engine/graph/graph';
import { buildGptTrainGraph, initGptWeights, type GptConfig } from '../src/engine/model/gpt';
import { KvCacheModel } from '../src/engine/model/kvCache';
import type { ExecutionProvider } from '../src/engine/runtime/ort';
import { GraphRunner, type HostTensor } from '../src/engine/runtime/session';
import { TrainRunner } from '../src/engine/runtime/trainRunner';
import { GPU_MAX_JOIN } from '../src/engine/train/optim';
import { Rng } from '../src/engine/train/rng';
import { benchLine, median } from './lib';

const ROOT = path.resolve(__dirname, '..', '..');
const QUICK = process.env.BENCH_QUICK === '1';
const PYTHON = process.env.PYTHON ?? 'python3';
const DEVICES = (process.env.GPU_DEVICES ?? 'cuda,webgpu').split(',').filter(Boolean) as ExecutionProvider[];

interface Shape {
  name: string;
  config: GptConfig;
  steps: number;
}

const SHAPES: Shape[] = QUICK
  ? [
      {
        name: 'shakespeare_char',
        config: { vocabSize: 65, blockSize: 32, nLayer: 2, nHead: 2, nEmbd: 32, bias: true, batchSize: 4 },
        steps: 3,
      },
      {
        name: 'gpt2_124m',
        config: { vocabSize: 512, blockSize: 64, nLayer: 2, nHead: 2, nEmbd: 64, bias: true, batchSize: 2 },
        steps: 3,
      },
    ]
  : [
      {
        name: 'shakespeare_char',
        config: { vocabSize: 65, blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 384, bias: true, batchSize: 16 },
        steps: 20,
      },
      {
        name: 'gpt2_124m',
        config: {
          vocabSize: 50257,
          blockSize: 1024,
          nLayer: 12,
          nHead: 12,
          nEmbd: 768,
          bias: true,
          batchSize: 8,
        },
        steps: 10,
      },
    ];
const NEW_TOKENS = QUICK ? 8 : 64;
const PROMPT = 16;

/** Whether `ep` runs a graph here; its reason when not. */
async function probe(ep: ExecutionProvider): Promise<string | undefined> {
  const g = new Graph();
  g.output('y', g.tanh(g.input('x', 'f32', [2])));
  try {
    const r = await GraphRunner.create(emitOnnx(g), { ep });
    await r.release();
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

function randomBatch(rng: Rng, c: GptConfig): Record<string, HostTensor> {
  const n = c.batchSize * c.blockSize;
  const ids = () => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rng.next() * c.vocabSize)));
  const shape = [c.batchSize, c.blockSize];
  return { idx: { dtype: 'i64', shape, data: ids() }, targets: { dtype: 'i64', shape, data: ids() } };
}

/** Median milliseconds of our training step on `ep` (3 warm-up steps). */
async function ourTrainMs(ep: ExecutionProvider, s: Shape): Promise<number> {
  const { graph, spec } = buildGptTrainGraph(s.config, {
    kind: 'adamw',
    beta2: 0.99,
    weightDecay: 0.1,
    clip: 1,
    maxJoin: GPU_MAX_JOIN,
  });
  const runner = await TrainRunner.create(emitOnnx(graph), spec, initGptWeights(s.config, 1337), {
    ep,
    onCpuNodes: (m) => console.log(`  ${ep} ${s.name}: ${m}`),
  });
  const rng = new Rng(3);
  const ms: number[] = [];
  try {
    for (let i = 0; i < 3 + s.steps; i++) {
      const data = randomBatch(rng, s.config);
      const t0 = performance.now();
      const { loss } = await runner.step(data, 1e-3); // the loss comes back: a synchronisation point
      if (!Number.isFinite(loss)) throw new Error(`${ep} ${s.name}: loss ${loss} at step ${i}`);
      if (i >= 3) ms.push(performance.now() - t0);
    }
  } finally {
    await runner.release();
  }
  return median(ms);
}

/** Our greedy decoding tokens/s on `ep` (median of 3 runs after one warm-up). */
async function ourDecode(ep: ExecutionProvider, s: Shape): Promise<number> {
  const c = { ...s.config, batchSize: 1 };
  const kv = await KvCacheModel.create(c, initGptWeights(c, 1337), { ep });
  const rates: number[] = [];
  const rng = new Rng(5);
  try {
    for (let r = 0; r < 4; r++) {
      const cache = kv.newCache();
      const prompt = Array.from({ length: PROMPT }, () => Math.floor(rng.next() * c.vocabSize));
      const t0 = performance.now();
      let logits = await kv.prefill(cache, prompt);
      for (let i = 0; i < NEW_TOKENS; i++) {
        let next = 0;
        for (let j = 1; j < logits.length; j++) if (logits[j] > logits[next]) next = j;
        logits = await kv.append(cache, next);
      }
      if (r) rates.push(NEW_TOKENS / ((performance.now() - t0) / 1000));
    }
  } finally {
    await kv.release();
  }
  return median(rates);
}

interface PeerResult {
  device: string;
  train_ms: number[];
  decode_tok_s: number[];
}

function peer(s: Shape): PeerResult {
  const c = s.config;
  const device = spawnSync(
    PYTHON,
    ['-c', 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")'],
    {
      encoding: 'utf8',
    },
  ).stdout.trim();
  const args = [
    path.join(ROOT, 'bench', 'gen', 'gpu_peer.py'),
    ...['--device', device || 'cpu', '--vocab', String(c.vocabSize), '--n-layer', String(c.nLayer)],
    ...['--n-head', String(c.nHead), '--n-embd', String(c.nEmbd), '--block', String(c.blockSize)],
    ...['--batch', String(c.batchSize), '--steps', String(s.steps), '--new-tokens', String(NEW_TOKENS)],
  ];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`gpu_peer.py failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PeerResult;
}

async function main(): Promise<void> {
  const devices: ExecutionProvider[] = [];
  for (const ep of DEVICES) {
    const why = await probe(ep);
    if (why) console.log(`SKIP ${ep}: ${why}`);
    else devices.push(ep);
  }
  if (!devices.length) {
    console.log('no GPU execution provider loads here: nothing to measure');
    return;
  }
  for (const s of SHAPES) {
    const p = peer(s);
    const peerName = p.device.startsWith('cuda') ? 'torch-cuda' : 'torch-cpu';
    const theirTok = (s.config.batchSize * s.config.blockSize) / (median(p.train_ms) / 1000);
    const theirDecode = median(p.decode_tok_s);
    console.log(
      `${s.name}: torch ${p.device} step ${median(p.train_ms).toFixed(1)} ms, decode ${theirDecode.toFixed(1)} tok/s`,
    );
    for (const ep of devices) {
      const ms = await ourTrainMs(ep, s);
      const ours = (s.config.batchSize * s.config.blockSize) / (ms / 1000);
      console.log(`${s.name}: ${ep} step ${ms.toFixed(1)} ms`);
      benchLine(`gpu_train_${s.name}_${ep}`, ours, 'tok/s', peerName, theirTok, true);
      const dec = await ourDecode(ep, s);
      benchLine(`gpu_decode_${s.name}_${ep}`, dec, 'tok/s', peerName, theirDecode, true);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
