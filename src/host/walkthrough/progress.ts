/**
 * The walkthrough's context keys: set when the person really did a step, so its `onContext:`
 * completion event fires (package.json, contributes.walkthroughs).
 *
 *   llmLens.walkthrough.sampleWorkspace   a workspace folder is a sample workspace
 *   llmLens.walkthrough.trained           a pretraining run finished
 *   llmLens.walkthrough.fineTuned         a fine-tuning (sft) run finished
 *   llmLens.walkthrough.rlStepped         an RL run made at least one step
 *   llmLens.walkthrough.tokenized, .sampled, .inspected, .labOpened, .probed, .exported
 *                                         a step button ran its command (sampleWorkspace.ts)
 *
 * The last ones stand in for `onCommand:`: a command the extension runs itself (the step button's
 * llmLens.walkthrough.step running llmLens.openSampler) does not reach the workbench's command service,
 * so its onCommand event never fires; run from the Command Palette, it does.
 *
 *   watchRuns(context, manager)   // reads a run's metrics.jsonl when its process starts or ends
 */
import * as vscode from 'vscode';
import { stepOfRun } from '../../engine/walkthrough/runProgress';
import { isSampleWorkspace } from '../../engine/walkthrough/sampleWorkspace';
import { readRunEvents } from '../training/runFiles';
import type { RunManager } from '../training/runManager';

export const WALKTHROUGH_KEYS = {
  sampleWorkspace: 'llmLens.walkthrough.sampleWorkspace',
  trained: 'llmLens.walkthrough.trained',
  fineTuned: 'llmLens.walkthrough.fineTuned',
  rlStepped: 'llmLens.walkthrough.rlStepped',
  tokenized: 'llmLens.walkthrough.tokenized',
  sampled: 'llmLens.walkthrough.sampled',
  inspected: 'llmLens.walkthrough.inspected',
  labOpened: 'llmLens.walkthrough.labOpened',
  probed: 'llmLens.walkthrough.probed',
  exported: 'llmLens.walkthrough.exported',
} as const;

export function setWalkthroughKey(key: keyof typeof WALKTHROUGH_KEYS): void {
  void vscode.commands.executeCommand('setContext', WALKTHROUGH_KEYS[key], true);
}

/** Sets the run keys as runs end, and the sample key for the folders open now and later. */
export function watchRuns(context: vscode.ExtensionContext, manager: RunManager): void {
  const checkFolders = () => {
    if (vscode.workspace.workspaceFolders?.some((f) => isSampleWorkspace(f.uri.fsPath)))
      setWalkthroughKey('sampleWorkspace');
  };
  checkFolders();
  context.subscriptions.push(
    vscode.workspace.onDidChangeWorkspaceFolders(checkFolders),
    manager.onDidChange((runDir) => {
      const key = stepOfRun(readRunEvents(runDir));
      if (key) setWalkthroughKey(key);
    }),
  );
}
