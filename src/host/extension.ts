/** LLM Lens extension entry point: registers commands, views and panels. Nothing heavy runs here. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { WorkerClient } from '../worker/client';
import { registerChat } from './chat/chatPanel';
import { registerCheckpointEditors } from './checkpoint/checkpointEditor';
import { registerHubCommands } from './hub/downloadCommand';
import { registerOpenModelFolder } from './sampler/openModelFolder';
import { registerSampler } from './sampler/samplerPanel';
import { installCudaSupport, probeEnvironment } from './environment';
import { initLog } from './log';
import { EnvironmentPanel } from './panels/environmentPanel';
import { probeKnowledgeCommand } from './probe/probeCommand';
import { TokenCountStatusBar } from './tokenize/statusBar';
import { commandTextEditor } from './tokenize/text';
import { TokenizePanel } from './tokenize/tokenizePanel';
import { trainTokenizerCommand } from './tokenize/trainTokenizer';
import { registerTraining } from './training/commands';
import { registerWalkthrough } from './walkthrough/sampleWorkspace';

export function activate(context: vscode.ExtensionContext): void {
  const log = initLog(context);
  log.info(
    `LLM Lens ${context.extension.packageJSON.version} activated in ${vscode.env.appName} ${vscode.version}`,
  );

  const worker = new WorkerClient(path.join(context.extensionPath, 'dist', 'worker.js'));
  context.subscriptions.push({ dispose: () => void worker.dispose() });
  const probe = () => probeEnvironment(context, worker);

  registerCheckpointEditors(context);
  registerSampler(context, worker);
  registerChat(context, worker);
  registerOpenModelFolder(context);
  registerHubCommands(context);

  registerWalkthrough(context, registerTraining(context, worker));

  context.subscriptions.push(
    vscode.commands.registerCommand('llmLens.showEnvironment', async () => {
      const panel = EnvironmentPanel.createOrShow(context.extensionUri, probe);
      await panel.refresh();
      return panel.currentReport;
    }),
    vscode.commands.registerCommand('llmLens.installCuda', () => installCudaSupport(context)),
    vscode.commands.registerCommand('llmLens.showLog', () => log.show()),
    vscode.commands.registerCommand('llmLens.probeKnowledge', (arg?: unknown) =>
      probeKnowledgeCommand(context, worker, arg),
    ),
    vscode.commands.registerCommand('llmLens.tokenizeSelection', async () => {
      const editor = commandTextEditor(TokenizePanel.instance?.trackedEditor);
      const panel = await TokenizePanel.show(context, worker, editor);
      if (!editor) void vscode.window.showInformationMessage('Open a file or select text to tokenize.');
      return panel.lastView;
    }),
    vscode.commands.registerCommand(
      'llmLens.trainTokenizer',
      async (uri?: vscode.Uri, uris?: vscode.Uri[]) => {
        const dir = await trainTokenizerCommand(
          worker,
          uris?.length ? uris : [uri].filter((u) => u instanceof vscode.Uri),
        );
        if (dir) await TokenizePanel.instance?.refreshChoices();
        return dir;
      },
    ),
    vscode.window.registerWebviewPanelSerializer(TokenizePanel.viewType, {
      deserializeWebviewPanel: async (panel) => TokenizePanel.revive(panel, context, worker),
    }),
    new TokenCountStatusBar(context, worker),
    vscode.window.registerWebviewPanelSerializer(EnvironmentPanel.viewType, {
      deserializeWebviewPanel: async (panel) => {
        EnvironmentPanel.revive(panel, context.extensionUri, probe);
      },
    }),
  );
}

export function deactivate(): void {}
