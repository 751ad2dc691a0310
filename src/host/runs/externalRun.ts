/**
 * Runs trained elsewhere, as the dashboard and the Runs view show them: a TensorBoard run (a folder of event
 * files) or a JSONL log, read by the engine's LogReader and followed as it grows (fs.watch on the folder and
 * a poll, like the native tail). Its points become RunEvents: each scalar a `scalar` event whose well-known
 * tag feeds a native chart (`scalarSeries`: train/loss → the loss curve), each text summary a `sample`.
 * No vscode here: a model per run is shared by every view, as RunModels does for native runs.
 *
 *   const ref = externalRuns.acquire('/logs/pytorch');   // a folder of event files, or a .jsonl file
 *   ref.model.onEvents((events) => …);                   // [{ kind: 'scalar', tag: 'train/loss', series: 'loss', … }]
 *   ref.model.summary().external;                        // { format: 'tensorboard', damaged: 0 }
 *   ref.dispose();
 *
 * Which points are the run's: a folder's own event files (and a lone JSONL log beside them: LogReader names
 * both after the folder); points of subfolders are runs of their own. Damaged records are counted
 * (LogReader.problems), never thrown. A run is `running` while its files grew in the last minute, else
 * `unknown` (a log does not say how a run ended); it has no process of this window to steer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isEventFile, isJsonlLog, LogReader, type LogPoint } from '../../engine/runs/logReader';
import type { RunEvent, RunStatus, RunSummary, ScalarSeries } from '../../protocol/training';
import { type Disposable, type Event, RunFeed } from '../emitter';
import { UNMANAGED_RUN_QUIET_MS } from '../training/runState';

/** Tags that feed the native charts, compared lowercased with '-' and ' ' read as '_'. */
const SERIES_TAGS: Record<ScalarSeries, readonly string[]> = {
  loss: [
    'loss',
    'train/loss',
    'train_loss',
    'loss/train',
    'training/loss',
    'training_loss',
    'train/loss_step',
    'trainer/loss',
  ],
  valLoss: [
    'val/loss',
    'val_loss',
    'eval/loss',
    'eval_loss',
    'loss/val',
    'loss/eval',
    'loss/validation',
    'valid/loss',
    'valid_loss',
    'validation/loss',
    'validation_loss',
  ],
  lr: ['lr', 'train/lr', 'learning_rate', 'train/learning_rate', 'optimizer/lr', 'lr/train'],
  gradNorm: [
    'grad_norm',
    'train/grad_norm',
    'gradnorm',
    'train/gradnorm',
    'gradient_norm',
    'train/gradient_norm',
  ],
};
const SERIES_OF = new Map<string, ScalarSeries>(
  Object.entries(SERIES_TAGS).flatMap(([series, tags]) => tags.map((t) => [t, series as ScalarSeries])),
);

/** The native chart a tag feeds, or undefined for a chart of its own. */
export function scalarSeries(tag: string): ScalarSeries | undefined {
  return SERIES_OF.get(tag.toLowerCase().replace(/[- ]/g, '_'));
}

/** Points of a log → the dashboard's events (time in ms since the epoch; 0 when the log has none). */
export function pointsToEvents(points: readonly LogPoint[]): RunEvent[] {
  return points.map((p): RunEvent => {
    const time = p.wallTime !== undefined ? p.wallTime * 1000 : 0;
    if (p.text !== undefined)
      return { kind: 'sample', step: p.step, prompt: '', text: p.text, tag: p.tag, time };
    const series = scalarSeries(p.tag);
    return { kind: 'scalar', step: p.step, tag: p.tag, value: p.value!, ...(series ? { series } : {}), time };
  });
}

/** What the Runs view says of a run trained elsewhere. */
export interface ExternalProgress {
  /** The largest step logged. */
  step: number;
  loss?: number;
  valLoss?: number;
}

export function foldExternal(p: ExternalProgress, e: RunEvent): void {
  if (e.kind !== 'scalar' && e.kind !== 'sample') return;
  p.step = Math.max(p.step, e.step);
  if (e.kind === 'scalar' && e.series === 'loss') p.loss = e.value;
  if (e.kind === 'scalar' && e.series === 'valLoss') p.valLoss = e.value;
}

/** A checkpoint of a run trained elsewhere: a folder with model.safetensors or its shard index. */
export interface ExternalCheckpoint {
  dir: string;
  /** The file to open in the inspector: model.safetensors, else model.safetensors.index.json. */
  file: string;
  /** The folder's path under the run's folder. */
  label: string;
  /** The last number of its name (step-200, checkpoint-1500), else 0. */
  step: number;
}

