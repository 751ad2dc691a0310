/** Runtime validation of messages from the Checkpoint Inspector's webview: they are untrusted input. */
import type { CheckpointWebviewMessage } from '../../protocol/checkpoint';

/** Longest tensor name accepted from the webview (real names are far shorter). */
export const MAX_TENSOR_NAME = 4096;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function hasExactKeys(x: Record<string, unknown>, keys: string[]): boolean {
  const k = Object.keys(x);
  return k.length === keys.length && keys.every((key) => k.includes(key));
}

/** True for exactly the shapes in CheckpointWebviewMessage, with no extra keys. */
export function isCheckpointWebviewMessage(x: unknown): x is CheckpointWebviewMessage {
  if (!isRecord(x)) return false;
  switch (x.type) {
    case 'ready':
    case 'compare':
    case 'exportHf':
    case 'exportOnnx':
    case 'sample':
    case 'continueTraining':
    case 'reload':
      return hasExactKeys(x, ['type']);
    case 'inspect':
      return (
        hasExactKeys(x, ['type', 'name']) &&
        typeof x.name === 'string' &&
        x.name.length > 0 &&
        x.name.length <= MAX_TENSOR_NAME
      );
    default:
      return false;
  }
}
