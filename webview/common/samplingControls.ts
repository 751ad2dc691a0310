/**
 * The sampling controls of the Sampler and the Chat panel: one number field per SamplerParams option
 * (ids `p-<key>`) plus the panel's own count field, read back clamped to the ranges the host accepts.
 */
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { SamplerParams } from '../../src/protocol/sampler';
import { el } from './dom';

type Field = HTMLElement & { value: string };
type NumberKey = Exclude<keyof SamplerParams, 'stop'>;

interface FieldSpec {
  key: string;
  label: string;
  title: string;
  step?: number;
}

const FIELDS: (FieldSpec & { key: NumberKey })[] = [
  {
    key: 'temperature',
    label: 'Temperature',
    title: '0 = greedy (always the most likely token)',
    step: 0.05,
  },
  { key: 'topK', label: 'Top-k', title: 'keep the k most likely tokens (0 = all)' },
  {
    key: 'topP',
    label: 'Top-p',
    title: 'keep the smallest set reaching this probability (1 = all)',
    step: 0.01,
  },
  {
    key: 'minP',
    label: 'Min-p',
    title: 'drop tokens below min-p × the top probability (0 = off)',
    step: 0.01,
  },
  {
    key: 'repetitionPenalty',
    label: 'Repetition penalty',
    title: '> 1 makes tokens already in the text less likely (1 = off)',
    step: 0.05,
  },
  { key: 'seed', label: 'Seed', title: 'universe i uses seed + i' },
  { key: 'maxTokens', label: 'Max tokens', title: 'new tokens per universe' },
];

export interface SamplingControls {
  /** The row of fields, to place in the panel. */
  element: HTMLElement;
  /** The options as the host accepts them (src/host/sampler/validate.ts), with `stop`. */
  params(stop: string[]): SamplerParams;
  /** The count field (universes, answers): 1–8. */
  count(): number;
  /** Fills the empty fields with the host's defaults and the count's. */
  fill(defaults: SamplerParams, count: number): void;
  /** Sets the given fields (a lab experiment's settings), and the count when given. */
  set(values: Partial<Record<NumberKey, number>>, count?: number): void;
}

/** @param countField the panel's count (key, label, title): universes in the Sampler, answers in Chat */
export function samplingControls(countField: FieldSpec): SamplingControls {
  const fields = new Map<string, Field>();
  const specs: FieldSpec[] = [...FIELDS, countField];
  const element = el(
    'div',
    { class: 'controls', id: 'controls' },
    ...specs.map((f) => {
      const input = el('vscode-textfield', {
        id: `p-${f.key}`,
        type: 'number',
        step: f.step ?? 1,
        min: 0,
        title: f.title,
        label: f.label,
        'aria-label': f.label,
      }) as Field;
      fields.set(f.key, input);
      return el('label', { class: 'control', title: f.title }, f.label, input);
    }),
  );
  const num = (k: string, d: number) => {
    const v = Number(fields.get(k)!.value);
    return Number.isFinite(v) && fields.get(k)!.value !== '' ? v : d;
  };
  return {
    element,
    params: (stop) => ({
      temperature: Math.min(10, Math.max(0, num('temperature', 0.8))),
      topK: Math.max(0, Math.round(num('topK', 0))),
      topP: Math.min(1, Math.max(0.001, num('topP', 1))),
      minP: Math.min(1, Math.max(0, num('minP', 0))),
      repetitionPenalty: Math.min(10, Math.max(0.1, num('repetitionPenalty', 1))),
      seed: Math.max(0, Math.round(num('seed', 1337))) >>> 0,
      maxTokens: Math.min(2048, Math.max(1, Math.round(num('maxTokens', 100)))),
      stop: stop.slice(0, 8),
    }),
    count: () => Math.min(8, Math.max(1, Math.round(num(countField.key, 1)))),
    fill: (defaults, count) => {
      for (const f of FIELDS)
        if (!fields.get(f.key)!.value) fields.get(f.key)!.value = String(defaults[f.key]);
      if (!fields.get(countField.key)!.value) fields.get(countField.key)!.value = String(count);
    },
    set: (values, count) => {
      for (const f of FIELDS)
        if (values[f.key] !== undefined) fields.get(f.key)!.value = String(values[f.key]);
      if (count !== undefined) fields.get(countField.key)!.value = String(count);
    },
  };
}
