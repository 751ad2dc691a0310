/**
 * The python tool: real Python (Pyodide, CPython compiled to WebAssembly) run offline in a sandbox
 * process. A call's output is what the program printed (stdout and stderr, in order), then, as in the
 * Python REPL, the repr() of the value of a final expression when it is not None; it is cut at
 * `maxOutputChars` (2,000 by default) with a note of how much was cut. An exception, a time-out or
 * running out of memory gives one line, `Error: ZeroDivisionError: division by zero (line 2)`,
 * and nothing printed before it.
 *
 *   const python = createPythonTool();
 *   await python.run('"strawberry".count("r")', { timeoutMs: 5000 });   // { ok: true, output: '3\n', … }
 *   await python.run('while True: pass', { timeoutMs: 1000 });
 *   // { ok: false, output: 'Error: the program ran longer than 1 s and was stopped', ms: 1003 }
 *   await python.dispose();
 *
 * Isolation, in layers:
 * 1. A child process (dist/pythonChild.js) under Node's permission model: it may read only its own
 *    script and the pyodide package folder; writing files, starting processes or workers, native
 *    addons and process.binding are refused by Node itself. It fails closed if the model is off.
 * 2. `--disallow-code-generation-from-strings`: no `Function("…")` from a JS object Python holds.
 * 3. No network object: fetch, WebSocket, XMLHttpRequest are deleted before Pyodide loads, so
 *    pyfetch, loadPackage and micropip find none; `jsglobals: {}` makes `import js` an empty object;
 *    the child's stdio is closed and Pyodide's streams are this file's handlers, and `process`,
 *    `require`, `Buffer` leave the global scope, so nothing reachable from `pyodide_js` leads to Node.
 * 4. Limits: SIGKILL at `timeoutMs` (then the next call starts a fresh interpreter, already warming in
 *    the background); the wasm heap cannot grow past `memoryMb` (Python raises MemoryError) and the
 *    JS heap is capped by --max-old-space-size.
 * The interpreter is reused (a warm process, one program at a time), but every call gets fresh
 * globals, and the module table, builtins, sys streams, cwd and the in-memory /tmp and home are reset
 * after it, so nothing a program defines reaches the next one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ChildReply, ChildRequest } from './pythonChild';
import { toolError, type Tool, type ToolResult, type ToolRunOptions } from './tool';

export interface PythonToolOptions {
  /** The sandbox script; by default `pythonChild.js` beside this bundle, or `dist/pythonChild.js` above it. */
  childScript?: string;
  /** The pyodide npm package folder; by default where `require` finds it. */
  pyodideDir?: string;
  /** Cap on Python's WebAssembly heap, in MB (default 512). */
  memoryMb?: number;
  /** Longest output given back; the rest is cut with a note (default 2,000 characters). */
  maxOutputChars?: number;
  /** Longest wait for the interpreter to load (default 60 s); it does not count against `timeoutMs`. */
  startTimeoutMs?: number;
}

export interface PythonTool extends Tool {
  name: 'python';
  /** Starts the interpreter now so the first call does not wait for it; resolves with its load time in ms. */
  warmUp(): Promise<number>;
  dispose(): Promise<void>;
}

export const PYTHON_DEFAULTS = { memoryMb: 512, maxOutputChars: 2000, startTimeoutMs: 60_000 };

/** The pyodide files the tool needs at run time; they ship in the VSIX (scripts/package.mjs). */
export const PYODIDE_FILES = [
  'package.json',
  'pyodide.js',
  'pyodide.mjs',
  'pyodide.asm.mjs',
  'pyodide.asm.wasm',
  'python_stdlib.zip',
  'pyodide-lock.json',
];

export function createPythonTool(o: PythonToolOptions = {}): PythonTool {
  return new PythonSandbox({ ...PYTHON_DEFAULTS, ...o });
}

/** One child process and what it is doing. */
interface Child {
  proc: ChildProcess;
  ready: Promise<number>;
  /** Set while a program runs: called with the reply, or with undefined when the process ends. */
  onReply?: (r: ChildReply | undefined) => void;
  exited: boolean;
}

class PythonSandbox implements PythonTool {
  readonly name = 'python' as const;
  private child?: Child;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;

  constructor(
    private readonly o: Required<Omit<PythonToolOptions, 'childScript' | 'pyodideDir'>> & PythonToolOptions,
  ) {}

  run(code: string, o: ToolRunOptions): Promise<ToolResult> {
    const result = this.queue.then(() => this.runOne(code, o));
    this.queue = result.catch(() => undefined);
    return result;
  }

  warmUp(): Promise<number> {
    return this.start().ready;
  }

  async dispose(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (c) await kill(c);
  }

