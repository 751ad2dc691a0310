/**
 * The Tokens panel: the text as coloured token spans (whitespace made visible, partial UTF-8 tokens as
 * bytes, special tokens marked), counts, a tokenizer picker, compare mode (2–4 side by side), hover
 * details, click-to-select in the editor, and the ids as a copyable list. Renders lazily, in chunks.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import {
  CHAT_ROLES,
  type ChatViewColumn,
  type ChatViewResult,
  TOKEN_PARTIAL,
  TOKEN_SPECIAL,
  type TokenizeHostMessage,
  type TokenizeResult,
  type TokenizerChoice,
  type TokenizeView,
  type TokenizeWebviewMessage,
} from '../../src/protocol/tokenize';
import { el } from '../common/dom';
import { tokenKeys } from '../common/tokenKeys';
import { hostBridge } from '../common/vscode';

const host = hostBridge<TokenizeWebviewMessage, TokenizeHostMessage>();
const app = document.getElementById('app')!;

/** Tokens rendered per chunk; more are appended as the user scrolls. */
const CHUNK = 4000;
const MAX_IDS_SHOWN = 20_000;

let choices: TokenizerChoice[] = [];
let selected: string[] = [];
let compare = false;
let view: TokenizeView | undefined;

const pickers = el('div', { class: 'pickers', id: 'pickers' });
const compareBox = el('vscode-checkbox', { id: 'compare', label: 'Compare' }) as HTMLElement & {
  checked: boolean;
};
compareBox.addEventListener('change', () => host.post({ type: 'compare', on: compareBox.checked }));
const source = el('p', { id: 'source', class: 'status' });
const status = el(
  'p',
  { id: 'status', class: 'status', 'data-state': 'idle', role: 'status', 'aria-live': 'polite' },
  'Select text in an editor and run LLM Lens: Tokenize Selection.',
);
const results = el('main', { id: 'results', class: 'results' });
const tooltip = el('div', { id: 'tooltip', class: 'tooltip', role: 'tooltip' });
tooltip.hidden = true;
const chatInput = el('textarea', {
  id: 'chat-input',
  class: 'chat-input',
  rows: 2,
  'aria-label': 'Conversation to show as fine-tuning sees it: one JSONL line with "messages"',
  placeholder:
    'Paste a JSONL line {"messages": [{"role": …, "content": …}, …]} to see it as the model is fine-tuned on it',
}) as HTMLTextAreaElement;
const chatButton = el('vscode-button', { id: 'chat-show', secondary: true }, 'Show conversation');
chatButton.addEventListener('click', () => host.post({ type: 'chat', text: chatInput.value }));
const chatBar = el(
  'details',
  { class: 'chat-bar' },
  el('summary', {}, 'Conversation'),
  chatInput,
  chatButton,
);
app.append(
  el('header', { class: 'toolbar' }, pickers, compareBox),
  chatBar,
  source,
  status,
  results,
  tooltip,
);

function renderPickers(): void {
  const makeSelect = (index: number, value: string) => {
    const select = el('vscode-single-select', {
      class: 'picker',
      'data-index': index,
      'aria-label': `Tokenizer ${index + 1}`,
    }) as HTMLElement & { value: string };
    for (const c of choices) {
      const opt = el('vscode-option', { value: c.key, description: c.description }, c.label);
      if (c.key === value) opt.setAttribute('selected', '');
      select.append(opt);
    }
    select.addEventListener('change', () => {
      const keys = [...selected];
      keys[index] = select.value;
      host.post({ type: 'select', keys: [...new Set(keys)] });
    });
    return select;
  };
  const nodes: Node[] = selected.map((k, i) => {
    const wrap = el('span', { class: 'picker-wrap' }, makeSelect(i, k));
    if (compare && selected.length > 2) {
      const remove = el(
        'vscode-button',
        { secondary: true, class: 'remove', title: 'Remove from comparison', 'aria-label': 'Remove' },
        '×',
      );
      remove.addEventListener('click', () =>
        host.post({ type: 'select', keys: selected.filter((_, j) => j !== i) }),
      );
      wrap.append(remove);
    }
    return wrap;
  });
  if (compare && selected.length < 4 && selected.length < choices.length) {
    const add = el('vscode-button', { secondary: true, id: 'add-tokenizer' }, 'Add tokenizer');
    add.addEventListener('click', () => {
      const next = choices.find((c) => !selected.includes(c.key));
      if (next) host.post({ type: 'select', keys: [...selected, next.key] });
    });
    nodes.push(add);
  }
  pickers.replaceChildren(...nodes);
  compareBox.checked = compare;
}