const CHECKPOINT_FILES = ['model.safetensors', 'model.safetensors.index.json'];
const CHECKPOINT_DEPTH = 3;

/** Checkpoint folders under a run's folder (3 levels), in step order. */
export function findCheckpoints(runFolder: string): ExternalCheckpoint[] {
  const out: ExternalCheckpoint[] = [];
  const visit = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'node_modules') continue;
      const sub = path.join(dir, e.name);
      const file = CHECKPOINT_FILES.map((f) => path.join(sub, f)).find((f) => fs.existsSync(f));
      if (file) {
        const label = path.relative(runFolder, sub).split(path.sep).join('/');
        const step = Number(/(\d+)(?!.*\d)/.exec(e.name)?.[1] ?? 0);
        out.push({ dir: sub, file, label, step });
      } else if (depth < CHECKPOINT_DEPTH) visit(sub, depth + 1);
    }
  };
  visit(runFolder, 1);
  return out.sort((a, b) => a.step - b.step || a.label.localeCompare(b.label));
}

export interface ExternalRunOptions {
  /** The poll behind fs.watch, ms; 0: no following (read on refresh() only). */
  pollMs?: number;
  onListenerError?: (e: unknown) => void;
}

/** The folder a run lives in: the run's folder, or a JSONL log's. */
export const runFolderOf = (run: string): string => (isJsonlLog(run) ? path.dirname(run) : run);

export class ExternalRunModel implements Disposable {
  readonly format: 'tensorboard' | 'jsonl';
  private readonly reader: LogReader;
  private readonly own: (p: LogPoint) => boolean;
  private readonly eventsSoFar: RunEvent[] = [];
  private readonly progressNow: ExternalProgress = { step: 0 };
  private checkpointList: ExternalCheckpoint[];
  private damagedNow = 0;
  private statusNow: RunStatus = 'unknown';
  private lastWrite: number | undefined;
  private watcher: fs.FSWatcher | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private readonly feed: RunFeed<RunEvent, ExternalRunModel>;
  /** New events, as the log grows. */
  readonly onEvents: Event<readonly RunEvent[]>;
  /** Never fires: a rewritten log is read again by LogReader and its points come as new events. */
  readonly onDidReset: Event<void>;
  /** Status, step, damage or checkpoints changed. */
  readonly onDidChange: Event<ExternalRunModel>;

  constructor(
    /** A folder of event files, or a JSONL file. */
    readonly runDir: string,
    options: ExternalRunOptions = {},
  ) {
    this.feed = new RunFeed(options.onListenerError);
    this.onEvents = this.feed.events.event;
    this.onDidChange = this.feed.change.event;
    this.onDidReset = this.feed.reset.event;
    const file = isJsonlLog(runDir);
    this.format = file ? 'jsonl' : 'tensorboard';
    this.reader = new LogReader(runDir);
    // LogReader names a folder's own files after the folder; subfolders are runs of their own
    const name = path.basename(runDir);
    this.own = file ? () => true : (p) => p.run === name;
    this.checkpointList = findCheckpoints(runFolderOf(runDir));
    this.read();
    const pollMs = options.pollMs ?? 1000;
    if (pollMs > 0) this.follow(pollMs);
  }

  get events(): readonly RunEvent[] {
    return this.eventsSoFar;
  }

  get status(): RunStatus {
    return this.statusNow;
  }

  /** The run's error: a log has none. */
  get progress(): Readonly<ExternalProgress & { error?: string }> {
    return this.progressNow;
  }

  get checkpoints(): readonly ExternalCheckpoint[] {
    return this.checkpointList;
  }

  /** Records skipped as damaged (wrong CRC, not an Event, a line that is not JSON). */
  get damaged(): number {
    return this.damagedNow;
  }

  summary(): RunSummary {
    const p = this.progressNow;
    return {
      runDir: this.runDir,
      name: path.basename(this.runDir),
      status: this.statusNow,
      step: p.step,
      loss: p.loss,
      valLoss: p.valLoss,
      checkpoints: this.checkpointList.map((c) => ({ step: c.step, dir: c.dir })),
      external: { format: this.format, damaged: this.damagedNow },
    };
  }

