/**
 * LLM Lens: Export Run for PyTorch…: writes a run (a Runs view item, or one picked) as a PyTorch trainer
 * for torchrun (engine/export/torchExport.ts), optionally continuing its newest checkpoint, then offers its
 * README and the folder.
 *
 *   vscode.commands.executeCommand('llmLens.exportTorch', runItem);
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportTorchRun, outProblem, torchSourceFromRunDir } from '../../engine/export/torchExport';
import { setWalkthroughKey } from '../walkthrough/progress';

/** Asks where to write and how to start, writes the export, offers README and Reveal. `runDir`: the run, already picked. */
export async function exportTorchCommand(runDir: string | undefined): Promise<void> {
  if (!runDir) return;
  let src;
  try {
    src = await torchSourceFromRunDir(runDir);
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Export Run for PyTorch: ${e instanceof Error ? e.message : String(e)}`,
    );
    return;
  }
  let resumeFrom: string | undefined;
  if (src.lastCheckpoint) {
    const step = path.basename(src.lastCheckpoint).replace('step-', 'step ');
    const how = await vscode.window.showQuickPick(
      [
        { label: `Continue from ${step}`, description: 'weights, AdamW moments and schedule', resume: true },
        { label: 'Start from scratch', description: 'GPT-2 initialisation', resume: false },
      ],
      { title: `Export ${path.basename(runDir)} for PyTorch`, ignoreFocusOut: true },
    );
    if (!how) return;
    if (how.resume) resumeFrom = src.lastCheckpoint;
  }
  const picked = await vscode.window.showOpenDialog({
    title: 'Folder to write the PyTorch run into (new or empty)',
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Export Here',
    defaultUri: vscode.Uri.file(path.dirname(runDir)),
  });
  if (!picked?.length) return;
  let out = picked[0].fsPath;
  // a non-empty folder gets a new one inside, named after the run
  if (outProblem(out, false)) out = path.join(out, `${path.basename(runDir)}-torch`);
  const problem = outProblem(out, false);
  if (problem) return void vscode.window.showErrorMessage(`Export Run for PyTorch: ${problem}`);
  try {
    const done = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Exporting ${path.basename(runDir)} for PyTorch…`,
      },
      () => exportTorchRun(src, { out, resumeFrom }),
    );
    setWalkthroughKey('exported');
    const readme = vscode.Uri.file(path.join(done.out, 'README.md'));
    const action = await vscode.window.showInformationMessage(
      `Wrote ${done.out}: train it with ./run.sh (NPROC=8 ./run.sh for 8 GPUs).`,
      'Open README',
      'Reveal',
    );
    if (action === 'Open README') await vscode.commands.executeCommand('markdown.showPreview', readme);
    else if (action === 'Reveal')
      await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(done.out));
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Export Run for PyTorch: ${e instanceof Error ? e.message : String(e)}`,
    );
  } finally {
    src.dispose?.();
  }
}
