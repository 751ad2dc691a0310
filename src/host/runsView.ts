/**
 * The Runs view: the workspace's training runs (.llmlens/runs/*) with status, step and loss, their
 * checkpoints below; and, when `llmLens.runFolders` lists folders, runs trained elsewhere (TensorBoard event
 * files, JSONL logs, llm-lens runs trained on another machine) grouped by where they came from:
 *
 *   Workspace runs              ← .llmlens/runs of the workspace folders
 *     run-2024…  pretrain · finished · step 400/400 · loss 1.234
 *   ~/logs                      ← one group per entry of llmLens.runFolders (tooltip: the full path)
 *     pytorch    tensorboard · step 70 · loss 0.500
 *       checkpoint-60           ← model.safetensors (or a shard index): click opens the Checkpoint Inspector
 *
 * Without runFolders the workspace's runs are the top level, as before. The grouping itself is
 * runs/runSources.ts (no vscode, unit-tested); this file makes tree items of it and refreshes on file
 * changes (the workspace's, each source folder's, and a 5 s poll for folders a watcher cannot see) and on
 * setting changes. It also registers llmLens.openInSampler, the checkpoint items' "Open in Sampler".
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunStatus, RunSummary } from '../protocol/training';
import type { ExternalCheckpoint } from './runs/externalRun';
import {
  type FoundRun,
  type RunGroup,
  RUN_FOLDERS_SETTING,
  resolveRunFolders,
  runGroups,
} from './runs/runSources';
import { listCheckpoints, listRuns } from './training/runFiles';
import { runDescription } from './training/runState';
import type { RunManager } from './training/runManager';

export class RunItem extends vscode.TreeItem {
  readonly runDir: string;
  readonly status: RunStatus;

  constructor(summary: RunSummary, label = path.basename(summary.runDir)) {
    const { runDir, status, checkpoints } = summary;
    super(
      label,
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

/** A run trained elsewhere (runs/externalRun.ts): read-only, its checkpoint folders below. */
export class ExternalRunItem extends RunItem {
  constructor(
    summary: RunSummary,
    found: FoundRun,
    readonly checkpoints: readonly ExternalCheckpoint[],
  ) {
    super(summary, found.label);
    this.collapsibleState = checkpoints.length
      ? vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    this.iconPath = new vscode.ThemeIcon(summary.status === 'running' ? 'sync~spin' : 'graph-line');
    this.description = externalDescription(summary);
    const damaged = summary.external?.damaged ?? 0;
    this.tooltip = [
      found.path,
      `${summary.external?.format ?? 'log'} run, read-only`,
      ...(damaged ? [`${damaged} damaged record${damaged === 1 ? '' : 's'} skipped`] : []),
    ].join('\n');
    this.contextValue = 'llmLensExternalRun';
  }
}

/** "tensorboard · running · step 70 · loss 0.500 · 1 damaged" */
export function externalDescription(s: RunSummary): string {
  const parts = [s.external?.format ?? 'log'];
  if (s.status === 'running') parts.push('running');
  parts.push(`step ${s.step}`);
  if (s.loss !== undefined) parts.push(`loss ${s.loss.toFixed(3)}`);
  else if (s.valLoss !== undefined) parts.push(`val loss ${s.valLoss.toFixed(3)}`);
  if (s.external?.damaged) parts.push(`${s.external.damaged} damaged`);
  return parts.join(' · ');
}

/** A checkpoint folder of a run trained elsewhere: opens in the Checkpoint Inspector; Open in Sampler in its menu. */
export class ExternalCheckpointItem extends vscode.TreeItem {
  readonly dir: string;

  constructor(c: ExternalCheckpoint) {
    super(c.label, vscode.TreeItemCollapsibleState.None);
    this.dir = c.dir;
    this.iconPath = new vscode.ThemeIcon('save');
    this.resourceUri = vscode.Uri.file(c.dir);
    this.tooltip = c.file;
    this.contextValue = 'llmLensCheckpoint';
    this.command = {
      command: 'llmLens.openInCheckpointInspector',
      title: 'Open in Checkpoint Inspector',
      arguments: [vscode.Uri.file(c.file)],
    };
  }
}

