/**
 * The dashboard's Groups view of an RL run: for a logged step (a selector among them), each prompt with its
 * expected answer and its G sampled answers — reward, true reward when a reward model is in the loop,
 * advantage — and every token tinted by its advantage (advantage.ts), tool-forced tokens outlined in grey.
 *
 *   const view = new GroupsView(container);
 *   view.add(groupsEvent);   // a `groups` event of metrics.jsonl; the view follows the newest step
 */
import type { RlAnswer, RunEvent } from '../../src/protocol/training';
import { el } from '../common/dom';
import { advantageScale, advantageShade, answerLabel, formatAdvantage, visiblePieces } from './advantage';

type GroupsEvent = Extract<RunEvent, { kind: 'groups' }>;

function tokenSpan(piece: string, advantage: number, scale: number, forced: boolean): HTMLElement {
  const shade = advantageShade(advantage, scale);
  const span = el('span', {
    class: `rl-tok ${forced ? 'forced' : shade.sign}`,
    title: forced
      ? `${JSON.stringify(piece)}: forced by a tool (no loss)`
      : `${JSON.stringify(piece)}: advantage ${formatAdvantage(advantage)}`,
  });
  if (!forced) span.style.setProperty('--s', shade.strength.toFixed(3));
  for (const p of visiblePieces(piece)) {
    if (p.mark === undefined) span.append(p.text);
    else span.append(el('span', { class: 'ws' }, p.mark), ...(p.text === '\n' ? [el('br')] : []));
  }
  return span;
}

function answerRow(a: RlAnswer, i: number, count: number, scale: number): HTMLElement {
  const forced = new Set(a.forced ?? []);
  const shade = advantageShade(a.advantage, scale);
  const score = (cls: string, label: string, v: string) =>
    el('span', { class: `rl-score ${cls}` }, el('span', { class: 'rl-score-label' }, label), ' ', v);
  return el(
    'li',
    {
      class: `rl-answer ${shade.sign}`,
      tabindex: 0,
      'aria-label': answerLabel(i, count, a),
      'data-reward': a.reward,
      'data-advantage': a.advantage,
    },
    el(
      'div',
      { class: 'rl-scores', 'aria-hidden': 'true' },
      score('reward', 'reward', a.reward.toFixed(2)),
      ...(a.trueReward !== undefined ? [score('true', 'true checker', a.trueReward.toFixed(2))] : []),
      score(`adv ${shade.sign}`, 'advantage', formatAdvantage(a.advantage)),
    ),
    el(
      'div',
      { class: 'rl-tokens', 'aria-hidden': 'true' },
      ...(a.tokens.length
        ? a.tokens.map((t, j) => tokenSpan(t, a.advantage, scale, forced.has(j)))
        : [el('span', { class: 'rl-empty' }, '(empty answer)')]),
    ),
  );
}

export class GroupsView {
  private readonly events: GroupsEvent[] = [];
  /** The step the user picked; undefined: follow the newest. */
  private picked: number | undefined;
  private readonly select = el('select', { id: 'groups-step', 'aria-label': 'Step of the groups shown' });
  private readonly list = el('div', { id: 'groups', class: 'rl-groups' });
  readonly element: HTMLElement;

  constructor() {
    this.select.addEventListener('change', () => {
      const v = Number(this.select.value);
      this.picked = v === this.events.at(-1)?.step ? undefined : v;
      this.render();
    });
    this.element = el(
      'section',
      { id: 'groups-view', class: 'rl-groups-view', 'aria-label': 'Groups' },
      el('h2', {}, 'Groups'),
      el(
        'p',
        { class: 'hint' },
        'Each prompt with its sampled answers. A token is tinted by its answer’s advantage (reward − the group’s mean): green is made more likely, red less; grey outlined tokens were forced by a tool and carry no loss.',
      ),
      el('div', { class: 'chart-controls' }, el('label', {}, 'step ', this.select)),
      this.list,
    );
  }

  clear(): void {
    this.events.length = 0;
    this.picked = undefined;
    this.select.replaceChildren();
    this.list.replaceChildren();
    this.element.hidden = true;
  }

  /** Adds a step's groups (a resumed run's later copy of a step replaces the earlier one). */
  add(e: GroupsEvent): void {
    const at = this.events.findIndex((x) => x.step >= e.step);
    if (at < 0) this.events.push(e);
    else this.events.splice(at, this.events[at].step === e.step ? 1 : 0, e);
    this.select.replaceChildren(
      ...this.events.map((x) => el('option', { value: x.step }, `${x.step.toLocaleString('en-US')}`)),
    );
  }

  /** Shows the picked step, or the newest. */
  render(): void {
    this.element.hidden = this.events.length === 0;
    const shown = this.events.find((x) => x.step === this.picked) ?? this.events.at(-1);
    document.body.dataset.groupsSteps = String(this.events.length);
    if (!shown) return;
    this.select.value = String(shown.step);
    if (this.list.dataset.step === String(shown.step) && this.list.dataset.time === String(shown.time))
      return;
    this.list.dataset.step = String(shown.step);
    this.list.dataset.time = String(shown.time);
    const scale = advantageScale(shown.groups.flatMap((g) => g.answers.map((a) => a.advantage)));
    this.list.replaceChildren(
      ...shown.groups.map((g, i) =>
        el(
          'div',
          { class: 'rl-group', role: 'group', 'aria-label': `Prompt ${i + 1}: ${g.prompt}` },
          el('div', { class: 'rl-prompt' }, el('span', { class: 'rl-score-label' }, 'prompt '), g.prompt),
          ...(g.expected !== undefined
            ? [
                el(
                  'div',
                  { class: 'rl-expected' },
                  el('span', { class: 'rl-score-label' }, 'expected '),
                  g.expected,
                ),
              ]
            : []),
          el(
            'ol',
            { class: 'rl-answers', 'aria-label': `${g.answers.length} answers` },
            ...g.answers.map((a, j) => answerRow(a, j, g.answers.length, scale)),
          ),
        ),
      ),
    );
  }
}
