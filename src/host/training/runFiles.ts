/** A run folder on disk: its events, checkpoints, the runs of a workspace, deleting one. No vscode here. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../protocol/training';
import { parseMetrics } from './runState';

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
