/**
 * The Checkpoint Inspector: read-only custom editors for `*.safetensors` (llmLens.checkpoint) and
 * `*.onnx` (llmLens.onnx). provider → CheckpointDocument → InspectedFile (the engine's reader behind
 * the file-access interface). Opening parses the header only; the webview asks for tensor stats, a
 * comparison or an export, and every long task stops when its editor closes.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { exportGptOnnx } from '../../engine/model/exportOnnx';
import { loadCheckpoint } from '../../engine/train/checkpoint';
import { CheckpointError } from '../../engine/checkpoint/errors';
import { SHARD_INDEX_SUFFIX } from '../../engine/checkpoint/shards';
import type { CheckpointHostMessage, CheckpointWebviewMessage } from '../../protocol/checkpoint';
import { log } from '../log';
import { setWalkthroughKey } from '../walkthrough/progress';
import { webviewHtml, webviewOptions } from '../webviewHtml';
import { exportForHuggingFace } from './hfExport';
import { besideDirs, openInspectedFile, type InspectedFile } from './inspector';
import { isCheckpointWebviewMessage } from './validate';

export const CHECKPOINT_VIEW_TYPE = 'llmLens.checkpoint';
export const ONNX_VIEW_TYPE = 'llmLens.onnx';
/** A sharded checkpoint's model.safetensors.index.json (an "Open With…" option: JSON stays text by default). */
export const CHECKPOINT_INDEX_VIEW_TYPE = 'llmLens.checkpointIndex';

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One opened file. Holds the reader (or the error that stopped it) and aborts its tasks on dispose. */
export class CheckpointDocument implements vscode.CustomDocument {
  file: InspectedFile | undefined;
  error: { message: string; code?: string } | undefined;
  /** Size and modification time when (re)loaded, to notice a change of a file that failed to open. */
  private loadedStat: { size: number; mtimeMs: number } | undefined;
  private readonly controller = new AbortController();
  private readonly onDidReload = new vscode.EventEmitter<void>();
  /** Fires after reload() replaced the file. */
  readonly onReload = this.onDidReload.event;

  private constructor(readonly uri: vscode.Uri) {}

  static async open(uri: vscode.Uri): Promise<CheckpointDocument> {
    const doc = new CheckpointDocument(uri);
    await doc.load();
    return doc;
  }

  /** Aborted when the document closes (every editor on it is gone). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private async load(): Promise<void> {
    this.file = undefined;
    this.error = undefined;
    this.loadedStat = await stat(this.uri.fsPath).then(
      (s) => ({ size: s.size, mtimeMs: s.mtimeMs }),
      () => undefined,
    );
    if (this.uri.scheme !== 'file') {
      this.error = {
        message: `${this.uri.toString()}: the Checkpoint Inspector reads files on disk (this one is on '${this.uri.scheme}')`,
      };
      return;
    }
    try {
      this.file = await openInspectedFile(this.uri.fsPath);
    } catch (e) {
      this.error = { message: errorMessage(e), code: e instanceof CheckpointError ? e.code : undefined };
      if (!(e instanceof CheckpointError))
        log().error(`Checkpoint Inspector: could not open ${this.uri.fsPath}: ${errorMessage(e)}`);
    }
  }

  /** True when the file on disk is no longer the one shown (rewritten, truncated, created or deleted). */
  async changedOnDisk(): Promise<boolean> {
    if (this.file) return this.file.changedOnDisk().catch(() => true);
    const now = await stat(this.uri.fsPath).then(
      (s) => ({ size: s.size, mtimeMs: s.mtimeMs }),
      () => undefined,
    );
    return now?.size !== this.loadedStat?.size || now?.mtimeMs !== this.loadedStat?.mtimeMs;
  }

  async reload(): Promise<void> {
    const old = this.file;
    await this.load();
    await old?.close().catch(() => {});
    this.onDidReload.fire();
  }

  dispose(): void {
    this.controller.abort();
    void this.file?.close().catch(() => {});
    this.onDidReload.dispose();
  }
}

/** The webview of one editor on a document: answers its messages. */
class CheckpointEditorView {
  private inspectTask: AbortController | undefined;
  private busy = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly controller = new AbortController();

