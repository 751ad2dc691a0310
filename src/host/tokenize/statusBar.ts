/** Status bar: the token count of the selection (or the document) for the current tokenizer. Click opens the Tokens panel. */
import * as vscode from 'vscode';
import type { WorkerClient } from '../../worker/client';
import { log } from '../log';
import { shortName, specFromKey } from './choices';
import { currentTokenizerKey, TokenizePanel } from './tokenizePanel';

/** Documents longer than this (UTF-16 units) are not counted as a whole; selections always are, up to LIMIT. */
const DOCUMENT_LIMIT = 1_000_000;
const LIMIT = 5_000_000;

export class TokenCountStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'llmLens.tokenCount',
    vscode.StatusBarAlignment.Right,
    100,
  );
  private readonly disposables: vscode.Disposable[] = [this.item];
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  /** The last count shown, for tests: { text, count, key }. */
  last: { count: number; key: string; selection: boolean } | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly worker: WorkerClient,
  ) {
    this.item.name = 'LLM Lens Token Count';
    this.item.command = 'llmLens.tokenizeSelection';
    this.disposables.push(
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor.document.uri.scheme === 'output') return;
        this.lastEditor = e.textEditor;
        this.schedule();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.workspace.onDidChangeTextDocument(
        (e) => e.document === this.lastEditor?.document && this.schedule(),
      ),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('llmLens') && this.schedule()),
      TokenizePanel.onDidChangeTokenizer.event(() => this.schedule()),
    );
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), 250);
  }

  private lastEditor: vscode.TextEditor | undefined;

  /**
   * The editor whose text is counted: the active one, or — while focus is in a webview such as the Tokens
   * panel or in the Output panel — the last active one that is still visible.
   */
  private editor(): vscode.TextEditor | undefined {
    const active = vscode.window.activeTextEditor;
    if (active && active.document.uri.scheme !== 'output') {
      this.lastEditor = active;
      return active;
    }
    const visible = vscode.window.visibleTextEditors.filter((e) => e.document.uri.scheme !== 'output');
    const last = this.lastEditor;
    if (last && visible.includes(last)) return last;
    this.lastEditor = visible[0];
    return visible[0];
  }

  /** Recounts now; resolves when the item shows the new count. */
  async update(): Promise<void> {
    const gen = ++this.generation;
    const editor = this.editor();
    const enabled = vscode.workspace.getConfiguration('llmLens').get<boolean>('statusBar.tokenCount', true);
    if (!enabled || !editor) return this.item.hide();
    const selection = !editor.selection.isEmpty;
    const doc = editor.document;
    if (!selection && doc.getText().length > DOCUMENT_LIMIT) return this.item.hide();
    const text = selection ? editor.selections.map((s) => doc.getText(s)).join('') : doc.getText();
    if (text.length > LIMIT || text.includes('\u0000')) return this.item.hide();
    const key = currentTokenizerKey(this.context);
    const spec = specFromKey(key);
    if (!spec) return this.item.hide();
    try {
      const { count } = await this.worker.run({ kind: 'countTokens', spec, text });
      if (gen !== this.generation) return;
      this.last = { count, key, selection };
      this.item.text = `$(symbol-key) ${count.toLocaleString('en-US')} ${count === 1 ? 'token' : 'tokens'}`;
      this.item.tooltip = new vscode.MarkdownString(
        `**${count.toLocaleString('en-US')} tokens** in the ${selection ? 'selection' : 'document'} with \`${shortName(key)}\`\n\n` +
          `${text.length.toLocaleString('en-US')} characters · ${count ? (text.length / count).toFixed(2) : '0'} characters per token\n\nClick to open the Tokens panel.`,
      );
      this.item.accessibilityInformation = { label: `${count} tokens with ${shortName(key)}` };
      this.item.show();
    } catch (e) {
      log().warn(`Token count failed: ${e instanceof Error ? e.message : String(e)}`);
      if (gen === this.generation) this.item.hide();
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
