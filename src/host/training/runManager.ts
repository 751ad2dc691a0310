/**
 * Starts and controls training runs. Each run is its own process (`dist/cli.js train`, forked and
 * detached), so a window reload neither kills nor loses it: the run writes metrics.jsonl and checkpoints
 * in its folder, the run's model (runModel.ts) follows the file, and the manager steers the process through
 * control.json and SIGINT.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { trainingProcessEnv } from '../../engine/train/processEnv';
import type { TrainRequest } from '../../protocol/training';
import { log } from '../log';
import { REQUEST_FILE } from './runFiles';
import { RunModels } from './runModel';
import { readControl, readPid, recordExit, signalRun, trainArgs, writeControl, writePid } from './runProcess';

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

  /** Starts `request` as a new process; resolves once it runs. Its events go to <runDir>/metrics.jsonl. */
  start(request: TrainRequest): { runDir: string; exited: Promise<number> } {
    const { runDir } = request;
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, REQUEST_FILE), JSON.stringify(request, null, 2) + '\n');
    writeControl(runDir, { paused: false, checkpointRequest: 0 });
    const out = fs.openSync(path.join(runDir, 'train.log'), 'a');
    const child = fork(this.cliPath, trainArgs(runDir), {
      cwd: runDir,
      detached: true,
      stdio: ['ignore', out, out, 'ipc'],
      env: trainingProcessEnv({ ...process.env, ELECTRON_RUN_AS_NODE: '1' }),
    });
    fs.closeSync(out);
    if (child.pid === undefined) throw new Error('the training process did not start');
    writePid(runDir, child.pid, request.device);
    child.disconnect?.();
    child.unref();
    log().info(`Training started: ${runDir} (pid ${child.pid}, ${request.preset}, ${request.device})`);
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
    this.changed.dispose();
  }
}
