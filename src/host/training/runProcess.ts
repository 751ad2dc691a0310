/**
 * A run's training process as its folder records it: the pid file the host writes when it starts the
 * process, control.json that steers it, and the error event appended when it dies before its last event.
 * No vscode here.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { trainingProcessEnv } from '../../engine/train/processEnv';
import type { RunControl, RunEvent, RunRequest } from '../../protocol/training';
import { readRunEvents, REQUEST_FILE } from './runFiles';

export const PID_FILE = 'run.pid.json';
export const CONTROL_FILE = 'control.json';

export interface PidInfo {
  pid: number;
  device: string;
  /** Date.now() when the host started the process. */
  startedAt: number;
  /** Linux: the process's start time in clock ticks after boot (/proc/PID/stat field 22), read at spawn. */
  procStart?: number;
}

/** What the OS says about a process: its arguments and when it started; undefined when it does not run. */
export interface ProcessFacts {
  argv: string[];
  /** Linux: start time in clock ticks after boot. */
  procStart?: number;
  /** Elsewhere (ps): start time in ms since the epoch, to the second. */
  startedAtMs?: number;
}

/** A pid that may be signalled: a whole number above 1 that is not this process (0, -1 and negatives name groups). */
export function signallablePid(pid: unknown): pid is number {
  return typeof pid === 'number' && Number.isInteger(pid) && pid > 1 && pid !== process.pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Linux: /proc/PID/cmdline and field 22 of /proc/PID/stat (after the parenthesised command name). */
function procFacts(pid: number): ProcessFacts | undefined {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const procStart = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return { argv, procStart };
  } catch {
    return undefined;
  }
}

/**
 * macOS and other Unixes: `ps -o lstart= -o args=` (start to the second, then the arguments joined by spaces,
 * so they are split on spaces: a path with a space in it does not match, and the run reads as not running).
 */
export function psFacts(pid: number): ProcessFacts | undefined {
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-o', 'args=', '-p', String(pid)], {
      encoding: 'utf8',
      timeout: 2000,
      env: { ...process.env, LC_ALL: 'C' },
    }).trim();
    if (!out) return undefined;
    // lstart is 24 characters: "Mon Jan  1 12:00:00 2024"
    return { startedAtMs: Date.parse(out.slice(0, 24)), argv: out.slice(24).trim().split(/ +/) };
  } catch {
    return undefined;
  }
}

function processFacts(pid: number): ProcessFacts | undefined {
  if (process.platform === 'linux') return procFacts(pid);
  if (process.platform === 'win32') return undefined;
  return psFacts(pid);
}

export function processStart(pid: number): number | undefined {
  return process.platform === 'linux' ? procFacts(pid)?.procStart : undefined;
}

/**
 * Whether argv is `<node or electron> [its options] …/cli.js train … --control <runDir>/control.json …`
 * (fork passes the parent's execArgv before the script).
 */
function isTrainerOf(argv: string[], runDir: string): boolean {
  const cli = argv.findIndex((a, i) => i > 0 && path.basename(a) === 'cli.js' && argv[i + 1] === 'train');
  if (cli < 0) return false;
  const control = argv.indexOf('--control', cli);
  return control > 0 && path.resolve(argv[control + 1] ?? '') === path.resolve(runDir, CONTROL_FILE);
}

/**
 * Whether the pid file's process is this run's trainer, now. A pid file is only a claim: the process may have
 * died and its pid gone to another, or the file may be stale or crafted.
 * - Linux: /proc/PID/cmdline must be the CLI's `train` with this run's control file, and /proc/PID/stat's
 *   start time must equal the one recorded at spawn (a pid file without one, from before, is judged by its
 *   command line alone).
 * - macOS and other Unixes: the same through `ps`, with the start time to the second against `startedAt`.
 * - Windows: nothing tells a process's arguments without a slow WMI query, so a live pid above 1 is trusted.
 */
export function isRunProcess(runDir: string, p: PidInfo): boolean {
  if (!signallablePid(p.pid)) return false;
  if (process.platform === 'win32') return alive(p.pid);
  const facts = processFacts(p.pid);
  if (!facts || !isTrainerOf(facts.argv, runDir)) return false;
  if (facts.procStart !== undefined) return p.procStart === undefined || p.procStart === facts.procStart;
  // ps: lstart is truncated to the second and read a moment after spawn
  return facts.startedAtMs === undefined || Math.abs(facts.startedAtMs - p.startedAt) < 3000;
}

/** The run's process when it is running (see isRunProcess), from its pid file. */
export function readPid(runDir: string): PidInfo | undefined {
  let p: PidInfo;
  try {
    p = JSON.parse(fs.readFileSync(path.join(runDir, PID_FILE), 'utf8')) as PidInfo;
  } catch {
    return undefined;
  }
  return typeof p === 'object' && p !== null && isRunProcess(runDir, p) ? p : undefined;
}

/** The arguments of `cli.js` that train the run in `runDir` (its request, folder and control file). */
export function trainArgs(runDir: string): string[] {
  return [
    'train',
    '--config',
    path.join(runDir, REQUEST_FILE),
    '--run-dir',
    runDir,
    '--control',
    path.join(runDir, CONTROL_FILE),
    '--log-interval',
    '1',
  ];
}

/**
 * Starts the run's process: writes `request` to <runDir>/request.json and a fresh control.json, forks
 * `cliPath train --config request.json …` (trainArgs) detached with its output in train.log, and records its
 * pid. A training request and an RL request (stage rl) start alike: the CLI's train hands stage rl to the RL
 * loop. Throws when the process did not start.
 *
 *   const child = spawnRun('/ext/dist/cli.js', { stage: 'rl', from, task: 'addition', device: 'cpu', runDir });
 */
export function spawnRun(cliPath: string, request: RunRequest): ChildProcess {
  const { runDir } = request;
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, REQUEST_FILE), JSON.stringify(request, null, 2) + '\n');
  writeControl(runDir, { paused: false, checkpointRequest: 0 });
  const out = fs.openSync(path.join(runDir, 'train.log'), 'a');
  const child = fork(cliPath, trainArgs(runDir), {
    cwd: runDir,
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: trainingProcessEnv({ ...process.env, ELECTRON_RUN_AS_NODE: '1' }),
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error('the training process did not start');
  writePid(runDir, child.pid, request.device);
  child.disconnect?.();
  child.unref();
  return child;
}

/** Sends `signal` to the run's process, only when it is this run's trainer (readPid); false when it is not. */
export function signalRun(runDir: string, signal: NodeJS.Signals, kill = process.kill): boolean {
  const p = readPid(runDir);
  if (!p || !signallablePid(p.pid)) return false;
  kill(p.pid, signal);
  return true;
}

/** Records the process just started for the run, with its start time where the OS tells it (Linux). */
export function writePid(runDir: string, pid: number, device: string): void {
  const info: PidInfo = { pid, device, startedAt: Date.now(), procStart: processStart(pid) };
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
