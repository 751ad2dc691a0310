/** Runtime validation of the Sampler webview's messages: they are untrusted input. */
import { isValue } from '../../engine/options';
import type { SamplerParams, SamplerWebviewMessage } from '../../protocol/sampler';
import { SAMPLING_OPTIONS } from '../../protocol/samplingOptions';

export const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
export const hasExactKeys = (x: Record<string, unknown>, keys: string[]) =>
  Object.keys(x).length === keys.length && keys.every((k) => k in x);
/** All of `keys`, and nothing but them and `optional`. */
export const hasKeys = (x: Record<string, unknown>, keys: string[], optional: string[]) =>
  keys.every((k) => k in x) && Object.keys(x).every((k) => keys.includes(k) || optional.includes(k));
/** The Tools toggle: absent (a model without tool tokens) or a boolean. */
export const isToolsToggle = (v: unknown) => v === undefined || typeof v === 'boolean';
export const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

/** Limits of the sampling controls. */
export const SAMPLER_LIMITS = {
  maxTokens: 2048,
  streams: 8,
  stops: 8,
  stopLength: 64,
  prompt: 200_000,
  /** The regurgitation meter's passage (measured on the extension host: linear, but kept small). */
  passage: 20_000,
};

const NUMBERS = ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'seed', 'maxTokens'] as const;

/** True for a complete, in-range SamplerParams: the ranges of SAMPLING_OPTIONS, at most maxTokens tokens. */
export function isSamplerParams(x: unknown): x is SamplerParams {
  if (!isRecord(x) || !hasExactKeys(x, [...NUMBERS, 'stop'])) return false;
  return (
    NUMBERS.every((k) => isValue(SAMPLING_OPTIONS[k], x[k])) &&
    (x.maxTokens as number) <= SAMPLER_LIMITS.maxTokens &&
    Array.isArray(x.stop) &&
    x.stop.length <= SAMPLER_LIMITS.stops &&
    x.stop.every((s) => typeof s === 'string' && s.length <= SAMPLER_LIMITS.stopLength)
  );
}

/** True for exactly the shapes in SamplerWebviewMessage. */
export function isSamplerWebviewMessage(x: unknown): x is SamplerWebviewMessage {
  if (!isRecord(x)) return false;
  switch (x.type) {
    case 'ready':
    case 'stop':
    case 'pickCheckpoint':
      return hasExactKeys(x, ['type']);
    case 'generate':
      return (
        hasKeys(x, ['type', 'prompt', 'params', 'streams'], ['tools']) &&
        isToolsToggle(x.tools) &&
        typeof x.prompt === 'string' &&
        x.prompt.length <= SAMPLER_LIMITS.prompt &&
        isSamplerParams(x.params) &&
        isInt(x.streams, 1, SAMPLER_LIMITS.streams)
      );
    case 'branch':
      return (
        hasKeys(x, ['type', 'universe', 'index', 'tokenId', 'params'], ['tools']) &&
        isToolsToggle(x.tools) &&
        isInt(x.universe, 0, 1e9) &&
        isInt(x.index, 0, 1e6) &&
        isInt(x.tokenId, 0, 1e7) &&
        isSamplerParams(x.params)
      );
    case 'inspect':
      return hasExactKeys(x, ['type', 'universe']) && isInt(x.universe, 0, 1e9);
    case 'attention':
      return hasExactKeys(x, ['type', 'layer', 'head']) && isInt(x.layer, 0, 1000) && isInt(x.head, 0, 1000);
    case 'regurgitate':
      return (
        hasExactKeys(x, ['type', 'passage', 'params']) &&
        typeof x.passage === 'string' &&
        x.passage.length >= 1 &&
        x.passage.length <= SAMPLER_LIMITS.passage &&
        isSamplerParams(x.params)
      );
    default:
      return false;
  }
}
