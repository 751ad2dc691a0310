/**
 * Training dashboard: loss curves (train per step with EMA smoothing, train/val at evals, other runs
 * overlaid), learning rate and gradient norm, live stats, samples timeline, and run controls. An RL run
 * (its start event says stage rl) adds its reward, held-out pass@k and signal charts (rlCharts.ts) and the
 * Groups view of its sampled answers (groupsView.ts) in place of the samples.
 * A run trained elsewhere (`run.external`: TensorBoard, JSONL logs) sends `scalar` events: the tags that are
 * a train loss, val loss, learning rate or grad norm feed the same charts (smoothing, zoom, compare), every
 * other tag a chart of its own under "All scalars" (scalars.ts), its text summaries the samples timeline; it
 * has no controls, and says how many damaged records were skipped.
 * Charts use chart.js with LTTB decimation, so 100,000 points stay smooth; wheel zooms, drag pans; their
 * colours follow the theme (common/chartTheme.ts).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import {
  Chart,
  Decimation,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartDataset,
  type ScatterDataPoint,
} from 'chart.js';
import type {
  DashboardHostMessage,
  DashboardWebviewMessage,
  RunEvent,
  RunStatus,
  RunSummary,
} from '../../src/protocol/training';
import { themeColors, THEME } from '../common/chartTheme';
import { el } from '../common/dom';
import { hostBridge } from '../common/vscode';
import { lineOptions } from './chartOptions';
import { GroupsView } from './groupsView';
import { ema, line, RlCharts, tickLabel } from './rlCharts';
import { errorAfter } from './runError';
import { AllScalars } from './scalars';
import { ScalarStore } from './scalarStore';

Chart.register(
  LineController,
  ScatterController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
  Decimation,
);

type XAxis = 'step' | 'tokens' | 'time';
interface ViewState {
  runDir: string;
  xAxis: XAxis;
  log: boolean;
  smoothing: number;
}
type StepEvent = Extract<RunEvent, { kind: 'step' }>;
type EvalEvent = Extract<RunEvent, { kind: 'eval' }>;
type SampleEvent = Extract<RunEvent, { kind: 'sample' }>;
type TaskEvalEvent = Extract<RunEvent, { kind: 'taskEval' }>;
/** A point of a curve, at a step and a time (ms since the epoch). */
interface Pt {
  step: number;
  time: number;
  y: number;
}

const host = hostBridge<DashboardWebviewMessage, DashboardHostMessage, ViewState>();
const app = document.getElementById('app')!;
/** The charts' colours, from the theme and following it (chartTheme.ts). */
const COLORS = themeColors({
  train: THEME.blue,
  val: THEME.orange,
  evalTrain: THEME.green,
  lr: THEME.purple,
  grad: THEME.red,
  text: THEME.text,
  grid: THEME.border,
});
const COMPARE_COLORS = ['#4ec9b0', '#c586c0', '#dcdcaa', '#9cdcfe'];

const state: ViewState = { runDir: '', xAxis: 'step', log: false, smoothing: 0.6, ...host.getState() };
let run: RunSummary | undefined;
let status: RunStatus = 'unknown';
let maxIters = 0;
let params = 0;
let tokensPerStep = 0;
/** A fine-tuning run (its start event says stage sft). */
let sft = false;
/** An RL run (its start event says stage rl). */
let rl = false;
let startTime = 0;
const steps: StepEvent[] = [];
const evals: EvalEvent[] = [];
const samples: SampleEvent[] = [];
const taskEvals: TaskEvalEvent[] = [];
/** A run trained elsewhere: its scalars, and the damaged records its logs had. */
let external = false;
let damaged = 0;
const scalars = new ScalarStore();
let compare: { run: RunSummary; steps: StepEvent[]; train: Pt[]; val: Pt[] }[] = [];

