/**
 * Which walkthrough step a run's events complete: a pretraining run that finished, a fine-tuning (sft) run
 * that finished, an RL run that made a step. A run stopped early, failed or still going completes nothing
 * (an RL run's first step is already its point: the model was scored and updated).
 *
 *   stepOfRun(parseMetrics(fs.readFileSync('.llmlens/runs/sample-…/metrics.jsonl', 'utf8')))   // 'trained'
 */
import type { RunEvent } from '../../protocol/training';

/** The run keys of the walkthrough's context keys (src/host/walkthrough/progress.ts). */
export type RunStep = 'trained' | 'fineTuned' | 'rlStepped';

/** The step a run's events complete, or undefined. A run without a start event is none of ours. */
export function stepOfRun(events: readonly RunEvent[]): RunStep | undefined {
  const start = events.find((e) => e.kind === 'start');
  if (start?.kind !== 'start') return undefined;
  if (start.stage === 'rl') return events.some((e) => e.kind === 'step') ? 'rlStepped' : undefined;
  const finished = events.some((e) => e.kind === 'done' && e.reason === 'finished');
  if (!finished) return undefined;
  return start.stage === 'sft' ? 'fineTuned' : 'trained';
}
