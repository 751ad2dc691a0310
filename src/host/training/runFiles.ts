/** Reading runs from disk: metrics.jsonl → events → a summary with status, step, losses and checkpoints. No vscode here. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent, RunStatus, RunSummary } from '../../protocol/training';

/** Parses metrics.jsonl, skipping a torn last line (a writer mid-append) and lines that are not events. */
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

export function readRunEvents(runDir: string): RunEvent[] {
  const file = path.join(runDir, 'metrics.jsonl');
  return fs.existsSync(file) ? parseMetrics(fs.readFileSync(file, 'utf8')) : [];
}

export function listCheckpoints(runDir: string): { step: number; dir: string }[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m && fs.existsSync(path.join(root, m[0], 'model.safetensors')))
    .map((m) => ({ step: Number(m[1]), dir: path.join(root, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * Status from the last events: done → finished/stopped, error → failed; otherwise running when this window
 * trains it (`active`) or another process appended within the last minute, else unknown (interrupted).
 */
export function summarizeRun(runDir: string, events: RunEvent[], active?: RunStatus): RunSummary {
  let status: RunStatus = 'unknown';
  let step = 0;
  let loss: number | undefined;
  let valLoss: number | undefined;
  let params: number | undefined;
  let maxIters: number | undefined;
  for (const e of events) {
    if (e.kind === 'start') {
      params = e.params;
      maxIters = e.maxIters;
      status = 'unknown';
    } else if (e.kind === 'step') {
      step = e.step;
      loss = e.loss;
    } else if (e.kind === 'eval') valLoss = e.valLoss;
    else if (e.kind === 'done') status = e.reason;
    else if (e.kind === 'error') status = 'failed';
  }
  if (active) status = active;
  else if (status === 'unknown') {
    const file = path.join(runDir, 'metrics.jsonl');
    if (fs.existsSync(file) && Date.now() - fs.statSync(file).mtimeMs < 60_000) status = 'running';
  }
  return {
    runDir,
    name: path.basename(runDir),
    status,
    step,
    maxIters,
    loss,
    valLoss,
    params,
    checkpoints: listCheckpoints(runDir),
  };
}

/** Runs under a workspace's .llmlens/runs, newest first. */
export function listRuns(runsRoot: string): string[] {
  if (!fs.existsSync(runsRoot)) return [];
  return (
    fs
      .readdirSync(runsRoot)
      .map((n) => path.join(runsRoot, n))
      // a run started from VS Code has its request (run.llmlens.json) before the process writes anything
      .filter(
        (d) =>
          fs.statSync(d).isDirectory() &&
          ['metrics.jsonl', 'config.json', 'run.llmlens.json'].some((f) => fs.existsSync(path.join(d, f))),
      )
      .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
  );
}

/** How Delete Run reaches the disk and the user (vscode's trash and a modal question in the extension). */
export interface DeleteRunOps {
  moveToTrash(dir: string): Thenable<void>;
  /** Asked when the trash failed, with why; true deletes the run for good. */
  confirmPermanent(reason: string): Thenable<boolean>;
  removePermanently(dir: string): void;
}

/** Deletes a run folder: to the trash, or, when that fails and the user agrees, for good. */
export async function deleteRunFolder(
  dir: string,
  ops: DeleteRunOps,
): Promise<'trashed' | 'deleted' | 'kept'> {
  try {
    await ops.moveToTrash(dir);
    return 'trashed';
  } catch (e) {
    if (!(await ops.confirmPermanent(e instanceof Error ? e.message : String(e)))) return 'kept';
    ops.removePermanently(dir);
    return 'deleted';
  }
}
