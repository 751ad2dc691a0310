/**
 * The knowledge probe inside the worker: opens the checkpoint or model folder (GPT-2 or Llama family),
 * asks each question `samples` times (chat/probe.ts probeKnowledge), posts progress after each question
 * and stops when aborted.
 *
 *   await runProbeJob({ kind: 'probe', checkpoint, questions, samples: 8, temperature: 1, threshold: 0.5 },
 *                     signal, (message, fraction) => …)   // { kind: 'probe', results }
 */
import { probeKnowledge } from '../engine/chat/probe';
import { probeSettingsError } from '../engine/chat/probeInput';
import { openModelForInference } from '../engine/sample/openModel';
import type { ProbeJob, ProbeJobResult } from '../protocol/probe';

export async function runProbeJob(
  job: ProbeJob,
  signal: AbortSignal,
  progress: (message: string, fraction?: number) => void,
): Promise<ProbeJobResult> {
  for (const name of ['samples', 'temperature', 'threshold'] as const) {
    const err = probeSettingsError(name, String(job[name]));
    if (err) throw new Error(err);
  }
  if (!job.questions.length) throw new Error('the probe has no questions');
  const { model, tokenizer: tok } = await openModelForInference(job.checkpoint);
  signal.throwIfAborted();
  const n = job.questions.length;
  progress(`0/${n} questions`, 0);
  const results = await probeKnowledge(model, tok, job.questions, {
    samples: job.samples,
    temperature: job.temperature,
    threshold: job.threshold,
    maxTokens: job.maxTokens ?? 100,
    seed: job.seed,
    signal,
    onResult: (_r, done, total) => progress(`${done}/${total} questions`, done / total),
  });
  return { kind: 'probe', results };
}
