/**
 * The dashboard's charts of an RL run: the reward per step (and the true checker's share on the same chart
 * when a reward model is in the loop, so a learned reward that climbs while the true score falls shows),
 * held-out pass@1 and pass@k, and the share of zero-signal groups with the mean answer length and the KL
 * to the starting model. Smoothing and the x axis are the dashboard's; compared RL runs overlay their reward.
 *
 *   const charts = new RlCharts(theme);          // charts.element goes into the page
 *   charts.redraw({ steps, taskEvals, compare, xOf, xTitle, smoothing });
 */
import { Chart, Ticks, type ChartDataset, type Scale, type ScatterDataPoint } from 'chart.js';
import type { RunEvent } from '../../src/protocol/training';
import { el } from '../common/dom';
import { lineOptions } from './chartOptions';
import { tickText } from './tickText';

/**
 * A y-axis label: four significant digits on a linear scale (chart.js writes a flat curve's ticks as
 * 0.10000000000000003), chart.js's own labels on a log scale (which leave out the minor ticks).
 */
export function tickLabel(
  this: Scale,
  value: number | string,
  index: number,
  ticks: { value: number }[],
): string {
  if (this.type === 'logarithmic')
    return Ticks.formatters.logarithmic.call(this, Number(value), index, ticks);
  return tickText(value);
}

type StepEvent = Extract<RunEvent, { kind: 'step' }>;
type TaskEvalEvent = Extract<RunEvent, { kind: 'taskEval' }>;
type Line = ChartDataset<'line', ScatterDataPoint[]>;

export interface RlTheme {
  reward: string;
  trueReward: string;
  pass1: string;
  passK: string;
  zeroSignal: string;
  length: string;
  kl: string;
  text: string;
  grid: string;
  compare: readonly string[];
}

export interface RlChartData {
  steps: readonly StepEvent[];
  taskEvals: readonly TaskEvalEvent[];
  compare: readonly { name: string; steps: readonly StepEvent[] }[];
  xOf: (e: { step: number; time: number }) => number;
  xTitle: string;
  smoothing: number;
}

/** TensorBoard's debiased exponential moving average. */
export function ema(values: readonly number[], a: number): number[] {
  const out: number[] = [];
  let last = 0;
  let weight = 0;
  for (const v of values) {
    last = last * a + (1 - a) * v;
    weight = weight * a + (1 - a);
    out.push(last / weight);
  }
  return out;
}

export function line(
  label: string,
  data: ScatterDataPoint[],
  color: string,
  extra: Partial<Line> = {},
): Line {
  return {
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 1.5,
    pointRadius: 0,
    indexAxis: 'x',
    ...extra,
  } as Line;
}

/** The steps that have `key`, as raw points and as smoothed points. */
function series(
  steps: readonly StepEvent[],
  key: 'reward' | 'trueReward' | 'zeroSignal' | 'answerTokens' | 'kl',
  d: RlChartData,
): { raw: ScatterDataPoint[]; smooth: ScatterDataPoint[] } {
  const have = steps.filter((e) => typeof e[key] === 'number');
  const raw = have.map((e) => ({ x: d.xOf(e), y: e[key]! }));
  const smooth = ema(
    raw.map((p) => p.y),
    d.smoothing,
  ).map((y, i) => ({ x: raw[i].x, y }));
  return { raw, smooth };
}

export class RlCharts {
  readonly element: HTMLElement;
  readonly charts: Chart[];
  private readonly reward: Chart;
  private readonly heldout: Chart;
  private readonly signal: Chart;

