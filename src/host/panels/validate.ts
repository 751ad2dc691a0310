/** Runtime validation of messages that arrive from webviews: they are untrusted input. */
import type { EnvironmentWebviewMessage } from '../../protocol/environment';
import type { TokenizeWebviewMessage } from '../../protocol/tokenize';
import type { DashboardWebviewMessage } from '../../protocol/training';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** True for exactly the shapes in EnvironmentWebviewMessage, with no extra keys. */
export function isEnvironmentWebviewMessage(x: unknown): x is EnvironmentWebviewMessage {
  if (!isRecord(x) || Object.keys(x).length !== 1) return false;
  return x.type === 'ready' || x.type === 'refresh' || x.type === 'copy' || x.type === 'installCuda';
}

function hasExactKeys(x: Record<string, unknown>, keys: string[]): boolean {
  const k = Object.keys(x);
  return k.length === keys.length && keys.every((key) => k.includes(key));
}

const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The longest JSONL line the Tokens panel's conversation view takes from the webview (UTF-16 units). */
export const MAX_CHAT_LINE = 1_000_000;

/** True for exactly the shapes in TokenizeWebviewMessage. */
export function isTokenizeWebviewMessage(x: unknown): x is TokenizeWebviewMessage {
  if (!isRecord(x)) return false;
  switch (x.type) {
    case 'ready':
      return hasExactKeys(x, ['type']);
    case 'select':
      return (
        hasExactKeys(x, ['type', 'keys']) &&
        Array.isArray(x.keys) &&
        x.keys.length >= 1 &&
        x.keys.length <= 4 &&
        x.keys.every((k) => typeof k === 'string' && k.length < 4096)
      );
    case 'compare':
      return hasExactKeys(x, ['type', 'on']) && typeof x.on === 'boolean';
    case 'reveal':
      return (
        hasExactKeys(x, ['type', 'start', 'end']) && isOffset(x.start) && isOffset(x.end) && x.start <= x.end
      );
    case 'copyIds':
      return hasExactKeys(x, ['type', 'key']) && typeof x.key === 'string' && x.key.length < 4096;
    case 'chat':
      return (
        hasExactKeys(x, ['type', 'text']) && typeof x.text === 'string' && x.text.length <= MAX_CHAT_LINE
      );
    default:
      return false;
  }
}

const DASHBOARD_ACTIONS = new Set([
  'pause',
  'resume',
  'stop',
  'checkpoint',
  'reveal',
  'compare',
  'resumeRun',
]);

/** True for exactly the shapes in DashboardWebviewMessage. */
export function isDashboardWebviewMessage(x: unknown): x is DashboardWebviewMessage {
  if (!isRecord(x)) return false;
  switch (x.type) {
    case 'ready':
      return hasExactKeys(x, ['type']);
    case 'control':
      return (
        hasExactKeys(x, ['type', 'action']) && typeof x.action === 'string' && DASHBOARD_ACTIONS.has(x.action)
      );
    case 'openSample':
      return hasExactKeys(x, ['type', 'step']) && isOffset(x.step);
    default:
      return false;
  }
}
