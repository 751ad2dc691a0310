/**
 * Starts and controls training runs. Each run is its own process (`dist/cli.js train`, forked and
 * detached), so a window reload neither kills nor loses it: the run writes metrics.jsonl and checkpoints
 * in its folder, the run's model (runModel.ts) follows the file, and the manager steers the process through
 * control.json and SIGINT. Runs trained elsewhere have models too (`external`), with nothing to steer.
 *
 *   const { runDir, exited } = manager.start({ stage: 'rl', from, task: 'addition', steps: 40, device: 'cpu', runDir });
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunRequest } from '../../protocol/training';
import { log } from '../log';
import { ExternalRunModels } from '../runs/externalRun';
import { RunModels } from './runModel';
import { readControl, readPid, recordExit, signalRun, spawnRun, writeControl } from './runProcess';

export class RunManager implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<string>();
  /** `${runDir}\0${pid}` of the processes already sent SIGINT. */
  private readonly stopping = new Set<string>();
  /** Fires with a run folder whenever its process starts, ends or is steered. */
  readonly onDidChange = this.changed.event;
  /** The one model of each run that views follow; it hears this manager's notices first. */
  readonly models = new RunModels(
    { onDidChange: this.onDidChange },
    { onListenerError: (e) => log().error(e instanceof Error ? e : String(e)) },
  );

  /** The models of runs trained elsewhere (TensorBoard, JSONL logs) that views follow: read-only. */
  readonly external = new ExternalRunModels({
    onListenerError: (e) => log().error(e instanceof Error ? e : String(e)),
  });

  constructor(private readonly cliPath: string) {}

  /** Runs training on `device` now, in any window (their pid files). */
  activeOn(device: string, runsRoot: string): string | undefined {
    if (!fs.existsSync(runsRoot)) return undefined;
    for (const n of fs.readdirSync(runsRoot)) {
      const p = readPid(path.join(runsRoot, n));
      if (p && p.device === device) return path.join(runsRoot, n);
    }
    return undefined;
  }

  /**
   * Starts `request` as a new process; resolves once it runs. Its events go to <runDir>/metrics.jsonl. A
   * request of stage rl starts the same way: `cli.js train --config request.json` hands it to the RL loop.
   */
  start(request: RunRequest): { runDir: string; exited: Promise<number> } {
    const { runDir } = request;
    const child = spawnRun(this.cliPath, request);
    const what = request.stage === 'rl' ? `rl on ${request.task}` : request.preset;
    log().info(`Training started: ${runDir} (pid ${child.pid}, ${what}, ${request.device})`);
    this.changed.fire(runDir);
    const exited = new Promise<number>((resolve) => {
      child.on('exit', (code, signal) => {
        const status = code ?? (signal ? 128 : 0);
        this.onExit(runDir, status, signal);
        resolve(status);
      });
    });
    return { runDir, exited };
  }

  private onExit(runDir: string, code: number, signal: NodeJS.Signals | null): void {
    const message = recordExit(runDir, code, signal);
    if (message) log().error(`${runDir}: ${message}`);
    this.changed.fire(runDir);
  }

  pause(runDir: string, paused: boolean): void {
    writeControl(runDir, { ...readControl(runDir), paused });
    this.changed.fire(runDir);
  }

  checkpointNow(runDir: string): void {
    const c = readControl(runDir);
    writeControl(runDir, { ...c, checkpointRequest: c.checkpointRequest + 1 });
  }

  /**
   * Stops after the steps under way (up to ~5 s of them on CPU), with a checkpoint: SIGINT to the
   * process, once. A second SIGINT makes the CLI quit at once, without that checkpoint.
   */
  stop(runDir: string): boolean {
    const p = readPid(runDir);
    if (!p) return false;
    if (readControl(runDir).paused) writeControl(runDir, { ...readControl(runDir), paused: false });
    const key = `${runDir}\0${p.pid}`;
    if (!this.stopping.has(key)) {
      this.stopping.add(key);
      signalRun(runDir, 'SIGINT');
    }
    return true;
  }

  dispose(): void {
    this.models.dispose();
    this.external.dispose();
    this.changed.dispose();
  }
}
