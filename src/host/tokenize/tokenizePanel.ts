/**
 * The Tokenize panel: one panel beside the editor that shows how 1–4 tokenizers split the selection.
 * It follows the editor's selection (debounced) and selects a token's range when one is clicked.
 */
import * as vscode from 'vscode';
import type {
  ChatViewColumn,
  ChatViewResult,
  TokenizeHostMessage,
  TokenizeResult,
  TokenizerChoice,
  TokenizeWebviewMessage,
} from '../../protocol/tokenize';
import type { WorkerClient } from '../../worker/client';
import { log } from '../log';
import { isTokenizeWebviewMessage } from '../panels/validate';
import { setWalkthroughKey } from '../walkthrough/progress';
import { webviewHtml, webviewOptions } from '../webviewHtml';
import { allChoices, builtinChoices } from './choices';
import { LARGE_TEXT, sourceText, type SourceText } from './text';

export const SELECTED_KEY = 'llmLens.tokenize.selected';
const COMPARE_KEY = 'llmLens.tokenize.compare';

/** The tokenizer in use (the first one in compare mode): the panel's choice, else the llmLens.tokenizer setting. */
export function currentTokenizerKey(context: vscode.ExtensionContext): string {
  const keys = context.workspaceState.get<string[]>(SELECTED_KEY);
  if (keys?.length) return keys[0];
  const name = vscode.workspace.getConfiguration('llmLens').get<string>('tokenizer', 'cl100k_base');
  return name.includes(':') ? name : `builtin:${name}`;
}

/** A selection that is one JSONL line with a "messages" list is shown as a conversation. */
function looksLikeConversation(text: string): boolean {
  const t = text.trim();
  return t.startsWith('{') && t.endsWith('}') && !t.includes('\n') && t.includes('"messages"');
}

/** The 1-based line of the document where the source text starts. */
function lineOf(src: SourceText): number {
  return src.document.positionAt(src.offset).line + 1;
}

export class TokenizePanel {
  static readonly viewType = 'llmLens.tokenize';
  private static current: TokenizePanel | undefined;

  private choices: TokenizerChoice[] = builtinChoices();
  private source: SourceText | undefined;
  /** Summary of what the panel shows now (returned by the command, for tests and scripts). */
  lastView: { label: string; counts: { key: string; tokens: number }[] } | undefined;
  private editor: vscode.TextEditor | undefined;
  private generation = 0;
  private debounce: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Resolves when the latest tokenize request has been answered (tests and commands await it). */
  private pending: Promise<void> = Promise.resolve();

  static async show(
    context: vscode.ExtensionContext,
    worker: WorkerClient,
    editor: vscode.TextEditor | undefined,
  ): Promise<TokenizePanel> {
    let p = TokenizePanel.current;
    if (p) p.panel.reveal(vscode.ViewColumn.Beside, true);
    else {
      const panel = vscode.window.createWebviewPanel(
        TokenizePanel.viewType,
        'LLM Lens: Tokens',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        {
          ...webviewOptions(context.extensionUri),
          retainContextWhenHidden: true,
        },
      );
      p = new TokenizePanel(panel, context, worker);
    }
    await p.refreshChoices();
    if (editor) p.track(editor);
    // a selection event may start a newer request meanwhile (whose answer supersedes this one): wait for
    // the latest, so lastView is what the panel shows
    let seen: Promise<void>;
    do {
      seen = p.pending;
      await seen;
    } while (seen !== p.pending);
    return p;
  }

