/**
 * The Tools toggle of the Chat and Sampler panels: a checkbox shown only for a model with tool tokens,
 * and a note saying why a tool is off (untrusted workspace, no folder…), from the host's offer.
 *
 *   const tools = toolsToggle({ checked: true, off: 'it cannot open a call' });
 *   toolbar.append(tools.box, tools.note);
 *   tools.show(model.tools, offer);   // on each model or offer
 *   tools.box.checked                 // whether the next answer may call tools
 */
import type { ToolOffer } from '../../src/protocol/sampler';
import { el } from './dom';

export interface ToolsToggle {
  box: HTMLElement & { checked: boolean };
  note: HTMLElement;
  /** Shows the toggle when `on` (the model has tool tokens), with the offer's tools and note. */
  show(on: boolean, offer: ToolOffer): void;
}

/** `off` says in the tooltip what unchecking does. */
export function toolsToggle(o: { checked: boolean; off: string }): ToolsToggle {
  const box = el('vscode-checkbox', {
    id: 'tools',
    label: 'Tools',
    checked: o.checked,
    hidden: true,
  }) as HTMLElement & { checked: boolean };
  const note = el('span', { id: 'tools-note', class: 'status', hidden: true });
  return {
    box,
    note,
    show(on, offer) {
      box.hidden = !on;
      note.hidden = !on || !offer.note;
      note.textContent = offer.note;
      box.title = `Let the model call tools: ${offer.names.join(', ')}${offer.note ? ` (${offer.note})` : ''}. Off: ${o.off}.`;
    },
  };
}
