/**
 * The Checkpoint Inspector webview (safetensors checkpoints and ONNX models): summary, parameter tree,
 * a sortable, filterable tensor table, per-tensor stats with a histogram (chart.js) and a heatmap
 * (<canvas>), and the per-tensor relative change against another checkpoint. Data comes from the host.
 * A sharded checkpoint shows its shards in the summary and each tensor's shard in the table and detail;
 * a tied lm_head shows in the tree as "tied to model.embed_tokens.weight".
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type {
  CheckpointHostMessage,
  CheckpointOverview,
  CheckpointWebviewMessage,
  ComparisonView,
  ModuleRow,
  TensorDetail,
  TensorRow,
} from '../../src/protocol/checkpoint';
import { el } from '../common/dom';
import { hostBridge } from '../common/vscode';
import { drawHeatmap, renderHistogram } from './charts';
import { fmtBytes, fmtInt, fmtNum, fmtShape } from './format';

const host = hostBridge<CheckpointWebviewMessage, CheckpointHostMessage>();
const app = document.getElementById('app')!;

/** Rows of the tensor table rendered at most (the filter narrows the rest). */
const MAX_ROWS = 3000;

let overview: CheckpointOverview | undefined;
let sortKey: keyof Pick<TensorRow, 'name' | 'dtype' | 'elements' | 'bytes' | 'shard'> | 'shape' = 'name';
let sortDir: 1 | -1 = 1;
let naturalOrder = true;
let filterText = '';

const title = el('h1', { id: 'title' }, 'Checkpoint');
const actions = el('div', { class: 'toolbar ckpt-actions', id: 'actions' });
const banner = el('div', { id: 'banner', class: 'ckpt-banner', role: 'alert' });
banner.hidden = true;
const status = el('p', { id: 'status', class: 'status', 'data-state': 'idle' }, 'Reading the header…');
const summary = el('section', { id: 'summary', class: 'ckpt-section' });
const onnxSection = el('section', { id: 'onnx', class: 'ckpt-section' });
const comparison = el('section', { id: 'comparison', class: 'ckpt-section' });
const tree = el('section', { id: 'tree', class: 'ckpt-section' });
const tableSection = el('section', { id: 'tensors', class: 'ckpt-section' });
const detail = el('section', { id: 'detail', class: 'ckpt-section ckpt-detail', 'data-state': 'empty' });
for (const s of [onnxSection, comparison, tree, tableSection]) s.hidden = true;
detail.append(
  el(
    'p',
    { class: 'status' },
    'Click a tensor in the tree or the table to see its statistics, histogram and heatmap.',
  ),
);
app.append(
  el('header', { class: 'ckpt-header' }, title, actions),
  banner,
  status,
  el(
    'div',
    { class: 'ckpt-layout' },
    el('div', { class: 'ckpt-main' }, summary, onnxSection, comparison, tree, tableSection),
    el('aside', { class: 'ckpt-side' }, detail),
  ),
);

function setStatus(text: string, state: 'idle' | 'busy' | 'done' | 'error', ring = false): void {
  status.replaceChildren(...(ring ? [el('vscode-progress-ring', { class: 'ring' }), ' '] : []), text);
  status.dataset.state = state;
}

