/**
 * Reads the logs of runs trained elsewhere, and keeps reading them as they grow: TensorBoard event files
 * (`events.out.tfevents.*`, tfrecord.ts + tfevents.ts) and JSONL logs (one object per line with a step:
 * llm-lens's own metrics.jsonl, nanoGPT-style loggers). A run is a folder holding event files, as
 * TensorBoard names them (its path relative to the root given, or the root's own name); a JSONL file is a
 * run of its own, named by its folder (and its file name when a folder holds several).
 *
 *   const reader = new LogReader('/logs');           // a folder (searched 6 levels deep) or one file
 *   const { points } = reader.poll();                 // everything so far: LogPoint[] (tfevents.ts)
 *   …
 *   const more = reader.poll().points;                // only what was appended since
 *   reader.problems()                                 // [{ file, corrupt: 1, truncated: false, stuck: false }]
 *
 * Damage never throws: a record with a wrong CRC or that is not an Event, a JSONL line that is not JSON,
 * is skipped and counted per file; a record or line still being written is read once it is whole (when
 * reading stops there, `truncated` says so). A file that shrank was rewritten: it is read again from 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRecords } from './tfrecord';
import { eventPoints, type LogPoint } from './tfevents';

export type { LogPoint } from './tfevents';

/** What was skipped in one file. */
export interface LogFileProblems {
  file: string;
  /** Records or lines skipped as damaged. */
  corrupt: number;
  /** The file ends inside a record or line (a writer still writing, or a cut copy). */
  truncated: boolean;
  /** An event file whose framing was lost (a length with a wrong CRC): nothing after it is read. */
  stuck: boolean;
}

/** Event files as TensorBoard finds them. */
export const isEventFile = (name: string): boolean => name.includes('tfevents');
export const isJsonlLog = (name: string): boolean => name.endsWith('.jsonl');

/** JSONL fields that give the step, in order of preference. */
const STEP_KEYS = ['step', 'iter', 'iteration', 'global_step', '_step', 'it'];
/** JSONL fields that give the time (seconds, or milliseconds when larger than 1e11). */
const TIME_KEYS = ['wall_time', 'wallTime', 'time', 'timestamp', '_timestamp'];
/** JSONL string fields shown as text. */
const TEXT_KEYS = new Set(['text', 'sample', 'samples', 'completion']);

const MAX_DEPTH = 6;
const MAX_FILES = 2000;

interface Tracked {
  file: string;
  kind: 'events' | 'jsonl';
  run: string;
  offset: number;
  problems: LogFileProblems;
}

export class LogReader {
  private files = new Map<string, Tracked>();
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The points appended since the last poll (all of them the first time), files in name order. */
  poll(): { points: LogPoint[] } {
    this.discover();
    const points: LogPoint[] = [];
    for (const t of [...this.files.values()].sort((a, b) => a.file.localeCompare(b.file)))
      points.push(...this.readNew(t));
    return { points };
  }

  /** The runs found so far. */
  runs(): string[] {
    return [...new Set([...this.files.values()].map((t) => t.run))].sort();
  }

  /** Files with something skipped or left unread. */
  problems(): LogFileProblems[] {
    return [...this.files.values()].map((t) => t.problems).filter((p) => p.corrupt || p.truncated || p.stuck);
  }

