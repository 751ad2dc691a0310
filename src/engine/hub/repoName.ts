/**
 * The repo a path in a Hugging Face hub cache belongs to, from the folder names alone (no file is read):
 * panels name a downloaded model by its repo, not by its snapshot's commit hash.
 *
 *   cachedRepoOf('…/models--org--name/snapshots/abc/tokenizer.json')      // 'org/name'
 *   cachedRepoOf('/models/SmolLM2-135M')                                    // undefined
 */
import * as path from 'node:path';

/** "org/name" of a path inside a cache's `models--org--name/snapshots/…`, else undefined. */
export function cachedRepoOf(file: string): string | undefined {
  const parts = path.resolve(file).split(path.sep);
  const i = parts.lastIndexOf('snapshots');
  return i > 0 ? repoOfFolder(parts[i - 1]) : undefined;
}

/** models--org--name → org/name (huggingface_hub joins the parts with "--"; names never contain it). */
export function repoOfFolder(folder: string): string | undefined {
  if (!folder.startsWith('models--')) return undefined;
  const parts = folder.slice('models--'.length).split('--');
  return parts.every(Boolean) ? parts.join('/') : undefined;
}
