/**
 * The dashboard's error banner as a run's events tell it: an error event shows its message until the run
 * starts again (a resumed run writes a new start event), so a run that trains again after a failure no
 * longer shows that failure; a later error shows its own.
 *
 *   let error = errorAfter(undefined, events); // 'step 40: loss is NaN', or undefined once resumed
 *   error = errorAfter(error, moreEvents);
 */
import type { RunEvent } from '../../src/protocol/training';

/** The error to show after `events`, given the one shown before them. */
export function errorAfter(shown: string | undefined, events: readonly RunEvent[]): string | undefined {
  let error = shown;
  for (const e of events) {
    if (e.kind === 'error') error = e.message;
    else if (e.kind === 'start') error = undefined;
  }
  return error;
}