function button(id: string, label: string, onClick: () => void, secondary = false): HTMLElement {
  const b = el('vscode-button', { id, secondary });
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

/** A tensor name that may wrap after its dots (<wbr> adds no text, so innerText stays the name). */
function nameCell(name: string): HTMLElement {
  const td = el('td', { class: 'mono' });
  name.split('.').forEach((part, i, all) => {
    td.append(i < all.length - 1 ? `${part}.` : part);
    if (i < all.length - 1) td.append(el('wbr'));
  });
  return td;
}

function kvRow(label: string, value: Node | string, attrs: Record<string, string> = {}): HTMLElement {
  return el('tr', {}, el('th', {}, label), el('td', attrs, value));
}

function renderSummary(o: CheckpointOverview): void {
  const a = o.architecture;
  const shape = [
    a.nLayer !== undefined ? `n_layer ${a.nLayer}` : '',
    a.nHead !== undefined ? `n_head ${a.nHead}` : '',
    a.nEmbd !== undefined ? `n_embd ${a.nEmbd}` : '',
    a.nKvHead !== undefined && a.nKvHead !== a.nHead ? `kv heads ${a.nKvHead}` : '',
    a.vocabSize !== undefined ? `vocab ${fmtInt(a.vocabSize)}` : '',
    a.blockSize !== undefined ? `context ${fmtInt(a.blockSize)}` : '',
    a.intermediateSize !== undefined ? `mlp ${fmtInt(a.intermediateSize)}` : '',
    a.tiedEmbeddings === undefined ? '' : `lm_head ${a.tiedEmbeddings ? 'tied' : 'untied'}`,
  ]
    .filter(Boolean)
    .join(' · ');
  const rows: HTMLElement[] = [
    kvRow(
      'Architecture',
      el(
        'span',
        { id: 'architecture', 'data-family': a.family, title: a.evidence.join('\n') },
        a.label,
        shape ? el('span', { class: 'muted' }, ` — ${shape}`) : '',
      ),
    ),
    kvRow('Parameters', el('span', { id: 'param-count', 'data-value': o.params }, fmtInt(o.params))),
    kvRow(
      'Tensors',
      el('span', { id: 'tensor-count', 'data-value': o.tensors.length }, fmtInt(o.tensors.length)),
    ),
    kvRow(
      'Size',
      `${fmtBytes(o.bytes)} of tensor data · ${o.shards ? 'files' : 'file'} ${fmtBytes(o.fileBytes)}`,
    ),
    kvRow(
      'Dtypes',
      o.dtypes
        .map((d) => `${d.dtype}: ${fmtInt(d.tensors)} tensors, ${fmtInt(d.params)} parameters`)
        .join(' · ') || '—',
    ),
  ];
  if (o.shards)
    rows.push(
      kvRow(
        'Shards',
        el(
          'span',
          { id: 'shards', 'data-count': o.shards.files.length, title: o.shards.index },
          `${o.shards.files.length} files (${o.shards.index}): `,
          o.shards.files
            .map((f) => `${f.name}: ${fmtInt(f.tensors)} tensors, ${fmtBytes(f.bytes)}`)
            .join(' · '),
        ),
      ),
    );
  if (o.training) {
    const t = o.training;
    const parts = [
      t.step !== undefined ? `step ${fmtInt(t.step)}` : '',
      t.loss !== undefined ? `train loss ${t.loss.toFixed(4)}` : '',
      t.valLoss !== undefined ? `val loss ${t.valLoss.toFixed(4)}` : '',
      t.tokensSeen !== undefined ? `${fmtInt(t.tokensSeen)} tokens seen` : '',
    ].filter(Boolean);
    rows.push(kvRow('Training', el('span', { id: 'training', title: o.training.source }, parts.join(' · '))));
  }
  if (o.unsupported.length)
    rows.push(
      kvRow(
        'Not decoded',
        el(
          'span',
          { id: 'unsupported', class: 'warn' },
          `${o.unsupported.length} tensor(s) of dtypes LLM Lens lists but does not decode: ${o.unsupported.slice(0, 20).join(', ')}${o.unsupported.length > 20 ? ', …' : ''}`,
        ),
      ),
    );
  for (const w of o.warnings) rows.push(kvRow('Note', w));
  const meta = Object.entries(o.metadata);
  if (meta.length)
    rows.push(
      kvRow(
        'Metadata',
        meta.map(([k, v]) => `${k}: ${v.length > 200 ? `${v.slice(0, 200)}…` : v}`).join(' · '),
      ),
    );
  summary.replaceChildren(el('table', { class: 'kv' }, ...rows));
}

function renderOnnx(o: CheckpointOverview): void {
  const x = o.onnx;
  onnxSection.hidden = !x;
  if (!x) return;
  const io = (list: typeof x.inputs, id: string) =>
    el(
      'table',
      { class: 'ckpt-table', id },
      el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'Dtype'), el('th', {}, 'Shape'))),
      el(
        'tbody',
        {},
        ...list.map((v) =>
          el(
            'tr',
            { 'data-name': v.name },
            el('td', { class: 'mono' }, v.name),
            el('td', {}, v.dtype),
            el('td', { class: 'mono' }, `[${v.shape.join(', ')}]`),
          ),
        ),
      ),
    );
  onnxSection.replaceChildren(
    el('h2', {}, 'Graph'),
    el(
      'table',
      { class: 'kv' },
      kvRow(
        'Opsets',
        el('span', { id: 'opsets' }, x.opsets.map((s) => `${s.domain} ${s.version}`).join(' · ')),
      ),
      kvRow('IR version', String(x.irVersion)),
      kvRow('Producer', x.producer || '—'),
      kvRow('Nodes', `${fmtInt(x.nodeCount)}: ${x.opCounts.map((c) => `${c.op} × ${c.count}`).join(', ')}`, {
        id: 'op-counts',
      }),
    ),
    el('h3', {}, 'Inputs'),
    io(x.inputs, 'onnx-inputs'),
    el('h3', {}, 'Outputs'),
    io(x.outputs, 'onnx-outputs'),
  );
}