  private discover(): void {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.root);
    } catch {
      return; // not there (yet): a run that has not started writing
    }
    const found: string[] = [];
    if (stat.isFile()) found.push(this.root);
    else walk(this.root, 0, found);
    const jsonlPerDir = new Map<string, number>();
    for (const f of found)
      if (isJsonlLog(path.basename(f)))
        jsonlPerDir.set(path.dirname(f), (jsonlPerDir.get(path.dirname(f)) ?? 0) + 1);
    for (const file of found) {
      if (this.files.has(file)) continue;
      const kind = isEventFile(path.basename(file)) ? 'events' : 'jsonl';
      const dir = path.dirname(file);
      const rel = stat.isFile() ? '' : path.relative(this.root, dir);
      let run = rel === '' ? path.basename(stat.isFile() ? dir : this.root) : rel.split(path.sep).join('/');
      if (kind === 'jsonl' && (jsonlPerDir.get(dir) ?? 0) > 1)
        run = `${run}/${path.basename(file, '.jsonl')}`;
      this.files.set(file, {
        file,
        kind,
        run,
        offset: 0,
        problems: { file, corrupt: 0, truncated: false, stuck: false },
      });
    }
  }

  private readNew(t: Tracked): LogPoint[] {
    if (t.problems.stuck) return [];
    let bytes: Buffer;
    try {
      const size = fs.statSync(t.file).size;
      if (size < t.offset) {
        t.offset = 0; // rewritten
        t.problems.corrupt = 0;
      }
      if (size === t.offset) return [];
      bytes = readFrom(t.file, t.offset, size - t.offset);
    } catch {
      return []; // removed or unreadable between the listing and the read: next poll sees
    }
    return t.kind === 'events' ? this.readEvents(t, bytes) : this.readJsonl(t, bytes);
  }

  private readEvents(t: Tracked, bytes: Buffer): LogPoint[] {
    const r = readRecords(bytes);
    const out: LogPoint[] = [];
    for (const data of r.records) {
      try {
        out.push(...eventPoints(data, t.run));
      } catch {
        t.problems.corrupt++; // framed and checksummed, but not an Event
      }
    }
    t.offset += r.next;
    t.problems.corrupt += r.corrupt;
    t.problems.stuck = r.stuck;
    t.problems.truncated = !r.stuck && r.pending > 0;
    return out;
  }

  private readJsonl(t: Tracked, bytes: Buffer): LogPoint[] {
    const end = bytes.lastIndexOf(0x0a) + 1; // up to the last whole line
    const out: LogPoint[] = [];
    for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        t.problems.corrupt++;
        continue;
      }
      if (obj && typeof obj === 'object' && !Array.isArray(obj))
        out.push(...jsonlPoints(obj as Record<string, unknown>, t.run));
      else t.problems.corrupt++;
    }
    t.offset += end;
    t.problems.truncated = end < bytes.length;
    return out;
  }
}

/** The points of one JSONL object: each finite number (nested objects as a/b), and text fields. */
export function jsonlPoints(obj: Record<string, unknown>, run: string): LogPoint[] {
  const stepKey = STEP_KEYS.find((k) => typeof obj[k] === 'number' && Number.isFinite(obj[k]));
  if (!stepKey) return [];
  const step = obj[stepKey] as number;
  const timeKey = TIME_KEYS.find((k) => typeof obj[k] === 'number' && Number.isFinite(obj[k]));
  const t = timeKey ? (obj[timeKey] as number) : undefined;
  let wallTime = t;
  if (wallTime !== undefined && wallTime > 1e11) wallTime /= 1000; // milliseconds
  const base = { run, step, ...(wallTime !== undefined ? { wallTime } : {}) };
  const out: LogPoint[] = [];
  const visit = (o: Record<string, unknown>, prefix: string, depth: number) => {
    for (const [k, v] of Object.entries(o)) {
      if (!prefix && (k === stepKey || k === timeKey)) continue;
      const tag = prefix + k;
      if (typeof v === 'number' && Number.isFinite(v)) out.push({ ...base, tag, value: v });
      else if (typeof v === 'string' && TEXT_KEYS.has(k)) out.push({ ...base, tag, text: v });
      else if (v && typeof v === 'object' && !Array.isArray(v) && depth < 3)
        visit(v as Record<string, unknown>, `${tag}/`, depth + 1);
    }
  };
  visit(obj, '', 0);
  return out;
}

function walk(dir: string, depth: number, out: string[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (out.length >= MAX_FILES) return;
    const p = path.join(dir, e.name);
    if (e.isFile() && (isEventFile(e.name) || isJsonlLog(e.name))) out.push(p);
    else if (e.isDirectory() && depth < MAX_DEPTH && !e.name.startsWith('.') && e.name !== 'node_modules')
      walk(p, depth + 1, out);
  }
}

function readFrom(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = fs.readSync(fd, buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}
