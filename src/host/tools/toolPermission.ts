/**
 * The tools the Chat and Sampler panels run, from VS Code's state: Workspace Trust, the person's answer
 * about python (asked once per workspace, in a modal, kept in workspaceState) and the folder search
 * indexes (llmLens.tools.searchFolder, else the first workspace folder). toolAccess.ts holds the rules.
 *
 *   const run = await toolsForRun(context);   // may ask "Let models run Python in a sandbox in this workspace?"
 *   worker.run({ kind: 'chatStart', …, tools: run.tools, searchDir: run.searchDir });
 *   panel.post({ type: 'tools', offer: currentToolOffer(context) });
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { ToolNameMsg, ToolOffer } from '../../protocol/sampler';
import {
  mustAsk,
  resolveSearchFolder,
  toolOffer,
  toolsToRun,
  type PythonConsent,
  type ToolContext,
} from './toolAccess';

/** workspaceState key of the answer about python. */
export const PYTHON_CONSENT_KEY = 'llmLens.pythonConsent';
export const PYTHON_QUESTION = 'Let models run Python in a sandbox in this workspace?';
const ALLOW = 'Allow';
const DECLINE = "Don't Allow";

/**
 * The folder search indexes: the setting llmLens.tools.searchFolder (absolute, or relative to the first
 * workspace folder), else the first workspace folder; undefined when that is not a folder on disk.
 */
function searchDir(): string | undefined {
  const f = vscode.workspace.workspaceFolders?.[0];
  const root = f?.uri.scheme === 'file' ? f.uri.fsPath : undefined;
  const set = vscode.workspace.getConfiguration('llmLens').get<string>('tools.searchFolder', '');
  return resolveSearchFolder(set, root, (p) => fs.existsSync(p) && fs.statSync(p).isDirectory());
}

function toolContext(context: vscode.ExtensionContext): ToolContext {
  const consent = context.workspaceState.get<PythonConsent>(PYTHON_CONSENT_KEY);
  return {
    trusted: vscode.workspace.isTrusted,
    consent: consent === 'allowed' || consent === 'declined' ? consent : undefined,
    folder: !!searchDir(),
  };
}

export function currentToolOffer(context: vscode.ExtensionContext): ToolOffer {
  return toolOffer(toolContext(context));
}

/**
 * The tools of a run with the Tools toggle on, and the folder search indexes. In a trusted workspace
 * whose answer about python is not known yet, asks first (modal); an answer is remembered, a dismissed
 * question leaves python off this time and asks again next time.
 */
export async function toolsForRun(
  context: vscode.ExtensionContext,
): Promise<{ tools: ToolNameMsg[]; searchDir?: string }> {
  let c = toolContext(context);
  if (mustAsk(c)) {
    const answer = await vscode.window.showInformationMessage(
      PYTHON_QUESTION,
      {
        modal: true,
        detail:
          'A model fine-tuned on tool conversations can write Python programs, which LLM Lens runs in a Pyodide sandbox (no files, network or processes, a time limit) and puts their output into the model’s context. Calculator and search run either way.',
      },
      ALLOW,
      DECLINE,
    );
    const answers: Record<string, PythonConsent> = { [ALLOW]: 'allowed', [DECLINE]: 'declined' };
    const consent = answer ? answers[answer] : undefined;
    if (consent) await context.workspaceState.update(PYTHON_CONSENT_KEY, consent);
    c = { ...c, consent: consent ?? 'declined' };
  }
  return { tools: toolsToRun(c), searchDir: searchDir() };
}

/** Calls `listener` when what the panels offer may have changed (trust granted, folders changed). */
export function onToolOfferChange(listener: () => void): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.workspace.onDidGrantWorkspaceTrust(listener),
    vscode.workspace.onDidChangeWorkspaceFolders(listener),
  );
}
