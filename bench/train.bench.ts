/**
 * npm run bench:train — LLM Lens's training loop against PyTorch (gpt_ref.py with oneDNN), side by side:
 *   1. throughput: tokens/s of nanoGPT's shakespeare-char model (6L/6H/384, block 256, batch 16), 2 threads,
 *      alternating rounds (ours, then torch); ours is the median of our rounds, the ratio the median of the
 *      rounds' ratios (torch's figure is ours over that ratio);
 *   2. convergence: nanoGPT's CPU settings (4L/4H/128, block 64, batch 12, 2000 steps, lr 1e-3, warmup 100,
 *      beta2 0.99) on tinyshakespeare: final val loss and wall time of each, the two processes run in
 *      alternating 2 s turns (SIGSTOP/SIGCONT) so that both see the same machine;
 *   3. peak memory (max RSS) of both.
 * BENCH_QUICK=1 shortens everything (a smoke run, not a measurement).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { benchLine, median } from './lib';
import { trainingProcessEnv } from '../src/engine/train/processEnv';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = path.resolve(ROOT, '..', 'shared');
const CLI = process.env.LLM_LENS_CLI ?? path.join(ROOT, 'dist', 'cli.js');
const GPT_REF = path.join(SHARED, 'bench', 'torch-baseline', 'gpt_ref.py');
const QUICK = process.env.BENCH_QUICK === '1';
const W = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-bench-train-'));

function torchEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OMP_NUM_THREADS: '2',
    LD_PRELOAD: path.join(process.env.TORCH_BASELINE_DIR ?? '/tmp/torch-baseline', 'libdnnlshim.so'),
  };
}

/** Runs a command, returning stdout and its peak RSS in MB (from the kernel, via /usr/bin/python3's getrusage of children). */
function measured(cmd: string[], env: NodeJS.ProcessEnv): { stdout: string; rssMb: number; seconds: number } {
  const wrapper =
    'import resource,subprocess,sys,time; t=time.time(); r=subprocess.run(sys.argv[1:]); ' +
    "print('__RSS__', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time()-t, file=sys.stderr); sys.exit(r.returncode)";
  const r = spawnSync('/usr/bin/python3', ['-c', wrapper, ...cmd], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  const m = /__RSS__ (\d+) ([\d.]+)/.exec(r.stderr)!;
  return { stdout: r.stdout, rssMb: Number(m[1]) / 1024, seconds: Number(m[2]) };
}

interface Job {
  cmd: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * Runs two commands in turns of `sliceMs` (SIGSTOP / SIGCONT on each one's process group), so both
 * meet the same machine conditions however noisy it is; each one's seconds are the time it ran.
 */
async function interleaved(
  jobs: [Job, Job],
  sliceMs = 2000,
): Promise<{ stdout: string; rssMb: number; seconds: number }[]> {
  const wrapper =
    'import resource,subprocess,sys; r=subprocess.run(sys.argv[1:]); ' +
    "print('__RSS__', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)";
  const procs = jobs.map((j) => {
    const child = spawn('/usr/bin/python3', ['-c', wrapper, ...j.cmd], {
      env: j.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const state = {
      child,
      stdout: '',
      stderr: '',
      ran: 0,
      since: 0,
      done: false,
      code: 0 as number | null,
      exited: undefined as Promise<void> | undefined,
    };
    child.stdout.on('data', (d: Buffer) => (state.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (state.stderr += d.toString()));
    const end = (code: number | null) => {
      if (state.done) return;
      if (state.since) state.ran += performance.now() - state.since;
      state.since = 0;
      state.done = true;
      state.code = code;
    };
    // 'close' (not 'exit'): the output is complete; 'error': it never started
    state.exited = new Promise((resolve) => {
      child.on('close', (code) => resolve(end(code)));
      child.on('error', (e) => {
        state.stderr += String(e);
        resolve(end(-1));
      });
    });
    return state;
  });
  // the jobs run in their own process groups, which a stopped bench would leave stopped: on any exit, end them
  const cleanup = () => {
    for (const p of procs) {
      if (p.done || p.child.pid === undefined) continue;
      for (const sig of ['SIGCONT', 'SIGKILL'] as const) {
        try {
          process.kill(-p.child.pid, sig);
        } catch {
          /* gone */
        }
      }
    }
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.on('exit', cleanup);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const signal = (i: number, sig: NodeJS.Signals) => {
    try {
      process.kill(-procs[i].child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  signal(1, 'SIGSTOP');
  procs[0].since = performance.now();
  let turn = 0;
  while (!procs[0].done || !procs[1].done) {
    const current = procs[turn];
    await Promise.race([current.exited, new Promise((r) => setTimeout(r, sliceMs))]);
    const other = 1 - turn;
    if (procs[other].done) {
      if (current.done) break;
      continue; // the other has finished: this one runs on alone
    }
    if (!current.done) {
      signal(turn, 'SIGSTOP');
      current.ran += performance.now() - current.since;
      current.since = 0;
    }
    signal(other, 'SIGCONT');
    procs[other].since = performance.now();
    turn = other;
  }
  process.off('exit', cleanup);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return procs.map((p, i) => {
    if (p.code !== 0)
      throw new Error(`${jobs[i].cmd.join(' ')} failed (${p.code}):\n${p.stderr.slice(-2000)}`);
    const m = /__RSS__ (\d+)/.exec(p.stderr)!;
    return { stdout: p.stdout, rssMb: Number(m[1]) / 1024, seconds: p.ran / 1000 };
  });
}

function prepareShakespeare(): { dir: string; vocab: number } {
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'prepare',
      '--tokenizer',
      'char',
      '--out',
      path.join(W, 'data'),
      path.join(SHARED, 'data', 'tinyshakespeare.txt'),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const dir = r.stdout.split('\n')[0].trim();
  return {
    dir,
    vocab: (JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { vocabSize: number })
      .vocabSize,
  };
}

function oursThroughput(data: string, steps: number): { tokPerSec: number; rssMb: number } {
  const run = path.join(W, `tp-${Date.now()}`);
  const r = measured(
    [
      process.execPath,
      CLI,
      'train',
      '--data',
      path.join(SHARED, 'data', 'tinyshakespeare.txt'),
      '--tokenizer',
      'char',
      '--preset',
      'shakespeare-char',
      '--batch-size',
      '16',
      '--max-iters',
      String(steps),
      '--eval-iters',
      '0',
      '--sample-tokens',
      '0',
      '--checkpoint-interval',
      '0',
      '--threads',
      '2',
      '--log-interval',
      '1',
      '--run-dir',
      run,
    ],
    trainingProcessEnv(process.env),
  ); // as the extension starts training
  void data;
  const ms = fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; ms?: number })
    .filter((e) => e.kind === 'step')
    .map((e) => e.ms!)
    .slice(2);
  fs.rmSync(run, { recursive: true, force: true });
  return { tokPerSec: (16 * 256) / (median(ms) / 1000), rssMb: r.rssMb };
}

function torchThroughput(data: string, vocab: number, steps: number): { tokPerSec: number; rssMb: number } {
  const r = measured(
    [
      '/usr/bin/python3',
      GPT_REF,
      '--train',
      path.join(data, 'train.bin'),
      '--vocab',
      String(vocab),
      '--n-layer',
      '6',
      '--n-head',
      '6',
      '--n-embd',
      '384',
      '--block',
      '256',
      '--batch',
      '16',
      '--steps',
      String(steps),
      '--threads',
      '2',
    ],
    torchEnv(),
  );
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { summary: { tokens_per_s: number } };
  return { tokPerSec: summary.summary.tokens_per_s, rssMb: r.rssMb };
}

/** Our CLI and gpt_ref.py, each to `iters` steps with nanoGPT's CPU settings, in alternating turns. */
async function convergence(
  data: string,
  vocab: number,
  iters: number,
): Promise<{ valLoss: number; seconds: number; rssMb: number }[]> {
  const run = path.join(W, 'conv');
  const warmup = String(Math.min(100, iters / 10));
  const ours: Job = {
    cmd: [
      process.execPath,
      CLI,
      'train',
      '--data',
      path.join(SHARED, 'data', 'tinyshakespeare.txt'),
      '--tokenizer',
      'char',
      '--preset',
      'tiny',
      '--n-layer',
      '4',
      '--n-head',
      '4',
      '--n-embd',
      '128',
      '--block-size',
      '64',
      '--batch-size',
      '12',
      '--max-iters',
      String(iters),
      '--lr',
      '1e-3',
      '--min-lr',
      '1e-4',
      '--warmup-iters',
      warmup,
      '--beta2',
      '0.99',
      '--eval-interval',
      String(iters),
      '--eval-iters',
      '200',
      '--sample-tokens',
      '0',
      '--checkpoint-interval',
      '0',
      '--threads',
      '2',
      '--no-bias',
      '--log-interval',
      '500',
      '--run-dir',
      run,
      '--no-initial-eval',
    ], // gpt_ref.py evaluates only at the end: the same work on both sides
    env: trainingProcessEnv(process.env), // as the extension starts training
  };
  const torch: Job = {
    cmd: [
      '/usr/bin/python3',
      GPT_REF,
      '--train',
      path.join(data, 'train.bin'),
      '--val',
      path.join(data, 'val.bin'),
      '--vocab',
      String(vocab),
      '--n-layer',
      '4',
      '--n-head',
      '4',
      '--n-embd',
      '128',
      '--block',
      '64',
      '--batch',
      '12',
      '--steps',
      String(iters),
      '--lr',
      '1e-3',
      '--min-lr',
      '1e-4',
      '--warmup',
      warmup,
      '--beta2',
      '0.99',
      '--eval-every',
      String(iters),
      '--eval-batches',
      '200',
      '--threads',
      '2',
    ],
    env: torchEnv(),
  };
  const [o, t] = await interleaved([ours, torch]);
  const evals = fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; valLoss?: number })
    .filter((e) => e.kind === 'eval');
  const ev = t.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { val_loss?: number })
    .filter((e) => e.val_loss !== undefined)
    .at(-1)!;
  return [
    { valLoss: evals.at(-1)!.valLoss!, seconds: o.seconds, rssMb: o.rssMb },
    { valLoss: ev.val_loss!, seconds: t.seconds, rssMb: t.rssMb },
  ];
}

async function main(): Promise<void> {
  if (!fs.existsSync(GPT_REF)) throw new Error(`the PyTorch baseline is missing: ${GPT_REF}`);
  const { dir, vocab } = prepareShakespeare();
  const steps = QUICK ? 4 : 8;
  const rounds = QUICK ? 1 : 3;
  const ours: number[] = [];
  const theirs: number[] = [];
  let rssOurs = 0;
  let rssTorch = 0;
  for (let i = 0; i < rounds; i++) {
    const o = oursThroughput(dir, steps);
    const t = torchThroughput(dir, vocab, steps);
    ours.push(o.tokPerSec);
    theirs.push(t.tokPerSec);
    rssOurs = Math.max(rssOurs, o.rssMb);
    rssTorch = Math.max(rssTorch, t.rssMb);
    console.log(
      `round ${i + 1}: ours ${o.tokPerSec.toFixed(0)} tok/s, torch ${t.tokPerSec.toFixed(0)} tok/s, ratio ${(o.tokPerSec / t.tokPerSec).toFixed(3)}x`,
    );
  }
  const iters = QUICK ? 50 : 2000;
  const [co, ct] = await convergence(dir, vocab, iters);
  console.log(
    `convergence (${iters} steps, run in alternating 2 s turns): ours val ${co.valLoss.toFixed(4)} in ${co.seconds.toFixed(1)} s; torch val ${ct.valLoss.toFixed(4)} in ${ct.seconds.toFixed(1)} s`,
  );
  // the ratio is the median of the rounds' ratios (each round's two runs see about the same machine),
  // not the ratio of the medians, which mixes rounds from different moments of a drifting machine
  const ratio = median(ours.map((o, i) => o / theirs[i]));
  benchLine(
    'train_shakespeare_char_tok_per_s',
    median(ours),
    'tok/s',
    'pytorch_onednn',
    median(ours) / ratio,
    true,
  );
  benchLine('train_shakespeare_char_peak_rss', rssOurs, 'MB', 'pytorch_onednn', rssTorch, false);
  benchLine(`converge_tiny_${iters}_val_loss`, co.valLoss, 'loss', 'pytorch_onednn', ct.valLoss, false);
  benchLine(`converge_tiny_${iters}_wall`, co.seconds, 's', 'pytorch_onednn', ct.seconds, false);
  benchLine('converge_tiny_peak_rss', co.rssMb, 'MB', 'pytorch_onednn', ct.rssMb, false);
  fs.rmSync(W, { recursive: true, force: true });
}

void main();