/** A source of runs: "Workspace runs" or an entry of llmLens.runFolders. */
export class RunGroupItem extends vscode.TreeItem {
  constructor(readonly group: RunGroup) {
    super(group.label, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `llmLens.runGroup:${group.label}`;
    this.tooltip = group.tooltip;
    this.iconPath = new vscode.ThemeIcon(group.problem ? 'warning' : 'folder-library');
    this.description = group.problem
      ? 'not found'
      : `${group.runs.length} run${group.runs.length === 1 ? '' : 's'}`;
    this.contextValue = 'llmLensRunGroup';
  }
}

/** A line that says what is wrong with a source, or that it holds no runs. */
class NoteItem extends vscode.TreeItem {
  constructor(text: string, icon: string) {
    super(text, vscode.TreeItemCollapsibleState.None);
    this.tooltip = text;
    this.iconPath = new vscode.ThemeIcon(icon);
    this.contextValue = 'llmLensRunNote';
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
    this.watch(vscode.workspace.createFileSystemWatcher('**/.llmlens/runs/**'), this.disposables);
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(RUN_FOLDERS_SETTING)) this.refresh();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()),
      vscode.commands.registerCommand('llmLens.openInSampler', (arg?: unknown) => {
        const dir = arg instanceof vscode.Uri ? arg.fsPath : (arg as { dir?: unknown } | undefined)?.dir;
        return vscode.commands.executeCommand(
          'llmLens.openSampler',
          typeof dir === 'string' ? vscode.Uri.file(dir) : undefined,
        );
      }),
      { dispose: () => this.unwatchSources() },
    );
  }

  private sourceWatch: { key: string; subs: vscode.Disposable[]; timer?: ReturnType<typeof setInterval> } = {
    key: '',
    subs: [],
  };

  private watch(w: vscode.FileSystemWatcher, into: vscode.Disposable[]): void {
    into.push(
      w,
      w.onDidCreate(() => this.refresh()),
      w.onDidChange(() => this.refresh()),
      w.onDidDelete(() => this.refresh()),
    );
  }

  /** Watches the folders of the sources (again when they change), with a poll behind the watchers. */
  private watchSources(folders: string[]): void {
    const key = folders.join('\0');
    if (key === this.sourceWatch.key) return;
    this.unwatchSources();
    this.sourceWatch.key = key;
    for (const f of folders)
      this.watch(
        vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(f), '**')),
        this.sourceWatch.subs,
      );
    if (folders.length) this.sourceWatch.timer = setInterval(() => this.refresh(), 5000);
  }

  private unwatchSources(): void {
    for (const d of this.sourceWatch.subs.splice(0)) d.dispose();
    clearInterval(this.sourceWatch.timer);
    this.sourceWatch = { key: '', subs: [] };
  }

  /** The sources of llmLens.runFolders, resolved against the first workspace folder and the home folder. */
  static sources() {
    return resolveRunFolders(vscode.workspace.getConfiguration().get<unknown>(RUN_FOLDERS_SETTING), {
      workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      home: os.homedir(),
    });
  }

  /** The .llmlens/runs folders of the workspace. */
  static roots(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.llmlens', 'runs'));
  }

  getTreeItem(item: vscode.TreeItem): vscode.TreeItem {
    return item;
  }

  getChildren(parent?: vscode.TreeItem): vscode.TreeItem[] {
    if (parent instanceof ExternalRunItem)
      return [...parent.checkpoints].reverse().map((c) => new ExternalCheckpointItem(c));
    if (parent instanceof RunItem)
      return listCheckpoints(parent.runDir)
        .map((c) => new CheckpointItem(c.dir, c.step))
        .reverse();
    if (parent instanceof RunGroupItem) return this.groupChildren(parent.group);
    const workspaceRuns = RunsTreeProvider.roots().flatMap(listRuns);
    const sources = RunsTreeProvider.sources();
    this.watchSources(sources.flatMap((s) => s.folders));
    // each run's summary comes from its model, or from the bytes its metrics.jsonl gained since the last look
    if (!sources.length) return this.manager.models.summaries(workspaceRuns).map((s) => new RunItem(s));
    const groups = runGroups(workspaceRuns, sources);
    const all = groups.flatMap((g) => g.runs);
    this.manager.models.summaries(all.filter((r) => r.kind === 'native').map((r) => r.path));
    this.manager.external.keep(all.filter((r) => r.kind !== 'native').map((r) => r.path));
    return groups.map((g) => new RunGroupItem(g));
  }

  private groupChildren(g: RunGroup): vscode.TreeItem[] {
    if (g.problem) return [new NoteItem(g.problem, 'warning')];
    if (!g.runs.length) return [new NoteItem('No runs found here', 'info')];
    return g.runs.map((r) => {
      if (r.kind === 'native') return new RunItem(this.manager.models.summary(r.path), r.label);
      const model = this.manager.external.peek(r.path);
      return new ExternalRunItem(model.summary(), r, model.checkpoints);
    });
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
