/**
 * LLM Lens: Probe Knowledge…: asks a chat checkpoint each question N times at temperature T in the worker
 * (progress with cancel), shows the groups of answers, agreement and verdict per question, writes the
 * fine-tuning data (refusals where it is unsure, what it knows kept) into .llmlens/data/ and offers to
 * fine-tune on it.
 *
 *   probeKnowledgeCommand(context, worker, checkpointUri)   // asks for questions, samples, temperature, threshold
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { toJsonl } from '../../engine/chat/chatData';
import { probeConversations, type ProbeQuestion } from '../../engine/chat/probe';
import {
  PROBE_SETTINGS,
  parseProbeQuestions,
  probeSettingsError,
  taskProbeQuestions,
  type ProbeSetting,
} from '../../engine/chat/probeInput';
import { writeFileAtomic } from '../../engine/train/data';
import type { WorkerClient } from '../../worker/client';
import { log } from '../log';
import { pickCheckpoint } from '../sampler/samplerPanel';
import { checkpointArg } from '../training/fineTune';
import { runsWorkspace } from '../training/startTraining';
import { setWalkthroughKey } from '../walkthrough/progress';
import { probeReportHtml, verdictTotals, type ProbeReport } from './probeReport';

const TITLE = 'Probe Knowledge';
/** Questions generated from a chat-data task's held-out split. */
const GENERATED_COUNT = 20;
const GENERATED = [
  {
    task: 'refusal',
    label: 'Made-up people',
    detail: 'questions it cannot know: it should say "I don\'t know"',
  },
  { task: 'arithmetic', label: 'Arithmetic facts', detail: 'questions with a right answer it may know' },
] as const;

/** The questions: a workspace JSONL file or generated ones; undefined when cancelled. */
async function askQuestions(): Promise<{ questions: ProbeQuestion[]; source: string } | undefined> {
  const found = await vscode.workspace.findFiles('**/*.jsonl', '**/{node_modules,.git,.llmlens}/**', 200);
  const items = [
    ...GENERATED.map((g) => ({
      label: `$(sparkle) ${g.label}`,
      description: `${GENERATED_COUNT} held-out ${g.task} questions`,
      detail: g.detail,
      task: g.task as string,
      file: '',
    })),
    ...found.map((f) => ({
      label: path.basename(f.fsPath),
      description: vscode.workspace.asRelativePath(f),
      detail: undefined,
      task: '',
      file: f.fsPath,
    })),
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: `${TITLE} (2/5): questions`,
    placeHolder: 'JSONL: {"question", "answer"?} a line, or conversations; or generated questions',
    ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  if (pick.task) {
    const task = pick.task as (typeof GENERATED)[number]['task'];
    return { questions: await taskProbeQuestions(task, GENERATED_COUNT), source: `the ${task} task` };
  }
  try {
    const text = fs.readFileSync(pick.file, 'utf8');
    return {
      questions: parseProbeQuestions(text, pick.file),
      source: vscode.workspace.asRelativePath(pick.file),
    };
  } catch (e) {
    void vscode.window.showErrorMessage(`${TITLE}: ${(e as Error).message}`);
    return undefined;
  }
}

/** A setting through an input box checked by probeSettingsError (nothing runs on a bad value). */
async function askSetting(name: ProbeSetting, step: number): Promise<number | undefined> {
  const s = PROBE_SETTINGS[name];
  const text = await vscode.window.showInputBox({
    title: `${TITLE} (${step}/5): ${name}`,
    prompt: `${s.why[0].toUpperCase()}${s.why.slice(1)} (${s.min}–${s.max})`,
    value: String(s.default),
    ignoreFocusOut: true,
    validateInput: (v) => probeSettingsError(name, v),
  });
  if (text === undefined || probeSettingsError(name, text)) return undefined;
  return Number(text);
}

/** The .llmlens/data/ file for the fine-tuning data of this probe. */
function sftFileFor(root: string, checkpoint: string, source: string): string {
  const slug = (s: string) =>
    s
      .replace(/\.jsonl$/, '')
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
  const run = path.basename(path.dirname(path.dirname(checkpoint)));
  const name = `probe-${slug(source)}-${slug(`${run}-${path.basename(checkpoint)}`)}.jsonl`;
  return path.join(root, '.llmlens', 'data', name);
}

/** Opens a script-free panel with the report (src/host/probe/probeReport.ts). */
function showReport(context: vscode.ExtensionContext, report: ProbeReport): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(
    'llmLens.probe',
    `Probe: ${path.basename(path.dirname(path.dirname(report.checkpoint)))}/${path.basename(report.checkpoint)}`,
    vscode.ViewColumn.Active,
    {
      enableScripts: false,
      enableCommandUris: ['llmLens.fineTune'],
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'media')],
    },
  );
  panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'lens.svg');
  const css = panel.webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, 'media', 'webview.css'));
  panel.webview.html = probeReportHtml(report, {
    cspSource: panel.webview.cspSource,
    css: css.toString(),
    nonce: randomBytes(16).toString('base64'),
  });
  return panel;
}

