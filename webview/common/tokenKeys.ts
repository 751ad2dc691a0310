/**
 * Keyboard access to a row of token spans, as a roving tab stop: Tab lands on one token of the row, ←/→
 * (and ↑/↓) move to the previous/next token, Home/End to the first/last, Enter or Space activates the
 * focused token as a click would. Tokens rendered later (lazily, or streamed in) join the row.
 *
 *   const keys = tokenKeys(tokensBox, { onFocus: (span) => showDetails(span), more: () => renderMore() });
 *   keys.reset(); // after the row's tokens were replaced or appended
 *   keys.focus(span); // makes a token the row's tab stop and focuses it (back from a popup)
 */
export interface TokenKeys {
  /** Makes the first token the row's tab stop unless one already is. */
  reset(): void;
  /** Makes `span` (a token of the row) the tab stop and focuses it. */
  focus(span: HTMLElement): void;
}

export interface TokenKeysOptions {
  /** The token spans inside the container; `.tok` by default. */
  selector?: string;
  /** A token got focus (by keyboard or click). */
  onFocus?(span: HTMLElement): void;
  /** Enter or Space on a token; a click on it by default. */
  onActivate?(span: HTMLElement): void;
  /** Renders more tokens when → or End reaches the last rendered one; returns whether it added any. */
  more?(): boolean;
}

export function tokenKeys(container: HTMLElement, opts: TokenKeysOptions = {}): TokenKeys {
  const selector = opts.selector ?? '.tok';
  const spans = () => Array.from(container.querySelectorAll<HTMLElement>(selector));
  const moveTo = (from: HTMLElement | undefined, to: HTMLElement | undefined) => {
    if (!to || to === from) return;
    for (const s of container.querySelectorAll<HTMLElement>(`${selector}[tabindex="0"]`)) s.tabIndex = -1;
    to.tabIndex = 0;
    to.focus();
    to.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  };
  container.addEventListener('keydown', (e) => {
    const current = (e.target as HTMLElement).closest?.(selector) as HTMLElement | null;
    if (!current || !container.contains(current)) return;
    let all = spans();
    let i = all.indexOf(current);
    const last = () => {
      while (opts.more && i === all.length - 1 && opts.more()) all = spans();
      return all[all.length - 1];
    };
    switch (e.key) {
      case 'ArrowRight':
      case 'ArrowDown':
        if (i === all.length - 1) last();
        moveTo(current, all[i + 1]);
        break;
      case 'ArrowLeft':
      case 'ArrowUp':
        moveTo(current, all[i - 1]);
        break;
      case 'Home':
        moveTo(current, all[0]);
        break;
      case 'End':
        i = all.length - 1;
        moveTo(current, last());
        break;
      case 'Enter':
      case ' ':
        if (opts.onActivate) opts.onActivate(current);
        else current.click();
        break;
      default:
        return;
    }
    e.preventDefault();
  });
  container.addEventListener('focusin', (e) => {
    const span = (e.target as HTMLElement).closest?.(selector) as HTMLElement | null;
    if (span && container.contains(span)) opts.onFocus?.(span);
  });
  const keys: TokenKeys = {
    reset() {
      if (container.querySelector(`${selector}[tabindex="0"]`)) return;
      const first = container.querySelector<HTMLElement>(selector);
      if (first) first.tabIndex = 0;
    },
    focus(span) {
      if (container.contains(span)) moveTo(undefined, span);
    },
  };
  return keys;
}
