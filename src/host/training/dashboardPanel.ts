/**
 * The training dashboard: one panel per run, fed by the run's model (live, finished, or written by another
 * process), at most ~10 messages a second. Restored after a window reload by its serializer.
 * A run trained elsewhere (a TensorBoard folder or a JSONL log: runs/externalRun.ts) opens the same way,
 * titled "Run: <name>", read-only (no pause, stop or checkpoint), its scalars as `scalar` events.
 *
 *   DashboardPanel.show(context, manager, '/ws/.llmlens/runs/run-1');   // "Training: run-1"
 *   DashboardPanel.show(context, manager, '/logs/pytorch');              // "Run: pytorch"
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type {
  DashboardHostMessage,
  DashboardWebviewMessage,
  RunEvent,
  RunStatus,
  RunSummary,
} from '../../protocol/training';
import type { Disposable, Event } from '../emitter';
import { log } from '../log';
import { isDashboardWebviewMessage } from '../panels/validate';
import { runGroups, runKindOf } from '../runs/runSources';
import { RunsTreeProvider } from '../runsView';
import { webviewHtml, webviewOptions } from '../webviewHtml';
import { Batcher } from './batcher';
import { listRuns, readRunEvents } from './runFiles';
import type { RunManager } from './runManager';

/** What the dashboard needs of a run's model: a native RunModel or an ExternalRunModel. */
interface ShownRun {
  readonly status: RunStatus;
  readonly events: readonly RunEvent[];
  readonly checkpoints: readonly { step: number; dir: string }[];
  readonly progress: { error?: string };
  readonly onEvents: Event<readonly RunEvent[]>;
  readonly onDidReset: Event<void>;
  readonly onDidChange: Event<unknown>;
  summary(): RunSummary;
}

const isExternal = (runDir: string) => {
  const kind = runKindOf(runDir);
  return kind === 'tensorboard' || kind === 'jsonl';
};

export class DashboardPanel {
  static readonly viewType = 'llmLens.dashboard';
  private static readonly panels = new Map<string, DashboardPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ref: Disposable & { model: ShownRun };
  private readonly external: boolean;
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
      `${isExternal(runDir) ? 'Run' : 'Training'}: ${path.basename(runDir)}`,
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
    const there =
      typeof runDir === 'string' &&
      (fs.existsSync(path.join(runDir, 'metrics.jsonl')) || runKindOf(runDir) !== undefined);
    if (!there) {
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
    this.external = isExternal(runDir);
    this.ref = this.external ? manager.external.acquire(runDir) : manager.models.acquire(runDir);
    const model = this.ref.model;
    this.batcher = new Batcher((events) => this.post({ type: 'events', events, status: model.status }), 10);
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m), null, this.disposables);
    model.onEvents((events) => events.forEach((e) => this.batcher.push(e)), null, this.disposables);
    model.onDidReset(() => this.init(), null, this.disposables);
    model.onDidChange(() => this.postStatus(model), null, this.disposables);
  }

  private get model(): ShownRun {
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
      compare: this.compare.map((dir) => {
        if (isExternal(dir)) {
          const m = this.manager.external.peek(dir);
          return { run: m.summary(), events: [...m.events] };
        }
        return { run: models.summary(dir), events: [...(models.get(dir)?.events ?? readRunEvents(dir))] };
      }),
      live: true,
    });
  }

  /** A new status or checkpoint count, after the events that led to it; a failed run's says why. */
  private postStatus(model: ShownRun): void {
    const key = statusKey(model);
    if (key === this.posted) return;
    this.batcher.flush();
    this.posted = key;
    this.post({
      type: 'status',
      status: model.status,
      checkpoints: model.checkpoints.length,
      message: model.status === 'failed' ? model.progress.error : undefined,
      ...(this.external ? { damaged: model.summary().external?.damaged ?? 0 } : {}),
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
    if (this.external && m.action !== 'reveal' && m.action !== 'compare') {
      void vscode.window.showInformationMessage(
        `${path.basename(this.runDir)} was trained elsewhere: LLM Lens reads its logs and cannot steer it.`,
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
        await this.reveal();
        break;
      case 'compare':
        await this.pickCompare();
        break;
      case 'resumeRun':
        await vscode.commands.executeCommand('llmLens.resumeRun', this.runDir);
        break;
    }
  }

  /**
   * Shows the run's files: in the OS's file manager on a local window; in a remote window (the files are the
   * remote's) in the Explorer when the workspace holds them, else their path.
   */
  private async reveal(): Promise<void> {
    const file = this.external ? this.runDir : path.join(this.runDir, 'metrics.jsonl');
    const uri = vscode.Uri.file(file);
    if (!vscode.env.remoteName) return void (await vscode.commands.executeCommand('revealFileInOS', uri));
    if (vscode.workspace.getWorkspaceFolder(uri))
      return void (await vscode.commands.executeCommand('revealInExplorer', uri));
    const copy = await vscode.window.showInformationMessage(`The run's files are in ${file}.`, 'Copy Path');
    if (copy) await vscode.env.clipboard.writeText(file);
  }

  private nearestCheckpoint(step: number): string | undefined {
    const cps = this.model.checkpoints;
    return [...cps].reverse().find((c) => c.step <= step)?.dir ?? cps[0]?.dir;
  }

  private async pickCompare(): Promise<void> {
    // every source of the Runs view: the workspace's runs and those of llmLens.runFolders
    const all = runGroups(RunsTreeProvider.roots().flatMap(listRuns), RunsTreeProvider.sources()).flatMap(
      (g) => g.runs.map((r) => ({ ...r, source: g.label })),
    );
    const others = all.filter((r) => path.resolve(r.path) !== path.resolve(this.runDir));
    if (!others.length) {
      void vscode.window.showInformationMessage('There is no other run in this workspace to compare with.');
      return;
    }
    const summaryOf = (r: (typeof others)[number]) =>
      r.kind === 'native' ? this.manager.models.summary(r.path) : this.manager.external.summary(r.path);
    const picks = await vscode.window.showQuickPick(
      others.map((r) => ({
        label: r.label,
        description: `${summaryLine(summaryOf(r))} · ${r.source}`,
        picked: this.compare.includes(r.path),
        dir: r.path,
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

function statusKey(model: ShownRun): string {
  return `${model.status} ${model.checkpoints.length} ${model.summary().external?.damaged ?? ''}`;
}

function summaryLine(s: RunSummary): string {
  return `${s.status} · step ${s.step}${s.loss !== undefined ? ` · loss ${s.loss.toFixed(3)}` : ''}`;
}
