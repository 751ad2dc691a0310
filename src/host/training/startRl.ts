/**
 * LLM Lens: Start RL…: reinforcement learning (group-relative policy gradient) from a fine-tuned checkpoint
 * on a task with checked answers, started and shown like any training run (RunManager, dashboard, status
 * bar). Asks only what is missing: the checkpoint, the task (a shipped one, or a workspace JSONL of
 * {"prompt", "answer"} lines and its checker), the steps, and the device where a GPU provider works
 * (Start Training's choice: the policy steps, rollouts and reward model then run there).
 *
 *   startRlCommand(context, manager, worker)                  // from the palette: asks for each
 *   startRlCommand(context, manager, worker, checkpointUri)   // from the Explorer or the Runs view: task and steps
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { problemWith } from '../../engine/options';
import { rlTaskDescription } from '../../engine/rl/rlTasks';
import { CHECKERS, RL_OPTIONS, RL_TASK_NAMES } from '../../protocol/rlOptions';
import type { RlRequest } from '../../protocol/training';
import { pickCheckpoint } from '../sampler/samplerPanel';
import { checkpointArg } from './fineTune';
import { CHECKER_DESCRIPTIONS, rlCheckpointProblem, taskFileProblem, type CheckerName } from './rlChoices';
import type { RunManager } from './runManager';
import { askDevice, launchRun, rlRunDir, runsWorkspace } from './startTraining';
import type { WorkerClient } from '../../worker/client';

const TITLE = 'Start RL';
/** Steps unless the user says otherwise: the table's default. */
const DEFAULT_RL_STEPS = RL_OPTIONS.steps.default;

/** Says why `from` cannot start RL, with Fine-Tune… for a base checkpoint; true when it can. */
async function checkpointOk(from: string): Promise<boolean> {
  const problem = rlCheckpointProblem(from);
  if (!problem) return true;
  if (problem.kind !== 'base') {
    void vscode.window.showErrorMessage(problem.message);
    return false;
  }
  const pick = await vscode.window.showErrorMessage(problem.message, 'Fine-Tune…');
  if (pick === 'Fine-Tune…') await vscode.commands.executeCommand('llmLens.fineTune', vscode.Uri.file(from));
  return false;
}

/** A shipped task, or a task file with its checker. */
async function askTask(): Promise<Pick<RlRequest, 'task' | 'checker'> | undefined> {
  const file = {
    label: '$(file) Task file…',
    description: 'a workspace JSONL of {"prompt", "answer"} lines',
    task: '',
  };
  const pick = await vscode.window.showQuickPick(
    [...RL_TASK_NAMES.map((t) => ({ label: t, description: rlTaskDescription(t), task: t as string })), file],
    { title: `${TITLE} (2/3): task`, placeHolder: 'What the model is rewarded for', ignoreFocusOut: true },
  );
  if (!pick) return undefined;
  if (pick.task) return { task: pick.task };
  const found = await vscode.workspace.findFiles('**/*.jsonl', '**/{node_modules,.git,.llmlens}/**', 200);
  if (!found.length) {
    void vscode.window.showErrorMessage(
      'No *.jsonl file in this workspace: write one {"prompt": "…", "answer": "…"} a line, then Start RL… again.',
    );
    return undefined;
  }
  const taskFile = await vscode.window.showQuickPick(
    found.map((f) => ({
      label: path.basename(f.fsPath),
      description: vscode.workspace.asRelativePath(f),
      file: f.fsPath,
    })),
    { title: `${TITLE} (2/3): task file`, placeHolder: '{"prompt", "answer"} a line', ignoreFocusOut: true },
  );
  if (!taskFile) return undefined;
  const checker = await vscode.window.showQuickPick(
    CHECKERS.map((c) => ({ label: c, description: CHECKER_DESCRIPTIONS[c], checker: c as CheckerName })),
    {
      title: `${TITLE} (2/3): how ${taskFile.label}'s answers are checked`,
      placeHolder: `against each line's "answer"`,
      ignoreFocusOut: true,
    },
  );
  if (!checker) return undefined;
  const problem = taskFileProblem(taskFile.file, checker.checker);
  if (problem) {
    void vscode.window.showErrorMessage(problem);
    return undefined;
  }
  return { task: taskFile.file, checker: checker.checker };
}

/** The steps, refused in the box when the option table refuses them. */
async function askRlSteps(): Promise<number | undefined> {
  const v = await vscode.window.showInputBox({
    title: `${TITLE} (3/3): steps`,
    prompt: `Policy-gradient steps: each samples ${RL_OPTIONS.groupSize.default} answers to ${RL_OPTIONS.promptsPerStep.default} prompts`,
    value: String(DEFAULT_RL_STEPS),
    ignoreFocusOut: true,
    validateInput: (s) => {
      const problem = problemWith(RL_OPTIONS.steps, s.trim() ? Number(s) : NaN, s.trim());
      return problem && `Steps ${problem}`;
    },
  });
  return v === undefined ? undefined : Number(v.trim());
}

/** The command: arg is a checkpoint (Explorer, Runs view, Checkpoint Inspector) or nothing. */
export async function startRlCommand(
  context: vscode.ExtensionContext,
  manager: RunManager,
  worker: WorkerClient,
  arg?: unknown,
): Promise<string | undefined> {
  const root = runsWorkspace();
  if (!root) return;
  const from =
    checkpointArg(arg) ?? (await pickCheckpoint(`${TITLE} (1/3)`, 'Pick the fine-tuned (SFT) checkpoint'));
  if (!from || !(await checkpointOk(from))) return;
  const task = await askTask();
  if (!task) return;
  const steps = await askRlSteps();
  if (!steps) return;
  const device = await askDevice(worker, `${TITLE}: device`); // only those that run here are offered
  if (!device) return;
  const request: RlRequest = {
    stage: 'rl',
    from,
    ...task,
    steps,
    device,
    runDir: rlRunDir(root, task.task),
  };
  return launchRun(context, manager, request);
}
