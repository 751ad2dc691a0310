/**
 * The tool loop: while a model answers, each time it writes <|tool_end|> the call it wrote since
 * <|tool_start|> ("{name}\n{input}", chatml.ts) is run, and <|output_start|>{output}<|output_end|> is
 * forced into its context (generate.ts's `force` hook); then sampling goes on.
 *
 *   const force = toolForcer({ tokens: chat.tools, tokenizer, tools: [calculator, python] });
 *   for await (const t of generateTokens(kv, prompt, { stopTokens: [chat.imEnd] }, { decode, force }))
 *     if (t.tool) console.log(t.tool)   // { name: 'calculator', input: '347 * 582', ok: true, output: '201954', ms: 0.1 }
 *
 * What the model sees is what a tool returns without trailing white space (python's print ends in a
 * newline), limited to `maxOutputChars` (default 400) with "…" after a cut, and with characters its tokenizer cannot spell replaced by "?" (or left out when "?" cannot be
 * spelled either: a character vocabulary from a corpus without them). Every failure goes into the context
 * as "Error: …", so the model sees it and goes on: a tool it does not have, a call with no
 * <|tool_start|>, a tool's own error, its time limit. Stopping (the signal) is the one thing that ends
 * the answer. `toolsOff(chat.tools)` gives the banned tokens that make the same model answer without
 * tools: it can never open a call.
 */
import type { ToolTokens } from '../chat/chatml';
import type { ForcedTokens, ToolCallRecord } from '../sample/generate';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { toolError, type Tool, type ToolResult } from './tool';

export interface ToolLoopOptions {
  tokens: ToolTokens;
  tokenizer: Pick<Tokenizer, 'encode' | 'decode'>;
  tools: readonly Tool[];
  /** Each call's time limit (default 5000 ms). */
  timeoutMs?: number;
  /** The output the model sees is cut to this many characters (default 400). */
  maxOutputChars?: number;
  signal?: AbortSignal;
}

/** Text → ids as plain text, with characters the tokenizer cannot spell replaced by "?" or dropped. */
export function encodeLossy(tok: Pick<Tokenizer, 'encode'>, text: string): number[] {
  const plain = (s: string) => tok.encode(s, { disallowedSpecial: new Set() });
  try {
    return plain(text);
  } catch {
    let question: number[] = [];
    try {
      question = plain('?');
    } catch {
      // no "?" either: unknown characters are left out
    }
    const out: number[] = [];
    for (const ch of text)
      try {
        out.push(...plain(ch));
      } catch {
        out.push(...question);
      }
    return out;
  }
}

/** The output cut to `max` characters (an ellipsis after a cut). */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** Splits a call's text "{name}\n{input}" (a call without a newline is a name with no input). */
export function parseCall(text: string): { name: string; input: string } {
  const nl = text.indexOf('\n');
  return nl < 0
    ? { name: text.trim(), input: '' }
    : { name: text.slice(0, nl).trim(), input: text.slice(nl + 1) };
}

/** Runs one call with its limit; a tool that throws is an error result (the signal's abort is not). */
export async function runTool(
  tools: readonly Tool[],
  name: string,
  input: string,
  o: { timeoutMs: number; signal?: AbortSignal },
): Promise<ToolResult> {
  const tool = tools.find((t) => t.name === name);
  if (!tool) {
    const have = tools.map((t) => t.name).join(', ') || 'none';
    return toolError(`there is no tool "${name}" (tools: ${have})`, 0);
  }
  const t0 = performance.now();
  try {
    return await tool.run(input, { timeoutMs: o.timeoutMs, signal: o.signal });
  } catch (e) {
    if (o.signal?.aborted) throw e;
    return toolError(e instanceof Error ? e.message : String(e), performance.now() - t0);
  }
}

/** The `force` hook of generateTokens that runs tools (see the file's header). */
export function toolForcer(
  o: ToolLoopOptions,
): (generated: readonly number[]) => Promise<ForcedTokens | undefined> {
  const { toolStart, toolEnd, outputStart, outputEnd } = o.tokens;
  return async (generated) => {
    if (generated.at(-1) !== toolEnd) return undefined;
    const start = generated.lastIndexOf(toolStart, generated.length - 2);
    const { name, input } =
      start < 0 ? { name: '', input: '' } : parseCall(o.tokenizer.decode(generated.slice(start + 1, -1)));
    const result =
      start < 0
        ? toolError('the call has no <|tool_start|>', 0)
        : await runTool(o.tools, name, input, { timeoutMs: o.timeoutMs ?? 5000, signal: o.signal });
    const output = clip(result.output.replace(/\s+$/, ''), o.maxOutputChars ?? 400);
    const tool: ToolCallRecord = { name, input, ok: result.ok, output, ms: result.ms };
    return { ids: [outputStart, ...encodeLossy(o.tokenizer, output), outputEnd], tool };
  };
}

/** The tokens to ban so that a model answers without tools: it cannot open a call. */
export const toolsOff = (tokens: ToolTokens | undefined): number[] => (tokens ? [tokens.toolStart] : []);
