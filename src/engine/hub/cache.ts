/**
 * The models in a Hugging Face hub cache (download.ts's layout, which transformers and huggingface_hub
 * share): each `models--org--name/snapshots/<commit>/` with a config.json, newest first, and the refs
 * (branches and tags) that point at it. Only folder listings and the small refs files are read.
 *
 *   listCachedModels('/home/me/.cache/huggingface/hub')
 *   // [{ repo: 'HuggingFaceTB/SmolLM2-135M', commit: '93efa2f…', refs: ['main'], dir: '…/snapshots/93efa2f…',
 *   //    tokenizer: '…/snapshots/93efa2f…/tokenizer.json', modified: 1733318400000 }]
 */
import { getHFHubCachePath } from '@huggingface/hub';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoOfFolder } from './repoName';

export interface CachedModel {
  /** org/name */
  repo: string;
  commit: string;
  /** The refs (refs/main, refs/v1.0 …) that name this commit. */
  refs: string[];
  /** The snapshot folder: what loadModel and the Sampler open. */
  dir: string;
  /** Its tokenizer.json, when it has one. */
  tokenizer?: string;
  /** When the snapshot folder last changed (ms). */
  modified: number;
}

/** The hub cache folder: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function defaultHubCache(): string {
  return getHFHubCachePath();
}

/** Every snapshot with a config.json under `cacheDir`, newest first; [] when the folder does not exist. */
export function listCachedModels(cacheDir: string): CachedModel[] {
  const out: CachedModel[] = [];
  for (const entry of readdir(cacheDir)) {
    if (!entry.startsWith('models--')) continue;
    const repo = repoOfFolder(entry);
    if (!repo) continue;
    const storage = path.join(cacheDir, entry);
    const refs = readRefs(path.join(storage, 'refs'));
    for (const commit of readdir(path.join(storage, 'snapshots'))) {
      const dir = path.join(storage, 'snapshots', commit);
      if (!fs.existsSync(path.join(dir, 'config.json'))) continue;
      const tokenizer = path.join(dir, 'tokenizer.json');
      out.push({
        repo,
        commit,
        refs: refs.filter((r) => r.commit === commit).map((r) => r.name),
        dir,
        tokenizer: fs.existsSync(tokenizer) ? tokenizer : undefined,
        modified: fs.statSync(dir).mtimeMs,
      });
    }
  }
  return out.sort((a, b) => b.modified - a.modified || a.repo.localeCompare(b.repo));
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** refs/<name> files (names may hold "/": refs/pr/1) and the commit each holds. */
function readRefs(dir: string, prefix = ''): { name: string; commit: string }[] {
  const out: { name: string; commit: string }[] = [];
  for (const e of readdir(dir)) {
    const p = path.join(dir, e);
    if (fs.statSync(p).isDirectory()) out.push(...readRefs(p, `${prefix}${e}/`));
    else out.push({ name: prefix + e, commit: fs.readFileSync(p, 'utf8').trim() });
  }
  return out;
}
