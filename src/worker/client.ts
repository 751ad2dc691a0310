/**
 * Starts dist/worker.js as a worker_thread and runs jobs on it with typed requests and replies.
 * Used by the extension host and the CLI. A crashed worker rejects every pending job with its reason.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest, WorkerResult } from '../protocol/worker';

type JobRequest = WorkerRequest extends infer R
  ? R extends { kind: 'cancel' }
    ? never
    : Omit<R, 'id'>
  : never;

interface Pending {
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
  onProgress?: (message: string, fraction?: number) => void;
}

export class WorkerClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** @param workerPath absolute path of dist/worker.js */
  constructor(private readonly workerPath: string) {}

  /** Runs one job; resolves with its result, rejects with the worker's error or on abort. */
  run<R extends JobRequest>(
    request: R,
    opts: { signal?: AbortSignal; onProgress?: Pending['onProgress'] } = {},
  ): Promise<Extract<WorkerResult, { kind: R['kind'] }>> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new Error('cancelled'));
      this.pending.set(id, {
        resolve: resolve as (r: WorkerResult) => void,
        reject,
        onProgress: opts.onProgress,
      });
      opts.signal?.addEventListener(
        'abort',
        () => worker.postMessage({ id, kind: 'cancel' } satisfies WorkerRequest),
        { once: true },
      );
      worker.postMessage({ ...request, id } as WorkerRequest);
    });
  }

  /** Ends the worker thread; pending jobs reject. */
  async dispose(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerPath);
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      if (reply.kind === 'progress') p.onProgress?.(reply.message, reply.fraction);
      else {
        this.pending.delete(reply.id);
        if (reply.kind === 'result') p.resolve(reply.result);
        else p.reject(Object.assign(new Error(reply.message), { stack: reply.stack ?? reply.message }));
      }
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(new Error(`The LLM Lens worker crashed: ${e.message}`)));
    worker.on(
      'exit',
      (code) => code !== 0 && fail(new Error(`The LLM Lens worker exited with code ${code}`)),
    );
    this.worker = worker;
    return worker;
  }
}
