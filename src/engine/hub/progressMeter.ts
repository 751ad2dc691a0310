/**
 * The download notification's text and bar from the engine's per-file progress (download.ts's onPlan and
 * onProgress): "model.safetensors · 12.3 MB of 269.1 MB · 21.0 MB/s", the bar advancing with the bytes of
 * all the files planned, reported at most five times a second and whenever a file completes.
 *
 *   const meter = new ProgressMeter((message, increment) => progress.report({ message, increment }));
 *   await downloadModel({ …, onPlan: (files) => meter.plan(files), onProgress: (p) => meter.update(p) });
 */
import { size, type DownloadProgress } from './download';

/** Sums the bytes of the planned files into one message and a percentage increment per report. */
export class ProgressMeter {
  private sizes = new Map<string, number>();
  private done = new Map<string, number>();
  private total = 0;
  private shown = 0;
  private last = 0;
  private pending: DownloadProgress | undefined;

  constructor(
    private readonly report: (message: string, increment?: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The files to come; returns their total size. */
  plan(files: { path: string; size: number }[]): number {
    this.sizes = new Map(files.map((f) => [f.path, f.size]));
    this.total = files.reduce((s, f) => s + f.size, 0);
    return this.total;
  }

  update(p: DownloadProgress): void {
    this.done.set(p.file, p.bytes);
    this.pending = p;
    if (this.now() - this.last >= 200 || p.bytes >= p.total) this.flush();
  }

  flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    this.last = this.now();
    let bytes = 0;
    for (const [file, b] of this.done) if (this.sizes.has(file) || !this.total) bytes += b;
    const pct = this.total ? Math.min(100, (100 * bytes) / this.total) : 0;
    const increment = pct - this.shown;
    this.shown = pct;
    const speed = p.bytesPerSec > 0 ? ` · ${size(p.bytesPerSec)}/s` : '';
    const of = this.total ? `${size(bytes)} of ${size(this.total)}` : size(bytes);
    this.report(`${p.file} · ${of}${speed}`, increment > 0 ? increment : undefined);
  }
}
