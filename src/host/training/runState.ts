/**
 * A run as its metrics.jsonl tells it, without files or VS Code: the bytes appended to the file become events
 * (a torn last line waits for the rest of it), and the events fold into the run's progress; the status adds
 * what the OS says about its process.
 *
 *   const d = new MetricsDecoder();
 *   d.push(Buffer.from('{"kind":"step","step":1,…}\n{"kind":"st'));  // → [step 1]; '{"kind":"st' waits
 *   const p = emptyProgress(); for (const e of events) applyEvent(p, e);
 *   runStatus(p, { trainer: true, paused: false, pidFile: true });  // → 'running'
 *   progressLine(p);                              // → 'step 12/40 · reward 0.63' for an RL run
 */
import type { RunEvent, RunStatus, RunSummary } from '../../protocol/training';

/** Parses whole lines of metrics.jsonl, skipping lines that are not events (torn, foreign). */
export function parseMetrics(text: string): RunEvent[] {
  const out: RunEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as RunEvent & { config?: unknown };
      if (typeof e === 'object' && e && typeof e.kind === 'string') {
        delete e.config;
        out.push(e);
      }
    } catch {
      /* torn or foreign line */
    }
  }
  return out;
}

const NEWLINE = 0x0a;

/**
 * Turns the bytes appended to metrics.jsonl into events. The bytes after the last newline are a line being
 * written: they wait for the next chunk. Lines split on bytes, so a character cut between two reads is whole
 * again before it is decoded (a newline byte never occurs inside a UTF-8 character).
 */
export class MetricsDecoder {
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): RunEvent[] {
    const bytes = this.carry.length ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk);
    const cut = bytes.lastIndexOf(NEWLINE) + 1;
    this.carry = Buffer.from(bytes.subarray(cut));
    return cut ? parseMetrics(bytes.toString('utf8', 0, cut)) : [];
  }

  /** Bytes of a line still being written. */
  get pending(): number {
    return this.carry.length;
  }

  reset(): void {
    this.carry = Buffer.alloc(0);
  }
}

/** What a run's events say about it. */
export interface RunProgress {
  /** How the last start ended; undefined while it has not (training, or interrupted). */
  ended: 'finished' | 'stopped' | 'failed' | undefined;
  step: number;
  maxIters?: number;
  loss?: number;
  valLoss?: number;
  params?: number;
  tokPerSec?: number;
  /** From the last start event: pretrain, sft or rl. */
  stage?: 'pretrain' | 'sft' | 'rl';
  /** rl: the last step's mean reward. */
  reward?: number;
  /** The message of the error that ended the run. */
  error?: string;
}

export function emptyProgress(): RunProgress {
  return { ended: undefined, step: 0 };
}

/** Folds one event into `p`. A start (a resumed run) opens the run again. */
export function applyEvent(p: RunProgress, e: RunEvent): void {
  switch (e.kind) {
    case 'start':
      p.params = e.params;
      p.maxIters = e.maxIters;
      p.stage = e.stage ?? 'pretrain';
      p.ended = undefined;
      p.error = undefined;
      break;
    case 'step':
      p.step = e.step;
      p.loss = e.loss;
      p.tokPerSec = e.tokPerSec;
      if (e.reward !== undefined) p.reward = e.reward;
      break;
    case 'eval':
      p.valLoss = e.valLoss;
      break;
    case 'done':
      p.ended = e.reason;
      break;
    case 'error':
      p.ended = 'failed';
      p.error = e.message;
      break;
  }
}

/**
 * A run's progress in one line, for the progress notification and the status bar: an RL run reads
 * "step 12/40 · reward 0.63", a training run "step 12/40 · loss 2.113 · 1,204 tok/s".
 */
export function progressLine(
  p: Pick<RunProgress, 'step' | 'maxIters' | 'loss' | 'reward' | 'tokPerSec' | 'stage'>,
): string {
  const at = `step ${p.step}/${p.maxIters ?? 0}`;
  if (p.stage === 'rl') return p.reward === undefined ? at : `${at} · reward ${p.reward.toFixed(2)}`;
  const loss = p.loss === undefined ? '' : ` · loss ${p.loss.toFixed(3)}`;
  return `${at}${loss} · ${Math.round(p.tokPerSec ?? 0).toLocaleString('en-US')} tok/s`;
}

/** The Runs view's description of a run: its stage, status, step and loss (or reward for RL). */
export function runDescription(s: RunSummary): string {
  const stage = s.stage ? `${s.stage} · ` : '';
  const at = `${s.status} · step ${s.step}${s.maxIters ? `/${s.maxIters}` : ''}`;
  if (s.stage === 'rl')
    return `${stage}${at}${s.reward !== undefined ? ` · reward ${s.reward.toFixed(2)}` : ''}`;
  return `${stage}${at}${s.loss !== undefined ? ` · loss ${s.loss.toFixed(3)}` : ''}`;
}

/** What the run's folder and the OS say about its process. */
export interface RunProcessState {
  /** The pid file names this run's trainer, alive now. */
  trainer: boolean;
  /** control.json asks it to pause. */
  paused: boolean;
  /** A pid file exists (this window or another started the run). */
  pidFile: boolean;
  /** When metrics.jsonl last grew (ms since the epoch). */
  lastWrite?: number;
}

/** A run written by a process without a pid file (the CLI in a terminal) counts as running this long after its last line. */
export const UNMANAGED_RUN_QUIET_MS = 60_000;

/**
 * The status the views show: running or paused while the trainer lives; else how the events ended. A run with
 * no pid file that wrote in the last minute is running (the CLI in a terminal); one whose pid file names no
 * live trainer, or that went quiet, was interrupted: unknown.
 */
export function runStatus(p: RunProgress, proc: RunProcessState, now = Date.now()): RunStatus {
  if (proc.trainer) return proc.paused ? 'paused' : 'running';
  if (p.ended) return p.ended;
  if (!proc.pidFile && proc.lastWrite !== undefined && now - proc.lastWrite < UNMANAGED_RUN_QUIET_MS)
    return 'running';
  return 'unknown';
}
