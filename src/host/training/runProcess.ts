/**
 * A run's training process as its folder records it: the pid file the host writes when it starts the
 * process, control.json that steers it, and the error event appended when it dies before its last event.
 * No vscode here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunControl, RunEvent } from '../../protocol/training';
import { readRunEvents } from './runFiles';

export const PID_FILE = 'run.pid.json';
export const CONTROL_FILE = 'control.json';

export interface PidInfo {
  pid: number;
  device: string;
  startedAt: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The run's process when it is running, from its pid file. */
export function readPid(runDir: string): PidInfo | undefined {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(runDir, PID_FILE), 'utf8')) as PidInfo;
    return alive(p.pid) ? p : undefined;
  } catch {
    return undefined;
  }
}

export function writePid(runDir: string, info: PidInfo): void {
  fs.writeFileSync(path.join(runDir, PID_FILE), JSON.stringify(info));
}

export function readControl(runDir: string): RunControl {
  try {
    return {
      paused: false,
      checkpointRequest: 0,
      ...(JSON.parse(fs.readFileSync(path.join(runDir, CONTROL_FILE), 'utf8')) as Partial<RunControl>),
    };
  } catch {
    return { paused: false, checkpointRequest: 0 };
  }
}

export function writeControl(runDir: string, c: RunControl): void {
  const tmp = path.join(runDir, `.${CONTROL_FILE}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(c));
  fs.renameSync(tmp, path.join(runDir, CONTROL_FILE));
}

/**
 * After the process exited: removes the pid file and, when the run's last event is neither done nor error,
 * appends an error event that says how it ended (with the end of train.log). Returns that message.
 */
export function recordExit(runDir: string, code: number, signal: NodeJS.Signals | null): string | undefined {
  fs.rmSync(path.join(runDir, PID_FILE), { force: true });
  const events = readRunEvents(runDir);
  const last = events.at(-1);
  if (last && (last.kind === 'done' || last.kind === 'error')) return undefined;
  const tail = (() => {
    try {
      return fs.readFileSync(path.join(runDir, 'train.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
    } catch {
      return '';
    }
  })();
  const step =
    [...events].reverse().find((e): e is Extract<RunEvent, { step: number }> => 'step' in e)?.step ?? 0;
  const message = `The training process exited ${signal ? `on ${signal}` : `with code ${code}`} before finishing${tail ? `: ${tail}` : ''}. Checkpoints already saved are kept.`;
  fs.appendFileSync(
    path.join(runDir, 'metrics.jsonl'),
    JSON.stringify({ kind: 'error', step, message, time: Date.now() } satisfies RunEvent) + '\n',
  );
  return message;
}