  static revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, worker: WorkerClient): void {
    panel.webview.options = webviewOptions(context.extensionUri);
    const p = new TokenizePanel(panel, context, worker);
    void p
      .refreshChoices()
      .then(() => vscode.window.activeTextEditor && p.track(vscode.window.activeTextEditor));
  }

  /** Fires when the user picks another tokenizer in the panel (the status bar follows). */
  static readonly onDidChangeTokenizer = new vscode.EventEmitter<void>();

  static get instance(): TokenizePanel | undefined {
    return TokenizePanel.current;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly worker: WorkerClient,
  ) {
    TokenizePanel.current = this;
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'lens.svg');
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'tokenize', 'LLM Lens: Tokens');
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m), null, this.disposables);
    vscode.window.onDidChangeTextEditorSelection((e) => this.onSelection(e), null, this.disposables);
  }

  /** The editor whose text the panel shows. */
  get trackedEditor(): vscode.TextEditor | undefined {
    return this.editor;
  }

  /** Tokenizer keys in use: one, or 2–4 in compare mode. */
  get selected(): string[] {
    const keys = this.context.workspaceState.get<string[]>(SELECTED_KEY) ?? [
      vscode.workspace.getConfiguration('llmLens').get<string>('tokenizer', 'cl100k_base'),
    ];
    const known = keys
      .map((k) => (k.includes(':') ? k : `builtin:${k}`))
      .filter((k) => this.choices.some((c) => c.key === k));
    const fallback = known.length ? known : ['builtin:cl100k_base'];
    return this.compare ? fallback.slice(0, 4) : fallback.slice(0, 1);
  }

  get compare(): boolean {
    return this.context.workspaceState.get<boolean>(COMPARE_KEY) ?? false;
  }

  /** Re-reads the workspace for tokenizer.json files and trained tokenizers. */
  async refreshChoices(): Promise<void> {
    this.choices = await allChoices();
    this.post({ type: 'choices', choices: this.choices, selected: this.selected, compare: this.compare });
  }

  /** Shows the editor's selection (or document) and keeps following it. */
  track(editor: vscode.TextEditor): void {
    this.editor = editor;
    this.pasted = undefined;
    const src = sourceText(editor);
    if ('error' in src) {
      this.post({ type: 'error', message: src.error });
      return;
    }
    if (src.text.length > LARGE_TEXT) {
      this.pending = (async () => {
        const go = await vscode.window.showWarningMessage(
          `Tokenize ${(src.text.length / 1e6).toFixed(1)} million characters? It can take a few seconds.`,
          { modal: true },
          'Tokenize',
        );
        if (go === 'Tokenize') await this.tokenize(src);
      })();
      return;
    }
    this.pending = this.tokenize(src);
  }

  private async tokenize(src: SourceText): Promise<void> {
    this.source = src;
    if (looksLikeConversation(src.text))
      return this.chat(src.text, src.label, src.document.fileName, lineOf(src));
    const gen = ++this.generation;
    this.post({ type: 'busy', label: src.label });
    try {
      const chosen = this.selected.map((k) => this.choices.find((c) => c.key === k)!);
      const results: TokenizeResult[] = [];
      for (const c of chosen) {
        const r = await this.worker.run({
          kind: 'tokenize',
          key: c.key,
          spec: c.spec,
          text: src.text,
          allowSpecial: false,
        });
        results.push(r.result);
      }
      if (gen !== this.generation) return;
      this.lastView = {
        label: src.label,
        counts: results.map((r) => ({ key: r.key, tokens: r.ids.length })),
      };
      this.post({
        type: 'view',
        view: { text: src.text, source: { label: src.label, selection: src.selection }, results },
      });
      setWalkthroughKey('tokenized');
    } catch (e) {
      if (gen !== this.generation) return;
      const message = e instanceof Error ? e.message : String(e);
      log().error(`Tokenize failed: ${message}`);
      this.post({ type: 'error', message });
    }
  }

  /**
   * Shows one JSONL line as a ChatML conversation with each selected tokenizer (side by side in compare
   * mode). A tokenizer that cannot render it gets its reason in its column; when none can (a bad line),
   * the panel shows the error.
   */
  async chat(text: string, label: string, file = 'pasted', line = 1): Promise<void> {
    const gen = ++this.generation;
    this.post({ type: 'busy', label });
    const columns: ChatViewColumn[] = [];
    for (const c of this.selected.map((k) => this.choices.find((c) => c.key === k)!)) {
      try {
        const r = await this.worker.run({ kind: 'chatView', key: c.key, spec: c.spec, text, file, line });
        columns.push(r.result);
      } catch (e) {
        columns.push({ key: c.key, name: c.label, error: e instanceof Error ? e.message : String(e) });
      }
      if (gen !== this.generation) return;
    }
    const shown = columns.filter((c): c is ChatViewResult => !('error' in c));
    if (!shown.length) {
      const errors = [...new Set(columns.map((c) => ('error' in c ? c.error : '')))];
      const message =
        errors.length === 1
          ? errors[0]
          : columns.map((c) => `${c.name}: ${'error' in c ? c.error : ''}`).join('\n');
      this.post({ type: 'error', message });
      return;
    }
    this.lastView = { label, counts: shown.map((r) => ({ key: r.key, tokens: r.ids.length })) };
    this.lastChat = { tokens: shown[0].ids.length, lossTokens: shown[0].lossTokens };
    this.post({ type: 'chat', label, results: columns });
    setWalkthroughKey('tokenized');
  }

  /** A conversation line pasted into the panel, shown until the editor's selection is tracked again. */
  private pasted: string | undefined;

  /** Shows the pasted conversation, else the source text, again (another tokenizer was picked). */
  private async refresh(): Promise<void> {
    if (this.pasted !== undefined) await this.chat(this.pasted, 'pasted conversation');
    else if (this.source) await this.tokenize(this.source);
  }

  /** Counts of the conversation shown last (for tests and scripts). */
  lastChat: { tokens: number; lossTokens: number } | undefined;

  private onSelection(e: vscode.TextEditorSelectionChangeEvent): void {
    if (e.textEditor.document.uri.scheme === 'output' || !this.panel.visible) return;
    if (e.kind === vscode.TextEditorSelectionChangeKind.Command && this.revealing) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.track(e.textEditor), 300);
  }

  private revealing = false;

  private async onMessage(raw: unknown): Promise<void> {
    if (!isTokenizeWebviewMessage(raw)) {
      log().warn(`Tokenize panel: ignored an invalid message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m: TokenizeWebviewMessage = raw;
    switch (m.type) {
      case 'ready':
        this.post({ type: 'choices', choices: this.choices, selected: this.selected, compare: this.compare });
        await this.refresh();
        break;
      case 'select': {
        const keys = m.keys.filter((k) => this.choices.some((c) => c.key === k));
        if (!keys.length) return;
        await this.context.workspaceState.update(SELECTED_KEY, keys);
        TokenizePanel.onDidChangeTokenizer.fire();
        this.post({ type: 'choices', choices: this.choices, selected: this.selected, compare: this.compare });
        await this.refresh();
        break;
      }
      case 'compare': {
        await this.context.workspaceState.update(COMPARE_KEY, m.on);
        let keys = this.context.workspaceState.get<string[]>(SELECTED_KEY) ?? this.selected;
        if (m.on && keys.length < 2) {
          const other = this.choices.find((c) => !keys.includes(c.key))!;
          keys = [...keys, other.key];
          await this.context.workspaceState.update(SELECTED_KEY, keys);
        }
        this.post({ type: 'choices', choices: this.choices, selected: this.selected, compare: this.compare });
        await this.refresh();
        break;
      }
      case 'reveal':
        this.reveal(m.start, m.end);
        break;
      case 'copyIds':
        await this.copyIds(m.key);
        break;
      case 'chat':
        this.pasted = m.text;
        await this.refresh();
        break;
    }
  }

  private reveal(start: number, end: number): void {
    const src = this.source;
    if (!src || end < start || end > src.text.length) return;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === src.document) ?? this.editor;
    if (!editor || editor.document.isClosed) return;
    const range = new vscode.Range(
      src.document.positionAt(src.offset + start),
      src.document.positionAt(src.offset + end),
    );
    this.revealing = true;
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    setTimeout(() => (this.revealing = false), 400);
  }

  private async copyIds(key: string): Promise<void> {
    const src = this.source;
    const choice = this.choices.find((c) => c.key === key);
    if (!src || !choice) return;
    const r = await this.worker.run({
      kind: 'tokenize',
      key,
      spec: choice.spec,
      text: src.text,
      allowSpecial: false,
    });
    await vscode.env.clipboard.writeText(`[${Array.from(r.result.ids).join(', ')}]`);
    void vscode.window.setStatusBarMessage(
      `LLM Lens: copied ${r.result.ids.length} token ids (${choice.label})`,
      3000,
    );
  }

  private post(message: TokenizeHostMessage): void {
    void this.panel.webview.postMessage(message);
  }

  private dispose(): void {
    if (TokenizePanel.current === this) TokenizePanel.current = undefined;
    clearTimeout(this.debounce);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
