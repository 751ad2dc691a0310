/**
 * Where the Runs view finds runs: the workspace's .llmlens/runs, and the folders of the `llmLens.runFolders`
 * setting (absolute paths, ~/paths, or paths and globs relative to the first workspace folder). Each entry
 * becomes a source; a source's runs are found by walking its folders (4 levels): a folder with llm-lens's
 * metrics.jsonl is a native run (one exported and trained elsewhere opens as any run of ours), a folder of
 * TensorBoard event files is a run, a JSONL log is a run. No vscode here.
 *
 *   const sources = resolveRunFolders(['~/logs', 'exp/*'], { workspaceFolder: '/ws', home: '/home/me' });
 *   // [{ entry: '~/logs', folders: ['/home/me/logs'] }, { entry: 'exp/*', folders: ['/ws/exp/a', …] }]
 *   discoverRuns('/home/me/logs');  // [{ path: '/home/me/logs/pytorch', label: 'pytorch', kind: 'tensorboard' }]
 *
 * A missing folder or a malformed entry is a source with a `problem` that says what to fix (shown as an item
 * of the Runs view), never an error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isEventFile, isJsonlLog } from '../../engine/runs/logReader';
import { requestFileOf } from '../training/runFiles';

export const RUN_FOLDERS_SETTING = 'llmLens.runFolders';

export interface RunSource {
  /** The setting's entry as written. */
  entry: string;
  /** The folders (or log files) it names; globs may name several. */
  folders: string[];
  /** Why it names nothing, and how to fix it. */
  problem?: string;
}

export type RunKind = 'native' | 'tensorboard' | 'jsonl';

export interface FoundRun {
  /** A run folder, or a JSONL log file. */
  path: string;
  /** Its path under the source's folder ('pytorch', 'nano/log.jsonl'); the folder's name when it is the run. */
  label: string;
  kind: RunKind;
}

const GLOB = /[*?[]/;
const MAX_DEPTH = 4;
const MAX_MATCHES = 200;

/** The sources the setting's value names. `value` is the raw setting (checked here). */
export function resolveRunFolders(
  value: unknown,
  ctx: { workspaceFolder?: string; home: string },
): RunSource[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    return [
      {
        entry: String(JSON.stringify(value)),
        folders: [],
        problem: `${RUN_FOLDERS_SETTING} must be a list of folders, e.g. ["~/logs", "runs/*"]: fix it in the settings.`,
      },
    ];
  const out: RunSource[] = [];
  for (const raw of value) {
    if (typeof raw !== 'string') {
      out.push({
        entry: String(JSON.stringify(raw)),
        folders: [],
        problem: `${RUN_FOLDERS_SETTING}: each entry must be a folder path as a string, got ${JSON.stringify(raw)}.`,
      });
      continue;
    }
    const entry = raw.trim();
    if (!entry) continue;
    out.push(resolveEntry(entry, ctx));
  }
  return out;
}

function resolveEntry(entry: string, ctx: { workspaceFolder?: string; home: string }): RunSource {
  let p = entry;
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) p = path.join(ctx.home, p.slice(1));
  else if (!path.isAbsolute(p)) {
    if (!ctx.workspaceFolder)
      return {
        entry,
        folders: [],
        problem: `"${entry}" is relative, and no workspace folder is open: use an absolute path or ~/…`,
      };
    p = path.join(ctx.workspaceFolder, p);
  }
  p = path.normalize(p);
  if (GLOB.test(p)) {
    const folders = expandGlob(p);
    return folders.length
      ? { entry, folders }
      : { entry, folders, problem: `No folder matches ${p}: check ${RUN_FOLDERS_SETTING}.` };
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return {
      entry,
      folders: [],
      problem: `Folder not found: ${p}. Create it or fix ${RUN_FOLDERS_SETTING}.`,
    };
  }
  if (st.isDirectory() || (st.isFile() && (isEventFile(path.basename(p)) || isJsonlLog(p))))
    return { entry, folders: [p] };
  return {
    entry,
    folders: [],
    problem: `${p} is not a folder (nor a log file): fix ${RUN_FOLDERS_SETTING}.`,
  };
}

/** A glob segment (`*`, `?`, `[abc]`) as a regular expression of one name. */
function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/\\\\]*';
    else if (c === '?') re += '[^/\\\\]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${seg
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The folders (and log files) an absolute glob matches: `*`, `?`, `[…]` in a name, `**` for any depth (≤ 4). */
export function expandGlob(pattern: string): string[] {
  const { root } = path.parse(pattern);
  const segs = pattern
    .slice(root.length)
    .split(/[/\\]+/)
    .filter(Boolean);
  const out = new Set<string>();
  const visit = (dir: string, i: number, depth: number) => {
    if (out.size >= MAX_MATCHES) return;
    if (i === segs.length) {
      out.add(dir);
      return;
    }
    const seg = segs[i];
    if (seg === '**') {
      visit(dir, i + 1, depth); // zero folders
      if (depth >= MAX_DEPTH) return;
      for (const e of subdirs(dir)) visit(path.join(dir, e), i, depth + 1);
      return;
    }
    if (!GLOB.test(seg)) {
      const next = path.join(dir, seg);
      if (fs.existsSync(next)) visit(next, i + 1, depth);
      return;
    }
    const re = segmentRegex(seg);
    const last = i === segs.length - 1;
    for (const e of entries(dir))
      if (re.test(e.name) && (e.isDirectory() || (last && isLogName(e.name))))
        visit(path.join(dir, e.name), i + 1, depth);
  };
  visit(root, 0, 0);
  return [...out].sort();
}