function renderTree(o: CheckpointOverview): void {
  const shardOf = new Map(o.tensors.flatMap((t) => (t.shard ? [[t.name, t.shard] as const] : [])));
  const node = (n: ModuleRow, depth: number): HTMLElement => {
    const bar = el(
      'span',
      { class: 'share-bar', title: `${(n.share * 100).toFixed(2)}% of all parameters` },
      el('span', { class: 'share-fill' }),
    );
    (bar.firstChild as HTMLElement).style.width = `${Math.max(0.5, n.share * 100)}%`;
    const info = el(
      'span',
      { class: 'tree-info' },
      el('span', { class: 'tree-params' }, fmtInt(n.params)),
      el('span', { class: 'tree-share' }, `${(n.share * 100).toFixed(1)}%`),
      bar,
    );
    if (n.note !== undefined && !n.children.length)
      return el(
        'div',
        { class: 'tree-leaf tree-note', 'data-path': n.path },
        el('span', { class: 'tree-name mono' }, n.name),
        el('span', { class: 'muted' }, ` ${n.note}`),
      );
    if (n.tensor !== undefined && !n.children.length) {
      const shard = shardOf.get(n.tensor);
      return el(
        'div',
        {
          class: 'tree-leaf',
          'data-name': n.tensor,
          role: 'button',
          tabindex: 0,
          title: shard ? `${n.tensor} (${shard})` : n.tensor,
        },
        el('span', { class: 'tree-name mono' }, n.name),
        info,
      );
    }
    const d = el(
      'details',
      { class: 'tree-node', 'data-path': n.path },
      el('summary', {}, el('span', { class: 'tree-name mono' }, n.name || o.fileName), info),
    );
    if (depth < 2) d.open = true;
    // children render on first open, so a 1,000-tensor tree costs nothing until looked at
    let filled = false;
    const fill = () => {
      if (filled || !d.open) return;
      filled = true;
      d.append(...n.children.map((c) => node(c, depth + 1)));
    };
    d.addEventListener('toggle', fill);
    fill();
    return d;
  };
  tree.replaceChildren(el('h2', {}, 'Parameters by module'), node(o.tree, 0));
  tree.hidden = false;
}

function sortedRows(rows: TensorRow[]): TensorRow[] {
  const terms = filterText.toLowerCase().split(/\s+/).filter(Boolean);
  const kept = rows.filter((r) =>
    terms.every((t) => r.name.toLowerCase().includes(t) || r.dtype.toLowerCase() === t),
  );
  if (naturalOrder) return kept;
  const key = (r: TensorRow): string | number =>
    sortKey === 'shape' ? r.shape.length * 1e15 + r.elements : (r[sortKey] ?? '');
  return kept.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === y) return a.name < b.name ? -1 : 1;
    return (x < y ? -1 : 1) * sortDir;
  });
}

/** The status line while a task runs, by task. */
const BUSY_TEXT: Record<'inspect' | 'compare' | 'export', (label: string) => string> = {
  inspect: (label) => `Reading ${label}…`,
  compare: (label) => `Comparing with ${label}…`,
  export: (label) => `Exporting to ${label}…`,
};

const ariaSort = (up: boolean) => (up ? 'ascending' : 'descending');
const sortArrow = (up: boolean) => (up ? ' ▲' : ' ▼');