/** The command: arg is a checkpoint (Explorer, Runs view, Checkpoint Inspector) or nothing. */
export async function probeKnowledgeCommand(
  context: vscode.ExtensionContext,
  worker: WorkerClient,
  arg?: unknown,
): Promise<ProbeReport | undefined> {
  const root = runsWorkspace();
  if (!root) return;
  const checkpoint =
    checkpointArg(arg) ?? (await pickCheckpoint(`${TITLE} (1/5)`, 'Pick the chat checkpoint to probe'));
  if (!checkpoint) return;
  const asked = await askQuestions();
  if (!asked) return;
  const samples = await askSetting('samples', 3);
  if (samples === undefined) return;
  const temperature = await askSetting('temperature', 4);
  if (temperature === undefined) return;
  const threshold = await askSetting('threshold', 5);
  if (threshold === undefined) return;

  const n = asked.questions.length;
  let results;
  try {
    results = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `${TITLE}: ${n} questions`,
        cancellable: true,
      },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let last = 0;
        const r = await worker.run(
          { kind: 'probe', checkpoint, questions: asked.questions, samples, temperature, threshold },
          {
            signal: abort.signal,
            onProgress: (message, fraction) => {
              const f = fraction ?? last;
              progress.report({ message, increment: (f - last) * 100 });
              last = f;
            },
          },
        );
        return r.results;
      },
    );
  } catch (e) {
    const message = (e as Error).message;
    if (/abort|cancel/i.test(message)) {
      void vscode.window.showInformationMessage(`${TITLE}: cancelled.`);
      return;
    }
    log().error(`${TITLE} failed: ${message}`);
    void vscode.window.showErrorMessage(`${TITLE} failed: ${message}`);
    return;
  }

  const conversations = probeConversations(results);
  const sftFile = sftFileFor(root, checkpoint, asked.source);
  fs.mkdirSync(path.dirname(sftFile), { recursive: true });
  writeFileAtomic(sftFile, toJsonl(conversations));
  const report: ProbeReport = {
    checkpoint,
    source: asked.source,
    samples,
    temperature,
    threshold,
    results,
    sftFile,
    conversations: conversations.length,
  };
  showReport(context, report);
  setWalkthroughKey('probed');
  const t = verdictTotals(results);
  const action = 'Fine-Tune on It…';
  void vscode.window
    .showInformationMessage(
      `${TITLE}: ${t.knows} known, ${t.wrong} wrong, ${t.unsure} unsure; wrote ${conversations.length} conversations to ${vscode.workspace.asRelativePath(sftFile)}.`,
      action,
    )
    .then((a) =>
      a === action
        ? vscode.commands.executeCommand('llmLens.fineTune', vscode.Uri.file(checkpoint), { data: sftFile })
        : undefined,
    );
  return report;
}
