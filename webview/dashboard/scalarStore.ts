/**
 * The scalars of a run trained elsewhere (`scalar` events: TensorBoard, JSONL logs), per tag in step order:
 * a restarted run that logs a step again replaces that tag's points from that step on, as the native steps
 * do. Tags that feed a native chart (`series`: loss, val loss, lr, grad norm) are read by the dashboard's own
 * charts; the others by "All scalars" (scalars.ts). No DOM here.
 *
 *   const store = new ScalarStore();
 *   store.add({ kind: 'scalar', step: 10, tag: 'train/loss', value: 3.5, series: 'loss', time: 0 });
 *   store.series('loss');     // the points of the first tag seen that is a train loss
 *   store.others();           // [['eval/acc', [...]], …]
 */
import type { RunEvent, ScalarSeries } from '../../src/protocol/training';

export type ScalarEvent = Extract<RunEvent, { kind: 'scalar' }>;

export class ScalarStore {
  private readonly byTag = new Map<string, ScalarEvent[]>();
  /** The tag each native series reads: the first tag seen for it (a log may have loss and train/loss). */
  private readonly seriesTag = new Map<ScalarSeries, string>();

  add(e: ScalarEvent): void {
    let points = this.byTag.get(e.tag);
    if (!points) this.byTag.set(e.tag, (points = []));
    while (points.length && points[points.length - 1].step >= e.step) points.pop();
    points.push(e);
    if (e.series && !this.seriesTag.has(e.series)) this.seriesTag.set(e.series, e.tag);
  }

  /** The points of the tag that feeds this native chart; none when the log has no such tag. */
  series(s: ScalarSeries): readonly ScalarEvent[] {
    const tag = this.seriesTag.get(s);
    return tag ? this.byTag.get(tag)! : [];
  }

  /** The tags of no native chart, in name order, with their points. */
  others(): [string, readonly ScalarEvent[]][] {
    const fed = new Set(this.seriesTag.values());
    return [...this.byTag].filter(([tag]) => !fed.has(tag)).sort(([a], [b]) => a.localeCompare(b));
  }

  /** The largest step of any tag. */
  lastStep(): number | undefined {
    let last: number | undefined;
    for (const points of this.byTag.values()) last = Math.max(last ?? -Infinity, points.at(-1)!.step);
    return last;
  }

  get size(): number {
    return this.byTag.size;
  }

  clear(): void {
    this.byTag.clear();
    this.seriesTag.clear();
  }
}
