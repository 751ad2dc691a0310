/**
 * LLM Lens: Train Tokenizer…: pick files (explorer selection or a glob), vocab size, split pattern and
 * a name; train a byte-level BPE tokenizer in the worker with a cancellable progress notification; the
 * result lands in .llmlens/tokenizers/<name>/ and in the Tokens panel's picker.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorkerClient } from '../../worker/client';
import { log } from '../log';
import { TRAINED_TOKENIZERS_DIR } from './choices';

/** Files larger than this are confirmed before training. */
export const LARGE_FILE = 50 * 1024 * 1024;
const SKIP_DIRS = new Set(['node_modules', '.git', '.llmlens', 'dist', 'out']);

export interface TrainTokenizerOptions {
  files: string[];
  vocabSize: number;
  pattern: 'gpt4' | 'gpt2';
  name: string;
}

/** Expands folders into their text files (skipping node_modules, .git, binary files); asks about files over 50 MB. */
export async function collectTextFiles(uris: vscode.Uri[]): Promise<{ files: string[]; skipped: string[] }> {
  const files: string[] = [];
  const skipped: string[] = [];
  const visit = async (p: string): Promise<void> => {
    const st = await fs.stat(p);
    if (st.isDirectory()) {
      if (SKIP_DIRS.has(path.basename(p))) return;
      for (const name of (await fs.readdir(p)).sort()) await visit(path.join(p, name));
      return;
    }
    if (!st.isFile() || st.size === 0) return;
    const fh = await fs.open(p, 'r');
    try {
      const head = Buffer.alloc(Math.min(8192, st.size));
      await fh.read(head, 0, head.length, 0);
      if (head.includes(0)) {
        skipped.push(`${path.basename(p)} (binary)`);
        return;
      }
    } finally {
      await fh.close();
    }
    if (st.size > LARGE_FILE) {
      const ok = await vscode.window.showWarningMessage(
        `${path.basename(p)} is ${(st.size / 1024 / 1024).toFixed(0)} MB. Train on it too? It is streamed, but training takes longer.`,
        { modal: true },
        'Include',
      );
      if (ok !== 'Include') {
        skipped.push(`${path.basename(p)} (too large)`);
        return;
      }
    }
    files.push(p);
  };
  for (const u of uris) await visit(u.fsPath);
  return { files, skipped };
}

/** Asks what is missing; undefined when the user cancels. */
async function askOptions(uris: vscode.Uri[] | undefined): Promise<TrainTokenizerOptions | undefined> {
  let selected = uris;
  if (!selected?.length) {
    const glob = await vscode.window.showInputBox({
      title: 'Train Tokenizer (1/4): training files',
      prompt: 'A glob of workspace files to train on',
      value: '**/*.{txt,md}',
      ignoreFocusOut: true,
    });
    if (!glob) return;
    selected = await vscode.workspace.findFiles(glob, '**/{node_modules,.git,.llmlens}/**', 10_000);
    if (!selected.length) {
      void vscode.window.showErrorMessage(`No workspace files match ${glob}.`);
      return;
    }
  }
  const { files, skipped } = await collectTextFiles(selected);
  if (skipped.length) log().info(`Train Tokenizer: skipped ${skipped.join(', ')}`);
  if (!files.length) {
    void vscode.window.showErrorMessage(
      `No text files to train on${skipped.length ? ` (skipped: ${skipped.slice(0, 5).join(', ')})` : ''}.`,
    );
    return;
  }
  const vocab = await vscode.window.showInputBox({
    title: `Train Tokenizer (2/4): vocabulary size (${files.length} file${files.length === 1 ? '' : 's'})`,
    prompt: 'Number of tokens: 256 byte tokens plus the merges to learn',
    value: '1024',
    ignoreFocusOut: true,
    validateInput: (v) =>
      /^\d+$/.test(v.trim()) && +v >= 256 && +v <= 1_000_000
        ? undefined
        : 'A whole number from 256 (bytes only) to 1,000,000',
  });
  if (!vocab) return;
  const pattern = await vscode.window.showQuickPick(
    [
      {
        label: 'GPT-4 split pattern',
        description: 'cl100k_base: numbers in groups of up to 3, contractions case-insensitive',
        value: 'gpt4' as const,
      },
      {
        label: 'GPT-2 split pattern',
        description: 'gpt2: the original pre-tokenizer',
        value: 'gpt2' as const,
      },
    ],
    { title: 'Train Tokenizer (3/4): how text is split before merging', ignoreFocusOut: true },
  );
  if (!pattern) return;
  const name = await vscode.window.showInputBox({
    title: 'Train Tokenizer (4/4): name',
    prompt: `Saved in ${TRAINED_TOKENIZERS_DIR}/<name>/`,
    value: `bpe-${vocab.trim()}`,
    ignoreFocusOut: true,
    validateInput: (v) =>
      /^[A-Za-z0-9._-]{1,64}$/.test(v) && !/^\.+$/.test(v)
        ? undefined
        : 'Letters, digits, dot, dash and underscore (up to 64)',
  });
  if (!name) return;
  return { files, vocabSize: Number(vocab.trim()), pattern: pattern.value, name };
}

/** Runs the command; resolves with the folder of the new tokenizer, or undefined when cancelled/failed. */
export async function trainTokenizerCommand(
  worker: WorkerClient,
  uris: vscode.Uri[] | undefined,
): Promise<string | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    void vscode.window.showErrorMessage(
      'Open a folder first: trained tokenizers are saved in the workspace (.llmlens/tokenizers/).',
    );
    return;
  }
  const opts = await askOptions(uris);
  if (!opts) return;
  const outDir = path.join(folder.uri.fsPath, TRAINED_TOKENIZERS_DIR, opts.name);
  try {
    await fs.access(outDir);
    const overwrite = await vscode.window.showWarningMessage(
      `A tokenizer named ${opts.name} exists. Replace it?`,
      { modal: true },
      'Replace',
    );
    if (overwrite !== 'Replace') return;
  } catch {
    /* new name */
  }
  const started = Date.now();
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Training tokenizer ${opts.name}`,
        cancellable: true,
      },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let last = 0;
        return worker.run(
          {
            kind: 'trainTokenizer',
            files: opts.files,
            vocabSize: opts.vocabSize,
            pattern: opts.pattern,
            specialTokens: ['<|endoftext|>'],
            name: opts.name,
            outDir,
          },
          {
            signal: abort.signal,
            onProgress: (message, fraction) => {
              const pct = fraction === undefined ? undefined : Math.round(fraction * 100);
              progress.report({
                message,
                increment: pct === undefined ? undefined : Math.max(0, pct - last),
              });
              if (pct !== undefined) last = pct;
            },
          },
        );
      },
    );
    log().info(
      `Trained tokenizer ${opts.name}: vocab ${result.vocabSize}, ${result.merges} merges, ${(result.ms / 1000).toFixed(1)} s, ${opts.files.length} files → ${result.dir}`,
    );
    void vscode.window
      .showInformationMessage(
        `Trained tokenizer ${opts.name}: ${result.vocabSize.toLocaleString('en-US')} tokens in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
        'Show in Tokens Panel',
      )
      .then((pick) => pick && vscode.commands.executeCommand('llmLens.tokenizeSelection'));
    return result.dir;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/cancel|abort/i.test(message))
      void vscode.window.showInformationMessage(
        `Training tokenizer ${opts.name} was cancelled; nothing was saved.`,
      );
    else void vscode.window.showErrorMessage(`Training tokenizer ${opts.name} failed: ${message}`);
    log().error(`Train Tokenizer failed: ${message}`);
    return undefined;
  }
}
