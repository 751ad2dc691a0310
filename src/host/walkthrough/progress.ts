/**
 * The walkthrough's context keys (src/engine/walkthrough/stepKeys.ts): each is set where the person really
 * did the step, so its `onContext:` completion event fires (package.json, contributes.walkthroughs),
 * whether the command came from a step button or the Command Palette. What sets each:
 *
 *   sampleWorkspace  a workspace folder is a sample workspace (watchRuns, sampleWorkspace.ts)
 *   trained          a pretraining run finished                       (watchRuns: its metrics.jsonl)
 *   fineTuned        a fine-tuning (sft) run finished                 (watchRuns)
 *   rlStepped        an RL run made at least one step                 (watchRuns)
 *   tokenized        the Tokens panel showed a result                 (tokenize/tokenizePanel.ts)
 *   sampled          the Sampler finished a generation with tokens    (sampler/samplerPanel.ts)
 *   labOpened        the Sampler ran a base-model lab experiment: a    (sampler/samplerPanel.ts)
 *                    generation of a lab prompt, or the meter measured
 *   inspected        the Checkpoint Inspector showed an opened file   (checkpoint/checkpointEditor.ts)
 *   probed           Probe Knowledge finished and showed its report   (probe/probeCommand.ts)
 *   exported         Export Run for PyTorch wrote its folder          (training/exportTorch.ts)
 *
 * No step completes on `onCommand:`: that event fires when the command starts, even when its quick pick or
 * dialog is then cancelled.
 *
 *   setWalkthroughKey('sampled');
 *   watchRuns(context, manager)   // reads a run's metrics.jsonl when its process starts or ends
 */
import * as vscode from 'vscode';
import { stepOfRun } from '../../engine/walkthrough/runProgress';
import { isSampleWorkspace } from '../../engine/walkthrough/sampleWorkspace';
import { WALKTHROUGH_KEYS, type WalkthroughKey } from '../../engine/walkthrough/stepKeys';
import { readRunEvents } from '../training/runFiles';
import type { RunManager } from '../training/runManager';

/** Marks the walkthrough step of `key` done (for this window; VS Code remembers a step once done). */
export function setWalkthroughKey(key: WalkthroughKey): void {
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
