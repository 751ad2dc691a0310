/** A run folder on disk: its events, checkpoints, the runs of a workspace, deleting one. No vscode here. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../protocol/training';
import { parseMetrics } from './runState';

/**
 * The request a run was started with, in its folder: what Resume starts again. Its own name, so that the
 * run-file schema and CodeLens of `*.llmlens.json` do not take it for a run file (its runDir field is not one).
 */
export const REQUEST_FILE = 'request.json';
/** The request's name in runs written before (read when REQUEST_FILE is missing). */
export const OLD_REQUEST_FILE = 'run.llmlens.json';

/** The request file of a run: REQUEST_FILE, else the one a run written before has; undefined without either. */
export function requestFileOf(runDir: string): string | undefined {
  return [REQUEST_FILE, OLD_REQUEST_FILE].map((f) => path.join(runDir, f)).find((f) => fs.existsSync(f));
}

/** The request a run was started with, if the extension started it. */
export function readRunRequest(runDir: string): Record<string, unknown> | undefined {
  const file = requestFileOf(runDir);
  try {
    return file ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
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

/** Runs under a workspace's .llmlens/runs, newest first. */
export function listRuns(runsRoot: string): string[] {
  if (!fs.existsSync(runsRoot)) return [];
  return (
    fs
      .readdirSync(runsRoot)
      .map((n) => path.join(runsRoot, n))
      // a run started from VS Code has its request before the process writes anything
      .filter(
        (d) =>
          fs.statSync(d).isDirectory() &&
          (['metrics.jsonl', 'config.json'].some((f) => fs.existsSync(path.join(d, f))) ||
            requestFileOf(d) !== undefined),
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