/** The visible stand-in of each whitespace character. */
const WHITESPACE_MARKS: Record<string, string | undefined> = { ' ': '·', '\t': '→', '\n': '↵', '\r': '␍' };

/** How a token's text looks: spaces, tabs and line breaks made visible. */
function visibleText(s: string, into: HTMLElement): void {
  let plain = '';
  const flush = () => {
    if (plain) into.append(plain);
    plain = '';
  };
  for (const ch of s) {
    const mark = WHITESPACE_MARKS[ch];
    if (mark === undefined) {
      plain += ch;
      continue;
    }
    flush();
    into.append(el('span', { class: 'ws' }, mark));
    if (ch === '\n') into.append(el('br'));
  }
  flush();
}

function tokenSpan(r: TokenizeResult, text: string, i: number): HTMLElement {
  const f = r.flags[i];
  const span = el('span', {
    class: `tok c${i % 6}${f & TOKEN_PARTIAL ? ' partial' : ''}${f & TOKEN_SPECIAL ? ' special' : ''}`,
    'data-i': i,
  });
  if (f & TOKEN_PARTIAL) span.textContent = `⟨${r.bytesHex[r.ids[i]]}⟩`;
  else if (r.ends[i] === r.starts[i]) {
    // a token with no place in the text (e.g. [UNK], or one the tokenizer inserted): show its own text
    span.classList.add('unplaced');
    span.textContent = `⟨${tokenText(r, i)}⟩`;
  } else visibleText(text.slice(r.starts[i], r.ends[i]), span);
  return span;
}

/** A token's own text, decoded from its bytes. */
function tokenText(r: TokenizeResult, i: number): string {
  const hex = r.bytesHex[r.ids[i]] ?? '';
  const bytes = Uint8Array.from(
    hex
      .split(' ')
      .filter(Boolean)
      .map((h) => parseInt(h, 16)),
  );
  return new TextDecoder().decode(bytes);
}

