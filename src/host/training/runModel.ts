/**
 * One model per run folder, shared by every view of the run — progress notification, dashboard, status bar,
 * Runs view — as vscode-hexeditor's document model is shared by its editors. It tails metrics.jsonl once,
 * keeps the events so far and the state derived from them, checks the run's process, and tells its
 * subscribers. No vscode here: RunManager's notices (started, steered, exited) come in through RunSignals.
 *
 *   const ref = models.acquire(runDir);          // the one model of the run, opened on first use
 *   ref.model.onEvents((events) => …);           // every event, in file order, the exit error included
 *   ref.model.onDidChange((m) => m.status …);    // status, progress or checkpoints changed
 *   ref.dispose();                               // the model goes once no view holds it and the run is over
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent, RunStatus, RunSummary } from '../../protocol/training';
import { type Disposable, Emitter, type Event, RunFeed } from '../emitter';
import { listCheckpoints } from './runFiles';
import { PID_FILE, type PidInfo, readControl, readPid } from './runProcess';
import { applyEvent, emptyProgress, type RunProcessState, type RunProgress, runStatus } from './runState';
import { MetricsTail } from './tail';

export interface RunModelOptions {
  /** The poll behind fs.watch, ms. */
  pollMs?: number;
  /** How often the process of a live run is checked (it may die without a word: killed, another window's). */
  processCheckMs?: number;
  /** Where the error of a subscriber that throws goes (the other subscribers still hear the event). */
  onListenerError?: (e: unknown) => void;
}

type Checkpoint = RunSummary['checkpoints'][number];

/** What the pid file, the OS and control.json say about the run's process now. */
function processState(runDir: string, lastWrite: number | undefined): RunProcessState & { info?: PidInfo } {
  const info = readPid(runDir);
  return {
    info,
    trainer: info !== undefined,
    paused: info !== undefined && readControl(runDir).paused,
    pidFile: fs.existsSync(path.join(runDir, PID_FILE)),
    lastWrite,
  };
}

function summaryOf(runDir: string, p: RunProgress, status: RunStatus, checkpoints: Checkpoint[]): RunSummary {
  return {
    runDir,
    name: path.basename(runDir),
    status,
    step: p.step,
    maxIters: p.maxIters,
    loss: p.loss,
    valLoss: p.valLoss,
    params: p.params,
    stage: p.stage,
    reward: p.reward,
    checkpoints,
  };
}

const isLive = (s: RunStatus) => s === 'running' || s === 'paused';

export class RunModel implements Disposable {
  private readonly eventsSoFar: RunEvent[] = [];
  private progressNow = emptyProgress();
  private proc: RunProcessState & { info?: PidInfo } = { trainer: false, paused: false, pidFile: false };
  private checkpointList: Checkpoint[];
  private statusNow: RunStatus = 'unknown';
  private lastProcessCheck = 0;
  private readonly tail: MetricsTail;
  private processTimer: ReturnType<typeof setInterval> | undefined;
  private readonly processCheckMs: number;
  private readonly feed: RunFeed<RunEvent, RunModel>;

  /** New events in file order, as they are appended: every one, the error the host appends at exit included. */
  readonly onEvents: Event<readonly RunEvent[]>;
  /** metrics.jsonl was rewritten: `events` now holds the new file's events, and views start over from them. */
  readonly onDidReset: Event<void>;
  /** The status, progress or checkpoints changed (after onEvents for the events that changed them). */
  readonly onDidChange: Event<RunModel>;

  constructor(
    readonly runDir: string,
    options: RunModelOptions = {},
  ) {
    this.feed = new RunFeed(options.onListenerError);
    this.onEvents = this.feed.events.event;
    this.onDidReset = this.feed.reset.event;
    this.onDidChange = this.feed.change.event;
    this.processCheckMs = options.processCheckMs ?? 1000;
    this.checkpointList = listCheckpoints(runDir);
    this.tail = new MetricsTail(runDir, (events, reset) => this.ingest(events, reset), options.pollMs);
    this.tail.start();
    this.checkProcess();
  }

  /** The run's events so far, in file order. */
  get events(): readonly RunEvent[] {
    return this.eventsSoFar;
  }

  get status(): RunStatus {
    return this.statusNow;
  }

  get progress(): Readonly<RunProgress> {
    return this.progressNow;
  }

  /** Running or paused: its process lives (or, without a pid file, it wrote in the last minute). */
  get live(): boolean {
    return isLive(this.statusNow);
  }

  /** The run's process, when it is this run's trainer and alive. */
  get trainer(): PidInfo | undefined {
    return this.proc.info;
  }

  get checkpoints(): readonly Checkpoint[] {
    return this.checkpointList;
  }

  summary(): RunSummary {
    return summaryOf(this.runDir, this.progressNow, this.statusNow, [...this.checkpointList]);
  }

  /** Reads what was appended and checks the process now: after this window started, steered or saw it end. */
  refresh(): void {
    this.tail.read();
    this.checkProcess();
  }

  dispose(): void {
    this.tail.dispose();
    clearInterval(this.processTimer);
    this.processTimer = undefined;
    this.feed.dispose();
  }