const isLogName = (n: string) => isEventFile(n) || isJsonlLog(n);

function entries(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    return [];
  }
}

function subdirs(dir: string): string[] {
  return entries(dir)
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
    .map((e) => e.name);
}

/** llm-lens's own event kinds: a metrics.jsonl whose first line is one of these is a native run's. */
const NATIVE_KINDS = new Set(['start', 'step', 'eval', 'sample', 'checkpoint', 'done', 'error', 'taskEval']);

/** True when the JSONL file's first line is an llm-lens event (`{"kind":"start",…}`). */
export function isNativeMetrics(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const first = buf.toString('utf8', 0, n).split('\n')[0];
    const e = JSON.parse(first) as { kind?: unknown };
    return typeof e?.kind === 'string' && NATIVE_KINDS.has(e.kind);
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/** What a path holds: a native run folder, a TensorBoard run folder, a JSONL log, or none of these. */
export function runKindOf(p: string): RunKind | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return undefined;
  }
  if (st.isFile()) return isJsonlLog(p) ? 'jsonl' : undefined;
  const metrics = path.join(p, 'metrics.jsonl');
  if (requestFileOf(p) || (fs.existsSync(metrics) && isNativeMetrics(metrics))) return 'native';
  if (entries(p).some((e) => e.isFile() && isEventFile(e.name))) return 'tensorboard';
  return undefined;
}

/**
 * The runs under a source's folder (or the log file it names), in path order. A folder holding event
 * files is one run (a JSONL log beside them is read with it); JSONL logs elsewhere are runs of their own;
 * a native run folder is not searched further, nor a checkpoint folder.
 */
export function discoverRuns(folder: string): FoundRun[] {
  const out: FoundRun[] = [];
  const label = (p: string) => path.relative(folder, p).split(path.sep).join('/') || path.basename(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(folder);
  } catch {
    return [];
  }
  if (st.isFile()) {
    if (isJsonlLog(folder)) return [{ path: folder, label: path.basename(folder), kind: 'jsonl' }];
    return [{ path: path.dirname(folder), label: path.basename(path.dirname(folder)), kind: 'tensorboard' }];
  }
  const visit = (dir: string, depth: number) => {
    const es = entries(dir);
    const metrics = path.join(dir, 'metrics.jsonl');
    if (es.some((e) => e.name === 'metrics.jsonl') && isNativeMetrics(metrics)) {
      out.push({ path: dir, label: label(dir), kind: 'native' });
      return;
    }
    if (es.some((e) => e.name === 'model.safetensors' || e.name === 'model.safetensors.index.json')) return;
    if (es.some((e) => e.isFile() && isEventFile(e.name)))
      out.push({ path: dir, label: label(dir), kind: 'tensorboard' });
    else
      for (const e of es)
        if (e.isFile() && isJsonlLog(e.name)) {
          const p = path.join(dir, e.name);
          out.push({ path: p, label: label(p), kind: 'jsonl' });
        }
    if (depth < MAX_DEPTH)
      for (const e of es)
        if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
          visit(path.join(dir, e.name), depth + 1);
  };
  visit(folder, 0);
  return out;
}

/** A group of the Runs view: the workspace's runs, or one configured source's. */
export interface RunGroup {
  label: string;
  /** The folders it covers, one a line (the item's tooltip). */
  tooltip: string;
  runs: FoundRun[];
  problem?: string;
}

/**
 * The Runs view's groups: "Workspace runs" (native runs, newest first, as listRuns gives them) and one per
 * configured source, labelled by its entry; a run found twice (a source inside the workspace's runs) shows
 * in its first group only.
 */
export function runGroups(workspaceRuns: readonly string[], sources: readonly RunSource[]): RunGroup[] {
  const seen = new Set(workspaceRuns.map((r) => path.resolve(r)));
  const groups: RunGroup[] = [
    {
      label: 'Workspace runs',
      tooltip: 'Runs trained in this workspace (.llmlens/runs)',
      runs: workspaceRuns.map((r) => ({ path: r, label: path.basename(r), kind: 'native' as const })),
    },
  ];
  for (const s of sources) {
    const runs: FoundRun[] = [];
    for (const folder of s.folders)
      for (const r of discoverRuns(folder)) {
        const key = path.resolve(r.path);
        if (seen.has(key)) continue;
        seen.add(key);
        // a glob's runs are told apart by their folder's name
        const named = s.folders.length > 1 && r.path !== folder;
        runs.push(named ? { ...r, label: `${path.basename(folder)}/${r.label}` } : r);
      }
    groups.push({ label: s.entry, tooltip: s.folders.join('\n') || s.entry, runs, problem: s.problem });
  }
  return groups;
}