function renderResult(r: TokenizeResult, text: string): HTMLElement {
  const n = r.ids.length;
  const chars = r.chars;
  const counts = el(
    'div',
    { class: 'counts' },
    el('span', { class: 'count', 'data-count': 'tokens' }, n.toLocaleString('en-US')),
    ' tokens · ',
    el('span', { 'data-count': 'chars' }, chars.toLocaleString('en-US')),
    ' characters · ',
    el('span', { 'data-count': 'bytes' }, r.bytes.toLocaleString('en-US')),
    ' bytes · ',
    el('span', { 'data-count': 'ratio' }, n ? (chars / n).toFixed(2) : '–'),
    ' characters per token',
    el('span', { class: 'ms' }, ` · ${r.ms.toFixed(0)} ms`),
  );
  const tokens = el('div', {
    class: 'tokens',
    'data-key': r.key,
    role: 'group',
    'aria-label': `${r.name}: ${n} tokens. Tab to the tokens, arrow keys move between them, Enter selects one in the editor.`,
  });
  let rendered = 0;
  const sentinel = el('div', { class: 'sentinel' });
  let pos = 0; // end of the text shown so far: text no token covers (e.g. dropped by a normalizer) is shown dimmed
  const more = () => {
    const frag = document.createDocumentFragment();
    const end = Math.min(n, rendered + CHUNK);
    for (let i = rendered; i < end; i++) {
      if (r.starts[i] > pos) {
        const gap = el('span', { class: 'gap', title: 'not part of any token' });
        visibleText(text.slice(pos, r.starts[i]), gap);
        frag.append(gap);
      }
      frag.append(tokenSpan(r, text, i));
      pos = Math.max(pos, r.ends[i]);
    }
    if (end === n && pos < text.length) {
      const gap = el('span', { class: 'gap', title: 'not part of any token' });
      visibleText(text.slice(pos), gap);
      frag.append(gap);
    }
    rendered = end;
    sentinel.before(frag);
    sentinel.textContent = rendered < n ? `… ${(n - rendered).toLocaleString('en-US')} more tokens` : '';
    if (rendered >= n) observer.disconnect();
  };
  tokens.append(sentinel);
  const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && more(), {
    rootMargin: '600px',
  });
  more();
  if (rendered < n) observer.observe(sentinel);
  tokenKeys(tokens, {
    onFocus: (span) => showTokenDetails(span, r, text),
    more: () => {
      const before = rendered;
      if (rendered < n) more();
      return rendered > before;
    },
  }).reset();
  tokens.addEventListener('focusout', () => (tooltip.hidden = true));

  tokens.addEventListener('mousemove', (e) => showTooltip(e, r, text));
  tokens.addEventListener('mouseleave', () => (tooltip.hidden = true));
  tokens.addEventListener('click', (e) => {
    const i = tokenIndex(e.target);
    if (i !== undefined) host.post({ type: 'reveal', start: r.starts[i], end: r.ends[i] });
  });

  const shown =
    Array.from(r.ids.subarray(0, MAX_IDS_SHOWN)).join(', ') +
    (n > MAX_IDS_SHOWN ? `, … (${(n - MAX_IDS_SHOWN).toLocaleString('en-US')} more: use Copy ids)` : '');
  const copy = el('vscode-button', { secondary: true, class: 'copy-ids' }, 'Copy ids');
  copy.addEventListener('click', () => host.post({ type: 'copyIds', key: r.key }));
  const ids = el(
    'details',
    { class: 'ids' },
    el('summary', {}, `Token ids (${n.toLocaleString('en-US')})`),
    copy,
    el('pre', { class: 'id-list' }, `[${shown}]`),
  );

  const title = el(
    'h2',
    {},
    r.name,
    el('span', { class: 'vocab' }, ` · vocabulary ${r.vocabSize.toLocaleString('en-US')}`),
  );
  return el('section', { class: 'result', 'data-key': r.key }, title, counts, tokens, ids);
}

function tokenIndex(target: EventTarget | null): number | undefined {
  const t = (target as HTMLElement | null)?.closest?.('.tok') as HTMLElement | null;
  return t ? Number(t.dataset.i) : undefined;
}

function showTooltip(e: MouseEvent, r: TokenizeResult, text: string): void {
  const i = tokenIndex(e.target);
  if (i === undefined) {
    tooltip.hidden = true;
    return;
  }
  fillTooltip(r, text, i);
  placeTooltip(e.clientX, e.clientY);
}

/** The tooltip beside a token focused by keyboard, which it describes to screen readers too. */
function showTokenDetails(span: HTMLElement, r: TokenizeResult, text: string): void {
  const i = tokenIndex(span);
  if (i === undefined) return;
  fillTooltip(r, text, i);
  span.setAttribute('aria-describedby', 'tooltip');
  const box = span.getBoundingClientRect();
  placeTooltip(box.left, box.bottom - 8);
}

/** A token's id, bytes and text. */
function fillTooltip(r: TokenizeResult, text: string, i: number): void {
  const f = r.flags[i];
  const decoded =
    f & TOKEN_PARTIAL
      ? '(part of a multi-byte character)'
      : JSON.stringify(text.slice(r.starts[i], r.ends[i]));
  tooltip.replaceChildren(
    el(
      'div',
      {},
      el('b', {}, `id ${r.ids[i]}`),
      f & TOKEN_SPECIAL ? ' · special token' : '',
      ` · token ${i + 1} of ${r.ids.length}`,
    ),
    el('div', {}, 'bytes ', el('code', {}, r.bytesHex[r.ids[i]] ?? '')),
    el('div', {}, 'text ', el('code', {}, decoded)),
  );
  tooltip.hidden = false;
}

/** Shows the tooltip below and right of (x, y), kept inside the window. */
function placeTooltip(clientX: number, clientY: number): void {
  const x = Math.min(clientX + 12, window.innerWidth - tooltip.offsetWidth - 8);
  const y =
    clientY + 16 + tooltip.offsetHeight > window.innerHeight
      ? clientY - tooltip.offsetHeight - 8
      : clientY + 16;
  tooltip.style.left = `${Math.max(4, x)}px`;
  tooltip.style.top = `${Math.max(4, y)}px`;
}