  private ingest(events: RunEvent[], reset: boolean): void {
    if (reset) {
      this.eventsSoFar.length = 0;
      this.progressNow = emptyProgress();
    }
    for (const e of events) {
      applyEvent(this.progressNow, e);
      this.eventsSoFar.push(e);
    }
    if (reset || events.some((e) => e.kind === 'checkpoint'))
      this.checkpointList = listCheckpoints(this.runDir);
    // a start or an end says the process changed; otherwise look at most every processCheckMs
    const ends = events.some((e) => e.kind === 'start' || e.kind === 'done' || e.kind === 'error');
    if (ends || Date.now() - this.lastProcessCheck >= this.processCheckMs) this.readProcess();
    this.statusNow = runStatus(this.progressNow, this.proc);
    if (reset) this.feed.reset.fire();
    else this.feed.events.fire(events);
    this.changed();
  }

  private checkProcess(): void {
    this.readProcess();
    const status = runStatus(this.progressNow, this.proc);
    if (status === this.statusNow) return;
    this.statusNow = status;
    this.changed();
  }

  private readProcess(): void {
    this.lastProcessCheck = Date.now();
    this.proc = processState(this.runDir, this.tail.lastWrite);
  }

  /** Fires onDidChange, and checks the process on a timer while the run is live. */
  private changed(): void {
    if (this.live && !this.processTimer) {
      this.processTimer = setInterval(() => this.checkProcess(), this.processCheckMs);
      this.processTimer.unref?.();
    } else if (!this.live && this.processTimer) {
      clearInterval(this.processTimer);
      this.processTimer = undefined;
    }
    this.feed.change.fire(this);
  }
}

/** A view's hold on a run's model; dispose it when the view goes. */
export interface RunModelRef extends Disposable {
  readonly model: RunModel;
}

/** Notices from whoever starts and steers runs in this window (RunManager.onDidChange): a run folder. */
export interface RunSignals {
  onDidChange: Event<string>;
}

/** The summary of a run no view holds: its events folded as they are read, only the appended bytes each time. */
class RunSummaryReader {
  private progress = emptyProgress();
  private readonly tail: MetricsTail;

  constructor(private readonly runDir: string) {
    this.tail = new MetricsTail(runDir, (events, reset) => {
      if (reset) this.progress = emptyProgress();
      for (const e of events) applyEvent(this.progress, e);
    });
  }

  summary(): RunSummary {
    this.tail.read();
    const status = runStatus(this.progress, processState(this.runDir, this.tail.lastWrite));
    return summaryOf(this.runDir, this.progress, status, listCheckpoints(this.runDir));
  }
}

/**
 * The run models of this window, one per run folder. A model opens on the first acquire, and is disposed
 * once no view holds it and its run is over (not running or paused).
 */
export class RunModels implements Disposable {
  private readonly open = new Map<string, { model: RunModel; refs: number; subs: Disposable[] }>();
  private readonly readers = new Map<string, RunSummaryReader>();
  private readonly changedEmitter: Emitter<RunModel>;
  private readonly subs: Disposable[] = [];
  /** Any open model changed. */
  readonly onDidChangeRun: Event<RunModel>;

  constructor(
    signals: RunSignals | undefined,
    private readonly options: RunModelOptions = {},
  ) {
    this.changedEmitter = new Emitter(options.onListenerError);
    this.onDidChangeRun = this.changedEmitter.event;
    signals?.onDidChange((dir) => this.open.get(path.resolve(dir))?.model.refresh(), undefined, this.subs);
  }

  acquire(runDir: string): RunModelRef {
    const key = path.resolve(runDir);
    let entry = this.open.get(key);
    if (!entry) {
      const model = new RunModel(key, this.options);
      const opened = { model, refs: 0, subs: [] as Disposable[] };
      model.onDidChange(
        () => {
          this.changedEmitter.fire(model);
          this.collect(key);
        },
        undefined,
        opened.subs,
      );
      this.open.set(key, opened);
      this.readers.delete(key);
      entry = opened;
    }
    const held = entry;
    held.refs++;
    let released = false;
    return {
      model: held.model,
      dispose: () => {
        if (released) return;
        released = true;
        held.refs--;
        this.collect(key);
      },
    };
  }

  /** The open model of a run, if a view holds it (or its run is still live). */
  get(runDir: string): RunModel | undefined {
    return this.open.get(path.resolve(runDir))?.model;
  }

  /** A run's summary: from its model when one is open, else read incrementally from its folder. */
  summary(runDir: string): RunSummary {
    const key = path.resolve(runDir);
    const model = this.open.get(key)?.model;
    if (model) return model.summary();
    let reader = this.readers.get(key);
    if (!reader) this.readers.set(key, (reader = new RunSummaryReader(key)));
    return reader.summary();
  }

  /** The summaries of these runs (the Runs view's list); what it remembers of other runs is dropped. */
  summaries(runDirs: string[]): RunSummary[] {
    const keep = new Set(runDirs.map((d) => path.resolve(d)));
    for (const key of this.readers.keys()) if (!keep.has(key)) this.readers.delete(key);
    return runDirs.map((d) => this.summary(d));
  }

  dispose(): void {
    for (const d of this.subs.splice(0)) d.dispose();
    for (const { model, subs } of this.open.values()) {
      subs.forEach((s) => s.dispose());
      model.dispose();
    }
    this.open.clear();
    this.readers.clear();
    this.changedEmitter.dispose();
  }

  private collect(key: string): void {
    const entry = this.open.get(key);
    if (!entry || entry.refs > 0 || entry.model.live) return;
    this.open.delete(key);
    entry.subs.forEach((s) => s.dispose());
    entry.model.dispose();
  }
}
