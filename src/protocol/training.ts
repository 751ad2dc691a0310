/** Training runs: the request (also the run file *.llmlens.json), metrics events, control, and the dashboard's messages. */

import type { RlOptionValues } from './rlOptions';
import type { DeviceName, TrainOptionValues } from './trainOptions';

export type { DeviceName } from './trainOptions';

/**
 * What a user asks for: the options of trainOptions.ts, with the data, tokenizer, preset, device and
 * folders filled in by the host. Paths are absolute by the time they reach the training process.
 */
export type TrainRequest = TrainOptionValues &
  Required<Pick<TrainOptionValues, 'data' | 'tokenizer' | 'preset' | 'device' | 'runDir' | 'dataCacheDir'>>;

/**
 * An RL run as the host starts it (and a run file with `"stage": "rl"`): the options of rlOptions.ts with
 * the checkpoint, task and run folder filled in. The process is still `llm-lens train --config`, which
 * hands a request of stage rl to the RL loop.
 */
export type RlRequest = RlOptionValues &
  Required<Pick<RlOptionValues, 'from' | 'task' | 'runDir'>> & {
    stage: 'rl';
    device: DeviceName;
    name?: string;
  };

/** Any run the host starts. */
export type RunRequest = TrainRequest | RlRequest;

/** One answer of an RL group as the Groups view shows it. */
export interface RlAnswer {
  /** The answer's tokens as text, one piece per token, in order (its stop token left out). */
  tokens: string[];
  /** Indices into `tokens` of the tokens a tool forced (its output): no loss, shown apart. */
  forced?: number[];
  /** The reward the policy was trained on: the checker's (0 or 1), or the reward model's score. */
  reward: number;
  /** RL against a reward model: the true checker's verdict (1 right, 0 wrong) on the same answer. */
  trueReward?: number;
  /** reward − the group's mean (÷ its std with scaleByStd): the weight of every sampled token's log p. */
  advantage: number;
}

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
      /** rl against a reward model: the share of the step's answers the true checker passes. */
      trueReward?: number;
      /** rl with updatesPerBatch > 1: the share of answer tokens whose ratio was clipped in the last update. */
      clipFrac?: number;
      elapsedMs: number;
      etaMs: number;
      time: number;
    }
  | { kind: 'eval'; step: number; trainLoss: number; valLoss: number; time: number }
  /** A sample; from a run trained elsewhere, a text summary: `prompt` empty, `tag` the summary's tag. */
  | { kind: 'sample'; step: number; prompt: string; text: string; tag?: string; time: number }
  /**
   * A scalar of a run trained elsewhere (TensorBoard, JSONL; src/host/runs/externalRun.ts): its tag as logged,
   * the native chart it feeds when the tag is a well-known one (`series`), else a chart of its own.
   */
  | { kind: 'scalar'; step: number; tag: string; value: number; series?: ScalarSeries; time: number }
  /**
   * rl: pass@1 (greedy: `correct` of `total` held-out questions answered right) and, with k > 1, pass@k
   * (`correctAtK` questions with at least one right answer among k sampled at the run's temperature).
   * Against a reward model, `correct` is the true checker's count and `reward` the learned reward's mean.
   */
  | {
      kind: 'taskEval';
      step: number;
      task: string;
      correct: number;
      total: number;
      k?: number;
      correctAtK?: number;
      reward?: number;
      time: number;
    }
  /** rl: some prompts of a step with their G answers, rewards and advantages (the dashboard's Groups view). */
  | {
      kind: 'groups';
      step: number;
      groups: { prompt: string; expected?: string; answers: RlAnswer[] }[];
      time: number;
    }
  | { kind: 'checkpoint'; step: number; dir: string; time: number }
  | { kind: 'done'; step: number; reason: 'finished' | 'stopped'; elapsedMs: number; time: number }
  | { kind: 'error'; step: number; message: string; time: number };

/** The native dashboard curve a scalar of a run trained elsewhere feeds (from its tag: train/loss → loss). */
export type ScalarSeries = 'loss' | 'valLoss' | 'lr' | 'gradNorm';

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
  /** What the run's start event says it does (pretrain when it does not say). */
  stage?: 'pretrain' | 'sft' | 'rl';
  /** rl: the last step's mean reward. */
  reward?: number;
  checkpoints: { step: number; dir: string }[];
  /** A run trained elsewhere: the log format, and the damaged records skipped (never a crash). Read-only. */
  external?: { format: 'tensorboard' | 'jsonl'; damaged: number };
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
  /** `damaged`: a run trained elsewhere, the damaged records skipped so far. */
  | { type: 'status'; status: RunStatus; checkpoints: number; message?: string; damaged?: number };

/** Dashboard webview -> host. */
export type DashboardWebviewMessage =
  | { type: 'ready' }
  | {
      type: 'control';
      action: 'pause' | 'resume' | 'stop' | 'checkpoint' | 'reveal' | 'compare' | 'resumeRun';
    }
  | { type: 'openSample'; step: number };
