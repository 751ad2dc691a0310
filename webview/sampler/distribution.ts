/**
 * One generated position's distribution: a chart.js bar chart of the top 20 tokens (after the sampling
 * transform, with the raw model's probability beside it; the chosen token highlighted) and a table of
 * the same numbers whose rows branch the generation (the chosen token gets a last row of its own when
 * it is not among them), in the theme's colours. The box becomes a labelled region; closeDistribution
 * empties it.
 *
 *   renderDistribution(box, step, 'Universe #1, token 3', (tokenId) => branch(tokenId));
 *   closeDistribution(box); // Escape
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import type { SampledToken } from '../../src/protocol/sampler';
import { themeColors, THEME } from '../common/chartTheme';
import { el } from '../common/dom';
import { visible } from './heatmap';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

let chart: Chart | undefined;

/** The chart's colours, from the theme and following it (common/chartTheme.ts). */
const COLORS = themeColors({
  sampled: THEME.blue,
  chosen: THEME.orange,
  model: THEME.muted,
  grid: THEME.border,
});

const pct = (p: number) => `${(p * 100).toFixed(p >= 0.1 ? 1 : 2)}%`;

export function renderDistribution(
  box: HTMLElement,
  step: SampledToken,
  position: string,
  onBranch: (tokenId: number) => void,
): void {
  chart?.destroy();
  const top = step.top
    .slice(0, 5)
    .map((t) => `${JSON.stringify(t.text)} ${pct(t.p)}`)
    .join(', ');
  const canvas = el('canvas', {
    id: 'dist-chart',
    role: 'img',
    'aria-label': `Top ${step.top.length} next-token probabilities; the first: ${top}`,
  });
  const info = el(
    'p',
    { class: 'dist-info', id: 'dist-info' },
    `${position}: chose ${JSON.stringify(step.text)} (id ${step.id}) with p ${pct(step.prob)} (model ${pct(step.rawProb)}, rank ${step.rank}, logit ${step.logit.toFixed(3)}); `,
    `entropy ${step.entropy.toFixed(3)} nats (sampled from ${step.sampledEntropy.toFixed(3)})${step.forced ? ' — chosen by hand' : ''}`,
  );
  const rows = step.top.map((t) =>
    el(
      'tr',
      {
        class: `dist-row${t.id === step.id ? ' chosen' : ''}`,
        'data-id': t.id,
        'data-p': t.p,
        'data-raw': t.raw,
        'data-logit': t.logit,
      },
      el('td', { class: 'tok-cell' }, visible(t.text)),
      el('td', { class: 'num' }, pct(t.p)),
      el('td', { class: 'num' }, t.raw !== undefined ? pct(t.raw) : ''),
      el('td', { class: 'num' }, t.logit.toFixed(3)),
      el('td', {}, branchButton(t.id, JSON.stringify(t.text), t.id === step.id, onBranch)),
    ),
  );
  const table = el(
    'table',
    { id: 'dist-table', class: 'dist-table', 'aria-label': `Top ${step.top.length} next tokens` },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', {}, 'token'),
        el('th', {}, 'p (sampled)'),
        el('th', {}, 'p (model)'),
        el('th', {}, 'logit'),
        el('th', {}, ''),
      ),
    ),
    el('tbody', {}, ...rows, ...(step.top.some((t) => t.id === step.id) ? [] : [outsideRow(step)])),
  );
  const hint = el(
    'p',
    { class: 'hint' },
    'A row’s branch button continues the text with that token instead. Escape closes the distribution.',
  );
  box.setAttribute('role', 'region');
  box.setAttribute('aria-label', `Next-token distribution: ${position}`);
  box.replaceChildren(info, hint, el('div', { class: 'chart-box' }, canvas), table);
  chart = new Chart(canvas, {
    type: 'bar',
    data: {
      labels: step.top.map((t) => visible(t.text)),
      datasets: [
        {
          label: 'p (sampled)',
          data: step.top.map((t) => t.p),
          backgroundColor: step.top.map((t) => (t.id === step.id ? COLORS.chosen : COLORS.sampled)),
        },
        { label: 'p (model)', data: step.top.map((t) => t.raw ?? 0), backgroundColor: COLORS.model },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      onClick: (_e, items) => items[0] && onBranch(step.top[items[0].index].id),
      plugins: {
        tooltip: {
          callbacks: {
            afterLabel: (item) =>
              `logit ${step.top[item.dataIndex].logit.toFixed(3)}, id ${step.top[item.dataIndex].id}`,
          },
        },
      },
      scales: {
        y: {
          beginAtZero: true,
          suggestedMax: 0.1,
          grid: { color: COLORS.grid },
        },
        x: { grid: { display: false } },
      },
    },
  });
}

/** Closes the distribution: its chart destroyed, the box emptied. */
export function closeDistribution(box: HTMLElement): void {
  chart?.destroy();
  chart = undefined;
  box.removeAttribute('aria-label');
  box.removeAttribute('role');
  box.replaceChildren();
}

/** The chosen token's row when it is not in the top list (an unlikely draw): its numbers and rank. */
function outsideRow(step: SampledToken): HTMLElement {
  return el(
    'tr',
    {
      class: 'chosen outside',
      'data-id': step.id,
      'data-p': step.prob,
      'data-raw': step.rawProb,
      'data-logit': step.logit,
      title: `not in the top ${step.top.length}: rank ${step.rank} under the model`,
    },
    el('td', { class: 'tok-cell' }, visible(step.text)),
    el('td', { class: 'num' }, pct(step.prob)),
    el('td', { class: 'num' }, pct(step.rawProb)),
    el('td', { class: 'num' }, step.logit.toFixed(3)),
    el('td', {}, `rank ${step.rank}`),
  );
}

function branchButton(
  id: number,
  label: string,
  chosen: boolean,
  onBranch: (id: number) => void,
): HTMLElement {
  const b = el(
    'vscode-button',
    {
      secondary: true,
      class: 'branch',
      'data-id': id,
      title: 'Continue the text from here with this token',
      'aria-label': chosen ? `${label}: the token drawn` : `Branch: continue the text with ${label}`,
    },
    chosen ? 'chosen' : 'branch',
  );
  if (chosen) b.setAttribute('disabled', '');
  else b.addEventListener('click', () => onBranch(id));
  return b;
}
