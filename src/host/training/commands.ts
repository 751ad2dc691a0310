/** Registers training: Start Training, Start RL, dashboards, the Runs view and its actions (Export for PyTorch too), run-file CodeLens, status bar. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunRequest, TrainRequest } from '../../protocol/training';
import type { WorkerClient } from '../../worker/client';
import { RunItem, RunsTreeProvider } from '../runsView';
import { RunFileCodeLens } from './codeLens';
import { DashboardPanel } from './dashboardPanel';
import { exportTorchCommand } from './exportTorch';
import { fineTuneCommand } from './fineTune';
import { deleteRunFolder, listCheckpoints, readRunRequest } from './runFiles';
import { RunManager } from './runManager';
import { readPid } from './runProcess';
import { startRlCommand } from './startRl';
import { launchRun, startTrainingCommand } from './startTraining';
import { TrainingStatusBar } from './statusBar';

function runDirOf(arg: unknown): string | undefined {
  if (arg instanceof RunItem) return arg.runDir;
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  return undefined;
}

export function registerTraining(context: vscode.ExtensionContext, worker: WorkerClient): RunManager {
  const manager = new RunManager(path.join(context.extensionPath, 'dist', 'cli.js'));
  const runs = new RunsTreeProvider(manager);
  const pickRun = async (title: string): Promise<string | undefined> => {
    const all = RunsTreeProvider.roots().flatMap((r) =>
      fs.existsSync(r) ? fs.readdirSync(r).map((n) => path.join(r, n)) : [],
    );
    if (!all.length) {
      void vscode.window.showInformationMessage(
        'No training runs in this workspace yet: run LLM Lens: Start Training…',
      );
      return;
    }
    return (
      await vscode.window.showQuickPick(
        all.map((d) => ({ label: path.basename(d), dir: d })),
        { title },
      )
    )?.dir;
  };

  context.subscriptions.push(
    manager,
    runs,
    vscode.window.createTreeView('llmLens.runs', { treeDataProvider: runs, showCollapseAll: true }),
    new TrainingStatusBar(manager, RunsTreeProvider.roots),
    vscode.languages.registerCodeLensProvider({ pattern: '**/*.llmlens.json' }, new RunFileCodeLens()),
    vscode.commands.registerCommand('llmLens.startTraining', (uri?: vscode.Uri, uris?: vscode.Uri[]) =>
      startTrainingCommand(context, manager, worker, uri instanceof vscode.Uri ? uri : undefined, uris),
    ),
    vscode.commands.registerCommand('llmLens.fineTune', (arg?: unknown, preset?: unknown) =>
      fineTuneCommand(context, manager, worker, arg, preset),
    ),
    vscode.commands.registerCommand('llmLens.startRl', (arg?: unknown) =>
      startRlCommand(context, manager, worker, arg),
    ),
    vscode.commands.registerCommand('llmLens.openDashboard', async (arg?: unknown) => {
      const dir = runDirOf(arg) ?? (await pickRun('Open the dashboard of'));
      if (dir) DashboardPanel.show(context, manager, dir);
      return dir;
    }),
    vscode.commands.registerCommand('llmLens.stopTraining', (arg?: unknown) => {
      const dir = runDirOf(arg);
      return dir ? manager.stop(dir) : false;
    }),
    vscode.commands.registerCommand('llmLens.resumeRun', async (arg?: unknown, fromCheckpoint?: string) => {
      const dir = runDirOf(arg) ?? (await pickRun('Resume'));
      if (!dir) return;
      if (readPid(dir))
        return void vscode.window.showInformationMessage(`${path.basename(dir)} is training already.`);
      const cps = listCheckpoints(dir);
      const last =
        typeof fromCheckpoint === 'string' ? cps.find((c) => c.dir === fromCheckpoint) : cps.at(-1);
      const request = readRunRequest(dir) as RunRequest | undefined;
      if (request?.stage === 'rl') {
        const start = await vscode.window.showInformationMessage(
          `${path.basename(dir)} is an RL run: RL runs cannot be resumed yet. Start a new RL run from its ${last ? `checkpoint step ${last.step}` : 'fine-tuned checkpoint'} instead.`,
          'Start RL…',
        );
        if (start)
          return vscode.commands.executeCommand(
            'llmLens.startRl',
            vscode.Uri.file(last?.dir ?? request.from),
          );
        return;
      }
      if (!last || !request) {
        void vscode.window.showErrorMessage(
          `${path.basename(dir)} has ${last ? 'no run request (it was not started by the extension)' : 'no checkpoint'} to resume from.`,
        );
        return;
      }
      return launchRun(context, manager, { ...(request as TrainRequest), runDir: dir, resumeFrom: last.dir });
    }),
    vscode.commands.registerCommand('llmLens.deleteRun', async (arg?: unknown) => {
      const dir = runDirOf(arg);
      if (!dir) return;
      if (readPid(dir))
        return void vscode.window.showWarningMessage(`${path.basename(dir)} is training: stop it first.`);
      const ok = await vscode.window.showWarningMessage(
        `Delete the run ${path.basename(dir)} with its checkpoints?`,
        { modal: true, detail: dir },
        'Delete',
      );
      if (ok !== 'Delete') return;
      await deleteRunFolder(dir, {
        moveToTrash: (d) =>
          vscode.workspace.fs.delete(vscode.Uri.file(d), { recursive: true, useTrash: true }),
        confirmPermanent: async (reason) =>
          (await vscode.window.showWarningMessage(
            `Could not move ${path.basename(dir)} to the trash: ${reason.replace(/\.$/, '')}. Delete it permanently?`,
            { modal: true, detail: dir },
            'Delete Permanently',
          )) === 'Delete Permanently',
        removePermanently: (d) => fs.rmSync(d, { recursive: true, force: true }),
      });
      runs.refresh();
    }),
    vscode.commands.registerCommand('llmLens.revealRun', (arg?: unknown) => {
      const dir = runDirOf(arg);
      if (dir) return vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
    }),
    vscode.commands.registerCommand('llmLens.exportTorch', async (arg?: unknown) =>
      exportTorchCommand(runDirOf(arg) ?? (await pickRun('Export for PyTorch'))),
    ),
    vscode.commands.registerCommand('llmLens.refreshRuns', () => runs.refresh()),
    vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => DashboardPanel.revive(panel, context, manager, state),
    }),
  );
  return manager;
}
