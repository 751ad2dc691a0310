/**
 * The inspection of one universe's text: a layer × head grid of attention thumbnails (under grouped-query
 * attention the query heads that share a key/value head stand together, a gap between groups, each head
 * labelled with its kv group); a click opens the head large (query × key, token labels, hover readout); clicking a token in the strip below shows what
 * it attends to over the text ("from this token"); and the logit lens table (rows layers, columns positions).
 */
import type { InspectionView } from '../../src/protocol/sampler';
import { el } from '../common/dom';
import { tokenKeys } from '../common/tokenKeys';
import { cellAt, drawAttention, drawThumb, visible, weightScale, type AttentionLayout } from './heatmap';
import { kvGroupOf } from './kvGroups';

/** Columns of the logit lens table: the last positions (a wide table stays readable). */
const LENS_COLUMNS = 96;

export class InspectPanel {
  private view: InspectionView | undefined;
  private head:
    { layer: number; head: number; n: number; weights: Float32Array; layout: AttentionLayout } | undefined;
  private query: number | undefined;
  private readonly grid = el('div', {
    id: 'att-grid',
    class: 'att-grid',
    role: 'group',
    'aria-label': 'Attention heads, layer by layer: Tab to a head, Enter opens its map',
  });
  private readonly big = el('canvas', {
    id: 'att-big',
    class: 'att-big',
    role: 'img',
    'aria-labelledby': 'att-title',
  });
  private readonly bigTitle = el('p', { id: 'att-title', class: 'status' });
  private readonly hover = el('p', { id: 'att-hover', class: 'status' }, ' ');
  private readonly strip = el('div', {
    id: 'att-text',
    class: 'att-text',
    role: 'group',
    'aria-label': 'The prompt as tokens: arrow keys move, Enter shows what a token attends to',
  });
  private readonly stripKeys = tokenKeys(this.strip);
  private readonly lens = el('div', { id: 'lens', class: 'lens' });

  constructor(
    private readonly root: HTMLElement,
    private readonly openHead: (layer: number, head: number) => void,
  ) {
    this.big.addEventListener('mousemove', (e) => this.onHover(e));
    this.big.addEventListener('click', (e) => {
      const c = this.head && cellAt(this.big, this.head.layout, e.clientX, e.clientY);
      if (c) this.fromToken(c.q);
    });
  }

  show(view: InspectionView): void {
    this.view = view;
    this.head = undefined;
    this.query = undefined;
    this.renderGrid(view);
    this.renderStrip(view);
    this.renderLens(view);
    this.bigTitle.textContent = 'Click a head for its full query × key map.';
    this.big.width = 0;
    this.root.replaceChildren(
      el(
        'h3',
        {},
        `Attention (${view.nLayer} layers × ${view.nHead} heads${groupsNote(view)}, ${view.ids.length} tokens${view.offset ? `: the last ${view.ids.length}` : ''}, ${view.ms.toFixed(0)} ms)`,
      ),
      this.grid,
      this.bigTitle,
      el('div', { class: 'att-big-box' }, this.big),
      this.hover,
      el('h4', {}, 'From this token: click a token (or a row of the map) to see what it attends to'),
      this.strip,
      el('h3', {}, 'Logit lens: the top next-token guess after each layer'),
      this.lens,
    );
  }

  private renderGrid(v: InspectionView): void {
    const cells: HTMLElement[] = [el('div', { class: 'att-corner' })];
    const groups = Array.from({ length: v.nHead }, (_, h) => kvGroupOf(h, v.nHead, v.nKvHead));
    const grouped = v.nKvHead < v.nHead;
    const start = (h: number) => (groups[h].starts ? ' kv-start' : '');
    for (let h = 0; h < v.nHead; h++)
      cells.push(
        el(
          'div',
          { class: `att-label${start(h)}`, 'data-kv-group': groups[h].group },
          `head ${h}`,
          ...(grouped ? [el('br'), el('small', {}, `kv ${groups[h].group}`)] : []),
        ),
      );
    for (let l = 0; l < v.nLayer; l++) {
      cells.push(el('div', { class: 'att-label' }, `layer ${l}`));
      for (let h = 0; h < v.nHead; h++) {
        const g = groups[h];
        const shared = grouped ? ` (query heads ${g.first}–${g.last} share its keys and values)` : '';
        const c = el('canvas', {
          class: `thumb${start(h)}`,
          'data-layer': l,
          'data-head': h,
          'data-kv-group': g.group,
          title: `layer ${l}, ${g.label}${shared}`,
          tabindex: 0,
          role: 'button',
          'aria-label': `Open the attention map of layer ${l}, ${g.label}${shared}`,
        });
        c.addEventListener('keydown', (e) => {
          if (e.key !== 'Enter' && e.key !== ' ') return;
          e.preventDefault();
          this.openHead(l, h);
        });
        drawThumb(c, v.thumbs, (l * v.nHead + h) * v.size * v.size, v.size);
        c.addEventListener('click', () => this.openHead(l, h));
        cells.push(c);
      }
    }
    // a group's first head gets a wider column, its cells at the right: a gap between key/value groups
    this.grid.style.gridTemplateColumns = `auto ${groups.map((g) => (g.starts ? '76px' : '64px')).join(' ')}`;
    this.grid.replaceChildren(...cells);
  }