// ---- layout ----
const title = el('h1', { id: 'run-name' }, 'Training');
const badge = el('vscode-badge', { id: 'run-status' }, '…');
const button = (
  id: string,
  label: string,
  action: Extract<DashboardWebviewMessage, { type: 'control' }>['action'],
) => {
  const b = el('vscode-button', { id, secondary: true }, label);
  b.addEventListener('click', () => host.post({ type: 'control', action }));
  return b;
};
const pauseBtn = button('pause', 'Pause', 'pause');
const resumeBtn = button('resume', 'Resume', 'resume');
const stopBtn = button('stop', 'Stop', 'stop');
/** Stop was clicked: the run ends after the steps under way (up to ~5 s), with a checkpoint. */
let stopRequested = false;
stopBtn.addEventListener('click', () => {
  stopRequested = true;
  renderStatus();
});
const ckptBtn = button('checkpoint', 'Save checkpoint now', 'checkpoint');
const resumeRunBtn = button('resume-run', 'Continue training', 'resumeRun');
const toolbar = el(
  'div',
  { class: 'toolbar' },
  pauseBtn,
  resumeBtn,
  stopBtn,
  ckptBtn,
  resumeRunBtn,
  button('compare', 'Compare…', 'compare'),
  button('reveal', 'Open run folder', 'reveal'),
);

const stat = (id: string, label: string) =>
  el(
    'div',
    { class: 'stat' },
    el('div', { class: 'stat-label' }, label),
    el('div', { class: 'stat-value', id: `stat-${id}` }, '–'),
  );
const stats = el(
  'div',
  { class: 'stats' },
  stat('step', 'step'),
  stat('loss', 'train loss'),
  stat('val', 'val loss'),
  stat('lr', 'learning rate'),
  stat('grad', 'grad norm'),
  stat('tps', 'tokens/s'),
  stat('eta', 'time left'),
  stat('elapsed', 'elapsed'),
  stat('answer-tokens', 'answer tokens / step'),
  stat('reward', 'reward'),
  stat('true-reward', 'true checker'),
  stat('pass1', 'held-out pass@1'),
  stat('zero-signal', 'zero-signal groups'),
  stat('answer-len', 'mean answer tokens'),
  stat('tokens', 'tokens seen'),
  stat('params', 'parameters'),
);

const xSelect = el(
  'select',
  { id: 'x-axis', 'aria-label': 'x axis' },
  el('option', { value: 'step' }, 'step'),
  el('option', { value: 'tokens' }, 'tokens seen'),
  el('option', { value: 'time' }, 'wall time (s)'),
) as HTMLSelectElement;
xSelect.value = state.xAxis;
const logBox = el('vscode-checkbox', { id: 'log-scale', label: 'Log scale' }) as HTMLElement & {
  checked: boolean;
};
logBox.checked = state.log;
const smooth = el('input', {
  id: 'smoothing',
  type: 'range',
  min: 0,
  max: 0.99,
  step: 0.01,
  value: state.smoothing,
  'aria-label': 'smoothing',
}) as HTMLInputElement;
const smoothLabel = el('span', { id: 'smoothing-value' }, state.smoothing.toFixed(2));
const resetZoom = el('vscode-button', { id: 'reset-zoom', secondary: true }, 'Reset zoom');
const chartControls = el(
  'div',
  { class: 'chart-controls' },
  el('label', {}, 'x: ', xSelect),
  logBox,
  el('label', {}, 'smoothing ', smooth, ' ', smoothLabel),
  resetZoom,
);

const lossCanvas = el('canvas', { id: 'loss-chart', role: 'img', 'aria-label': 'Loss chart: no points yet' });
const lrCanvas = el('canvas', {
  id: 'lr-chart',
  role: 'img',
  'aria-label': 'Learning rate chart: no points yet',
});