function renderTable(): void {
  const o = overview;
  if (!o) return;
  const columns: Array<[typeof sortKey, string]> = [
    ['name', 'Name'],
    ['dtype', 'Dtype'],
    ['shape', 'Shape'],
    ['elements', 'Elements'],
    ['bytes', 'Bytes'],
    ...(o.shards ? [['shard', 'Shard'] as [typeof sortKey, string]] : []),
  ];
  const head = el(
    'tr',
    {},
    ...columns.map(([k, label]) => {
      const sorted = !naturalOrder && sortKey === k;
      const up = sortDir === 1;
      const th = el(
        'th',
        { 'data-sort': k, class: 'sortable', 'aria-sort': sorted ? ariaSort(up) : 'none' },
        label,
        sorted ? sortArrow(up) : '',
      );
      th.addEventListener('click', () => {
        if (!naturalOrder && sortKey === k) sortDir = sortDir === 1 ? -1 : 1;
        else {
          sortKey = k;
          sortDir = k === 'elements' || k === 'bytes' ? -1 : 1;
        }
        naturalOrder = false;
        renderTable();
      });
      return th;
    }),
  );
  const rows = sortedRows([...o.tensors]);
  const body = el(
    'tbody',
    {},
    ...rows.slice(0, MAX_ROWS).map((r) =>
      el(
        'tr',
        {
          class: `tensor-row${r.supported ? '' : ' unsupported'}`,
          'data-name': r.name,
          tabindex: 0,
          title: r.supported ? 'Show statistics' : `dtype ${r.dtype} is listed but not decoded`,
        },
        nameCell(r.name),
        el('td', {}, r.dtype),
        el('td', { class: 'mono' }, fmtShape(r.shape)),
        el('td', { class: 'num' }, fmtInt(r.elements)),
        el('td', { class: 'num' }, fmtBytes(r.bytes)),
        ...(o.shards ? [el('td', { class: 'mono', 'data-shard': r.shard ?? '' }, r.shard ?? '—')] : []),
      ),
    ),
  );
  const count = el(
    'span',
    { id: 'table-count', class: 'muted' },
    `${fmtInt(rows.length)} of ${fmtInt(o.tensors.length)} tensors${rows.length > MAX_ROWS ? ` (first ${fmtInt(MAX_ROWS)} shown: filter to see the rest)` : ''}`,
  );
  const table = el('table', { class: 'ckpt-table', id: 'tensor-table' }, el('thead', {}, head), body);
  const existing = tableSection.querySelector('#tensor-filter');
  if (existing) {
    tableSection.querySelector('#table-count')!.replaceWith(count);
    tableSection.querySelector('#tensor-table')!.replaceWith(table);
    return;
  }
  const filter = el('vscode-textfield', {
    id: 'tensor-filter',
    label: 'Filter tensors by name or dtype',
    placeholder: 'Filter by name or dtype (e.g. "attn weight", "bf16")',
  }) as HTMLElement & { value: string };
  filter.addEventListener('input', () => {
    filterText = filter.value;
    renderTable();
  });
  tableSection.replaceChildren(
    el('h2', {}, 'Tensors'),
    el('div', { class: 'toolbar' }, filter, count),
    table,
  );
  tableSection.hidden = false;
}

function renderActions(o: CheckpointOverview): void {
  const buttons: HTMLElement[] = [];
  if (o.kind === 'safetensors')
    buttons.push(button('compare', 'Compare with…', () => host.post({ type: 'compare' })));
  if (o.canExportHf)
    buttons.push(button('sample', 'Sample from this checkpoint', () => host.post({ type: 'sample' }), true));
  if (o.canContinue)
    buttons.push(
      button('continue-training', 'Continue training', () => host.post({ type: 'continueTraining' }), true),
    );
  if (o.canExportHf)
    buttons.push(button('export-hf', 'Export for Hugging Face', () => host.post({ type: 'exportHf' }), true));
  if (o.canExportHf)
    buttons.push(button('export-onnx', 'Export ONNX', () => host.post({ type: 'exportOnnx' }), true));
  actions.replaceChildren(...buttons);
}

function statCell(key: string, label: string, value: number | null, text?: string): HTMLElement {
  return el(
    'tr',
    {},
    el('th', {}, label),
    el(
      'td',
      { 'data-stat': key, 'data-value': value === null ? 'null' : String(value) },
      text ?? fmtNum(value),
    ),
  );
}

