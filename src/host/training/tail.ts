/**
 * Follows a run's metrics.jsonl as it grows (this window's run, another window's, or a CLI run): reads only
 * the new bytes, keeps a torn last line for the next read, and hands complete events over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../protocol/training';
import { parseMetrics } from './runFiles';

export class MetricsTail {
  private offset = 0;
  private carry = '';
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly file: string;

  constructor(
    runDir: string,
    private readonly onEvents: (events: RunEvent[]) => void,
    private readonly intervalMs = 250,
  ) {
    this.file = path.join(runDir, 'metrics.jsonl');
  }

  /** Reads everything so far (returned), then polls for more. */
  start(): RunEvent[] {
    const first = this.read();
    this.timer = setInterval(() => {
      const events = this.read();
      if (events.length) this.onEvents(events);
    }, this.intervalMs);
    return first;
  }

  /** New complete events since the last read. */
  read(): RunEvent[] {
    let size: number;
    try {
      size = fs.statSync(this.file).size;
    } catch {
      return [];
    }
    if (size < this.offset) {
      this.offset = 0; // rewritten
      this.carry = '';
    }
    if (size === this.offset) return [];
    const fd = fs.openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(size - this.offset);
      fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      const text = this.carry + buf.toString('utf8');
      const cut = text.lastIndexOf('\n') + 1;
      this.carry = text.slice(cut);
      return parseMetrics(text.slice(0, cut));
    } finally {
      fs.closeSync(fd);
    }
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