/** A chart's text for screen readers: each line's last point, e.g. "Loss chart: train at step 40: 2.31". */
function chartSummary(title: string, datasets: { label?: string; data: unknown[] }[], x: string): string {
  const parts = datasets.flatMap((d) => {
    const last = d.data[d.data.length - 1] as { x?: unknown; y?: unknown } | null | undefined;
    if (typeof last?.y !== 'number' || !Number.isFinite(last.y)) return [];
    return [`${d.label ?? ''} at ${x} ${String(last.x)}: ${Number(last.y.toPrecision(4))}`];
  });
  return `${title}: ${parts.length ? parts.join('; ') : 'no points yet'}`;
}
const sampleList = el('div', { id: 'samples', class: 'samples' });
const statusLine = el('p', { id: 'status', class: 'status' }, 'Loading…');
const damagedLine = el('p', { id: 'damaged', class: 'hint' });
damagedLine.hidden = true;
const rlCharts = new RlCharts(
  Object.assign(
    themeColors({
      reward: THEME.green,
      trueReward: THEME.orange,
      pass1: THEME.blue,
      passK: THEME.purple,
      zeroSignal: THEME.red,
      length: THEME.yellow,
      kl: THEME.purple,
      text: THEME.text,
      grid: THEME.border,
    }),
    { compare: COMPARE_COLORS },
  ),
);
rlCharts.element.hidden = true;
const groupsView = new GroupsView();
groupsView.clear();
const samplesSection = el(
  'section',
  { id: 'samples-section' },
  el('h2', {}, 'Samples'),
  el(
    'p',
    { class: 'hint' },
    'Newest first: watch gibberish become words. Click a sample to open it in the sampler.',
  ),
  sampleList,
);
app.append(
  el('header', { class: 'run-header' }, title, badge),
  toolbar,
  statusLine,
  damagedLine,
  stats,
  chartControls,
  rlCharts.element,
  el('div', { class: 'chart-box' }, lossCanvas),
  el('div', { class: 'chart-box small' }, lrCanvas),
  groupsView.element,
  samplesSection,
);
const allScalars = new AllScalars(
  themeColors({
    line: THEME.blue,
    text: THEME.text,
    grid: THEME.border,
  }),
  (chart) => zoomable(chart),
);
samplesSection.before(allScalars.element);

// ---- charts ----
function xOf(e: { step: number; time: number }): number {
  if (state.xAxis === 'step') return e.step;
  if (state.xAxis === 'tokens') return e.step * (tokensPerStep || 1);
  return (e.time - startTime) / 1000; // seconds
}

const baseScales = () => ({
  x: {
    type: 'linear' as const,
    title: { display: true, text: xSelect.selectedOptions[0]?.textContent ?? 'step', color: COLORS.text },
    ticks: { color: COLORS.text },
    grid: { color: COLORS.grid },
  },
});

const lossChart = new Chart(lossCanvas, {
  type: 'line',
  data: { datasets: [] },
  options: {
    ...lineOptions(COLORS.text, 4),
    scales: {
      ...baseScales(),
      y: {
        type: state.log ? 'logarithmic' : 'linear',
        title: { display: true, text: 'loss', color: COLORS.text },
        ticks: { color: COLORS.text, callback: tickLabel },
        grid: { color: COLORS.grid },
      },
    },
  },
});
const lrChart = new Chart(lrCanvas, {
  type: 'line',
  data: { datasets: [] },
  options: {
    parsing: false,
    animation: false,
    normalized: true,
    maintainAspectRatio: false,
    plugins: {
      decimation: { enabled: true, algorithm: 'lttb', samples: 500, threshold: 1000 },
      legend: { labels: { color: COLORS.text, boxWidth: 12 } },
    },
    scales: {
      ...baseScales(),
      lr: {
        type: 'linear',
        position: 'left',
        title: { display: true, text: 'learning rate', color: COLORS.text },
        ticks: { color: COLORS.text, callback: tickLabel },
        grid: { color: COLORS.grid },
      },
      grad: {
        type: 'linear',
        position: 'right',
        title: { display: true, text: 'grad norm', color: COLORS.text },
        ticks: { color: COLORS.text, callback: tickLabel },
        grid: { drawOnChartArea: false },
      },
    },
  },
});

/** The points of a native step field, or of the scalar tag that feeds it (a run trained elsewhere). */
function curve(key: 'loss' | 'lr' | 'gradNorm'): Pt[] {
  if (steps.length) return steps.map((e) => ({ step: e.step, time: e.time, y: e[key] }));
  return scalars.series(key).map((e) => ({ step: e.step, time: e.time, y: e.value }));
}

/** The held-out loss: the evals', or the val-loss tag's. */
function valCurve(): Pt[] {
  if (evals.length) return evals.map((e) => ({ step: e.step, time: e.time, y: e.valLoss }));
  return scalars.series('valLoss').map((e) => ({ step: e.step, time: e.time, y: e.value }));
}