  /** Reads what the log gained; true when anything changed. */
  read(): boolean {
    clearTimeout(this.pending);
    this.pending = undefined;
    const events = pointsToEvents(this.reader.poll().points.filter(this.own));
    for (const e of events) {
      foldExternal(this.progressNow, e);
      this.eventsSoFar.push(e);
    }
    const damaged = this.countDamage();
    const checkpoints = findCheckpoints(runFolderOf(this.runDir));
    const status = this.readStatus(events.length > 0);
    const changed =
      events.length > 0 ||
      damaged !== this.damagedNow ||
      status !== this.statusNow ||
      checkpoints.length !== this.checkpointList.length;
    this.damagedNow = damaged;
    this.statusNow = status;
    this.checkpointList = checkpoints;
    if (events.length) this.feed.events.fire(events);
    if (changed) this.feed.change.fire(this);
    return changed;
  }

  dispose(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.poller);
    clearTimeout(this.pending);
    this.poller = this.pending = undefined;
    this.feed.dispose();
  }

  private follow(pollMs: number): void {
    try {
      this.watcher = fs.watch(runFolderOf(this.runDir), { persistent: false }, () => {
        this.pending ??= setTimeout(() => this.read(), 100);
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      /* no watching here: the poll alone */
    }
    this.poller = setInterval(() => this.read(), pollMs);
    this.poller.unref?.();
  }

  private countDamage(): number {
    const folder = runFolderOf(this.runDir);
    return this.reader
      .problems()
      .filter((p) => path.dirname(p.file) === folder)
      .reduce((n, p) => n + p.corrupt, 0);
  }

  /** Running while the log grew in the last minute (from the files' mtimes, or new points just read). */
  private readStatus(grew: boolean): RunStatus {
    if (grew || this.lastWrite === undefined) this.lastWrite = newestWrite(this.runDir);
    return this.lastWrite !== undefined && Date.now() - this.lastWrite < UNMANAGED_RUN_QUIET_MS
      ? 'running'
      : 'unknown';
  }
}

/** The newest mtime of a run's log files (ms), undefined when it has none. */
function newestWrite(run: string): number | undefined {
  const files = isJsonlLog(run)
    ? [run]
    : (() => {
        try {
          return fs
            .readdirSync(run)
            .filter((n) => isEventFile(n) || isJsonlLog(n))
            .map((n) => path.join(run, n));
        } catch {
          return [];
        }
      })();
  let newest: number | undefined;
  for (const f of files) {
    try {
      newest = Math.max(newest ?? 0, fs.statSync(f).mtimeMs);
    } catch {
      /* gone */
    }
  }
  return newest;
}

/** A view's hold on an external run's model. */
export interface ExternalRunRef extends Disposable {
  readonly model: ExternalRunModel;
}

/**
 * The external run models of this window, one per run: opened on the first acquire, disposed when no view
 * holds it. Summaries for the Runs view come from the open model, else from a reader kept per run that reads
 * only what the log gained since the last look.
 */
export class ExternalRunModels implements Disposable {
  private readonly open = new Map<string, { model: ExternalRunModel; refs: number }>();
  private readonly readers = new Map<string, ExternalRunModel>();

  constructor(private readonly options: ExternalRunOptions = {}) {}

  acquire(run: string): ExternalRunRef {
    const key = path.resolve(run);
    let entry = this.open.get(key);
    if (!entry) {
      this.readers.get(key)?.dispose();
      this.readers.delete(key);
      entry = { model: new ExternalRunModel(key, this.options), refs: 0 };
      this.open.set(key, entry);
    }
    const held = entry;
    held.refs++;
    let released = false;
    return {
      model: held.model,
      dispose: () => {
        if (released) return;
        released = true;
        if (--held.refs > 0) return;
        this.open.delete(key);
        held.model.dispose();
      },
    };
  }

  get(run: string): ExternalRunModel | undefined {
    return this.open.get(path.resolve(run))?.model;
  }

  /** The run's model if a view holds it, else its summary reader (read up to now). */
  peek(run: string): ExternalRunModel {
    const key = path.resolve(run);
    const open = this.open.get(key)?.model;
    if (open) return open;
    let reader = this.readers.get(key);
    if (!reader) this.readers.set(key, (reader = new ExternalRunModel(key, { ...this.options, pollMs: 0 })));
    else reader.read();
    return reader;
  }

  summary(run: string): RunSummary {
    return this.peek(run).summary();
  }

  /** Forgets the readers of runs no longer listed. */
  keep(runs: readonly string[]): void {
    const keep = new Set(runs.map((r) => path.resolve(r)));
    for (const [key, reader] of this.readers)
      if (!keep.has(key)) {
        reader.dispose();
        this.readers.delete(key);
      }
  }

  dispose(): void {
    for (const { model } of this.open.values()) model.dispose();
    for (const reader of this.readers.values()) reader.dispose();
    this.open.clear();
    this.readers.clear();
  }
}
