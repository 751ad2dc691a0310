/**
 * LLM Lens: Start Training… from the palette, the Explorer (files/folders) or a run file's CodeLens.
 * Asks only what is missing — data, tokenizer, model preset, steps, device — then starts the run in its own
 * process and opens its dashboard, with a cancellable progress notification and a status bar item.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PRESETS } from '../../engine/model/presets';
import { problemWith } from '../../engine/options';
import type { TokenizerSpec } from '../../protocol/tokenize';
import { isRlRunFile, parseRlRunFile } from '../../engine/train/runFile';
import type { DeviceName, RunEvent, RunRequest, RlRequest } from '../../protocol/training';
import { RL_OPTIONS } from '../../protocol/rlOptions';
import { softwareWebgpuOnly } from '../../engine/runtime/adapter';
import { LOOP_OPTIONS, type PresetName } from '../../protocol/trainOptions';
import type { WorkerClient } from '../../worker/client';
import { log } from '../log';
import { BUILTIN_TOKENIZERS, workspaceChoices } from '../tokenize/choices';
import { DashboardPanel } from './dashboardPanel';
import { parseRunFile, type RunFileRequest } from './runFile';
import { readRunRequest } from './runFiles';
import type { RunManager } from './runManager';
import { progressLine } from './runState';

/** Steps that train something visible in a few minutes on a laptop CPU, per preset. */
const DEFAULT_STEPS: Record<PresetName, number> = {
  tiny: 600,
  'llama-tiny': 600,
  'shakespeare-char': 2000,
  'gpt2-124m': 5000,
};

/** The workspace folder runs are saved in; says why not when no folder is open. */
export function runsWorkspace(): string | undefined {
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!root)
    void vscode.window.showErrorMessage(
      'Open a folder first: runs are saved in the workspace (.llmlens/runs/).',
    );
  return root;
}

async function askData(root: string): Promise<string[] | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  const items: (vscode.QuickPickItem & { value: 'workspace' | 'file' | 'choose' })[] = [
    {
      label: '$(folder) This workspace',
      description: 'its text files (node_modules, .git and binaries are skipped)',
      value: 'workspace',
    },
    ...(active && active.uri.scheme === 'file'
      ? [
          {
            label: `$(file) ${path.basename(active.uri.fsPath)}`,
            description: 'the active file',
            value: 'file' as const,
          },
        ]
      : []),
    { label: '$(files) Choose files or folders…', value: 'choose' },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Start Training (1/5): training data',
    ignoreFocusOut: true,
  });
  if (!pick) return;
  if (pick.value === 'workspace') return [root];
  if (pick.value === 'file') return [active!.uri.fsPath];
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: true,
    defaultUri: vscode.Uri.file(root),
    openLabel: 'Train on these',
  });
  return uris?.map((u) => u.fsPath);
}

/** What `llm-lens train --tokenizer` takes for a picker's tokenizer: a built-in name or a path. */
function specLocation(spec: TokenizerSpec): string {
  if (spec.kind === 'trained') return spec.dir;
  return spec.kind === 'huggingface' ? spec.path : spec.name;
}

async function askTokenizer(): Promise<string | undefined> {
  const trained = (await workspaceChoices()).map((c) => ({
    label: c.label,
    description: c.description,
    value: specLocation(c.spec),
  }));
  const pick = await vscode.window.showQuickPick(
    [
      {
        label: 'char',
        description: 'every character is a token — small vocabulary, learns fastest',
        value: 'char',
      },
      ...BUILTIN_TOKENIZERS.map((b) => ({ label: b.name, description: b.description, value: b.name })),
      ...trained,
    ],
    { title: 'Start Training (2/5): tokenizer', ignoreFocusOut: true },
  );
  return pick?.value;
}

async function askPreset(): Promise<PresetName | undefined> {
  const pick = await vscode.window.showQuickPick(
    PRESETS.map((p) => ({ label: p.name, description: p.description, value: p.name as PresetName })),
    { title: 'Start Training (3/5): model', ignoreFocusOut: true },
  );
  return pick?.value;
}

export async function askSteps(
  defaultSteps: number,
  title = 'Start Training (4/5): steps',
): Promise<number | undefined> {
  const v = await vscode.window.showInputBox({
    title,
    prompt: 'Optimizer steps to train for',
    value: String(defaultSteps),
    ignoreFocusOut: true,
    validateInput: (s) => {
      const problem = problemWith(LOOP_OPTIONS.maxIters, s.trim() ? Number(s) : NaN, s.trim());
      return problem && `Steps ${problem}`;
    },
  });
  return v === undefined ? undefined : Number(v.trim());
}

