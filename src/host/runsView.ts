/** The Runs view: the workspace's training runs (.llmlens/runs/*) with status, step and loss; their checkpoints below. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunStatus, RunSummary } from '../protocol/training';
import { listCheckpoints, listRuns } from './training/runFiles';
import { runDescription } from './training/runState';
import type { RunManager } from './training/runManager';

export class RunItem extends vscode.TreeItem {
  readonly runDir: string;
  readonly status: RunStatus;

  constructor(summary: RunSummary) {
    const { runDir, status, checkpoints } = summary;
    super(
      path.basename(runDir),
      checkpoints.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    this.runDir = runDir;
    this.status = status;
    const icon: Record<RunStatus, string> = {
      running: 'sync~spin',
      paused: 'debug-pause',
      finished: 'pass',
      stopped: 'debug-stop',
      failed: 'error',
      unknown: 'circle-outline',
    };
    this.iconPath = new vscode.ThemeIcon(icon[status]);
    this.description = runDescription(summary);
    this.tooltip = `${runDir}\n${this.description}`;
    this.contextValue = `llmLensRun.${status}`;
    this.resourceUri = vscode.Uri.file(runDir);
    this.command = { command: 'llmLens.openDashboard', title: 'Open Dashboard', arguments: [this] };
  }
}

export class CheckpointItem extends vscode.TreeItem {
  constructor(
    readonly dir: string,
    step: number,
  ) {
    super(`step ${step}`, vscode.TreeItemCollapsibleState.None);
    this.iconPath = new vscode.ThemeIcon('save');
    this.resourceUri = vscode.Uri.file(dir);
    this.tooltip = dir;
    this.contextValue = 'llmLensCheckpoint';
    this.command = {
      command: 'revealInExplorer',
      title: 'Reveal',
      arguments: [vscode.Uri.file(path.join(dir, 'model.safetensors'))],
    };
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<vscode.TreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly manager: RunManager) {
    // runs this window follows say when they change; a folder made, deleted or written by another process
    // (the CLI, another window) shows in the file watcher
    this.disposables.push(
      manager.onDidChange(() => this.refresh()),
      manager.models.onDidChangeRun(() => this.refresh()),
    );
    const watcher = vscode.workspace.createFileSystemWatcher('**/.llmlens/runs/**');
    this.disposables.push(
      watcher,
      watcher.onDidCreate(() => this.refresh()),
      watcher.onDidChange(() => this.refresh()),
      watcher.onDidDelete(() => this.refresh()),
    );
  }

  /** The .llmlens/runs folders of the workspace. */
  static roots(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.llmlens', 'runs'));
  }

  getTreeItem(item: vscode.TreeItem): vscode.TreeItem {
    return item;
  }

  getChildren(parent?: vscode.TreeItem): vscode.TreeItem[] {
    if (parent instanceof RunItem)
      return listCheckpoints(parent.runDir)
        .map((c) => new CheckpointItem(c.dir, c.step))
        .reverse();
    // each run's summary comes from its model, or from the bytes its metrics.jsonl gained since the last look
    return this.manager.models
      .summaries(RunsTreeProvider.roots().flatMap(listRuns))
      .map((s) => new RunItem(s));
  }

  /** Debounced: metrics.jsonl changes several times a second while a run trains. */
  refresh(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire();
    }, 500);
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
