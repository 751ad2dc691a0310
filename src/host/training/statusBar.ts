/** Status bar: the training run of this workspace — step, loss, tokens/s; click opens its dashboard. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunEvent } from '../../protocol/training';
import { listRuns } from './runFiles';
import type { RunManager } from './runManager';
import { readPid } from './runProcess';
import { MetricsTail } from './tail';

export class TrainingStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'llmLens.training',
    vscode.StatusBarAlignment.Left,
    50,
  );
  private tail: MetricsTail | undefined;
  private runDir: string | undefined;
  /** Checks every second whether the shown run's process still lives; only while one is shown. */
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly manager: RunManager,
    private readonly roots: () => string[],
  ) {
    this.item.name = 'LLM Lens Training';
    // runs start and end here (manager) or in another window / the CLI (their pid files)
    const pids = vscode.workspace.createFileSystemWatcher('**/.llmlens/runs/*/run.pid.json');
    this.subs.push(
      manager.onDidChange(() => this.poll()),
      pids,
      pids.onDidCreate(() => this.poll()),
      pids.onDidDelete(() => this.poll()),
    );
    this.poll();
  }

  private poll(): void {
    const active = this.roots()
      .flatMap(listRuns)
      .find((d) => readPid(d));
    if (active !== this.runDir) {
      this.tail?.dispose();
      this.tail = undefined;
      this.runDir = active;
      clearInterval(this.timer);
      this.timer = undefined;
      if (!active) {
        this.item.hide();
        return;
      }
      this.timer = setInterval(() => this.poll(), 1000);
      this.item.command = { command: 'llmLens.openDashboard', title: 'Open Dashboard', arguments: [active] };
      this.tail = new MetricsTail(active, (events) => this.show(events));
      this.show(this.tail.start());
      this.item.text = `$(sync~spin) ${path.basename(active)}: starting…`;
      this.item.show();
    }
  }

  private maxIters = 0;

  private show(events: RunEvent[]): void {
    for (const e of events) if (e.kind === 'start') this.maxIters = e.maxIters;
    const step = [...events]
      .reverse()
      .find((e): e is Extract<RunEvent, { kind: 'step' }> => e.kind === 'step');
    if (!step || !this.runDir) return;
    const paused = this.manager.status(this.runDir) === 'paused';
    this.item.text = `$(${paused ? 'debug-pause' : 'sync~spin'}) step ${step.step}/${this.maxIters} · loss ${step.loss.toFixed(3)} · ${Math.round(step.tokPerSec).toLocaleString('en-US')} tok/s`;
    this.item.tooltip = `LLM Lens is training ${path.basename(this.runDir)}${paused ? ' (paused)' : ''}. Click to open its dashboard.`;
  }

  dispose(): void {
    clearInterval(this.timer);
    for (const d of this.subs.splice(0)) d.dispose();
    this.tail?.dispose();
    this.item.dispose();
  }
}
