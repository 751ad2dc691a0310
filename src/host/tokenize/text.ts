/** What to tokenize: the editor's selection (or whole document), checked for things that are not text. */
import * as vscode from 'vscode';

/** Above this many UTF-16 units, tokenizing asks first. */
export const LARGE_TEXT = 5_000_000;

export interface SourceText {
  text: string;
  /** Offset of `text` in the document (UTF-16). */
  offset: number;
  document: vscode.TextDocument;
  selection: boolean;
  label: string;
}

/** The selection's text, or the whole document when the selection is empty. Undefined with a message when there is nothing useful. */
export function sourceText(editor: vscode.TextEditor): SourceText | { error: string } {
  const doc = editor.document;
  const sel = editor.selection;
  const selection = !sel.isEmpty;
  const range = selection ? new vscode.Range(sel.start, sel.end) : undefined;
  const text = doc.getText(range);
  const label =
    vscode.workspace.asRelativePath(doc.uri, false) +
    (selection ? ` (selection, line ${sel.start.line + 1})` : '');
  if (!text.length)
    return {
      error: `Nothing to tokenize: ${selection ? 'the selection' : vscode.workspace.asRelativePath(doc.uri, false)} is empty.`,
    };
  if (text.includes('\u0000'))
    return {
      error: `${vscode.workspace.asRelativePath(doc.uri, false)} looks binary (it contains NUL bytes); LLM Lens tokenizes text.`,
    };
  return { text, offset: range ? doc.offsetAt(range.start) : 0, document: doc, selection, label };
}

/**
 * The text editor a command should act on: the active one, or — when focus is in a webview (the Tokens
 * panel) or a panel — the first visible file editor.
 */
export function commandTextEditor(preferred?: vscode.TextEditor): vscode.TextEditor | undefined {
  const active = vscode.window.activeTextEditor;
  if (active && active.document.uri.scheme !== 'output') return active;
  const visible = vscode.window.visibleTextEditors.filter((e) => e.document.uri.scheme !== 'output');
  return (preferred && visible.includes(preferred) ? preferred : undefined) ?? visible[0];
}
