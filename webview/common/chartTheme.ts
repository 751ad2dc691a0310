/**
 * chart.js charts in VS Code's theme, and following it when it changes. Colours a panel takes from theme
 * variables come from themeColors, an object that is filled again when the theme changes; every chart's
 * options and datasets that still hold an old colour (or one with an alpha suffix, `${colour}55`) then get
 * the new one and are redrawn. What a chart does not colour itself gets the theme's text and border
 * colours as chart.js defaults. After each update a chart's canvas names the colours its text is drawn in
 * (data-ink, separated by ;: ticks, axis titles, legend), which the theme test measures against the page.
 *
 *   const COLORS = themeColors({ text: THEME.text, line: THEME.blue });
 *   new Chart(canvas, { … ticks: { color: COLORS.text } … });   // recoloured on a theme change
 *   onThemeChange(() => redraw());                                 // for what a panel draws itself
 */
import { Chart, type Plugin } from 'chart.js';

type Spec<K extends string> = Record<K, readonly [variable: string, fallback: string]>;

/** The theme variables charts use, each with the colour drawn where the theme does not define it. */
export const THEME = {
  blue: ['--vscode-charts-blue', '#3794ff'],
  green: ['--vscode-charts-green', '#89d185'],
  orange: ['--vscode-charts-orange', '#d18616'],
  purple: ['--vscode-charts-purple', '#b180d7'],
  red: ['--vscode-charts-red', '#f14c4c'],
  yellow: ['--vscode-charts-yellow', '#cca700'],
  text: ['--vscode-foreground', '#ccc'],
  muted: ['--vscode-descriptionForeground', '#888'],
  border: ['--vscode-panel-border', 'rgba(128,128,128,0.3)'],
  font: ['--vscode-font-family', 'sans-serif'],
} as const;

const read = (variable: string, fallback: string) =>
  getComputedStyle(document.body).getPropertyValue(variable).trim() || fallback;

/** Every live colour object, with the variables its keys come from. */
const live: { colours: Record<string, string>; spec: Spec<string> }[] = [];
const listeners: (() => void)[] = [];

/** An object of colours read from theme variables now, and read again whenever the theme changes. */
export function themeColors<K extends string>(spec: Spec<K>): Record<K, string> {
  const colours = {} as Record<K, string>;
  for (const k of Object.keys(spec) as K[]) colours[k] = read(spec[k][0], spec[k][1]);
  live.push({ colours, spec });
  follow();
  return colours;
}

/** Calls `fn` after the charts were recoloured for a new theme. */
export function onThemeChange(fn: () => void): void {
  listeners.push(fn);
  follow();
}

/** The colours a chart's text is drawn in, once resolved: its scales' ticks and titles, its legend. */
function ink(chart: Chart): string[] {
  const out = new Set<string>();
  const add = (c: unknown) => typeof c === 'string' && out.add(c);
  for (const scale of Object.values(chart.scales)) {
    const o = scale.options as {
      display?: unknown;
      ticks?: { color?: unknown };
      title?: { display?: boolean; color?: unknown };
    };
    if (o.display === false) continue;
    add(o.ticks?.color);
    if (o.title?.display) add(o.title.color);
  }
  const legend = (
    chart as unknown as { legend?: { options?: { display?: boolean; labels?: { color?: unknown } } } }
  ).legend?.options;
  if (legend?.display !== false) add(legend?.labels?.color);
  return [...out];
}

const inkPlugin: Plugin = {
  id: 'llmLensInk',
  afterUpdate(chart) {
    chart.canvas.dataset.ink = ink(chart).join(';');
  },
};

/** `value` with its old colours swapped for new ones, in place (objects, arrays, strings). */
function swap(value: unknown, swaps: Map<string, string>, depth = 0): unknown {
  if (typeof value === 'string') {
    const v = value.toLowerCase();
    const whole = swaps.get(v);
    if (whole) return whole;
    // a colour with an alpha suffix: `${colour}55`
    const m = /^(#[0-9a-f]{6})([0-9a-f]{2})$/.exec(v);
    const base = m && swaps.get(m[1]);
    return base && /^#[0-9a-f]{6}$/i.test(base) ? base + m[2] : value;
  }
  if (depth > 8 || !value || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return value;
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k === 'data' && Array.isArray(o[k])) continue; // a dataset's points
    const next = swap(o[k], swaps, depth + 1);
    if (next !== o[k]) o[k] = next;
  }
  return value;
}

/** Reads every live colour again; recolours the charts when some changed. */
function retheme(): void {
  const swaps = new Map<string, string>();
  for (const { colours, spec } of live)
    for (const k of Object.keys(spec)) {
      const now = read(spec[k][0], spec[k][1]);
      if (now !== colours[k]) swaps.set(colours[k].toLowerCase(), now);
      colours[k] = now;
    }
  if (!swaps.size) return;
  setDefaults();
  for (const chart of Object.values(Chart.instances)) {
    swap(chart.config.options, swaps);
    for (const d of chart.config.data.datasets) swap(d, swaps);
    chart.update('none');
  }
  for (const fn of listeners) fn();
}

let following = false;

/** Starts following the theme: VS Code changes the body's class and the variables on <html> together. */
function follow(): void {
  if (following) return;
  following = true;
  Chart.register(inkPlugin);
  let pending: ReturnType<typeof setTimeout> | undefined;
  const observer = new MutationObserver(() => {
    clearTimeout(pending);
    pending = setTimeout(retheme, 20);
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });
}

/** The text and border colours of what a chart does not colour itself. */
const DEFAULTS = themeColors({
  text: THEME.text,
  border: THEME.border,
});

function setDefaults(): void {
  Chart.defaults.color = DEFAULTS.text;
  Chart.defaults.borderColor = DEFAULTS.border;
}
setDefaults();