function redraw(): void {
  const train = curve('loss');
  const raw = train.map((e) => ({ x: xOf(e), y: e.y }));
  const smoothed = ema(
    train.map((e) => e.y),
    state.smoothing,
  ).map((y, i) => ({ x: raw[i].x, y }));
  const datasets: ChartDataset<'line', ScatterDataPoint[]>[] = [
    line(`${lossName()} (raw)`, raw, `${COLORS.train}55`, { borderWidth: 1 }),
    line(lossName(), smoothed, COLORS.train, { borderWidth: 2 }),
  ];
  const val = valCurve();
  // an RL run has no held-out loss (its held-out score is pass@k, rlCharts.ts); a log draws the curves it has
  if (!rl && !external)
    datasets.push(
      line(
        'train loss (eval)',
        evals.map((e) => ({ x: xOf(e), y: e.trainLoss })),
        COLORS.evalTrain,
        { pointRadius: 3, showLine: true },
      ),
    );
  if (!rl && (!external || val.length))
    datasets.push(
      line(
        'val loss',
        val.map((e) => ({ x: xOf(e), y: e.y })),
        COLORS.val,
        { pointRadius: 3, showLine: true },
      ),
    );
  compare.forEach((c, i) => {
    const color = COMPARE_COLORS[i % COMPARE_COLORS.length];
    datasets.push(
      line(
        `${c.run.name} train`,
        ema(
          c.train.map((e) => e.y),
          state.smoothing,
        ).map((y, j) => ({ x: xOf(c.train[j]), y })),
        color,
        { borderDash: [6, 3] },
      ),
    );
    if (c.val.length)
      datasets.push(
        line(
          `${c.run.name} val`,
          c.val.map((e) => ({ x: xOf(e), y: e.y })),
          color,
          { pointRadius: 2, borderDash: [2, 2] },
        ),
      );
  });
  lossChart.data.datasets = datasets;
  const y = lossChart.options.scales!.y!;
  y.type = state.log ? 'logarithmic' : 'linear';
  (lossChart.options.scales!.x as { title: { text: string } }).title.text =
    xSelect.selectedOptions[0]?.textContent ?? 'step';
  lossChart.update('none');
  const xName = xSelect.selectedOptions[0]?.textContent ?? 'step';
  lossCanvas.setAttribute('aria-label', chartSummary('Loss chart', datasets, xName));
  lrChart.data.datasets = [
    line(
      'learning rate',
      curve('lr').map((e) => ({ x: xOf(e), y: e.y })),
      COLORS.lr,
      { yAxisID: 'lr' },
    ),
    line(
      'grad norm',
      curve('gradNorm').map((e) => ({ x: xOf(e), y: e.y })),
      COLORS.grad,
      { yAxisID: 'grad' },
    ),
  ];
  (lrChart.options.scales!.x as { title: { text: string } }).title.text =
    xSelect.selectedOptions[0]?.textContent ?? 'step';
  lrChart.update('none');
  lrCanvas.setAttribute(
    'aria-label',
    chartSummary('Learning rate and grad norm chart', lrChart.data.datasets, xName),
  );
  document.body.dataset.points = String(train.length);
  document.body.dataset.compare = compare.map((c) => c.run.name).join(',');
  document.body.dataset.evals = String(external ? valCurve().length : evals.length);
  if (external)
    allScalars.redraw({
      store: scalars,
      xOf,
      xTitle: xSelect.selectedOptions[0]?.textContent ?? 'step',
      smoothing: state.smoothing,
    });
  if (rl)
    rlCharts.redraw({
      steps,
      taskEvals,
      compare: compare.map((c) => ({ name: c.run.name, steps: c.steps })),
      xOf,
      xTitle: xSelect.selectedOptions[0]?.textContent ?? 'step',
      smoothing: state.smoothing,
    });
}

