/** Tokenize Selection and the status bar count through the real extension host, against tiktoken. */
import assert from 'node:assert/strict';
import { get_encoding } from 'tiktoken';
import * as vscode from 'vscode';

const TEXT =
  'The strawberry problem: a model sees tokens such as " strawberry", not letters. 🍓\r\nCount: 1,234,567.';

function tiktokenCount(name: 'cl100k_base' | 'o200k_base', text: string): number {
  const enc = get_encoding(name);
  try {
    return enc.encode(text).length;
  } finally {
    enc.free();
  }
}

describe('LLM Lens: Tokenize Selection', () => {
  let editor: vscode.TextEditor;
  before(async () => {
    const doc = await vscode.workspace.openTextDocument({ content: TEXT, language: 'plaintext' });
    editor = await vscode.window.showTextDocument(doc);
  });
  after(() => vscode.commands.executeCommand('workbench.action.closeAllEditors'));

  it('counts the whole document when nothing is selected', async () => {
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const view = (await vscode.commands.executeCommand('llmLens.tokenizeSelection')) as {
      label: string;
      counts: { key: string; tokens: number }[];
    };
    assert.deepEqual(view.counts, [
      { key: 'builtin:cl100k_base', tokens: tiktokenCount('cl100k_base', TEXT) },
    ]);
  });

  it('counts only the selection when there is one', async () => {
    const end = editor.document.positionAt(TEXT.indexOf('🍓'));
    editor.selection = new vscode.Selection(new vscode.Position(0, 0), end);
    const view = (await vscode.commands.executeCommand('llmLens.tokenizeSelection')) as {
      label: string;
      counts: { key: string; tokens: number }[];
    };
    assert.equal(view.counts[0].tokens, tiktokenCount('cl100k_base', TEXT.slice(0, TEXT.indexOf('🍓'))));
    assert.match(view.label, /selection/);
  });

  it('reuses one Tokens panel beside the editor', async () => {
    await vscode.commands.executeCommand('llmLens.tokenizeSelection');
    // the extension host's tab model follows the workbench asynchronously: wait for the panel's tab
    const tabs = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label === 'LLM Lens: Tokens');
    for (let i = 0; i < 50 && !tabs().length; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500)); // and for a second tab, were the panel not reused
    assert.equal(tabs().length, 1);
  });
});
