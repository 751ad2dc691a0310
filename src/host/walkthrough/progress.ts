/**
 * The walkthrough's context keys: set when the person really did a step, so its `onContext:`
 * completion event fires (package.json, contributes.walkthroughs).
 *
 *   llmLens.walkthrough.sampleWorkspace   a workspace folder is a sample workspace
 *   llmLens.walkthrough.trained           a pretraining run finished
 *   llmLens.walkthrough.fineTuned         a fine-tuning (sft) run finished
 *   llmLens.walkthrough.rlStepped         an RL run made at least one step
 *
 *   watchRuns(manager)   // reads each run's metrics.jsonl when its process ends
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isSampleWorkspace } from '../../engine/walkthrough/sampleWorkspace';
import type { RunEvent } from '../../protocol/training';
import type { RunManager } from '../training/runManager';

export const WALKTHROUGH_KEYS = {
  sampleWorkspace: 'llmLens.walkthrough.sampleWorkspace',
  trained: 'llmLens.walkthrough.trained',
  fineTuned: 'llmLens.walkthrough.fineTuned',
  rlStepped: 'llmLens.walkthrough.rlStepped',
} as const;

export function setWalkthroughKey(key: keyof typeof WALKTHROUGH_KEYS): void {
  void vscode.commands.executeCommand('setContext', WALKTHROUGH_KEYS[key], true);
}

/** The run's events; none when it has no metrics.jsonl yet. A torn last line is left out. */
function runEvents(runDir: string): RunEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
  } catch {
    return [];
  }
  const events: RunEvent[] = [];
  for (const line of text.split('\n'))
    try {
      if (line.trim()) events.push(JSON.parse(line) as RunEvent);
    } catch {
      // a line being written
    }
  return events;
}

/** Which key a run's events earn: a finished pretraining or sft run, an RL run with a step. */
export function keyOfRun(events: readonly RunEvent[]): keyof typeof WALKTHROUGH_KEYS | undefined {
  const start = events.find((e) => e.kind === 'start');
  if (start?.kind !== 'start') return undefined;
  if (start.stage === 'rl') return events.some((e) => e.kind === 'step') ? 'rlStepped' : undefined;
  const finished = events.some((e) => e.kind === 'done' && e.reason === 'finished');
  if (!finished) return undefined;
  return start.stage === 'sft' ? 'fineTuned' : 'trained';
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
      const key = keyOfRun(runEvents(runDir));
      if (key) setWalkthroughKey(key);
    }),
  );
}
