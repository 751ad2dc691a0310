/**
 * LLM Lens: Create Sample Workspace… and the walkthrough's step buttons.
 *
 * The command asks for an empty folder (or takes one as a Uri), writes the sample there
 * (src/engine/walkthrough/sampleWorkspace.ts) and opens it; when it is the folder open now, it shows its
 * README instead. Each step button (`command:llmLens.walkthrough.step?["train"]`) runs the real command on
 * the sample's files and runs: the run file, the newest checkpoint of the pretraining run or of the
 * fine-tuning run. A button completes nothing itself: the command's real effect sets the step's key
 * (progress.ts), so a step whose quick pick or dialog is cancelled stays to do.
 *
 *   await vscode.commands.executeCommand('llmLens.createSampleWorkspace', vscode.Uri.file('/tmp/sample'));
 *   await vscode.commands.executeCommand('llmLens.walkthrough.step', 'sample');   // the Sampler on step-200
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  FINE_TUNE_STEPS,
  SAMPLE_FILES,
  isSampleWorkspace,
  sampleFolderProblem,
  writeSampleWorkspace,
} from '../../engine/walkthrough/sampleWorkspace';
import { log } from '../log';
import type { FineTunePreset } from '../training/fineTune';
import type { RunManager } from '../training/runManager';
import { setWalkthroughKey, watchRuns } from './progress';

const CREATE = 'LLM Lens: Create Sample Workspace…';

async function askFolder(): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    title: `${CREATE} an empty folder`,
    openLabel: 'Create Sample Here',
  });
  return uris?.[0]?.fsPath;
}

/** Writes the sample into a folder the user picks; returns the folder. */
async function createSampleWorkspace(context: vscode.ExtensionContext, arg?: unknown) {
  const dir = arg instanceof vscode.Uri ? arg.fsPath : await askFolder();
  if (!dir) return undefined;
  const problem = sampleFolderProblem(dir);
  if (problem) {
    void vscode.window.showErrorMessage(problem);
    return undefined;
  }
  const corpus = path.join(context.extensionPath, 'media', 'walkthrough', 'shakespeare.txt');
  try {
    const files = writeSampleWorkspace(dir, corpus);
    log().info(`Sample workspace: ${files.length} files written to ${dir}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`Could not write the sample workspace: ${(e as Error).message}`);
    return undefined;
  }
  setWalkthroughKey('sampleWorkspace');
  const open = vscode.workspace.workspaceFolders?.some((f) => f.uri.fsPath === dir);
  if (open)
    await vscode.commands.executeCommand(
      'markdown.showPreview',
      vscode.Uri.file(path.join(dir, SAMPLE_FILES.readme)),
    );
  else await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(dir));
  return dir;
}

/** The open sample workspace folder; offers to create one when there is none. */
function sampleRoot(): string | undefined {
  const root = vscode.workspace.workspaceFolders?.find((f) => isSampleWorkspace(f.uri.fsPath))?.uri.fsPath;
  if (!root)
    void vscode.window
      .showInformationMessage('The walkthrough steps use the sample workspace: create it first.', CREATE)
      .then((c) => c && vscode.commands.executeCommand('llmLens.createSampleWorkspace'));
  return root;
}

/** The newest run of the sample whose folder name starts with `prefix` (names end in a sortable time). */
function newestRun(root: string, prefix: string): string | undefined {
  const runs = path.join(root, '.llmlens', 'runs');
  if (!fs.existsSync(runs)) return undefined;
  const names = fs.readdirSync(runs).filter((n) => n.startsWith(prefix));
  return names.length ? path.join(runs, names.sort().at(-1)!) : undefined;
}

/** The newest checkpoint (highest step) of the newest run starting with `prefix`; says what to do first. */
function newestCheckpoint(root: string, prefix: string, first: string): vscode.Uri | undefined {
  const run = newestRun(root, prefix);
  const dir = run && path.join(run, 'checkpoints');
  const steps = dir && fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^step-\d+$/.test(n)) : [];
  if (!steps.length) {
    void vscode.window.showInformationMessage(`This step needs a checkpoint: ${first} first.`);
    return undefined;
  }
  const step = (n: string) => Number(n.slice('step-'.length));
  const newest = steps.sort((a, b) => step(a) - step(b)).at(-1)!;
  return vscode.Uri.file(path.join(dir!, newest));
}

const PRETRAINED = ['sample-', 'train the model (step 2)'] as const;
const FINE_TUNED = ['sft-', 'fine-tune it (step 6)'] as const;

/** Runs a walkthrough step's real command on the sample. */
async function runStep(step: unknown): Promise<unknown> {
  const root = sampleRoot();
  if (!root) return undefined;
  const file = (rel: string) => vscode.Uri.file(path.join(root, rel));
  const run = (command: string, ...args: unknown[]) => vscode.commands.executeCommand(command, ...args);
  const fineTunePreset = (rel: string): FineTunePreset => ({
    data: file(rel).fsPath,
    steps: FINE_TUNE_STEPS,
  });
  const withCheckpoint = (of: readonly [string, string], command: string, ...more: unknown[]) => {
    const at = newestCheckpoint(root, ...of);
    return at && run(command, at, ...more);
  };
  switch (step) {
    case 'tokenize': {
      const doc = await vscode.workspace.openTextDocument(file(SAMPLE_FILES.strawberry));
      const editor = await vscode.window.showTextDocument(doc);
      const at = doc.getText().indexOf('strawberry?');
      const word = new vscode.Range(doc.positionAt(at), doc.positionAt(at + 'strawberry'.length));
      editor.selection = new vscode.Selection(word.start, word.end);
      return run('llmLens.tokenizeSelection');
    }
    case 'train':
      return run('llmLens.startTraining', file(SAMPLE_FILES.pretrain));
    case 'sample':
      return withCheckpoint(PRETRAINED, 'llmLens.openSampler');
    case 'inspect': {
      const at = newestCheckpoint(root, ...PRETRAINED);
      return at && run('llmLens.openCheckpoint', vscode.Uri.joinPath(at, 'model.safetensors'));
    }
    case 'lab':
      return withCheckpoint(PRETRAINED, 'llmLens.openModelFolder');
    case 'fineTune':
      return withCheckpoint(PRETRAINED, 'llmLens.fineTune', fineTunePreset(SAMPLE_FILES.chat));
    case 'fineTuneTools':
      return withCheckpoint(PRETRAINED, 'llmLens.fineTune', fineTunePreset(SAMPLE_FILES.tools));
    case 'chat':
      return withCheckpoint(FINE_TUNED, 'llmLens.openChat');
    case 'probe':
      return withCheckpoint(FINE_TUNED, 'llmLens.probeKnowledge');
    case 'rl':
      return withCheckpoint(FINE_TUNED, 'llmLens.startRl');
    case 'export': {
      const r = newestRun(root, PRETRAINED[0]);
      if (r) return run('llmLens.exportTorch', r);
      return void vscode.window.showInformationMessage(`This step needs a run: ${PRETRAINED[1]} first.`);
    }
    default:
      throw new Error(`llmLens.walkthrough.step: no step ${JSON.stringify(step)}`);
  }
}

/** Registers the command, the step buttons' command and the context keys. */
export function registerWalkthrough(context: vscode.ExtensionContext, manager: RunManager): void {
  watchRuns(context, manager);
  context.subscriptions.push(
    vscode.commands.registerCommand('llmLens.createSampleWorkspace', (arg?: unknown) =>
      createSampleWorkspace(context, arg),
    ),
    vscode.commands.registerCommand('llmLens.walkthrough.step', runStep),
  );
}
