/**
 * Processes for the run tests: a stand-in for the llm-lens CLI (a dist/cli.js started with the arguments the
 * host gives the real one) and unrelated ones. Each records a SIGINT in <dir>/sigint and exits, and is killed
 * when the tests end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after } from 'node:test';
import { trainArgs } from '../../src/host/training/runProcess';

const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill('SIGKILL')));

/** Starts `node [execArgv] <script> ...args`, a process that waits for SIGINT; resolves once it listens. */
export async function sigintRecorder(
  script: string,
  args: string[],
  dir: string,
  execArgv: string[] = [],
): Promise<ChildProcess> {
  fs.mkdirSync(path.dirname(script), { recursive: true });
  fs.writeFileSync(
    script,
    `process.on('SIGINT', () => { require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'sigint'))}, ''); process.exit(0); });
     setInterval(() => {}, 1000); process.send?.('ready');`,
  );
  const child = spawn(process.execPath, [...execArgv, script, ...args], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  await new Promise((resolve) => child.once('message', resolve));
  return child;
}

/**
 * A stand-in trainer of `runDir`: `node [execArgv] <root>/ext/dist/cli.js train … --control <runDir>/control.json`
 * (fork puts the extension host's execArgv before the script).
 */
export function fakeTrainer(root: string, runDir: string, execArgv: string[] = []): Promise<ChildProcess> {
  return sigintRecorder(path.join(root, 'ext', 'dist', 'cli.js'), trainArgs(runDir), runDir, execArgv);
}

/** Kills the process and waits for it to be gone. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