function renderView(v: TokenizeView): void {
  view = v;
  source.textContent = v.source.label;
  results.className = `results cols-${v.results.length}`;
  results.replaceChildren(...v.results.map((r) => renderResult(r, v.text)));
  const slowest = Math.max(...v.results.map((r) => r.ms));
  status.textContent = `Encoded in ${slowest < 1 ? '<1' : slowest.toFixed(0)} ms. Hover a token, or Tab to the tokens and use the arrow keys, for its id and bytes; click it or press Enter to select it in the editor.`;
  status.dataset.state = 'done';
}

/** A conversation: tokens coloured by their turn's role, special tokens marked, those carrying loss underlined. */
function renderChatResult(r: ChatViewResult): HTMLElement {
  const tokens = el('div', {
    class: 'tokens chat',
    'data-key': r.key,
    role: 'group',
    'aria-label': `${r.name}: ${r.ids.length} tokens of the conversation. Arrow keys move between them.`,
  });
  for (let i = 0; i < r.ids.length; i++) {
    const role = CHAT_ROLES[r.roles[i]];
    const span = el('span', {
      class: `tok role-${role}${r.special[i] ? ' special' : ''}${r.weights[i] ? ' loss' : ''}`,
      'data-i': i,
      'data-role': role,
      title: [`id ${r.ids[i]}`, role, r.special[i] && 'special token', r.weights[i] && 'carries loss']
        .filter(Boolean)
        .join(' · '),
    });
    visibleText(r.texts[i], span);
    tokens.append(span);
  }
  const n = r.ids.length;
  const counts = el(
    'div',
    { class: 'counts' },
    el('span', { class: 'count', 'data-count': 'tokens' }, n.toLocaleString('en-US')),
    ' tokens · ',
    el('span', { 'data-count': 'loss' }, r.lossTokens.toLocaleString('en-US')),
    " carry loss (underlined: the assistant's answers and their <|im_end|>)",
  );
  const legend = el(
    'div',
    { class: 'legend' },
    ...CHAT_ROLES.map((role) => el('span', { class: `tok role-${role}` }, role)),
    el('span', { class: 'tok loss' }, 'loss'),
  );
  tokenKeys(tokens, { onActivate: () => undefined }).reset();
  const title = el('h2', {}, r.name);
  return el('section', { class: 'result chat-result', 'data-key': r.key }, title, counts, legend, tokens);
}

/** The conversation as each selected tokenizer renders it (side by side in compare mode). */
function renderChat(label: string, columns: ChatViewColumn[]): void {
  view = undefined;
  source.textContent = label;
  results.className = `results cols-${columns.length}`;
  results.replaceChildren(
    ...columns.map((c) =>
      'error' in c
        ? el(
            'section',
            { class: 'result chat-result', 'data-key': c.key, 'data-state': 'error' },
            el('h2', {}, c.name),
            el('p', { class: 'status', 'data-state': 'error' }, c.error),
          )
        : renderChatResult(c),
    ),
  );
  const slowest = Math.max(...columns.map((c) => ('error' in c ? 0 : c.ms)));
  status.textContent = `Rendered as ChatML in ${slowest < 1 ? '<1' : slowest.toFixed(0)} ms.`;
  status.dataset.state = 'done';
}

host.onMessage((m) => {
  switch (m.type) {
    case 'choices':
      choices = m.choices;
      selected = m.selected;
      compare = m.compare;
      renderPickers();
      break;
    case 'busy':
      status.replaceChildren(el('vscode-progress-ring', { class: 'ring' }), ` Tokenizing ${m.label}…`);
      status.dataset.state = 'busy';
      break;
    case 'view':
      renderView(m.view);
      break;
    case 'chat':
      renderChat(m.label, m.results);
      break;
    case 'error':
      status.textContent = m.message;
      status.dataset.state = 'error';
      if (!view) results.replaceChildren();
      break;
  }
});
host.post({ type: 'ready' });
