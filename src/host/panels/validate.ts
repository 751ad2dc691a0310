/** Runtime validation of messages that arrive from webviews: they are untrusted input. */
import type { EnvironmentWebviewMessage } from '../../protocol/environment';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** True for exactly the shapes in EnvironmentWebviewMessage, with no extra keys. */
export function isEnvironmentWebviewMessage(x: unknown): x is EnvironmentWebviewMessage {
  if (!isRecord(x) || Object.keys(x).length !== 1) return false;
  return x.type === 'ready' || x.type === 'refresh' || x.type === 'copy';
}
