/**
 * The options every line chart of the dashboard shares: points given as {x, y} (no parsing), no animation,
 * the nearest point's tooltip with `digits` decimals, LTTB decimation of long runs, legends in the theme's
 * text colour. Each chart adds its own scales.
 *
 *   new Chart(canvas, { type: 'line', data: { datasets: [] }, options: { ...lineOptions(text, 4), scales } });
 */
import type { ChartOptions } from 'chart.js';

export function lineOptions(text: string, digits: number): ChartOptions<'line'> {
  return {
    parsing: false,
    animation: false,
    normalized: true,
    maintainAspectRatio: false,
    interaction: { mode: 'nearest', intersect: false, axis: 'x' },
    plugins: {
      decimation: { enabled: true, algorithm: 'lttb', samples: 800, threshold: 2000 },
      legend: { labels: { color: text, boxWidth: 12 } },
      tooltip: {
        callbacks: { label: (c) => `${c.dataset.label}: ${(c.parsed.y as number).toFixed(digits)}` },
      },
    },
  };
}