  /** The large map of one head (the host answered samplerAttention). */
  showHead(layer: number, head: number, n: number, weights: Float32Array): void {
    if (!this.view) return;
    const { layout, ms } = drawAttention(this.big, weights, n, this.view.texts);
    this.head = { layer, head, n, weights, layout };
    this.big.dataset.layer = String(layer);
    this.big.dataset.head = String(head);
    this.big.dataset.renderMs = ms.toFixed(1);
    const g = kvGroupOf(head, this.view.nHead, this.view.nKvHead);
    const shared =
      this.view.nKvHead < this.view.nHead ? ` (keys and values shared by heads ${g.first}–${g.last})` : '';
    this.bigTitle.textContent = `Layer ${layer}, ${g.label}${shared}: rows are queries, columns keys (${n} × ${n}, colour on a log scale from 0.0001 to 1, drawn in ${ms.toFixed(0)} ms)`;
    for (const t of this.grid.querySelectorAll('.thumb'))
      t.classList.toggle(
        'selected',
        (t as HTMLElement).dataset.layer === String(layer) &&
          (t as HTMLElement).dataset.head === String(head),
      );
    if (this.query !== undefined) this.fromToken(this.query);
  }

  private onHover(e: MouseEvent): void {
    const h = this.head;
    const v = this.view;
    const c = h && v && cellAt(this.big, h.layout, e.clientX, e.clientY);
    if (!c || !h || !v) return;
    const w = h.weights[c.q * h.n + c.k];
    this.hover.textContent = `query ${c.q} ${JSON.stringify(v.texts[c.q])} → key ${c.k} ${JSON.stringify(v.texts[c.k])}: ${w.toFixed(4)}`;
    this.hover.dataset.weight = String(w);
  }

  private renderStrip(v: InspectionView): void {
    this.strip.replaceChildren(
      ...v.texts.map((t, i) => {
        const s = el('span', { class: 'tok', 'data-pos': i, title: `position ${i + v.offset}` }, t);
        s.addEventListener('click', () => this.fromToken(i));
        return s;
      }),
    );
    this.stripKeys.reset();
  }

  /** Colours the text by how much token q attends to each token (in the open head, else layer 0 head 0). */
  fromToken(q: number): void {
    this.query = q;
    const v = this.view;
    if (!v) return;
    if (!this.head) {
      this.openHead(0, 0);
      return;
    }
    const { weights, n } = this.head;
    const spans = this.strip.children;
    for (let j = 0; j < spans.length; j++) {
      const s = spans[j] as HTMLElement;
      const w = j <= q ? weights[q * n + j] : 0;
      s.style.setProperty('--w', weightScale(w).toFixed(3)); // the tint: .att-text .tok.attended in the CSS
      s.classList.toggle('attended', j !== q);
      s.classList.toggle('query', j === q);
      s.title = `position ${j + v.offset}: ${j <= q ? w.toFixed(4) : 'in the future'}`;
    }
  }

  private renderLens(v: InspectionView): void {
    const n = v.ids.length;
    const k = v.lens.k;
    const first = Math.max(0, n - LENS_COLUMNS);
    const head = el(
      'tr',
      {},
      el('th', {}, 'layer \\ input'),
      ...v.texts
        .slice(first)
        .map((t, i) => el('th', { title: `position ${first + i + v.offset}` }, visible(t))),
    );
    const rows: HTMLElement[] = [];
    for (let r = 0; r <= v.nLayer; r++) {
      const cells = [el('th', {}, r === 0 ? 'embed' : `after block ${r - 1}`)];
      for (let i = first; i < n; i++) {
        const at = (r * n + i) * k;
        const id = v.lens.ids[at];
        const p = v.lens.probs[at];
        const alts = Array.from(
          { length: k },
          (_, j) =>
            `${JSON.stringify(v.lens.texts[v.lens.ids[at + j]])} ${(v.lens.probs[at + j] * 100).toFixed(1)}%`,
        ).join(', ');
        cells.push(
          el(
            'td',
            { class: 'lens-cell', title: alts, 'data-p': p, style: `--p: ${p.toFixed(3)}` },
            visible(v.lens.texts[id] ?? String(id)),
            el('small', {}, ` ${(p * 100).toFixed(0)}%`),
          ),
        );
      }
      rows.push(el('tr', {}, ...cells));
    }
    this.lens.replaceChildren(
      ...(first ? [el('p', { class: 'status' }, `Showing the last ${LENS_COLUMNS} of ${n} positions.`)] : []),
      el(
        'table',
        {
          id: 'lens-table',
          class: 'lens-table',
          'aria-label': 'Logit lens: rows are layers, columns positions',
        },
        el('thead', {}, head),
        el('tbody', {}, ...rows),
      ),
    );
  }
}

/** ", in 2 key/value groups of 2" under grouped-query attention, else nothing. */
function groupsNote(v: InspectionView): string {
  return v.nKvHead < v.nHead ? ` in ${v.nKvHead} key/value groups of ${v.nHead / v.nKvHead}` : '';
}
