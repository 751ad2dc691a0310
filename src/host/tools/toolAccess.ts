/**
 * Which tools a model with tool tokens may use in this window: calculator always, search over the first
 * workspace folder (when there is one), python only in a trusted workspace and once the person allowed
 * it (code a model writes runs nowhere else). Pure: toolPermission.ts feeds it VS Code's state.
 *
 *   toolOffer({ trusted: false, consent: undefined, folder: true })
 *   // { names: ['calculator', 'search'], note: 'python is off: this workspace is not trusted …' }
 *   toolsToRun({ trusted: true, consent: 'allowed', folder: true })   // ['calculator', 'search', 'python']
 *   mustAsk({ trusted: true, consent: undefined, folder: true })       // true: ask before the first run
 */
import * as path from 'node:path';
import type { ToolNameMsg, ToolOffer } from '../../protocol/sampler';

/** The person's answer to "Let models run Python in a sandbox in this workspace?", once given. */
export type PythonConsent = 'allowed' | 'declined' | undefined;

export interface ToolContext {
  /** vscode.workspace.isTrusted */
  trusted: boolean;
  consent: PythonConsent;
  /** Whether there is a workspace folder for search to index. */
  folder: boolean;
}

export const NOTES = {
  untrusted:
    'python is off: this workspace is not trusted, and code a model writes runs only in a trusted workspace',
  declined: 'python is off: you chose not to let models run Python in this workspace',
  ask: 'python asks once before its first run in this workspace',
  noFolder: 'search is off: open a folder for it to search (or set llmLens.tools.searchFolder to one)',
};

/** calculator, then search when there is a folder to index. */
const always = (c: ToolContext): ToolNameMsg[] => (c.folder ? ['calculator', 'search'] : ['calculator']);

/** True when the next run with tools asks about python first: trusted, and never answered. */
export function mustAsk(c: ToolContext): boolean {
  return c.trusted && c.consent === undefined;
}

/** The tools a run gets now (after any question): python only when trusted and allowed. */
export function toolsToRun(c: ToolContext): ToolNameMsg[] {
  return c.trusted && c.consent === 'allowed' ? [...always(c), 'python'] : always(c);
}

/** Why python is not offered (or that it will ask first); empty when it runs without asking. */
function pythonNote(c: ToolContext): string {
  if (!c.trusted) return NOTES.untrusted;
  if (c.consent === 'declined') return NOTES.declined;
  return c.consent === undefined ? NOTES.ask : '';
}

/** What the panels show beside the Tools toggle: the tools offered, and why any is not. */
export function toolOffer(c: ToolContext): ToolOffer {
  const python = c.trusted && c.consent !== 'declined';
  const notes = [pythonNote(c), c.folder ? '' : NOTES.noFolder].filter(Boolean);
  return { names: python ? [...always(c), 'python'] : always(c), note: notes.join('; ') };
}

/**
 * The folder search indexes: `setting` (llmLens.tools.searchFolder; absolute, or relative to `root`),
 * else `root` (the first workspace folder); undefined when that is not a folder (`isDir` says).
 */
export function resolveSearchFolder(
  setting: string,
  root: string | undefined,
  isDir: (p: string) => boolean,
): string | undefined {
  const set = setting.trim();
  if (!set) return root;
  const dir = path.isAbsolute(set) ? set : root && path.join(root, set);
  return dir && isDir(dir) ? dir : undefined;
}