  constructor(private readonly theme: RlTheme) {
    const canvas = (id: string, label: string) =>
      el('canvas', { id, role: 'img', 'aria-label': label }) as HTMLCanvasElement;
    const rewardCanvas = canvas('reward-chart', 'Reward per step');
    const heldoutCanvas = canvas('heldout-chart', 'Held-out pass@1 and pass@k');
    const signalCanvas = canvas('signal-chart', 'Zero-signal share, answer length and KL');
    this.element = el(
      'section',
      { id: 'rl-charts', 'aria-label': 'RL charts' },
      el('div', { class: 'chart-box' }, rewardCanvas),
      el('div', { class: 'chart-box small', id: 'heldout-box' }, heldoutCanvas),
      el('div', { class: 'chart-box small' }, signalCanvas),
    );
    const axis = (text: string, color: string, extra: object = {}) => ({
      type: 'linear' as const,
      title: { display: true, text, color },
      ticks: { color: theme.text, callback: tickLabel },
      grid: { color: theme.grid },
      ...extra,
    });
    const make = (c: HTMLCanvasElement, scales: Record<string, object>) =>
      new Chart(c, {
        type: 'line',
        data: { datasets: [] },
        options: { ...lineOptions(theme.text, 3), scales: { x: axis('step', theme.text), ...scales } },
      });
    this.reward = make(rewardCanvas, { y: axis('reward', theme.text, { suggestedMin: 0, suggestedMax: 1 }) });
    this.heldout = make(heldoutCanvas, { y: axis('held-out share right', theme.text, { min: 0, max: 1 }) });
    this.signal = make(signalCanvas, {
      y: axis('zero-signal share', theme.text, { min: 0, max: 1 }),
      len: axis('answer tokens', theme.text, { position: 'right', grid: { drawOnChartArea: false } }),
      kl: axis('KL', theme.text, { position: 'right', grid: { drawOnChartArea: false } }),
    });
    this.charts = [this.reward, this.heldout, this.signal];
  }

  redraw(d: RlChartData): void {
    const t = this.theme;
    const reward = series(d.steps, 'reward', d);
    const truth = series(d.steps, 'trueReward', d);
    const rewardSets: Line[] = [
      line('reward (raw)', reward.raw, `${t.reward}55`, { borderWidth: 1 }),
      line('reward', reward.smooth, t.reward, { borderWidth: 2 }),
    ];
    if (truth.raw.length)
      rewardSets.push(
        line('true checker (raw)', truth.raw, `${t.trueReward}55`, { borderWidth: 1 }),
        line('true checker', truth.smooth, t.trueReward, { borderWidth: 2, borderDash: [5, 3] }),
      );
    d.compare.forEach((c, i) => {
      const s = series(c.steps, 'reward', d);
      if (s.raw.length)
        rewardSets.push(
          line(`${c.name} reward`, s.smooth, t.compare[i % t.compare.length], { borderDash: [6, 3] }),
        );
    });
    this.reward.data.datasets = rewardSets;

    const evalPoint = (e: TaskEvalEvent, n: number) => ({ x: d.xOf(e), y: e.total ? n / e.total : 0 });
    const withK = d.taskEvals.filter((e) => e.k !== undefined && e.k > 1 && e.correctAtK !== undefined);
    this.heldout.data.datasets = [
      line(
        'pass@1 (greedy)',
        d.taskEvals.map((e) => evalPoint(e, e.correct)),
        t.pass1,
        { pointRadius: 3, showLine: true },
      ),
      ...(withK.length
        ? [
            line(
              `pass@${withK.at(-1)!.k}`,
              withK.map((e) => evalPoint(e, e.correctAtK!)),
              t.passK,
              { pointRadius: 3, showLine: true, borderDash: [4, 2] },
            ),
          ]
        : []),
    ];

    const kl = series(d.steps, 'kl', d);
    this.signal.data.datasets = [
      line('zero-signal share', series(d.steps, 'zeroSignal', d).smooth, t.zeroSignal, { yAxisID: 'y' }),
      line('mean answer tokens', series(d.steps, 'answerTokens', d).smooth, t.length, { yAxisID: 'len' }),
      ...(kl.raw.length ? [line('KL to start', kl.smooth, t.kl, { yAxisID: 'kl' })] : []),
    ];
    (this.signal.options.scales!.kl as { display: boolean }).display = kl.raw.length > 0;
    // no held-out evaluations (evalInterval 0, or none yet): no empty chart
    this.heldout.canvas.parentElement!.hidden = d.taskEvals.length === 0;
    for (const c of this.charts) {
      (c.options.scales!.x as { title: { text: string } }).title.text = d.xTitle;
      c.update('none');
    }
    // what the reward chart draws, for tests and screen readers' neighbours: its curves and their last values
    const lastOf = (label: string) => rewardSets.find((s) => s.label === label)?.data.at(-1)?.y;
    document.body.dataset.rewardCurves = rewardSets.map((s) => s.label).join(',');
    document.body.dataset.rewardLast = String(lastOf('reward (raw)') ?? '');
    document.body.dataset.trueRewardLast = String(lastOf('true checker (raw)') ?? '');
    document.body.dataset.rewardPoints = String(reward.raw.length);
    document.body.dataset.trueRewardPoints = String(truth.raw.length);
    document.body.dataset.taskEvals = String(d.taskEvals.length);
  }
}