  constructor(
    private readonly doc: CheckpointDocument,
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
  ) {
    panel.webview.options = webviewOptions(extensionUri);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'lens.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'checkpoint', basename(doc.uri.fsPath));
    panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m), null, this.disposables);
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    doc.onReload(
      () => {
        this.inspectTask?.abort(); // it was reading the file that was just replaced
        this.sendState();
      },
      null,
      this.disposables,
    );
    if (doc.uri.scheme === 'file') {
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(vscode.Uri.file(dirname(doc.uri.fsPath)), basename(doc.uri.fsPath)),
      );
      const check = () => void this.checkChanged();
      watcher.onDidChange(check, null, this.disposables);
      watcher.onDidCreate(check, null, this.disposables);
      watcher.onDidDelete(check, null, this.disposables);
      this.disposables.push(watcher);
      panel.onDidChangeViewState((e) => e.webviewPanel.visible && check(), null, this.disposables);
    }
  }

  /** Aborted when this editor closes or its document does. */
  private get signal(): AbortSignal {
    return AbortSignal.any([this.controller.signal, this.doc.signal]);
  }

  private post(m: CheckpointHostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  private sendState(): void {
    const { file, error } = this.doc;
    if (file) {
      this.post({ type: 'overview', overview: file.overview });
      setWalkthroughKey('inspected');
    } else
      this.post({
        type: 'openError',
        fileName: basename(this.doc.uri.fsPath),
        message: error?.message ?? 'the file could not be read',
        code: error?.code,
      });
  }

  private async checkChanged(): Promise<void> {
    if (await this.doc.changedOnDisk()) this.post({ type: 'changedOnDisk' });
  }

  private async onMessage(raw: unknown): Promise<void> {
    if (!isCheckpointWebviewMessage(raw)) {
      log().warn(`Checkpoint Inspector: ignored an invalid message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m: CheckpointWebviewMessage = raw;
    switch (m.type) {
      case 'ready':
        this.sendState();
        void this.checkChanged();
        break;
      case 'reload':
        await this.doc.reload();
        break;
      case 'inspect':
        await this.inspect(m.name);
        break;
      case 'compare':
        await this.task('compare', () => this.compare());
        break;
      case 'exportHf':
        await this.task('export', () => this.exportHf());
        break;
      case 'sample':
        await vscode.commands
          .executeCommand('llmLens.openSampler', vscode.Uri.file(dirname(this.doc.uri.fsPath)))
          .then(undefined, (e: unknown) =>
            vscode.window.showErrorMessage(
              `Could not open the sampler: ${e instanceof Error ? e.message : String(e)}`,
            ),
          );
        break;
      case 'exportOnnx':
        await this.task('export', () => this.exportOnnx());
        break;
      case 'continueTraining':
        await vscode.commands.executeCommand(
          'llmLens.resumeRun',
          dirname(dirname(dirname(this.doc.uri.fsPath))),
          dirname(this.doc.uri.fsPath),
        );
        break;
    }
  }

  private async inspect(name: string): Promise<void> {
    const file = this.doc.file;
    if (!file) return;
    if (!file.overview.tensors.some((t) => t.name === name)) {
      this.post({ type: 'taskError', task: 'inspect', message: `no tensor named '${name}'` });
      return;
    }
    this.inspectTask?.abort();
    const task = new AbortController();
    this.inspectTask = task;
    this.post({ type: 'busy', task: 'inspect', label: name });
    try {
      const detail = await file.inspect(name, AbortSignal.any([task.signal, this.signal]));
      if (!task.signal.aborted) this.post({ type: 'tensor', detail });
    } catch (e) {
      if (!task.signal.aborted) this.post({ type: 'taskError', task: 'inspect', message: errorMessage(e) });
    }
  }

  /** Runs one compare/export at a time, reporting failures in the view. */
  private async task(kind: 'compare' | 'export', run: () => Promise<void>): Promise<void> {
    if (this.busy.has(kind)) return;
    this.busy.add(kind);
    try {
      await run();
    } catch (e) {
      if (!this.signal.aborted) {
        this.post({ type: 'taskError', task: kind, message: errorMessage(e) });
        log().warn(`Checkpoint Inspector: ${kind} failed: ${errorMessage(e)}`);
      }
    } finally {
      this.busy.delete(kind);
    }
  }

  private async compare(): Promise<void> {
    const file = this.doc.file;
    if (!file || file.overview.kind !== 'safetensors') return;
    const other = await pickOtherCheckpoint(file.path);
    if (!other) return;
    this.post({ type: 'busy', task: 'compare', label: basename(other) });
    const comparison = await file.compare(other, this.signal);
    this.post({ type: 'comparison', comparison });
  }

  /** A transformers.js / onnxruntime folder: config, tokenizer and onnx/model.onnx with a KV cache (engine/model/exportOnnx.ts). */
  private async exportOnnx(): Promise<void> {
    const file = this.doc.file;
    if (!file?.safetensors || !file.overview.canExportHf) return;
    const defaultDir = join(dirname(file.path), `${basename(file.path, extname(file.path))}-onnx`);
    const outDir = await vscode.window.showInputBox({
      title:
        'Export ONNX for onnxruntime and transformers.js (onnx/model.onnx with a key/value cache): the folder to create',
      value: defaultDir,
      validateInput: newFolderProblem,
    });
    if (!outDir) return;
    this.post({ type: 'busy', task: 'export', label: outDir.trim() });
    const ckpt = await loadCheckpoint(file.path);
    const r = await exportGptOnnx(ckpt.config, ckpt.weights, outDir.trim(), {
      tokenizerDir: dirname(file.path),
    });
    this.post({ type: 'exported', folder: r.folder, files: r.files });
    log().info(
      `Exported ${file.path} as ONNX to ${r.folder} (${r.files.join(', ')}; tokenizer: ${r.tokenizer})`,
    );
    const note =
      r.tokenizer === 'none'
        ? ` No tokenizer.json: ${r.tokenizerMissing ?? 'none found beside the checkpoint'}. Pass token ids, or add a tokenizer.json to the folder.`
        : '';
    void vscode.window.showInformationMessage(
      `LLM Lens: exported ONNX to ${r.folder} (${r.files.join(', ')}); transformers.js loads it with AutoModelForCausalLM.from_pretrained.${note}`,
    );
  }

  private async exportHf(): Promise<void> {
    const file = this.doc.file;
    if (!file?.safetensors || !file.overview.canExportHf) return;
    const a = file.overview.architecture;
    let nHead = a.nHead;
    if (nHead === undefined) {
      const nEmbd = a.nEmbd ?? 0;
      const divisors = [...Array(nEmbd).keys()]
        .map((i) => i + 1)
        .filter((d) => nEmbd % d === 0 && nEmbd / d >= 8);
      const choice = await vscode.window.showQuickPick(
        divisors.map((d) => ({ label: String(d), description: `head size ${nEmbd / d}` })),
        {
          title: 'n_head is not in a config.json beside the checkpoint: how many attention heads?',
          placeHolder: 'n_head',
        },
      );
      if (!choice) return;
      nHead = Number(choice.label);
    }
    const stem = basename(file.path, extname(file.path));
    const defaultDir = join(dirname(file.path), `${stem}-hf`);
    const outDir = await vscode.window.showInputBox({
      title: 'Export for Hugging Face: the folder to create',
      value: defaultDir,
      validateInput: newFolderProblem,
    });
    if (!outDir) return;
    this.post({ type: 'busy', task: 'export', label: outDir.trim() });
    const r = await exportForHuggingFace(file.safetensors, {
      outDir: outDir.trim(),
      nHead,
      searchDirs: besideDirs(file.path),
      sourceConfig: file.config,
      signal: this.signal,
    });
    this.post({ type: 'exported', folder: r.folder, files: r.files });
    log().info(`Exported ${file.path} for Hugging Face to ${r.folder}: ${r.files.join(', ')}`);
    void vscode.window.showInformationMessage(
      `LLM Lens: exported for Hugging Face to ${r.folder} (${r.files.join(', ')}).`,
    );
  }

  private dispose(): void {
    this.controller.abort();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Quick pick of the workspace's other safetensors files, or a file dialog. */
async function pickOtherCheckpoint(self: string): Promise<string | undefined> {
  const found = (await vscode.workspace.findFiles('**/*.safetensors', '**/node_modules/**', 500)).filter(
    (u) => u.fsPath !== self,
  );
  const browse = { label: '$(folder-opened) Browse…', path: undefined as string | undefined };
  const items = [
    ...found.map((u) => ({
      label: vscode.workspace.asRelativePath(u),
      description: dirname(u.fsPath) === dirname(self) ? 'beside this one' : undefined,
      path: u.fsPath as string | undefined,
    })),
    browse,
  ];
  const pick = found.length
    ? await vscode.window.showQuickPick(items, {
        title: 'Compare with… (relative change of each tensor)',
        placeHolder: 'another checkpoint',
      })
    : browse;
  if (!pick) return undefined;
  if (pick.path) return pick.path;
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { Safetensors: ['safetensors'] },
    defaultUri: vscode.Uri.file(dirname(self)),
    openLabel: 'Compare',
  });
  return uris?.[0]?.fsPath;
}

/** The custom editor provider for one view type. */
class CheckpointEditorProvider implements vscode.CustomReadonlyEditorProvider<CheckpointDocument> {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly documents: Map<string, CheckpointDocument>,
  ) {}

  async openCustomDocument(uri: vscode.Uri): Promise<CheckpointDocument> {
    const doc = await CheckpointDocument.open(uri);
    this.documents.set(uri.toString(), doc);
    const dispose = doc.dispose.bind(doc);
    doc.dispose = () => {
      if (this.documents.get(uri.toString()) === doc) this.documents.delete(uri.toString());
      dispose();
    };
    return doc;
  }

  resolveCustomEditor(document: CheckpointDocument, panel: vscode.WebviewPanel): void {
    new CheckpointEditorView(document, panel, this.extensionUri);
  }
}

/** What Open Checkpoint returns (for tests and scripts). */
export interface OpenedCheckpoint {
  path: string;
  params?: number;
  tensors?: number;
  architecture?: string;
  error?: string;
}

/** The inspector's editor for a path: ONNX, a shard index, or a safetensors file. */
function viewTypeOf(path: string): string {
  if (/\.onnx$/i.test(path)) return ONNX_VIEW_TYPE;
  return path.endsWith(SHARD_INDEX_SUFFIX) ? CHECKPOINT_INDEX_VIEW_TYPE : CHECKPOINT_VIEW_TYPE;
}

async function openWithInspector(
  documents: Map<string, CheckpointDocument>,
  uri: vscode.Uri,
): Promise<OpenedCheckpoint> {
  const viewType = viewTypeOf(uri.fsPath);
  await vscode.commands.executeCommand('vscode.openWith', uri, viewType);
  const doc = documents.get(uri.toString());
  const o = doc?.file?.overview;
  return o
    ? { path: uri.fsPath, params: o.params, tensors: o.tensors.length, architecture: o.architecture.label }
    : { path: uri.fsPath, error: doc?.error?.message ?? 'the editor did not open' };
}

/** Registers both custom editors and the Open Checkpoint commands. */
export function registerCheckpointEditors(context: vscode.ExtensionContext): void {
  const documents = new Map<string, CheckpointDocument>();
  const provider = new CheckpointEditorProvider(context.extensionUri, documents);
  const options = {
    webviewOptions: { retainContextWhenHidden: true },
    supportsMultipleEditorsPerDocument: true,
  };
  context.subscriptions.push(
    vscode.window.registerCustomEditorProvider(CHECKPOINT_VIEW_TYPE, provider, options),
    vscode.window.registerCustomEditorProvider(ONNX_VIEW_TYPE, provider, options),
    vscode.window.registerCustomEditorProvider(CHECKPOINT_INDEX_VIEW_TYPE, provider, options),
    vscode.commands.registerCommand('llmLens.openCheckpoint', async (uri?: vscode.Uri) => {
      if (!(uri instanceof vscode.Uri)) {
        const picked = await vscode.window.showOpenDialog({
          canSelectMany: false,
          filters: { 'Checkpoints and models': ['safetensors', 'onnx', 'json'] },
          openLabel: 'Open Checkpoint',
          title: 'LLM Lens: Open Checkpoint',
        });
        uri = picked?.[0];
      }
      return uri ? openWithInspector(documents, uri) : undefined;
    }),
    vscode.commands.registerCommand('llmLens.openInCheckpointInspector', async (uri?: vscode.Uri) => {
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      const fromTab = tab instanceof vscode.TabInputText ? tab.uri : undefined;
      const target = uri instanceof vscode.Uri ? uri : fromTab;
      return target
        ? openWithInspector(documents, target)
        : vscode.commands.executeCommand('llmLens.openCheckpoint');
    }),
  );
}

/** Why a typed path cannot be the folder an export creates, or undefined when it can. */
function newFolderProblem(v: string): string | undefined {
  if (!v.trim()) return 'Enter a folder path';
  return existsSync(v.trim()) ? 'That folder already exists' : undefined;
}
