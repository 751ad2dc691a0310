/**
 * The Sampler's base-model lab: a list of experiments (the host sends the library in its lab message),
 * each one button that puts its prompt and settings into the panel and generates; and the regurgitation
 * meter: a passage, Run, then the model's continuation of its first sentence with the verbatim start
 * marked (`mark.verbatim`), the first differing character marked (`.diverge`) and "N of M characters
 * verbatim".
 *
 *   const lab = new LabSection({ run: (e) => generateWith(e), regurgitate: (passage) => post(passage) });
 *   app.append(lab.element);
 *   lab.setExperiments(m.experiments);    // on the host's 'lab' message
 *   lab.showMeasure(m);                   // on its 'regurgitation' message
 *
 * The continuation is shown as text nodes only (no markup from the model), so the element's textContent
 * is exactly the continuation.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import type { LabExperiment, RegurgitationMeasure, SamplerHostMessage } from '../../src/protocol/sampler';
import { el } from '../common/dom';

type Field = HTMLElement & { value: string };
type Measured = Extract<SamplerHostMessage, { type: 'regurgitation' }>;

export interface LabHooks {
  /** Runs a 'sample' experiment: its prompt and settings into the panel, then Generate. */
  run(e: LabExperiment): void;
  /** Sets the panel's fields to an experiment's settings (the meter runs with the fields). */
  apply(e: LabExperiment): void;
  /** Runs the meter on a passage. */
  regurgitate(passage: string): void;
}

/** A character, quoted for a sentence; white space by name. */
function quoted(c: string | undefined): string {
  if (c === undefined) return 'nothing (the passage ended)';
  const names: Record<string, string> = { ' ': 'a space', '\n': 'a newline', '\t': 'a tab' };
  return names[c] ?? `“${c}”`;
}

/** Where and how a continuation leaves the passage, as a sentence. */
function divergence(r: RegurgitationMeasure, got: string[], want: string[]): string {
  const d = r.divergeAt;
  if (d === null) return 'It never diverges from the passage.';
  if (r.passageEnded) return `The passage ends at character ${d}; the model went on.`;
  return `It diverges at character ${d}: the model wrote ${quoted(got[d])}, the passage has ${quoted(want[d])}.`;
}

export class LabSection {
  readonly element: HTMLElement;
  private readonly list = el('ul', { id: 'lab-list', class: 'lab-list' });
  private readonly lesson = el('div', { id: 'lab-lesson', class: 'lab-lesson', 'aria-live': 'polite' });
  private readonly passage = el('vscode-textarea', {
    id: 'lab-passage',
    rows: 4,
    resize: 'vertical',
    label: 'Passage',
    'aria-label': 'Passage to measure: the model continues its first sentence',
    placeholder: 'Paste a passage: the model continues its first sentence',
  }) as Field;
  private readonly runBtn = el('vscode-button', { id: 'lab-run' }, 'Run meter');
  private readonly result = el('div', { id: 'lab-result', class: 'lab-result', 'aria-live': 'polite' });
  private meterExperiment: LabExperiment | undefined;

  constructor(private readonly hooks: LabHooks) {
    const meter = el(
      'div',
      { id: 'lab-meter', class: 'lab-meter', role: 'group', 'aria-labelledby': 'lab-meter-h' },
      el('h3', { id: 'lab-meter-h' }, 'Regurgitation meter'),
      el(
        'p',
        { class: 'hint' },
        'Runs with the sampling fields above (the Regurgitation meter button sets them: greedy, 64 tokens).',
      ),
      this.passage,
      el('div', { class: 'toolbar' }, this.runBtn),
      this.result,
    );
    this.element = el(
      'details',
      { id: 'lab', class: 'lab' },
      el('summary', {}, 'Base-model lab'),
      el(
        'p',
        { class: 'hint' },
        'Experiments that show what a model fresh from pretraining does. One click sets the prompt and ' +
          'the sampling fields and generates.',
      ),
      this.list,
      this.lesson,
      meter,
    );
    this.runBtn.addEventListener('click', () => this.runMeter());
  }

