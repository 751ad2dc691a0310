/**
 * Engine jobs as the worker runs them (src/worker/worker.ts): run a graph repeatedly, or train a
 * small GPT on a toy task. Each takes an AbortSignal (checked between runs) and reports progress.
 */
import { emitOnnx } from '../graph/emit';
import { buildGptTrainGraph, initGptWeights, uniform } from '../model/gpt';
import { toyBatch } from '../model/toyTask';
import type { EngineJob, EngineJobResult, TensorMessage } from '../../protocol/worker';
import { GraphRunner, toHost } from './session';
import { TrainRunner } from './trainRunner';

export type Progress = (message: string, fraction?: number) => void;

export async function runEngineJob(
  job: EngineJob,
  signal: AbortSignal,
  progress: Progress,
): Promise<EngineJobResult> {
  return job.kind === 'runGraph' ? runGraphJob(job, signal) : trainToyJob(job, signal, progress);
}

function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new Error('cancelled');
}

async function runGraphJob(
  job: Extract<EngineJob, { kind: 'runGraph' }>,
  signal: AbortSignal,
): Promise<EngineJobResult> {
  const runner = await GraphRunner.create(job.model, { ep: job.ep, threads: job.threads });
  try {
    const ms: number[] = [];
    let last: Record<string, TensorMessage> = {};
    for (let i = 0; i < (job.repeat ?? 1); i++) {
      checkAbort(signal);
      const t0 = performance.now();
      const out = await runner.run(job.feeds);
      ms.push(performance.now() - t0);
      last = {};
      for (const [k, v] of Object.entries(out)) last[k] = await toHost(v);
    }
    return { kind: 'runGraph', outputs: last, ms };
  } finally {
    await runner.release();
  }
}

async function trainToyJob(
  job: Extract<EngineJob, { kind: 'trainToy' }>,
  signal: AbortSignal,
  progress: Progress,
): Promise<EngineJobResult> {
  const c = job.config;
  const T = c.seqLen ?? c.blockSize;
  const { graph, spec } = buildGptTrainGraph(c, { kind: 'adamw', weightDecay: 0.01, beta2: 0.99, clip: 1 });
  const runner = await TrainRunner.create(emitOnnx(graph), spec, initGptWeights(c, job.seed), {
    ep: job.ep,
    threads: job.threads,
  });
  const random = uniform(job.seed + 1);
  const losses: number[] = [];
  let skipped = 0;
  const t0 = performance.now();
  try {
    for (let s = 0; s < job.steps; s++) {
      checkAbort(signal);
      const { idx, targets } = toyBatch(job.task, c.batchSize, T, c.vocabSize, random);
      const r = await runner.step(
        {
          idx: { dtype: 'i64', shape: [c.batchSize, T], data: idx },
          targets: { dtype: 'i64', shape: [c.batchSize, T], data: targets },
        },
        job.lr,
      );
      if (!r.applied) skipped++;
      losses.push(r.loss);
      progress(`step ${s + 1}/${job.steps} loss ${r.loss.toFixed(4)}`, (s + 1) / job.steps);
    }
  } finally {
    await runner.release();
  }
  return { kind: 'trainToy', losses, skipped, ms: performance.now() - t0 };
}
