/** Training runs: the request (also the run file *.llmlens.json), metrics events, control, and the dashboard's messages. */

import type { TrainOptionValues } from './trainOptions';

export type { DeviceName } from './trainOptions';

/**
 * What a user asks for: the options of trainOptions.ts, with the data, tokenizer, preset, device and
 * folders filled in by the host. Paths are absolute by the time they reach the training process.
 */
export type TrainRequest = TrainOptionValues &
  Required<Pick<TrainOptionValues, 'data' | 'tokenizer' | 'preset' | 'device' | 'runDir' | 'dataCacheDir'>>;

/** One line of metrics.jsonl (the engine's TrainEvent), as the host and dashboard read it. */
export type RunEvent =
  | {
      kind: 'start';
      runDir: string;
      params: number;
      tokensPerStep: number;
      startStep: number;
      maxIters: number;
      /** sft: fine-tuning on conversations (samples are answers to held-out prompts); rl: policy gradient on a task. */
      stage?: 'pretrain' | 'sft' | 'rl';
      time: number;
    }
  | {
      kind: 'step';
      step: number;
      loss: number;
      lr: number;
      gradNorm: number;
      ms: number;
      tokPerSec: number;
      tokensSeen: number;
      /** sft: the step's tokens that carry loss (Σ weights). */
      lossTokens?: number;
      /** rl: the mean reward of the step's answers (the share checked right). */
      reward?: number;
      /** rl: the share of the step's groups whose answers all got the same reward (no gradient). */
      zeroSignal?: number;
      /** rl: the mean answer length in tokens. */
      answerTokens?: number;
      /** rl with a KL penalty: the mean k3 KL to the starting model over answer tokens. */
      kl?: number;
      elapsedMs: number;
      etaMs: number;
      time: number;
    }
  | { kind: 'eval'; step: number; trainLoss: number; valLoss: number; time: number }
  | { kind: 'sample'; step: number; prompt: string; text: string; time: number }
  /** rl: pass@1 (greedy) on the task's held-out questions. */
  | { kind: 'taskEval'; step: number; task: string; correct: number; total: number; time: number }
  | { kind: 'checkpoint'; step: number; dir: string; time: number }
  | { kind: 'done'; step: number; reason: 'finished' | 'stopped'; elapsedMs: number; time: number }
  | { kind: 'error'; step: number; message: string; time: number };

export type RunStatus = 'running' | 'paused' | 'finished' | 'stopped' | 'failed' | 'unknown';

/** control.json in a run folder: the training process polls it between runs of steps. */
export interface RunControl {
  paused: boolean;
  /** Bumped to ask for a checkpoint at the next step. */
  checkpointRequest: number;
}

/** A run as the dashboard and the Runs view show it. */
export interface RunSummary {
  runDir: string;
  name: string;
  status: RunStatus;
  step: number;
  maxIters?: number;
  loss?: number;
  valLoss?: number;
  params?: number;
  checkpoints: { step: number; dir: string }[];
}

/** Host -> dashboard webview. */
export type DashboardHostMessage =
  /** Everything known about the shown run(s): replaces the view. `compare` runs are drawn as extra curves. */
  | {
      type: 'init';
      run: RunSummary;
      events: RunEvent[];
      compare: { run: RunSummary; events: RunEvent[] }[];
      live: boolean;
    }
  /** New events of the main run since the last message (batched: at most ~10 messages a second). */
  | { type: 'events'; events: RunEvent[]; status: RunStatus }
  | { type: 'status'; status: RunStatus; checkpoints: number; message?: string };

/** Dashboard webview -> host. */
export type DashboardWebviewMessage =
  | { type: 'ready' }
  | {
      type: 'control';
      action: 'pause' | 'resume' | 'stop' | 'checkpoint' | 'reveal' | 'compare' | 'resumeRun';
    }
  | { type: 'openSample'; step: number };
