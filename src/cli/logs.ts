/**
 * llm-lens logs: what the log reader (engine/runs/logReader.ts) finds in TensorBoard event files, JSONL
 * logs, or a folder of runs holding them.
 *   llm-lens logs --json runs/            one JSON object a line: {"run","tag","step","value"} or "text"
 *   llm-lens logs runs/                   a line per run and tag: points, steps, last value
 *   llm-lens logs --json --follow runs/   keeps printing what is appended, until Ctrl+C
 * Damaged records are skipped and counted on standard error; the exit status is 0 unless nothing was found.
 */
import * as fs from 'node:fs';
import { LogReader, type LogPoint } from '../engine/runs/logReader';
import { UsageError } from './main';

const USAGE = 'logs [--json] [--follow] PATH';

export async function logsCommand(args: string[]): Promise<number> {
  let json = false;
  let follow = false;
  let target: string | undefined;
  for (const a of args) {
    if (a === '--help' || a === '-h') {
      process.stdout.write(`llm-lens ${USAGE}\n`);
      return 0;
    } else if (a === '--json') json = true;
    else if (a === '--follow') follow = true;
    else if (a.startsWith('-')) throw new UsageError(`logs: unknown option ${a}`);
    else if (target) throw new UsageError(`logs: one PATH at a time (got ${target} and ${a})`);
    else target = a;
  }
  if (!target) throw new UsageError(`logs: give an event file, a JSONL log or a folder: llm-lens ${USAGE}`);
  if (!fs.existsSync(target)) {
    process.stderr.write(`llm-lens: ${target} does not exist\n`);
    return 1;
  }
  const reader = new LogReader(target);
  const first = reader.poll().points;
  if (json) first.forEach(print);
  else process.stdout.write(summary(first));
  reportProblems(reader);
  if (!reader.runs().length) {
    process.stderr.write(
      `llm-lens: no logs in ${target}: give TensorBoard event files (events.out.tfevents.*) or JSONL logs\n`,
    );
    return 1;
  }
  if (!follow) return 0;
  const stop = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  for (;;) {
    const tick = new Promise<'tick'>((resolve) => setTimeout(() => resolve('tick'), 1000));
    if ((await Promise.race([stop, tick])) !== 'tick') return 0;
    reader.poll().points.forEach(json ? print : (p) => process.stdout.write(line(p)));
  }
}

function print(p: LogPoint): void {
  const out = {
    run: p.run,
    tag: p.tag,
    step: p.step,
    ...(p.text !== undefined ? { text: p.text } : { value: p.value }),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

function line(p: LogPoint): string {
  return `${p.run}  ${p.tag}  step ${p.step}  ${p.text !== undefined ? JSON.stringify(p.text) : p.value}\n`;
}

/** A line per run and tag: how many points, the step range, the last value. */
export function summary(points: LogPoint[]): string {
  const groups = new Map<string, LogPoint[]>();
  for (const p of points) {
    const k = `${p.run}\u0000${p.tag}`;
    (groups.get(k) ?? groups.set(k, []).get(k)!).push(p);
  }
  const rows = [...groups.values()].map((ps) => {
    const last = ps[ps.length - 1];
    const steps = ps.map((p) => p.step);
    const what =
      last.text !== undefined
        ? `text (${last.text.length} chars)`
        : `last ${Number(last.value!.toPrecision(6))}`;
    return [
      last.run,
      last.tag,
      `${ps.length} points`,
      `steps ${Math.min(...steps)}–${Math.max(...steps)}`,
      what,
    ];
  });
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), 0));
  return rows.map((r) => r.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c)).join('  ') + '\n').join('');
}

function reportProblems(reader: LogReader): void {
  for (const p of reader.problems()) {
    const parts = [
      p.corrupt ? `${p.corrupt} damaged record${p.corrupt === 1 ? '' : 's'} skipped` : '',
      p.stuck ? 'its framing is lost after that, the rest is unread' : '',
      p.truncated ? 'it ends inside a record (still being written, or cut)' : '',
    ].filter(Boolean);
    process.stderr.write(`llm-lens: ${p.file}: ${parts.join('; ')}\n`);
  }
}
