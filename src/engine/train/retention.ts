/**
 * What a run keeps of its checkpoints/ folder.
 *
 * keepCheckpoints N: after each checkpoint, the last N by step stay, and the one with the lowest val
 * loss measured at its step (the eval at step s runs on the weights of step-s), and those the loop
 * protects: the one just written and the one the run resumed from. 0 keeps all.
 *
 *   checkpointsToDelete([2, 4, 6, 8, 10], 2, new Map([[4, 1.2], [8, 1.5]]), new Set())   // [2, 6]: 8, 10 and the best, 4, stay
 *
 * A checkpoint is written as .step-N.tmp-PID-TIME and renamed into place (checkpoint.ts); a process
 * killed meanwhile leaves that folder. When a run starts or resumes, the temp folders of processes that
 * no longer live are removed; a living process's are left alone, since it may be writing one now.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The steps to delete of `steps`, as the module comment says. */
export function checkpointsToDelete(
  steps: readonly number[],
  keep: number,
  valLossAt: ReadonlyMap<number, number>,
  protect: ReadonlySet<number>,
): number[] {
  if (keep <= 0) return [];
  const sorted = [...steps].sort((a, b) => a - b);
  let best: number | undefined;
  for (const s of sorted) {
    const v = valLossAt.get(s);
    if (v !== undefined && Number.isFinite(v) && (best === undefined || v < valLossAt.get(best)!)) best = s;
  }
  const kept = new Set([...sorted.slice(-keep), ...protect, ...(best === undefined ? [] : [best])]);
  return sorted.filter((s) => !kept.has(s));
}

/** step-N folders in a run's checkpoints/, by step. */
function checkpointDirs(runDir: string): Map<number, string> {
  const root = path.join(runDir, 'checkpoints');
  const out = new Map<number, string>();
  if (!fs.existsSync(root)) return out;
  for (const name of fs.readdirSync(root)) {
    const m = /^step-(\d+)$/.exec(name);
    if (m) out.set(Number(m[1]), path.join(root, name));
  }
  return out;
}

/**
 * Deletes the checkpoints of `runDir` that keepCheckpoints lets go; `protect` are folders never deleted.
 * Returns the folders deleted. A folder that cannot be deleted now (a reader holds it open on Windows)
 * is left for the next checkpoint's pass.
 */
export function pruneCheckpoints(
  runDir: string,
  keep: number,
  valLossAt: ReadonlyMap<number, number>,
  protect: readonly (string | undefined)[],
): string[] {
  const dirs = checkpointDirs(runDir);
  const kept = new Set(protect.filter((p) => p !== undefined).map((p) => path.resolve(p)));
  const protectedSteps = new Set([...dirs].filter(([, d]) => kept.has(path.resolve(d))).map(([s]) => s));
  const deleted: string[] = [];
  for (const s of checkpointsToDelete([...dirs.keys()], keep, valLossAt, protectedSteps)) {
    try {
      fs.rmSync(dirs.get(s)!, { recursive: true, force: true });
      deleted.push(dirs.get(s)!);
    } catch {
      /* in use: the next pass tries again */
    }
  }
  return deleted;
}

/**
 * The val loss of each eval in a run's metrics.jsonl up to step `upTo`, by step (the evals after it
 * measured weights a resumed run replaces; a torn last line is skipped).
 */
export function valLossesOf(metricsFile: string, upTo: number): Map<number, number> {
  const out = new Map<number, number>();
  if (!fs.existsSync(metricsFile)) return out;
  for (const line of fs.readFileSync(metricsFile, 'utf8').split('\n')) {
    if (!line.includes('"eval"')) continue;
    try {
      const e = JSON.parse(line) as { kind?: string; step?: number; valLoss?: number };
      if (e.kind === 'eval' && typeof e.step === 'number' && e.step <= upTo && typeof e.valLoss === 'number')
        out.set(e.step, e.valLoss);
    } catch {
      /* a line cut short by a kill */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it lives, as another user
  }
}

/** Removes checkpoints/.step-N.tmp-PID-… folders whose process is gone; returns them. */
export function removeDeadCheckpointTemps(runDir: string): string[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(root)) {
    const m = /^\.step-\d+\.tmp-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    fs.rmSync(path.join(root, name), { recursive: true, force: true });
    removed.push(path.join(root, name));
  }
  return removed;
}