// wheel zoom and drag pan on the x axis of every chart, from any of them
const allCharts = () => [lossChart, lrChart, ...rlCharts.charts, ...allScalars.charts];
function setX(min: number | undefined, max: number | undefined): void {
  for (const c of allCharts()) {
    const x = c.options.scales!.x!;
    x.min = min;
    x.max = max;
    c.update('none');
  }
}
let drag: { chart: Chart; px: number; min: number; max: number } | undefined;
/** Wheel zoom and drag pan on this chart move the x axis of every chart. */
function zoomable(chart: Chart): void {
  const canvas = chart.canvas;
  canvas.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      const x = chart.scales.x;
      const at = x.getValueForPixel(e.offsetX) ?? 0;
      const k = e.deltaY < 0 ? 0.8 : 1.25;
      setX(at - (at - x.min) * k, at + (x.max - at) * k);
    },
    { passive: false },
  );
  canvas.addEventListener(
    'mousedown',
    (e) => (drag = { chart, px: e.offsetX, min: chart.scales.x.min, max: chart.scales.x.max }),
  );
  canvas.addEventListener('mousemove', (e) => {
    if (!drag || drag.chart !== chart) return;
    const perPx = (drag.max - drag.min) / chart.scales.x.width;
    const d = (e.offsetX - drag.px) * perPx;
    setX(drag.min - d, drag.max - d);
  });
}
for (const chart of [lossChart, ...rlCharts.charts]) zoomable(chart);
window.addEventListener('mouseup', () => (drag = undefined));
resetZoom.addEventListener('click', () => setX(undefined, undefined));
xSelect.addEventListener('change', () => {
  state.xAxis = xSelect.value as XAxis;
  save();
  setX(undefined, undefined);
  redraw();
});
logBox.addEventListener('change', () => {
  state.log = logBox.checked;
  save();
  redraw();
});
smooth.addEventListener('input', () => {
  state.smoothing = Number(smooth.value);
  smoothLabel.textContent = state.smoothing.toFixed(2);
  save();
  redraw();
});

function save(): void {
  host.setState(state);
}

/** The status line of a run in each state. */
const STATUS_TEXT: Record<RunStatus, string> = {
  running: 'Training…',
  paused: 'Paused: the run waits once the steps under way are done.',
  failed: 'The run failed.',
  finished: 'Finished.',
  stopped: 'Stopped.',
  unknown: '',
};

// ---- stats, samples, status ----
function fmtTime(ms: number): string {
  if (ms >= 3600e3) return `${(ms / 3600e3).toFixed(1)} h`;
  if (ms >= 60e3) return `${(ms / 60e3).toFixed(1)} min`;
  return `${Math.round(ms / 1000)} s`;
}
const setStat = (id: string, v: string) => (document.getElementById(`stat-${id}`)!.textContent = v);

/** A run trained elsewhere: the last value of each native series; what a log does not have stays hidden. */
function renderExternalStats(): void {
  const last = (key: 'loss' | 'valLoss' | 'lr' | 'gradNorm') => scalars.series(key).at(-1)?.value;
  const show = (id: string, on: boolean) =>
    (document.getElementById(`stat-${id}`)!.parentElement!.hidden = !on);
  for (const id of ['tps', 'eta', 'elapsed', 'tokens', 'params', 'answer-tokens']) show(id, false);
  for (const id of ['reward', 'true-reward', 'pass1', 'zero-signal', 'answer-len']) show(id, false);
  show('val', true);
  const step = scalars.lastStep();
  setStat('step', step !== undefined ? step.toLocaleString('en-US') : '0');
  setStat('loss', last('loss')?.toFixed(4) ?? '–');
  setStat('val', last('valLoss')?.toFixed(4) ?? '–');
  setStat('lr', last('lr')?.toExponential(2) ?? '–');
  setStat('grad', last('gradNorm')?.toFixed(3) ?? '–');
}

