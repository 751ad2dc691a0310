/** LLM Lens extension entry point: registers commands, views and panels. Nothing heavy runs here. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { WorkerClient } from '../worker/client';
import { probeEnvironment } from './environment';
import { initLog } from './log';
import { EnvironmentPanel } from './panels/environmentPanel';
import { RunsTreeProvider } from './runsView';

export function activate(context: vscode.ExtensionContext): void {
  const log = initLog(context);
  log.info(`LLM Lens ${context.extension.packageJSON.version} activated in ${vscode.env.appName} ${vscode.version}`);

  const worker = new WorkerClient(path.join(context.extensionPath, 'dist', 'worker.js'));
  context.subscriptions.push({ dispose: () => void worker.dispose() });
  const probe = () => probeEnvironment(context, worker);

  const runs = new RunsTreeProvider();
  context.subscriptions.push(runs, vscode.window.createTreeView('llmLens.runs', { treeDataProvider: runs, showCollapseAll: true }));

  context.subscriptions.push(
    vscode.commands.registerCommand('llmLens.showEnvironment', async () => {
      const panel = EnvironmentPanel.createOrShow(context.extensionUri, probe);
      await panel.refresh();
      return panel.currentReport;
    }),
    vscode.commands.registerCommand('llmLens.showLog', () => log.show()),
    vscode.window.registerWebviewPanelSerializer(EnvironmentPanel.viewType, {
      deserializeWebviewPanel: async (panel) => {
        EnvironmentPanel.revive(panel, context.extensionUri, probe);
      },
    }),
  );
}

export function deactivate(): void {}