export async function askDevice(
  worker: WorkerClient,
  title = 'Start Training (5/5): device',
): Promise<DeviceName | undefined> {
  let working: DeviceName[] = ['cpu'];
  try {
    const { report } = await worker.run({ kind: 'probeRuntime', cpus: os.availableParallelism() });
    // a WebGPU provider on a software adapter (lavapipe) runs on the CPU cores, slower than cpu: not offered
    const software = softwareWebgpuOnly();
    working = report.providers.filter((p) => p.ok && !(p.name === 'webgpu' && software)).map((p) => p.name);
  } catch (e) {
    log().warn(`Device probe failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!working.includes('cpu')) working.unshift('cpu');
  if (working.length === 1) return 'cpu';
  const pick = await vscode.window.showQuickPick(
    working.map((d) => ({
      label: d,
      description: d === 'cpu' ? `${os.availableParallelism()} threads` : 'GPU',
      value: d,
    })),
    { title, ignoreFocusOut: true },
  );
  return pick?.value;
}

/** Why a provider does not run here, or undefined when it does. */
async function providerProblem(worker: WorkerClient, device: DeviceName): Promise<string | undefined> {
  try {
    const { report } = await worker.run({ kind: 'probeRuntime', cpus: os.availableParallelism() });
    const p = report.providers.find((x) => x.name === device);
    return p?.ok ? undefined : (p?.error ?? 'it did not load');
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * The device a run asked for when its provider runs here; otherwise the provider's reason in a modal with
 * "Train on CPU" (cpu), or undefined when the user cancels.
 */
export async function deviceOrCpu(worker: WorkerClient, device: DeviceName): Promise<DeviceName | undefined> {
  if (device === 'cpu') return device;
  const reason = await providerProblem(worker, device);
  if (!reason) return device;
  const pick = await vscode.window.showWarningMessage(
    `The ${device} execution provider is not available here: ${reason}`,
    { modal: true },
    'Train on CPU',
  );
  return pick === 'Train on CPU' ? 'cpu' : undefined;
}

export function runName(preset: string, name?: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${name ?? preset}-${stamp}`;
}

/** Starts the run (training or RL) and shows it: dashboard, progress notification with Stop, status bar. */
export async function launchRun(
  context: vscode.ExtensionContext,
  manager: RunManager,
  request: RunRequest,
): Promise<string | undefined> {
  const runsRoot = path.dirname(request.runDir);
  const busy = manager.activeOn(request.device, runsRoot);
  if (busy) {
    const choice = await vscode.window.showWarningMessage(
      `${path.basename(busy)} is training on ${request.device}. Two runs share the ${request.device === 'cpu' ? 'cores' : 'GPU'} and each goes slower.`,
      { modal: true },
      'Stop It and Start',
      'Start Anyway',
    );
    if (!choice) return;
    if (choice === 'Stop It and Start') manager.stop(busy);
  }
  let started: ReturnType<RunManager['start']>;
  try {
    started = manager.start(request);
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Could not start training: ${e instanceof Error ? e.message : String(e)}`,
    );
    return;
  }
  DashboardPanel.show(context, manager, started.runDir);
  const total =
    request.stage === 'rl' ? (request.steps ?? RL_OPTIONS.steps.default) : (request.maxIters ?? 0);
  void trackProgress(manager, started.runDir, total, started.exited);
  return started.runDir;
}

/**
 * A cancellable notification fed by the run's model until the run's process exits; Cancel stops the run
 * with a checkpoint.
 */
function trackProgress(
  manager: RunManager,
  runDir: string,
  maxIters: number,
  exited: Promise<number>,
): Thenable<void> {
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `${isRlRun(runDir) ? 'RL' : 'Training'} ${path.basename(runDir)}`,
      cancellable: true,
    },
    (progress, token) =>
      new Promise<void>((resolve) => {
        const ref = manager.models.acquire(runDir);
        const subs: vscode.Disposable[] = [];
        let last = 0;
        let total = maxIters;
        let stage: Extract<RunEvent, { kind: 'start' }>['stage'];
        const report = (events: readonly RunEvent[]) => {
          for (const e of events) {
            if (e.kind === 'start') [total, stage] = [e.maxIters, e.stage];
            if (e.kind === 'step' && total) {
              const pct = (100 * e.step) / total;
              const line = progressLine({ ...e, maxIters: total, stage });
              progress.report({ message: line, increment: pct - last });
              last = pct;
            }
            if (e.kind === 'error')
              void vscode.window.showErrorMessage(`Training ${path.basename(runDir)} failed: ${e.message}`);
          }
        };
        // events from now on (a resumed run's folder holds its earlier ones)
        ref.model.onEvents(report, null, subs);
        token.onCancellationRequested(() => manager.stop(runDir), null, subs);
        // the manager tells the model of the exit first, so the error event it appends has reached report()
        void exited.then(() => {
          for (const d of subs.splice(0)) d.dispose();
          ref.dispose();
          resolve();
        });
      }),
  );
}

/** Whether the run in `runDir` is an RL run, by the request it was started with. */
export function isRlRun(runDir: string): boolean {
  return readRunRequest(runDir)?.stage === 'rl';
}

/** The folder of a new RL run on `task` (a name, or the task file's name), named after the run file's name. */
export function rlRunDir(root: string, task: string, name?: string): string {
  const taskName = path.basename(task).replace(/\.jsonl$/i, '');
  return path.join(root, '.llmlens', 'runs', runName(`rl-${taskName}`, name));
}

/** A run file of stage rl (parsed and checked by the engine's reader) becomes an RL run. */
async function launchRlFile(
  context: vscode.ExtensionContext,
  manager: RunManager,
  worker: WorkerClient,
  root: string,
  rl: ReturnType<typeof parseRlRunFile>,
): Promise<string | undefined> {
  const { name, runDir: _ignored, ...rest } = rl;
  void _ignored;
  const device = await deviceOrCpu(worker, rl.device);
  if (!device) return;
  const request: RlRequest = { ...rest, device, runDir: rlRunDir(root, rl.task, name) };
  return launchRun(context, manager, request);
}

/** The command: uri is a run file, a file or folder from the Explorer, or nothing. */
export async function startTrainingCommand(
  context: vscode.ExtensionContext,
  manager: RunManager,
  worker: WorkerClient,
  uri?: vscode.Uri,
  uris?: vscode.Uri[],
): Promise<string | undefined> {
  const root = runsWorkspace();
  if (!root) return;
  let fromFile: RunFileRequest | undefined;
  let data: string[] | undefined;
  const targets = uris?.length ? uris : [uri].filter((u) => u !== undefined);
  if (targets.length === 1 && targets[0].fsPath.endsWith('.llmlens.json')) {
    try {
      const doc = await vscode.workspace.openTextDocument(targets[0]);
      if (isRlRunFile(doc.getText())) {
        const rl = parseRlRunFile(doc.getText(), targets[0].fsPath);
        return await launchRlFile(context, manager, worker, root, rl);
      }
      fromFile = parseRunFile(doc.getText(), targets[0].fsPath);
    } catch (e) {
      void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
      return;
    }
  } else if (targets.length) data = targets.map((u) => u.fsPath);

  data ??= fromFile?.data ?? (await askData(root));
  if (!data?.length) return;
  const tokenizer = fromFile?.tokenizer ?? (await askTokenizer());
  if (!tokenizer) return;
  const preset = fromFile?.preset ?? (await askPreset());
  if (!preset) return;
  const maxIters = fromFile
    ? (fromFile.maxIters ?? DEFAULT_STEPS[preset])
    : await askSteps(DEFAULT_STEPS[preset] ?? 1000);
  if (!maxIters) return;
  const asked = fromFile?.device ?? (await askDevice(worker));
  const device = asked && (await deviceOrCpu(worker, asked));
  if (!device) return;
  const runsRoot = path.join(root, '.llmlens', 'runs');
  const runDir = path.join(runsRoot, runName(preset, fromFile?.name));
  if (fs.existsSync(runDir)) {
    void vscode.window.showErrorMessage(`${runDir} exists already.`);
    return;
  }
  const { name: _name, ...rest } = fromFile ?? ({} as Partial<RunFileRequest>);
  void _name;
  return launchRun(context, manager, {
    ...rest,
    data,
    tokenizer,
    preset,
    maxIters,
    device,
    runDir,
    dataCacheDir: path.join(root, '.llmlens', 'data'),
  });
}
