/**
 * A tool the sampler can call while a model answers: the model writes a call as special tokens, the
 * sampler pauses, runs the tool on the call's text and forces the tool's output into the context, then
 * resumes (toolLoop.ts). Every tool has a time limit, and its failures are results, not exceptions: the
 * error text goes back into the context like an output, so the model sees it and sampling continues.
 *
 *   const r = await calculator.run('347 * 582', { timeoutMs: 2000 });
 *   // { ok: true, output: '201954', ms: 0.1 }
 *   await python.run('while True: pass', { timeoutMs: 1000 });
 *   // { ok: false, output: 'Error: the program ran longer than 1 s and was stopped', ms: 1003 }
 */

export const TOOL_NAMES = ['calculator', 'python', 'search'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export interface ToolRunOptions {
  /** Wall-clock limit; the tool is stopped and its result is an error past it. */
  timeoutMs: number;
  /** Stops the tool early (the user pressed Stop); the promise then rejects with the abort reason. */
  signal?: AbortSignal;
}

export interface ToolResult {
  /** False when the tool failed (bad input, an exception, a limit): `output` then starts "Error: ". */
  ok: boolean;
  /** What goes into the context between the output tokens. */
  output: string;
  /** How long the run took, in milliseconds. */
  ms: number;
}

export interface Tool {
  name: ToolName;
  run(input: string, o: ToolRunOptions): Promise<ToolResult>;
  /** Frees what the tool holds (a worker, an index); the tool can be used again after, starting afresh. */
  dispose?(): Promise<void> | void;
}

/** An error result: `Error: {message}`, one line, as the model sees it. */
export function toolError(message: string, ms: number): ToolResult {
  return { ok: false, output: `Error: ${message.replace(/\s*\n\s*/g, ' ').trim()}`, ms };
}
