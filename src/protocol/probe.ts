/**
 * The knowledge probe's worker job (src/worker/probeJobs.ts), asked for by LLM Lens: Probe Knowledge…
 *
 *   worker.run({ kind: 'probe', checkpoint, questions: [{ question: 'Who is Zorbin?' }], samples: 8,
 *                temperature: 1, threshold: 0.5 }, { signal, onProgress })   // → { kind: 'probe', results }
 */

/** A question, with its right answer when known. */
export interface ProbeQuestionMessage {
  question: string;
  answer?: string;
}

/** One question's answers, grouped (normalised), the largest group's share and the verdict. */
export interface ProbeResultMessage extends ProbeQuestionMessage {
  answers: string[];
  groups: { answer: string; key: string; count: number }[];
  agreement: number;
  verdict: 'knows' | 'wrong' | 'unsure';
}

export type ProbeJob = {
  kind: 'probe';
  /** The checkpoint folder. */
  checkpoint: string;
  questions: ProbeQuestionMessage[];
  samples: number;
  temperature: number;
  threshold: number;
  maxTokens?: number;
  seed?: number;
};

export type ProbeJobResult = { kind: 'probe'; results: ProbeResultMessage[] };
