/**
 * The training dashboard: one panel per run, fed by the run's model (live, finished, or written by another
 * process), at most ~10 messages a second. Restored after a window reload by its serializer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type {
  DashboardHostMessage,
  DashboardWebviewMessage,
  RunEvent,
  RunSummary,
} from '../../protocol/training';
import { log } from '../log';
import { isDashboardWebviewMessage } from '../panels/validate';
import { webviewHtml, webviewOptions } from '../webviewHtml';
import { Batcher } from './batcher';
import { listCheckpoints, listRuns, readRunEvents } from './runFiles';
import type { RunManager } from './runManager';
import type { RunModel, RunModelRef } from './runModel';

export class DashboardPanel {
  static readonly viewType = 'llmLens.dashboard';
  private static readonly panels = new Map<string, DashboardPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ref: RunModelRef;
  private readonly batcher: Batcher<RunEvent>;
  private compare: string[] = [];
  /** The status and checkpoint count last posted, to post a change once. */
  private posted = '';

  static show(context: vscode.ExtensionContext, manager: RunManager, runDir: string): DashboardPanel {
    const existing = DashboardPanel.panels.get(runDir);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      DashboardPanel.viewType,
      `Training: ${path.basename(runDir)}`,
      vscode.ViewColumn.Active,
      {
        ...webviewOptions(context.extensionUri),
        retainContextWhenHidden: true,
      },
    );
    return new DashboardPanel(panel, context, manager, runDir);
  }

  static revive(
    panel: vscode.WebviewPanel,
    context: vscode.ExtensionContext,
    manager: RunManager,
    state: unknown,
  ): void {
    const runDir = (state as { runDir?: unknown } | undefined)?.runDir;
    if (typeof runDir !== 'string' || !fs.existsSync(path.join(runDir, 'metrics.jsonl'))) {
      panel.webview.html = '<!DOCTYPE html><p>This training run no longer exists.</p>';
      return;
    }
    panel.webview.options = webviewOptions(context.extensionUri);
    new DashboardPanel(panel, context, manager, runDir);
  }

  /** Open dashboards, for tests and the status bar. */
  static get(runDir: string): DashboardPanel | undefined {
    return DashboardPanel.panels.get(runDir);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    context: vscode.ExtensionContext,
    private readonly manager: RunManager,
    readonly runDir: string,
  ) {
    DashboardPanel.panels.set(runDir, this);
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'lens.svg');
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'dashboard', panel.title);
    this.ref = manager.models.acquire(runDir);
    const model = this.ref.model;
    this.batcher = new Batcher((events) => this.post({ type: 'events', events, status: model.status }), 10);
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m), null, this.disposables);
    model.onEvents((events) => events.forEach((e) => this.batcher.push(e)), null, this.disposables);
    model.onDidReset(() => this.init(), null, this.disposables);
    model.onDidChange(() => this.postStatus(model), null, this.disposables);
  }

  private get model(): RunModel {
    return this.ref.model;
  }

  /** Everything so far (the view starts over): what the batcher still holds is in `events` already. */
  private init(): void {
    this.batcher.flush();
    this.posted = statusKey(this.model);
    const models = this.manager.models;
    this.post({
      type: 'init',
      run: this.model.summary(),
      events: [...this.model.events],
      compare: this.compare.map((dir) => ({
        run: models.summary(dir),
        events: [...(models.get(dir)?.events ?? readRunEvents(dir))],
      })),
      live: true,
    });
  }

  /** A new status or checkpoint count, after the events that led to it; a failed run's says why. */
  private postStatus(model: RunModel): void {
    const key = statusKey(model);
    if (key === this.posted) return;
    this.batcher.flush();
    this.posted = key;
    this.post({
      type: 'status',
      status: model.status,
      checkpoints: model.checkpoints.length,
      message: model.status === 'failed' ? model.progress.error : undefined,
    });
  }

  private async onMessage(raw: unknown): Promise<void> {
    if (!isDashboardWebviewMessage(raw)) {
      log().warn(`Dashboard: ignored an invalid message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m: DashboardWebviewMessage = raw;
    if (m.type === 'ready') return this.init();
    if (m.type === 'openSample') {
      const checkpoint = this.nearestCheckpoint(m.step);
      if (!checkpoint) {
        void vscode.window.showInformationMessage(
          'This run has no checkpoint yet to sample from: use "Save checkpoint now".',
        );
        return;
      }
      await vscode.commands
        .executeCommand('llmLens.openSampler', vscode.Uri.file(checkpoint))
        .then(undefined, (e: unknown) =>
          vscode.window.showErrorMessage(
            `Could not open the sampler: ${e instanceof Error ? e.message : String(e)}`,
          ),
        );
      return;
    }
    switch (m.action) {
      case 'pause':
      case 'resume':
        this.manager.pause(this.runDir, m.action === 'pause');
        break;
      case 'stop':
        if (!this.manager.stop(this.runDir))
          void vscode.window.showInformationMessage('This run is not training.');
        break;
      case 'checkpoint':
        this.manager.checkpointNow(this.runDir);
        void vscode.window.setStatusBarMessage(
          'LLM Lens: a checkpoint will be saved after the steps under way',
          5000,
        );
        break;
      case 'reveal':
        await vscode.commands.executeCommand(
          'revealFileInOS',
          vscode.Uri.file(path.join(this.runDir, 'metrics.jsonl')),
        );
        break;
      case 'compare':
        await this.pickCompare();
        break;
      case 'resumeRun':
        await vscode.commands.executeCommand('llmLens.resumeRun', this.runDir);
        break;
    }
  }

  private nearestCheckpoint(step: number): string | undefined {
    const cps = listCheckpoints(this.runDir);
    return [...cps].reverse().find((c) => c.step <= step)?.dir ?? cps[0]?.dir;
  }

  private async pickCompare(): Promise<void> {
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) =>
      path.join(f.uri.fsPath, '.llmlens', 'runs'),
    );
    const others = roots.flatMap(listRuns).filter((d) => path.resolve(d) !== this.model.runDir);
    if (!others.length) {
      void vscode.window.showInformationMessage('There is no other run in this workspace to compare with.');
      return;
    }
    const picks = await vscode.window.showQuickPick(
      others.map((d) => ({
        label: path.basename(d),
        description: summaryLine(this.manager.models.summary(d)),
        picked: this.compare.includes(d),
        dir: d,
      })),
      { canPickMany: true, title: 'Overlay the curves of these runs' },
    );
    if (!picks) return;
    this.compare = picks.map((p) => p.dir);
    this.init();
  }

  private post(m: DashboardHostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  private dispose(): void {
    DashboardPanel.panels.delete(this.runDir);
    this.batcher.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.ref.dispose();
  }
}

function statusKey(model: RunModel): string {
  return `${model.status} ${model.checkpoints.length}`;
}

function summaryLine(s: RunSummary): string {
  return `${s.status} · step ${s.step}${s.loss !== undefined ? ` · loss ${s.loss.toFixed(3)}` : ''}`;
}
