/** Pulls a sampler session's tokens from the worker a few at a time: the host streams them, Stop is "don't ask again". */
import type { SampledToken } from '../../protocol/sampler';
import type { WorkerClient } from '../../worker/client';

/**
 * Calls `onTokens` with each batch of a session until it ends (resolves with why: 'stop', 'stopToken',
 * 'maxTokens' or 'done') or `live()` turns false (resolves undefined; the caller closes the session).
 */
export async function streamSession(
  worker: WorkerClient,
  session: number,
  live: () => boolean,
  onTokens: (tokens: SampledToken[], tokPerSec: number) => void,
): Promise<string | undefined> {
  while (live()) {
    const r = await worker.run({ kind: 'samplerNext', session, maxTokens: 16, budgetMs: 120 });
    if (!live()) break;
    if (r.tokens.length) onTokens(r.tokens, (r.tokens.length * 1000) / Math.max(r.ms, 1e-3));
    if (r.done) return r.tokens.at(-1)?.finish ?? 'done';
  }
  return undefined;
}

/** Marks the running streams stopped (calling `onStop` for each) and closes their worker sessions. */
export async function stopStreams<T extends { running: boolean; session: number }>(
  worker: WorkerClient,
  streams: Iterable<T>,
  onStop: (s: T) => void,
): Promise<void> {
  const running = [...streams].filter((s) => s.running);
  for (const s of running) {
    s.running = false;
    onStop(s);
  }
  if (running.length) await worker.run({ kind: 'samplerClose', sessions: running.map((s) => s.session) });
}
