/** A "Start training" CodeLens at the top of every *.llmlens.json run file. */
import * as vscode from 'vscode';

export class RunFileCodeLens implements vscode.CodeLensProvider {
  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    if (!document.uri.fsPath.endsWith('.llmlens.json')) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    return [
      new vscode.CodeLens(top, {
        title: '$(play) Start training',
        command: 'llmLens.startTraining',
        arguments: [document.uri],
      }),
    ];
  }
}
