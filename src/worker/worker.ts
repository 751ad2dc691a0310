/**
 * worker_thread entry point (dist/worker.js). Engine jobs run here, never on the extension host's
 * event loop: onnxruntime-node's `run` is a synchronous native call.
 */
import { parentPort } from 'node:worker_threads';
import { runEngineJob } from '../engine/runtime/jobs';
import { probeRuntime } from '../engine/runtime/probe';
import type { WorkerReply, WorkerRequest } from '../protocol/worker';
import { runChatJob } from './chatJobs';
import { runProbeJob } from './probeJobs';
import { runSamplerJob } from './samplerJobs';
import { runTokenizerJob } from './tokenizerJobs';

if (!parentPort) throw new Error('dist/worker.js must be started as a worker_thread');
const port = parentPort;
const jobs = new Map<number, AbortController>();

function post(reply: WorkerReply): void {
  port.postMessage(reply);
}

async function handle(req: WorkerRequest): Promise<void> {
  if (req.kind === 'cancel') {
    jobs.get(req.id)?.abort();
    return;
  }
  const abort = new AbortController();
  jobs.set(req.id, abort);
  try {
    switch (req.kind) {
      case 'probeRuntime':
        post({
          id: req.id,
          kind: 'result',
          result: { kind: 'probeRuntime', report: await probeRuntime(req.cpus) },
        });
        break;
      case 'runGraph':
      case 'trainToy': {
        const { id, ...job } = req;
        const result = await runEngineJob(job, abort.signal, (message, fraction) =>
          post({ id, kind: 'progress', message, fraction }),
        );
        post({ id, kind: 'result', result });
        break;
      }
      case 'tokenize':
      case 'chatView':
      case 'countTokens':
      case 'trainTokenizer': {
        const { id, ...job } = req;
        const result = await runTokenizerJob(job, abort.signal, (message, fraction) =>
          post({ id, kind: 'progress', message, fraction }),
        );
        post({ id, kind: 'result', result });
        break;
      }
      case 'samplerLoad':
      case 'samplerStart':
      case 'samplerNext':
      case 'samplerClose':
      case 'samplerInspect':
      case 'samplerAttention': {
        const { id, ...job } = req;
        post({ id, kind: 'result', result: await runSamplerJob(job) });
        break;
      }
      case 'chatLoad':
      case 'chatStart': {
        const { id, ...job } = req;
        post({ id, kind: 'result', result: await runChatJob(job) });
        break;
      }
      case 'probe': {
        const { id, ...job } = req;
        const result = await runProbeJob(job, abort.signal, (message, fraction) =>
          post({ id, kind: 'progress', message, fraction }),
        );
        post({ id, kind: 'result', result });
        break;
      }
      default: {
        const unknown: never = req;
        throw new Error(`unknown job ${JSON.stringify(unknown)}`);
      }
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ id: req.id, kind: 'error', message: err.message, stack: err.stack });
  } finally {
    jobs.delete(req.id);
  }
}

port.on('message', (req: WorkerRequest) => void handle(req));
