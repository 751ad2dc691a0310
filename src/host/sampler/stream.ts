/** Pulls a sampler session's tokens from the worker a few at a time: the host streams them, Stop is "don't ask again". */
import type { SampledToken } from '../../protocol/sampler';
import type { WorkerClient } from '../../worker/client';

/** A generation the host streams: its worker session and the tokens so far. */
export interface Stream {
  session: number;
  running: boolean;
  tokens: SampledToken[];
}

/**
 * Pulls a stream's tokens into `s.tokens` (and `on.tokens`) until it ends (then `s.running` turns false
 * and `on.done` gets why: 'stop', 'stopToken', 'maxTokens' or 'done'), is stopped, or `current()` turns
 * false (a newer generation started; the caller closes the session).
 */
export async function pumpStream(
  worker: WorkerClient,
  s: Stream,
  current: () => boolean,
  on: { tokens: (tokens: SampledToken[], tokPerSec: number) => void; done: (reason: string) => void },
): Promise<void> {
  const live = () => s.running && current();
  while (live()) {
    const r = await worker.run({ kind: 'samplerNext', session: s.session, maxTokens: 16, budgetMs: 120 });
    if (!live()) return;
    s.tokens.push(...r.tokens);
    if (r.tokens.length) on.tokens(r.tokens, (r.tokens.length * 1000) / Math.max(r.ms, 1e-3));
    if (r.done) {
      s.running = false;
      on.done(r.tokens.at(-1)?.finish ?? 'done');
    }
  }
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