  setExperiments(experiments: LabExperiment[]): void {
    this.meterExperiment = experiments.find((e) => e.kind === 'regurgitation');
    this.list.replaceChildren(
      ...experiments.map((e) => {
        const b = el(
          'vscode-button',
          { class: 'lab-run', 'data-lab': e.id, secondary: true, title: e.lesson },
          e.title,
        );
        b.addEventListener('click', () => this.start(e));
        return el('li', {}, b);
      }),
    );
  }

  private start(e: LabExperiment): void {
    this.showLesson(e);
    if (e.kind === 'sample') return this.hooks.run(e);
    this.hooks.apply(e);
    if (!this.passage.value.trim()) this.passage.value = e.prompt;
    this.runMeter();
  }

  private showLesson(e: LabExperiment): void {
    this.lesson.replaceChildren(
      el('h3', {}, e.title),
      el('p', {}, e.lesson),
      el('p', {}, el('strong', {}, 'Look for: '), e.lookFor),
    );
  }

  private runMeter(): void {
    const text = this.passage.value ?? '';
    if (!text.trim()) {
      this.result.replaceChildren(el('p', { class: 'status' }, 'Paste a passage first.'));
      if (this.meterExperiment) this.passage.value = this.meterExperiment.prompt;
      return;
    }
    this.result.replaceChildren(el('p', { class: 'status' }, 'Generating from the first sentence…'));
    this.hooks.regurgitate(text);
  }

  /** The measured continuation: verbatim start, divergence, counts, and the passage beside it. */
  showMeasure(m: Measured): void {
    const got = Array.from(m.continuation);
    const want = Array.from(m.remainder);
    const r = m.measure;
    const d = r.divergeAt;
    const continuation = el(
      'div',
      { id: 'lab-continuation', class: 'lab-text', 'aria-describedby': 'lab-count' },
      el('mark', { class: 'verbatim' }, got.slice(0, r.verbatimChars).join('')),
      ...(d === null
        ? []
        : [
            el(
              'span',
              { class: 'diverge', title: `diverges here: the passage has ${quoted(want[d])}` },
              got[d],
            ),
            el('span', { class: 'after' }, got.slice(d + 1).join('')),
          ]),
    );
    const expected = el(
      'div',
      { id: 'lab-expected', class: 'lab-text' },
      el('mark', { class: 'verbatim' }, want.slice(0, r.verbatimChars).join('')),
      ...(d === null || d >= want.length
        ? [el('span', { class: 'after' }, want.slice(r.verbatimChars, r.continuationChars + 80).join(''))]
        : [
            el('span', { class: 'diverge expected' }, want[d]),
            el('span', { class: 'after' }, want.slice(d + 1, r.continuationChars + 80).join('')),
          ]),
    );
    const pct = r.continuationChars ? Math.round((100 * r.verbatimChars) / r.continuationChars) : 0;
    const lines = [
      `${r.verbatimChars} of ${r.continuationChars} characters verbatim (${pct}%), ${r.verbatimTokens} of ${r.continuationTokens} tokens.`,
      divergence(r, got, want),
    ];
    if (r.longest.length > r.verbatimChars)
      lines.push(
        `Longest shared run: ${r.longest.length} characters, from character ${r.longest.at} of the continuation ` +
          `(character ${r.longest.passageAt} of the passage's rest).`,
      );
    this.result.replaceChildren(
      el('p', { id: 'lab-count', class: 'lab-count', 'data-verbatim': r.verbatimChars }, lines.join(' ')),
      el(
        'p',
        { class: 'hint' },
        m.split === 'sentence'
          ? `Prompt: the first sentence, “${m.prompt}”.`
          : `The passage has no sentence end: the prompt is its start, “${m.prompt}”.`,
      ),
      el('h4', {}, 'The model wrote'),
      continuation,
      el('h4', {}, 'The passage goes on'),
      expected,
    );
  }
}