function renderStats(): void {
  if (external) return renderExternalStats();
  for (const id of ['tps', 'eta', 'elapsed', 'tokens', 'params'])
    document.getElementById(`stat-${id}`)!.parentElement!.hidden = false;
  const s = steps.at(-1);
  const ev = evals.at(-1);
  setStat(
    'step',
    s ? `${s.step.toLocaleString('en-US')}${maxIters ? ` / ${maxIters.toLocaleString('en-US')}` : ''}` : '0',
  );
  setStat('loss', s ? s.loss.toFixed(4) : '–');
  setStat('val', ev ? ev.valLoss.toFixed(4) : '–');
  setStat('lr', s ? s.lr.toExponential(2) : '–');
  setStat('grad', s ? s.gradNorm.toFixed(3) : '–');
  setStat('tps', s ? Math.round(s.tokPerSec).toLocaleString('en-US') : '–');
  setStat('eta', s && (status === 'running' || status === 'paused') ? fmtTime(s.etaMs) : '–');
  setStat('elapsed', s ? fmtTime(s.elapsedMs) : '–');
  setStat('tokens', s ? s.tokensSeen.toLocaleString('en-US') : '0');
  setStat('params', params ? `${(params / 1e6).toFixed(2)}M` : '–');
  // fine-tuning: only the assistant's tokens carry loss
  const answerTokens = document.getElementById('stat-answer-tokens')!.parentElement!;
  answerTokens.hidden = s?.lossTokens === undefined;
  setStat('answer-tokens', s?.lossTokens?.toLocaleString('en-US') ?? '–');
  renderRlStats(s);
}

/** RL: reward, true checker, held-out pass@1, zero-signal share and answer length; the val loss goes. */
function renderRlStats(s: StepEvent | undefined): void {
  const show = (id: string, on: boolean) =>
    (document.getElementById(`stat-${id}`)!.parentElement!.hidden = !on);
  for (const id of ['reward', 'pass1', 'zero-signal', 'answer-len']) show(id, rl);
  show('true-reward', rl && s?.trueReward !== undefined);
  show('val', !rl);
  if (!rl) return;
  const te = taskEvals.at(-1);
  setStat('reward', s?.reward?.toFixed(3) ?? '–');
  setStat('true-reward', s?.trueReward?.toFixed(3) ?? '–');
  setStat('pass1', te ? `${te.correct}/${te.total}` : '–');
  setStat('zero-signal', s?.zeroSignal !== undefined ? `${Math.round(100 * s.zeroSignal)}%` : '–');
  setStat('answer-len', s?.answerTokens?.toFixed(1) ?? '–');
}

/** Shows what a run of this stage has: RL charts and groups, or samples. */
/** What the loss of this run is: an RL run's is the policy-gradient loss. */
function lossName(): string {
  return rl ? 'policy loss' : 'train loss';
}

function renderStage(): void {
  document.querySelector('#stat-loss')!.previousElementSibling!.textContent = lossName();
  document.body.dataset.stage = (rl && 'rl') || (sft && 'sft') || 'pretrain';
  rlCharts.element.hidden = !rl;
  samplesSection.hidden = rl;
}

function addSample(e: SampleEvent): void {
  const item = el(
    'div',
    { class: 'sample', 'data-step': e.step, tabindex: 0, role: 'button', title: 'Open in the sampler' },
    el(
      'div',
      { class: 'sample-step' },
      `${e.tag ? `${e.tag} · ` : ''}step ${e.step.toLocaleString('en-US')}`,
    ),
    // fine-tuning samples answer a held-out prompt: the question, then the answer
    ...(sft
      ? [el('div', { class: 'sample-prompt' }, `> ${e.prompt}`), el('pre', { class: 'sample-text' }, e.text)]
      : [el('pre', { class: 'sample-text' }, e.prompt + e.text)]),
  );
  item.addEventListener('click', () => host.post({ type: 'openSample', step: e.step }));
  sampleList.prepend(item);
}

function renderStatus(message?: string): void {
  badge.textContent = status;
  badge.dataset.status = status;
  // a run trained elsewhere has no process here to steer
  const live = !external && (status === 'running' || status === 'paused');
  pauseBtn.hidden = !live || status !== 'running';
  resumeBtn.hidden = !live || status !== 'paused';
  stopBtn.hidden = !live;
  if (!live) stopRequested = false;
  if (stopRequested) stopBtn.setAttribute('disabled', '');
  else stopBtn.removeAttribute('disabled');
  ckptBtn.hidden = !live;
  // an RL run cannot be resumed yet (the Runs view's Resume says so)
  resumeRunBtn.hidden = live || rl || external || !(run?.checkpoints.length ?? 0);
  document.body.dataset.status = status;
  const stopping = 'Stopping after the steps under way, with a checkpoint…';
  const text = external ? externalText() : STATUS_TEXT[status];
  statusLine.textContent = message ?? (stopRequested ? stopping : text);
  damagedLine.hidden = damaged === 0;
  damagedLine.textContent = `${damaged} damaged record${damaged === 1 ? '' : 's'} skipped`;
  document.body.dataset.damaged = String(damaged);
}

