/**
 * Batches a fast stream of items into at most `perSecond` deliveries a second, losing none: items that
 * arrive between deliveries go out together in the next one, and `flush()` delivers what is left at once.
 *
 *   const b = new Batcher<RunEvent>((batch) => panel.post({ type: 'events', events: batch }), 10);
 *   b.push(event); …; b.flush();   // at the end of a run: the final values are never held back
 */
export class Batcher<T> {
  private pending: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = -Infinity;

  constructor(
    private readonly deliver: (batch: T[]) => void,
    private readonly perSecond = 10,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  push(item: T): void {
    this.pending.push(item);
    if (this.timer) return;
    const wait = Math.max(0, this.last + 1000 / this.perSecond - this.clock());
    if (wait === 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.last = this.clock();
    this.deliver(batch);
  }

  dispose(): void {
    this.flush();
  }
}
