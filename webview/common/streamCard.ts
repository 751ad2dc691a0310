/**
 * A streamed generation as a card: header (label, token count and speed or why it ended, buttons) over
 * its text as token spans, each tinted by the probability it was drawn with. The Sampler's universes
 * and the Chat panel's answers are these. A tool's output, which the sampler put into the context (not
 * drawn), is a block inside the text: the tool's name, its input, the time it took, and the output's
 * tokens (class `tool-out`, not clickable); an error output is styled as one. The drawn tokens are one
 * keyboard tab stop (tokenKeys): arrow keys move between them, Enter or Space activates one as a click does.
 *
 *   const card = streamCard({ 'data-universe': 3 }, '#3 seed 1340', [inspectButton]);
 *   card.append(tokens, (index, byKey) => select(index, byKey));
 *   card.rate(42); card.finish('maxTokens');
 */
import type { SampledToken } from '../../src/protocol/sampler';
import { el } from './dom';
import { tokenKeys } from './tokenKeys';

export interface StreamCard {
  tokens: SampledToken[];
  box: HTMLElement;
  text: HTMLElement;
  meta: HTMLElement;
  /**
   * Adds token spans (class `tok gen`, `data-index`); `onClick` gets a drawn token's index, and whether it
   * was activated from the keyboard (Enter or Space). The tokens of a tool's output go into their call's
   * block (`.tool-call`) with class `tool-out`.
   */
  append(
    tokens: SampledToken[],
    onClick: (index: number, byKey: boolean) => void,
    cls?: (t: SampledToken) => string,
  ): void;
  /** Makes the drawn token at `index` the text's tab stop and focuses it. */
  focus(index: number): void;
  /** Shows the count and the speed while it runs. */
  rate(tokPerSec: number): void;
  /** Marks it done (data-state) with why it ended. */
  finish(reason: string): void;
  readonly running: boolean;
}

/** A token's text as a span; the empty string shows as ∅. */
export function tokenSpan(
  text: string,
  cls: string,
  attrs: Record<string, string | number> = {},
): HTMLElement {
  return el('span', { class: `tok ${cls}`, ...attrs }, text === '' ? '∅' : text);
}

/** The drawn tokens of a card's text: what a click or the keyboard acts on (a tool's output is not drawn). */
const DRAWN = '.tok.gen:not(.tool-out)';

/** Title of a token a tool put into the context. */
export const TOOL_OUT_TITLE = 'put into the context by the tool (not drawn)';

/** The special tokens of a tool call, which sampling emits as single tokens (the ChatML tool tokens). */
const TOOL_SPECIALS = new Set(['<|tool_start|>', '<|tool_end|>', '<|output_start|>', '<|output_end|>']);

/** ' special' for a token of a tool call's markup. */
export const toolSpecial = (t: SampledToken): string => (TOOL_SPECIALS.has(t.text) ? ' special' : '');

/** A time in ms as people read it: 0.4 ms, 38 ms, 1.2 s. */
export function duration(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The block of one tool call: its header, then an empty output row that the forced tokens fill. */
function toolBlock(call: NonNullable<SampledToken['tool']>): { block: HTMLElement; output: HTMLElement } {
  const output = el('div', { class: 'tool-output', title: TOOL_OUT_TITLE });
  const block = el(
    'div',
    {
      class: 'tool-call',
      'data-tool': call.name,
      'data-ok': String(call.ok),
      title: `${call.name}(${call.input}) → ${call.output}`,
    },
    el(
      'div',
      { class: 'tool-head' },
      el('span', { class: 'tool-name' }, call.name || '(no name)'),
      el('code', { class: 'tool-input' }, call.input),
      el('span', { class: 'tool-status' }, call.ok ? 'ok' : 'error'),
      el('span', { class: 'tool-ms' }, duration(call.ms)),
    ),
    output,
  );
  return { block, output };
}

export function streamCard(
  attrs: Record<string, string | number>,
  label: string,
  buttons: HTMLElement[] = [],
  text: HTMLElement = el('div', { class: 'utext' }),
): StreamCard {
  text.setAttribute('role', 'group');
  text.setAttribute(
    'aria-label',
    `${label}: the generated tokens. Arrow keys move between them, Enter inspects one.`,
  );
  /** What activating each drawn token does. */
  const actions = new WeakMap<HTMLElement, (byKey: boolean) => void>();
  const keys = tokenKeys(text, {
    selector: DRAWN,
    onActivate: (span) => actions.get(span)?.(true),
  });
  const meta = el('span', { class: 'umeta' });
  const box = el(
    'article',
    { class: 'universe', ...attrs, 'data-state': 'running' },
    el('header', {}, el('strong', {}, label), meta, ...buttons),
    text,
  );
  /** Where a tool's output tokens go while they stream in. */
  let toolOut: HTMLElement | undefined;
  const card: StreamCard = {
    tokens: [],
    box,
    text,
    meta,
    append(tokens, onClick, cls = () => '') {
      for (const t of tokens) {
        const index = card.tokens.length;
        card.tokens.push(t);
        if (t.tool) {
          const b = toolBlock(t.tool);
          text.append(b.block);
          toolOut = b.output;
        } else if (!t.toolOutput) toolOut = undefined;
        if (t.toolOutput) {
          const span = tokenSpan(t.text, `gen tool-out${cls(t)}`, {
            'data-index': index,
            title: TOOL_OUT_TITLE,
          });
          (toolOut ?? text).append(span);
          continue;
        }
        const span = tokenSpan(t.text, `gen${cls(t)}`, {
          'data-index': index,
          title: `p ${(t.prob * 100).toFixed(1)}%, rank ${t.rank}`,
        });
        span.style.setProperty('--p', t.prob.toFixed(3));
        actions.set(span, (byKey) => onClick(index, byKey));
        span.addEventListener('click', () => onClick(index, false));
        text.append(span);
      }
      keys.reset();
      text.scrollTop = text.scrollHeight;
    },
    focus(index) {
      const span = text.querySelector<HTMLElement>(`${DRAWN}[data-index="${index}"]`);
      if (span) keys.focus(span);
    },
    rate(tokPerSec) {
      meta.textContent = ` ${card.tokens.length} tokens · ${tokPerSec.toFixed(0)} tok/s`;
    },
    finish(reason) {
      box.dataset.state = 'done';
      meta.textContent = ` ${card.tokens.length} tokens · ${reason}`;
    },
    get running() {
      return box.dataset.state === 'running';
    },
  };
  return card;
}
