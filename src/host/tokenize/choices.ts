/**
 * The tokenizers the picker offers: the built-in tiktoken encodings, every tokenizer.json in the
 * workspace, the tokenizers trained with LLM Lens (.llmlens/tokenizers/<name>/), and those of the models
 * in the Hugging Face cache (Download Model from Hugging Face…).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { listCachedModels } from '../../engine/hub/cache';
import { cachedRepoOf } from '../../engine/hub/repoName';
import { tokenizerSpecKey } from '../../engine/tokenizer/load';
import { TRAINED_META_FILE } from '../../engine/tokenizer/trainedFiles';
import type { TokenizerChoice, TokenizerSpec } from '../../protocol/tokenize';
import { hubCacheDir } from '../hub/downloadCommand';

/** Built-in encodings, most used first. */
export const BUILTIN_TOKENIZERS: readonly { name: string; label: string; description: string }[] = [
  { name: 'o200k_base', label: 'o200k_base', description: 'GPT-4o, o1, o3' },
  { name: 'cl100k_base', label: 'cl100k_base', description: 'GPT-4, GPT-3.5' },
  { name: 'p50k_base', label: 'p50k_base', description: 'Codex, text-davinci-002/003' },
  { name: 'r50k_base', label: 'r50k_base', description: 'GPT-3' },
  { name: 'gpt2', label: 'gpt2', description: 'GPT-2' },
];

/** The file that marks a folder as a tokenizer trained by LLM Lens. */
export const TRAINED_TOKENIZER_FILE = TRAINED_META_FILE;
export const TRAINED_TOKENIZERS_DIR = path.join('.llmlens', 'tokenizers');

export const choiceKey = tokenizerSpecKey;

/** The inverse of choiceKey; undefined for a malformed key. */
export function specFromKey(key: string): TokenizerSpec | undefined {
  const i = key.indexOf(':');
  if (i < 0)
    return BUILTIN_TOKENIZERS.some((b) => b.name === key) ? { kind: 'builtin', name: key } : undefined;
  const kind = key.slice(0, i);
  const rest = key.slice(i + 1);
  if (kind === 'builtin')
    return BUILTIN_TOKENIZERS.some((b) => b.name === rest) ? { kind, name: rest } : undefined;
  if (kind === 'huggingface') return { kind, path: rest };
  if (kind === 'trained') return { kind, dir: rest };
  return undefined;
}

/** Short name of a key for the status bar: 'cl100k_base', or the trained tokenizer's folder name. */
export function shortName(key: string): string {
  const spec = specFromKey(key);
  if (!spec) return key;
  if (spec.kind === 'builtin') return spec.name;
  if (spec.kind === 'trained') return path.basename(spec.dir);
  return cachedRepoOf(spec.path)?.split('/').pop() ?? path.basename(path.dirname(spec.path));
}

export function builtinChoices(): TokenizerChoice[] {
  return BUILTIN_TOKENIZERS.map((b) => {
    const spec: TokenizerSpec = { kind: 'builtin', name: b.name };
    return { key: choiceKey(spec), label: b.label, description: b.description, spec };
  });
}

/** Finds workspace tokenizer.json files and trained tokenizers; skips node_modules. */
export async function workspaceChoices(): Promise<TokenizerChoice[]> {
  const out: TokenizerChoice[] = [];
  const [hf, trained] = await Promise.all([
    vscode.workspace.findFiles('**/tokenizer.json', '**/node_modules/**', 100),
    vscode.workspace.findFiles(`**/${TRAINED_TOKENIZER_FILE}`, '**/node_modules/**', 100),
  ]);
  for (const uri of trained.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
    const dir = path.dirname(uri.fsPath);
    const spec: TokenizerSpec = { kind: 'trained', dir };
    out.push({
      key: choiceKey(spec),
      label: path.basename(dir),
      description: `trained · ${vscode.workspace.asRelativePath(dir)}`,
      spec,
    });
  }
  for (const uri of hf.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
    const spec: TokenizerSpec = { kind: 'huggingface', path: uri.fsPath };
    out.push({
      key: choiceKey(spec),
      label: path.basename(path.dirname(uri.fsPath)),
      description: `tokenizer.json · ${vscode.workspace.asRelativePath(uri)}`,
      spec,
    });
  }
  return out;
}

/** The tokenizers of downloaded models (one per repo: its newest snapshot). */
export function downloadedChoices(): TokenizerChoice[] {
  const seen = new Set<string>();
  const out: TokenizerChoice[] = [];
  for (const m of listCachedModels(hubCacheDir())) {
    if (!m.tokenizer || seen.has(m.repo)) continue;
    seen.add(m.repo);
    const spec: TokenizerSpec = { kind: 'huggingface', path: m.tokenizer };
    const at = m.refs.length ? m.refs.join(', ') : m.commit.slice(0, 7);
    out.push({ key: choiceKey(spec), label: m.repo, description: `downloaded · ${at}`, spec });
  }
  return out;
}

export async function allChoices(): Promise<TokenizerChoice[]> {
  return [...builtinChoices(), ...(await workspaceChoices()), ...downloadedChoices()];
}
