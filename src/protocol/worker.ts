/** Messages between the extension host (or CLI) and a job worker_thread. */
import type { RuntimeReport } from './environment';
import type { TokenizerJob, TokenizerJobResult } from './tokenize';

/** A job the worker runs; `id` pairs replies with requests. */
export type WorkerRequest =
  /** Load onnxruntime-node and try each execution provider. */
  | { id: number; kind: 'probeRuntime'; cpus: number }
  /** Tokenize, count or train (src/worker/tokenizerJobs.ts). */
  | ({ id: number } & TokenizerJob)
  /** Stop the job with this id (AbortSignal inside the worker). */
  | { id: number; kind: 'cancel' };

/** What the worker posts back. */
export type WorkerReply =
  | { id: number; kind: 'result'; result: WorkerResult }
  | { id: number; kind: 'error'; message: string; stack?: string }
  | { id: number; kind: 'progress'; message: string; fraction?: number };

export type WorkerResult = { kind: 'probeRuntime'; report: RuntimeReport } | TokenizerJobResult;
