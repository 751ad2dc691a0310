/**
 * A streamed generation as a card: header (label, token count and speed or why it ended, buttons) over
 * its text as token spans, each tinted by the probability it was drawn with. The Sampler's universes
 * and the Chat panel's answers are these.
 *
 *   const card = streamCard({ 'data-universe': 3 }, '#3 seed 1340', [inspectButton]);
 *   card.append(tokens, (index) => select(index));
 *   card.rate(42); card.finish('maxTokens');
 */
import type { SampledToken } from '../../src/protocol/sampler';
import { el } from './dom';

export interface StreamCard {
  tokens: SampledToken[];
  box: HTMLElement;
  text: HTMLElement;
  meta: HTMLElement;
  /** Adds token spans (class `tok gen`, `data-index`); `onClick` gets the token's index. */
  append(tokens: SampledToken[], onClick: (index: number) => void, cls?: (t: SampledToken) => string): void;
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

export function streamCard(
  attrs: Record<string, string | number>,
  label: string,
  buttons: HTMLElement[] = [],
  text: HTMLElement = el('div', { class: 'utext' }),
): StreamCard {
  const meta = el('span', { class: 'umeta' });
  const box = el(
    'article',
    { class: 'universe', ...attrs, 'data-state': 'running' },
    el('header', {}, el('strong', {}, label), meta, ...buttons),
    text,
  );
  const card: StreamCard = {
    tokens: [],
    box,
    text,
    meta,
    append(tokens, onClick, cls = () => '') {
      for (const t of tokens) {
        const index = card.tokens.length;
        card.tokens.push(t);
        const span = tokenSpan(t.text, `gen${cls(t)}`, {
          'data-index': index,
          title: `p ${(t.prob * 100).toFixed(1)}%, rank ${t.rank}`,
        });
        span.style.setProperty('--p', t.prob.toFixed(3));
        span.addEventListener('click', () => onClick(index));
        text.append(span);
      }
      text.scrollTop = text.scrollHeight;
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
