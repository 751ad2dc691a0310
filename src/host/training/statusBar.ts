/** Status bar: the training run of this workspace — step, loss, tokens/s (RL: step, reward); click opens its dashboard. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { listRuns } from './runFiles';
import type { RunManager } from './runManager';
import type { RunModel, RunModelRef } from './runModel';
import { readPid } from './runProcess';
import { progressLine } from './runState';

export class TrainingStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'llmLens.training',
    vscode.StatusBarAlignment.Left,
    50,
  );
  /** The shown run's model, and this view's subscriptions to it. */
  private shown: { ref: RunModelRef; subs: vscode.Disposable[] } | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly manager: RunManager,
    private readonly roots: () => string[],
  ) {
    this.item.name = 'LLM Lens Training';
    // runs start here (manager) or in another window (their pid files); the shown run's model says when it ends
    const pids = vscode.workspace.createFileSystemWatcher('**/.llmlens/runs/*/run.pid.json');
    this.subs.push(
      manager.onDidChange(() => this.find()),
      pids,
      pids.onDidCreate(() => this.find()),
      pids.onDidDelete(() => this.find()),
    );
    this.find();
  }

  /** Shows the newest run whose trainer runs now, if any. */
  private find(): void {
    const active = this.roots()
      .flatMap(listRuns)
      .find((d) => readPid(d));
    if (active && path.resolve(active) === this.shown?.ref.model.runDir) return;
    this.release();
    if (!active) {
      this.item.hide();
      return;
    }
    const ref = this.manager.models.acquire(active);
    this.shown = { ref, subs: [] };
    ref.model.onDidChange((m) => (m.live ? this.show(m) : this.find()), null, this.shown.subs);
    this.item.command = { command: 'llmLens.openDashboard', title: 'Open Dashboard', arguments: [active] };
    this.item.text = `$(sync~spin) ${path.basename(active)}: starting…`;
    this.show(ref.model);
    this.item.show();
  }

  private show(model: RunModel): void {
    const p = model.progress;
    if (p.loss === undefined) return;
    const paused = model.status === 'paused';
    this.item.text = `$(${paused ? 'debug-pause' : 'sync~spin'}) ${progressLine(p)}`;
    this.item.tooltip = `LLM Lens is ${p.stage === 'rl' ? 'running RL on' : 'training'} ${path.basename(model.runDir)}${paused ? ' (paused)' : ''}. Click to open its dashboard.`;
  }

  private release(): void {
    if (!this.shown) return;
    for (const d of this.shown.subs.splice(0)) d.dispose();
    this.shown.ref.dispose();
    this.shown = undefined;
  }

  dispose(): void {
    for (const d of this.subs.splice(0)) d.dispose();
    this.release();
    this.item.dispose();
  }
}