function renderDetail(d: TensorDetail): void {
  const s = d.stats;
  const nonFinite = s.nan + s.posInf + s.negInf;
  const stats = el(
    'table',
    { class: 'kv ckpt-stats', id: 'stats' },
    statCell('mean', 'Mean', s.mean),
    statCell('std', 'Std', s.std),
    statCell('min', 'Min', s.min),
    statCell('max', 'Max', s.max),
    statCell('l2', 'L2 norm', s.l2),
    statCell(
      'zeroFraction',
      'Zeros',
      s.zeroFraction,
      `${(s.zeroFraction * 100).toFixed(2)}% (${fmtInt(s.zeros)})`,
    ),
    statCell(
      'nonFinite',
      'NaN / Inf',
      nonFinite,
      `${fmtInt(s.nan)} NaN · ${fmtInt(s.posInf)} +Inf · ${fmtInt(s.negInf)} −Inf`,
    ),
  );
  const parts: Node[] = [
    el('h2', { class: 'mono', id: 'detail-name' }, d.name),
    el(
      'p',
      { class: 'muted', id: 'detail-meta', ...(d.shard ? { 'data-shard': d.shard } : {}) },
      `${d.dtype} ${fmtShape(d.shape)} · ${fmtInt(s.count)} elements${d.shard ? ` · in ${d.shard}` : ''} · ${d.ms} ms`,
    ),
    stats,
  ];
  const histCanvas = el('canvas', { id: 'histogram', role: 'img', 'aria-label': `Histogram of ${d.name}` });
  if (d.histogram) parts.push(el('h3', {}, 'Histogram'), el('div', { class: 'ckpt-chart' }, histCanvas));
  const heatCanvas = el('canvas', { id: 'heatmap', role: 'img', 'aria-label': `Heatmap of ${d.name}` });
  if (d.heatmap) {
    const h = d.heatmap;
    const note =
      h.rowBlock > 1 || h.colBlock > 1
        ? ` (each cell: the largest |value| of ${h.rowBlock} × ${h.colBlock})`
        : '';
    parts.push(
      el('h3', {}, 'Heatmap'),
      el(
        'p',
        { class: 'muted' },
        `${fmtInt(h.sourceRows)} × ${fmtInt(h.sourceCols)} shown as ${h.rows} × ${h.cols}${note}; blue < 0 < red`,
      ),
      heatCanvas,
    );
  }
  detail.replaceChildren(...parts);
  detail.dataset.state = 'done';
  detail.dataset.name = d.name;
  if (d.histogram) renderHistogram(histCanvas, d.histogram);
  if (d.heatmap) drawHeatmap(heatCanvas, d.heatmap);
  markSelected(d.name);
}

function markSelected(name: string): void {
  for (const e of app.querySelectorAll('.selected')) e.classList.remove('selected');
  for (const e of app.querySelectorAll<HTMLElement>('[data-name]'))
    if (e.dataset.name === name && e !== detail) e.classList.add('selected');
}