  private async runOne(code: string, o: ToolRunOptions): Promise<ToolResult> {
    const t0 = performance.now();
    const ms = () => performance.now() - t0;
    o.signal?.throwIfAborted();
    const c = this.start();
    c.proc.ref();
    c.proc.channel?.ref();
    try {
      try {
        await withAbort(c.ready, o.signal);
      } catch (e) {
        if (o.signal?.aborted) throw o.signal.reason;
        this.drop(c, false);
        return toolError(`the Python sandbox could not start: ${(e as Error).message}`, ms());
      }
      return await this.exchange(c, code, o, ms);
    } finally {
      c.proc.unref();
      c.proc.channel?.unref();
    }
  }

  /** Sends the program and waits for its reply, the time limit, the user's stop or the process's end. */
  private exchange(c: Child, code: string, o: ToolRunOptions, ms: () => number): Promise<ToolResult> {
    const id = this.nextId++;
    return new Promise<ToolResult>((resolve, reject) => {
      const finish = (r: ToolResult | { abort: unknown }) => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        c.onReply = undefined;
        if ('abort' in r) reject(r.abort);
        else resolve(r);
      };
      const onAbort = () => {
        this.drop(c, true);
        finish({ abort: o.signal?.reason });
      };
      const timer = setTimeout(() => {
        this.drop(c, true);
        finish(toolError(`the program ran longer than ${seconds(o.timeoutMs)} and was stopped`, ms()));
      }, o.timeoutMs);
      c.onReply = (r) => {
        if (!r) {
          const code = c.proc.exitCode ?? c.proc.signalCode;
          this.drop(c, true);
          return finish(
            toolError(`the Python process ended (exit ${code}); the next call starts a fresh one`, ms()),
          );
        }
        if (r.type !== 'result' || r.id !== id) return;
        if (!r.ok) return finish(toolError(r.output, ms()));
        const cut = r.truncated ? `\n… (${r.truncated} more characters cut)` : '';
        finish({ ok: true, output: r.output + cut, ms: ms() });
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const request: ChildRequest = { type: 'run', id, code, maxOutputChars: this.o.maxOutputChars };
      c.proc.send(request);
    });
  }

  /** The current child, started if there is none. */
  private start(): Child {
    if (this.child && !this.child.exited) return this.child;
    const pyodideDir = realpathSync(this.o.pyodideDir ?? dirname(require.resolve('pyodide/package.json')));
    const script = realpathSync(this.o.childScript ?? findChildScript());
    const heapCap = Math.min(this.o.memoryMb, 4095) * 1024 * 1024;
    const proc = fork(script, [pyodideDir, String(heapCap)], {
      execArgv: [
        '--experimental-permission',
        `--allow-fs-read=${script}`,
        `--allow-fs-read=${join(pyodideDir, '*')}`,
        '--disallow-code-generation-from-strings',
        '--max-old-space-size=256',
        '--no-warnings',
      ],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      serialization: 'json',
    });
    proc.unref();
    proc.channel?.unref();
    const c: Child = { proc, exited: false, ready: Promise.resolve(0) };
    c.ready = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('it did not load within the start time limit')),
        this.o.startTimeoutMs,
      );
      timer.unref();
      proc.on('message', (m: ChildReply) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m.loadMs);
        } else if (m.type === 'fatal') reject(new Error(m.message));
        else c.onReply?.(m);
      });
      proc.on('error', reject);
      proc.on('exit', (code, signal) => {
        c.exited = true;
        clearTimeout(timer);
        reject(new Error(`its process ended (exit ${code ?? signal})`));
        c.onReply?.(undefined);
      });
    });
    c.ready.catch(() => undefined);
    this.child = c;
    return c;
  }

  /** Kills a child that ran past a limit or was stopped; with `respawn`, a fresh one starts warming. */
  private drop(c: Child, respawn: boolean): void {
    if (this.child === c) this.child = undefined;
    c.onReply = undefined;
    void kill(c);
    if (respawn) this.start();
  }
}

function kill(c: Child): Promise<void> {
  if (c.exited) return Promise.resolve();
  return new Promise((resolve) => {
    c.proc.once('exit', () => resolve());
    c.proc.kill('SIGKILL');
  });
}

function withAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** dist/pythonChild.js: beside this bundle (dist/extension.js, dist/cli.js) or in a dist/ above it (tests). */
function findChildScript(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    for (const p of [join(dir, 'pythonChild.js'), join(dir, 'dist', 'pythonChild.js')]) {
      if (existsSync(p)) return p;
    }
    if (dirname(dir) === dir) {
      throw new Error(
        `pythonChild.js is not beside ${__dirname} or in a dist/ above it: run node scripts/build.mjs`,
      );
    }
  }
}
