/** Messages between the extension host (or CLI) and a job worker_thread. */
import type { ChatJob, ChatJobResult } from './chat';
import type { ProbeJob, ProbeJobResult } from './probe';
import type { ExecutionProviderName, RuntimeReport } from './environment';
import type { SamplerJob, SamplerJobResult } from './sampler';
import type { TokenizerJob, TokenizerJobResult } from './tokenize';

/** A job the worker runs; `id` pairs replies with requests. */
export type WorkerRequest =
  /** Load onnxruntime-node and try each execution provider. */
  | { id: number; kind: 'probeRuntime'; cpus: number }
  /** Run a graph or a training loop on onnxruntime-node (src/engine/runtime/jobs.ts). */
  | ({ id: number } & EngineJob)
  /** Tokenize, count or train (src/worker/tokenizerJobs.ts). */
  | ({ id: number } & TokenizerJob)
  /** Generate on the KV cache, inspect attention and the logit lens (src/worker/samplerJobs.ts). */
  | ({ id: number } & SamplerJob)
  /** Render a conversation and start answering it on the KV cache (src/worker/chatJobs.ts). */
  | ({ id: number } & ChatJob)
  /** Ask questions many times and judge the agreement of the answers (src/worker/probeJobs.ts). */
  | ({ id: number } & ProbeJob)
  /** Stop the job with this id (AbortSignal inside the worker). */
  | { id: number; kind: 'cancel' };

/** What the worker posts back. */
export type WorkerReply =
  | { id: number; kind: 'result'; result: WorkerResult }
  | { id: number; kind: 'error'; message: string; stack?: string }
  | { id: number; kind: 'progress'; message: string; fraction?: number };

export type WorkerResult =
  | { kind: 'probeRuntime'; report: RuntimeReport }
  | TokenizerJobResult
  | EngineJobResult
  | SamplerJobResult
  | ChatJobResult
  | ProbeJobResult;

/** A tensor crossing the thread boundary: a typed array (f16 as Uint16Array bits, bool as Uint8Array) and its shape. */
export interface TensorMessage {
  dtype: 'f32' | 'f16' | 'f64' | 'i64' | 'i32' | 'bool';
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

/** A GPT's shape and the batch a graph is built for (src/engine/model/gpt.ts GptConfig extends it). */
export interface GptConfigMessage {
  vocabSize: number;
  /** Longest context (rows of wpe). */
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Biases in the linear layers and LayerNorms (GPT-2: true). */
  bias: boolean;
  /** Batch size and sequence length this graph is built for (T ≤ blockSize; default blockSize). */
  batchSize: number;
  seqLen?: number;
  /** 'none' (exact erf, GPT-2 in nanoGPT) or 'tanh'. */
  gelu?: 'none' | 'tanh';
}

export type EngineJob =
  /** Run an ONNX graph `repeat` times (default 1) on the same feeds; returns the last outputs and each run's ms. */
  | {
      kind: 'runGraph';
      model: Uint8Array;
      feeds: Record<string, TensorMessage>;
      repeat?: number;
      ep?: ExecutionProviderName;
      threads?: number;
    }
  /** Train a small GPT on a synthetic copy/reverse task with AdamW; posts progress every step. */
  | {
      kind: 'trainToy';
      config: GptConfigMessage;
      task: 'copy' | 'reverse';
      steps: number;
      lr: number;
      seed: number;
      ep?: ExecutionProviderName;
      threads?: number;
    };

export type EngineJobResult =
  | { kind: 'runGraph'; outputs: Record<string, TensorMessage>; ms: number[] }
  /** losses per step; skipped: steps whose loss or grad norm was NaN/Inf (not applied). */
  | { kind: 'trainToy'; losses: number[]; skipped: number; ms: number };