/** The status line of a run trained elsewhere. */
function externalText(): string {
  const what = run?.external?.format === 'jsonl' ? 'a JSONL log' : 'TensorBoard event files';
  return `Trained elsewhere: read from ${what}${status === 'running' ? ', which are still growing' : ''}.`;
}

/** The run's error, until it starts again (runError.ts). */
let error: string | undefined;

/** The status line: the run's error while it stands, else its status. */
function renderRunStatus(): void {
  renderStatus(error);
  if (error === undefined) delete statusLine.dataset.state;
  else statusLine.dataset.state = 'error';
}

function ingest(events: RunEvent[]): void {
  for (const e of events) {
    switch (e.kind) {
      case 'start':
        maxIters = e.maxIters;
        params = e.params;
        tokensPerStep = e.tokensPerStep;
        sft = e.stage === 'sft';
        rl = e.stage === 'rl';
        renderStage();
        if (!startTime) startTime = e.time;
        break;
      case 'step':
        // a resumed run replays from its checkpoint: drop the steps it will redo
        while (steps.length && steps[steps.length - 1].step >= e.step) steps.pop();
        steps.push(e);
        break;
      case 'eval':
        evals.push(e);
        break;
      case 'sample':
        samples.push(e);
        addSample(e);
        if (!startTime && e.time) startTime = e.time;
        break;
      case 'taskEval':
        while (taskEvals.length && taskEvals[taskEvals.length - 1].step >= e.step) taskEvals.pop();
        taskEvals.push(e);
        break;
      case 'groups':
        groupsView.add(e);
        break;
      case 'scalar':
        scalars.add(e);
        if (!startTime && e.time) startTime = e.time;
        break;
    }
  }
  groupsView.render();
}

/** A compared run's curves: its steps and evals, or the train- and val-loss tags of a run trained elsewhere. */
function compareOf(r: RunSummary, events: RunEvent[]): (typeof compare)[number] {
  const cs = events.filter((e): e is StepEvent => e.kind === 'step');
  const ce = events.filter((e): e is EvalEvent => e.kind === 'eval');
  const store = new ScalarStore();
  for (const e of events) if (e.kind === 'scalar') store.add(e);
  const pts = (s: 'loss' | 'valLoss') =>
    store.series(s).map((e) => ({ step: e.step, time: e.time, y: e.value }));
  return {
    run: r,
    steps: cs,
    train: cs.length ? cs.map((e) => ({ step: e.step, time: e.time, y: e.loss })) : pts('loss'),
    val: ce.length ? ce.map((e) => ({ step: e.step, time: e.time, y: e.valLoss })) : pts('valLoss'),
  };
}

host.onMessage((m) => {
  switch (m.type) {
    case 'init':
      run = m.run;
      state.runDir = m.run.runDir;
      save();
      steps.length = evals.length = samples.length = taskEvals.length = 0;
      sampleList.replaceChildren();
      groupsView.clear();
      scalars.clear();
      allScalars.clear();
      external = m.run.external !== undefined;
      damaged = m.run.external?.damaged ?? 0;
      startTime = 0;
      sft = false;
      rl = false;
      renderStage();
      title.textContent = m.run.name;
      status = m.run.status;
      ingest(m.events);
      error = errorAfter(undefined, m.events);
      compare = m.compare.map((c) => compareOf(c.run, c.events));
      renderRunStatus();
      renderStats();
      redraw();
      break;
    case 'events':
      status = m.status;
      ingest(m.events);
      error = errorAfter(error, m.events);
      renderRunStatus();
      renderStats();
      redraw();
      break;
    case 'status':
      status = m.status;
      if (m.damaged !== undefined) damaged = m.damaged;
      if (run) run.checkpoints.length = m.checkpoints;
      renderStatus(m.message ?? error);
      renderStats();
      break;
  }
});
host.post({ type: 'ready' });
