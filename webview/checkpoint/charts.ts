/**
 * The histogram (chart.js bar chart, in the theme's colours: common/chartTheme.ts) and the heatmap
 * (<canvas> pixels) of one tensor.
 *
 *   renderHistogram(canvas, { edges, counts });
 *   drawHeatmap(canvas, heatmapView);
 */
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import type { HeatmapView } from '../../src/protocol/checkpoint';
import { themeColors, THEME } from '../common/chartTheme';
import { fmtNum } from './format';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

let histogram: Chart | undefined;

const COLORS = themeColors({
  bar: THEME.blue,
  grid: THEME.border,
  font: THEME.font,
});

/** A bar per bin; bars touch like numpy's histogram plot. */
export function renderHistogram(canvas: HTMLCanvasElement, h: { edges: number[]; counts: number[] }): void {
  histogram?.destroy();
  Chart.defaults.font.family = COLORS.font;
  const labels = h.counts.map((_, i) => fmtNum((h.edges[i] + h.edges[i + 1]) / 2));
  histogram = new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: [
        {
          label: 'elements',
          data: h.counts,
          backgroundColor: COLORS.bar,
          barPercentage: 1,
          categoryPercentage: 1,
        },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        tooltip: {
          callbacks: {
            title: (items) => {
              const i = items[0].dataIndex;
              return `[${fmtNum(h.edges[i])}, ${fmtNum(h.edges[i + 1])}${i === h.counts.length - 1 ? ']' : ')'}`;
            },
          },
        },
      },
      scales: {
        x: { grid: { display: false }, ticks: { maxTicksLimit: 8, maxRotation: 0 } },
        y: { beginAtZero: true, grid: { color: COLORS.grid }, title: { display: true, text: 'elements' } },
      },
    },
  });
}

/** Diverging colours: blue for negative, red for positive, scaled by the largest |value|; NaN cells grey. */
export function drawHeatmap(canvas: HTMLCanvasElement, h: HeatmapView): void {
  let maxAbs = 0;
  for (const v of h.values) if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
  const img = new ImageData(h.cols, h.rows);
  for (let i = 0; i < h.values.length; i++) {
    const v = h.values[i];
    const p = i * 4;
    if (v !== v) {
      img.data.set([128, 128, 128, 255], p);
      continue;
    }
    const t = maxAbs > 0 ? Math.min(1, Math.abs(v) / maxAbs) : 0;
    const fade = Math.round(255 * (1 - t));
    img.data.set(v >= 0 ? [255, fade, fade, 255] : [fade, fade, 255, 255], p);
  }
  const small = document.createElement('canvas');
  small.width = h.cols;
  small.height = h.rows;
  small.getContext('2d')!.putImageData(img, 0, 0);
  // square cells, as wide as the panel allows and at most 256 px tall
  const avail = Math.max(64, canvas.parentElement?.clientWidth ?? 512);
  const cell = Math.min(avail / h.cols, 256 / h.rows);
  canvas.width = Math.max(1, Math.round(h.cols * cell));
  canvas.height = Math.max(1, Math.round(h.rows * cell));
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}
