/**
 * Follows a run's metrics.jsonl as it grows (this window's run, another window's, or a CLI run). fs.watch on
 * the run folder says when the file changed and a poll covers file systems where watching fails or stays
 * silent; each read takes only the bytes appended since the last one. A file that shrank, was replaced (other
 * inode) or whose first bytes changed was rewritten: it is read again from its start, as a reset.
 * Events leave the tail one way, through `onUpdate`, whoever calls read().
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../protocol/training';
import { MetricsDecoder } from './runState';

/** The file's first bytes, kept to notice a rewrite that grew past the old size between two reads. */
const HEAD_BYTES = 256;

export class MetricsTail {
  readonly file: string;
  /** When the file last changed (its mtime, ms since the epoch); undefined before it exists. */
  lastWrite: number | undefined;
  private offset = 0;
  private ino: number | undefined;
  private head = Buffer.alloc(0);
  private readonly decoder = new MetricsDecoder();
  private watcher: fs.FSWatcher | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private lastRead = 0;

  constructor(
    readonly runDir: string,
    /** New events in file order; `reset`: the file was rewritten and `events` are all of it from the start. */
    private readonly onUpdate: (events: RunEvent[], reset: boolean) => void,
    private readonly pollMs = 500,
    /** Change notifications are read at most this often (a run may append 50 lines a second). */
    private readonly minReadMs = 100,
  ) {
    this.file = path.join(runDir, 'metrics.jsonl');
  }

  /** Reads what the file holds now (handed to onUpdate before this returns), then follows it. */
  start(): void {
    this.read();
    try {
      // the folder, not the file: metrics.jsonl may not exist yet, and a rewrite may replace it
      this.watcher = fs.watch(this.runDir, { persistent: false }, (_event, name) => {
        if (!name || name === 'metrics.jsonl') this.schedule();
      });
      this.watcher.on('error', () => this.unwatch());
    } catch {
      /* no watching here (watch limit, folder missing): the poll alone */
    }
    this.poller = setInterval(() => this.read(), this.pollMs);
    this.poller.unref?.(); // following a file never keeps a process alive
  }

  /** Reads the bytes appended since the last read and hands their events to onUpdate; true when any came. */
  read(): boolean {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.lastRead = Date.now();
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return false; // not written yet, or deleted with its run
    }
    try {
      const st = fs.fstatSync(fd);
      this.lastWrite = st.mtimeMs;
      const rewritten =
        this.offset > 0 && (st.ino !== this.ino || st.size < this.offset || !this.sameHead(fd));
      this.ino = st.ino;
      if (rewritten) {
        this.offset = 0;
        this.head = Buffer.alloc(0);
        this.decoder.reset();
      }
      const bytes = readRange(fd, this.offset, st.size);
      if (this.head.length < HEAD_BYTES)
        this.head = Buffer.concat([this.head, bytes.subarray(0, HEAD_BYTES - this.head.length)]);
      this.offset += bytes.length;
      const events = bytes.length ? this.decoder.push(bytes) : [];
      if (events.length || rewritten) this.onUpdate(events, rewritten);
      return events.length > 0 || rewritten;
    } finally {
      fs.closeSync(fd);
    }
  }

  dispose(): void {
    this.unwatch();
    clearInterval(this.poller);
    clearTimeout(this.pending);
    this.poller = this.pending = undefined;
  }

  private schedule(): void {
    if (this.pending || !this.poller) return;
    const wait = Math.max(0, this.lastRead + this.minReadMs - Date.now());
    this.pending = setTimeout(() => this.read(), wait);
  }

  private sameHead(fd: number): boolean {
    return readRange(fd, 0, this.head.length).equals(this.head);
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/** Bytes [from, to) of the file (fewer if it is shorter). */
function readRange(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, to - from));
  let n = 0;
  while (n < buf.length) {
    const got = fs.readSync(fd, buf, n, buf.length - n, from + n);
    if (got === 0) break;
    n += got;
  }
  return buf.subarray(0, n);
}
