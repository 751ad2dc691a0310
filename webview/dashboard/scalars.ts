/**
 * "All scalars" of a run trained elsewhere: the tags of its ScalarStore (scalarStore.ts) that feed no native
 * chart each get a chart of their own, grouped by the tag's prefix (train/…, eval/…), raw and smoothed with
 * the dashboard's smoothing, x axis and zoom.
 *
 *   const all = new AllScalars(theme, (chart) => zoomable(chart));
 *   all.redraw({ store, xOf, xTitle: 'step', smoothing: 0.6 });
 */
import { Chart, type ChartDataset, type ScatterDataPoint } from 'chart.js';
import { el } from '../common/dom';
import { lineOptions } from './chartOptions';
import { ema, line, tickLabel } from './rlCharts';
import type { ScalarStore } from './scalarStore';

export interface ScalarTheme {
  line: string;
  text: string;
  grid: string;
}

/** The prefix a tag is grouped under: what comes before its last '/', else "scalars". */
export const tagGroup = (tag: string): string =>
  tag.includes('/') ? tag.slice(0, tag.lastIndexOf('/')) : 'scalars';

export class AllScalars {
  readonly element: HTMLElement;
  readonly charts: Chart[] = [];
  private readonly body: HTMLElement;
  private readonly byTag = new Map<string, Chart>();
  private readonly groups = new Map<string, HTMLElement>();

  constructor(
    private readonly theme: ScalarTheme,
    /** Called with each chart made (the dashboard's zoom and pan attach to it). */
    private readonly onChart: (c: Chart) => void,
  ) {
    this.body = el('div', { class: 'all-scalars' });
    this.element = el(
      'section',
      { id: 'all-scalars', 'aria-label': 'All scalars' },
      el('h2', {}, 'All scalars'),
      this.body,
    );
    this.element.hidden = true;
  }

  redraw(d: {
    store: ScalarStore;
    xOf: (e: { step: number; time: number }) => number;
    xTitle: string;
    smoothing: number;
  }): void {
    const others = d.store.others();
    this.element.hidden = others.length === 0;
    for (const [tag, points] of others) {
      const chart = this.chartOf(tag);
      const raw = points.map((p) => ({ x: d.xOf(p), y: p.value }));
      const smooth = ema(
        points.map((p) => p.value),
        d.smoothing,
      ).map((y, i) => ({ x: raw[i].x, y }));
      const sets: ChartDataset<'line', ScatterDataPoint[]>[] = [
        line(`${tag} (raw)`, raw, `${this.theme.line}55`, {
          borderWidth: 1,
          pointRadius: raw.length < 2 ? 3 : 0,
        }),
        line(tag, smooth, this.theme.line, { borderWidth: 2 }),
      ];
      chart.data.datasets = sets;
      (chart.options.scales!.x as { title: { text: string } }).title.text = d.xTitle;
      chart.update('none');
      chart.canvas.dataset.points = String(points.length);
    }
    document.body.dataset.scalarTags = others.map(([t]) => t).join(',');
  }

  clear(): void {
    for (const c of this.charts) c.destroy();
    this.charts.length = 0;
    this.byTag.clear();
    this.groups.clear();
    this.body.replaceChildren();
    this.element.hidden = true;
    delete document.body.dataset.scalarTags;
  }

  private chartOf(tag: string): Chart {
    const had = this.byTag.get(tag);
    if (had) return had;
    const group = tagGroup(tag);
    let box = this.groups.get(group);
    if (!box) {
      box = el('div', { class: 'scalar-group', 'data-group': group }, el('h3', {}, group));
      this.groups.set(group, box);
      // groups in name order
      const after = [...this.groups.keys()].sort().find((g) => g > group);
      this.body.insertBefore(box, after ? this.groups.get(after)! : null);
    }
    const canvas = el('canvas', { class: 'scalar-chart', 'data-tag': tag, role: 'img', 'aria-label': tag });
    box.append(el('div', { class: 'chart-box small' }, canvas));
    const axis = { ticks: { color: this.theme.text }, grid: { color: this.theme.grid } };
    const chart = new Chart(canvas as HTMLCanvasElement, {
      type: 'line',
      data: { datasets: [] },
      options: {
        ...lineOptions(this.theme.text, 4),
        scales: {
          x: { type: 'linear', title: { display: true, text: 'step', color: this.theme.text }, ...axis },
          y: {
            type: 'linear',
            title: { display: true, text: tag, color: this.theme.text },
            ...axis,
            ticks: { color: this.theme.text, callback: tickLabel },
          },
        },
      },
    });
    this.byTag.set(tag, chart);
    this.charts.push(chart);
    this.onChart(chart);
    return chart;
  }
}