function renderComparison(c: ComparisonView): void {
  const max = Math.max(0, ...c.changes.map((x) => x.relChange ?? 0));
  const rows = c.changes.map((x, i) => {
    const bar = el('span', { class: 'share-bar' }, el('span', { class: 'share-fill change' }));
    (bar.firstChild as HTMLElement).style.width =
      `${max > 0 && x.relChange !== null ? Math.max(0.5, (x.relChange / max) * 100) : 0}%`;
    return el(
      'tr',
      {
        class: 'change-row',
        'data-name': x.name,
        'data-rel': x.relChange === null ? 'null' : String(x.relChange),
        tabindex: 0,
        title: `‖a‖ ${fmtNum(x.normA)} · ‖a − b‖ ${fmtNum(x.normDiff)} · max |a − b| ${fmtNum(x.maxAbsDiff)}`,
      },
      el('td', { class: 'num' }, String(i + 1)),
      nameCell(x.name),
      el('td', { class: 'num' }, x.display),
      el('td', {}, bar),
    );
  });
  const moved = c.changes.filter((x) => x.relChange !== 0).length;
  const extra: Node[] = [];
  if (c.onlyHere.length)
    extra.push(el('p', { class: 'muted' }, `Only in this checkpoint: ${c.onlyHere.join(', ')}`));
  if (c.onlyThere.length)
    extra.push(el('p', { class: 'muted' }, `Only in ${c.otherName}: ${c.onlyThere.join(', ')}`));
  if (c.incomparable.length)
    extra.push(
      el(
        'p',
        { class: 'muted' },
        `Not compared: ${c.incomparable.map((x) => `${x.name} (${x.reason})`).join(', ')}`,
      ),
    );
  comparison.replaceChildren(
    el(
      'h2',
      {},
      'Compared with ',
      el('span', { class: 'mono', id: 'compare-other', title: c.otherPath }, c.otherName),
    ),
    el(
      'p',
      { class: 'muted', id: 'compare-summary' },
      `${moved} of ${c.changes.length} shared tensors changed · relative change ‖a − b‖ / ‖a‖, a = this checkpoint (hover a row for the norms) · ${c.ms} ms`,
    ),
    el(
      'table',
      { class: 'ckpt-table', id: 'change-table' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, '#'),
          el('th', {}, 'Tensor'),
          el('th', {}, 'Relative change'),
          el('th', {}, ''),
        ),
      ),
      el('tbody', {}, ...rows),
    ),
    ...extra,
  );
  comparison.hidden = false;
}

function renderOpenError(fileName: string, message: string, code?: string): void {
  overview = undefined;
  title.textContent = fileName;
  actions.replaceChildren();
  for (const s of [onnxSection, comparison, tree, tableSection]) s.hidden = true;
  summary.replaceChildren(
    el(
      'div',
      { class: 'ckpt-error', id: 'open-error', 'data-code': code ?? '' },
      el('h2', {}, 'This file cannot be inspected'),
      el('p', { class: 'mono' }, message),
    ),
  );
  detail.replaceChildren();
  setStatus('', 'error');
}

app.addEventListener('click', (e) => {
  const t = (e.target as HTMLElement).closest<HTMLElement>('.tensor-row, .tree-leaf, .change-row');
  if (t?.dataset.name) host.post({ type: 'inspect', name: t.dataset.name });
});
app.addEventListener('keydown', (e) => {
  const t = (e.target as HTMLElement).closest<HTMLElement>('.tensor-row, .tree-leaf, .change-row');
  if (t?.dataset.name && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    host.post({ type: 'inspect', name: t.dataset.name });
  }
});

host.onMessage((m) => {
  switch (m.type) {
    case 'overview': {
      const o = (overview = m.overview);
      banner.hidden = true;
      title.textContent = o.fileName;
      title.title = o.path;
      renderActions(o);
      renderSummary(o);
      renderOnnx(o);
      renderTree(o);
      renderTable();
      comparison.hidden = true;
      detail.dataset.state = 'empty';
      setStatus(
        `Header read: ${fmtInt(o.tensors.length)} tensors. Tensor data is read when you open a tensor.`,
        'done',
      );
      break;
    }
    case 'openError':
      renderOpenError(m.fileName, m.message, m.code);
      break;
    case 'busy':
      if (m.task === 'inspect') {
        detail.dataset.state = 'busy';
        markSelected(m.label);
      }
      setStatus(BUSY_TEXT[m.task](m.label), 'busy', true);
      break;
    case 'tensor':
      renderDetail(m.detail);
      setStatus(`${m.detail.name}: read and summarized in ${m.detail.ms} ms.`, 'done');
      break;
    case 'comparison':
      renderComparison(m.comparison);
      setStatus(`Compared ${m.comparison.changes.length} tensors with ${m.comparison.otherName}.`, 'done');
      comparison.scrollIntoView({ block: 'start' });
      break;
    case 'taskError':
      if (m.task === 'inspect') detail.dataset.state = 'error';
      setStatus(m.message, 'error');
      break;
    case 'exported':
      setStatus(`Exported for Hugging Face to ${m.folder}: ${m.files.join(', ')}.`, 'done');
      break;
    case 'changedOnDisk':
      banner.replaceChildren(
        el('span', {}, 'This file changed on disk since it was opened. '),
        button('reload', 'Reload', () => host.post({ type: 'reload' })),
      );
      banner.hidden = false;
      break;
  }
});
host.post({ type: 'ready' });
