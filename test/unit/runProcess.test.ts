/**
 * A run's pid file, checked against the processes that really run: only this run's trainer counts as
 * running, and only it is ever signalled. The pid files are hand-written; the trainer is a stand-in CLI
 * (a dist/cli.js that waits for SIGINT) started with the arguments the host gives the real one.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { psFacts, readPid, signalRun, trainArgs } from '../../src/host/training/runProcess';
import { fakeTrainer, killAndWait, sigintRecorder } from './fakeTrainer';

const root = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-pid-'));

function runDir(name: string): string {
  const d = path.join(root, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function writePidFile(dir: string, pidFile: object): void {
  fs.writeFileSync(path.join(dir, 'run.pid.json'), JSON.stringify(pidFile));
}

/** Field 22 of /proc/PID/stat: the start time in clock ticks after boot (what the kernel says). */
function kernelStart(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

const linux = process.platform === 'linux';

test('pid files that name no trainer of this run do not make it running', { skip: !linux }, async () => {
  const other = runDir('other');
  const trainerOfOther = await fakeTrainer(root, other);
  const unrelatedDir = runDir('unrelated');
  const unrelated = await sigintRecorder(path.join(root, 'unrelated.js'), [], unrelatedDir);
  const cases: [string, object][] = [
    ['pid -1 (every process)', { pid: -1, device: 'cpu', startedAt: 0 }],
    ['pid 0 (our process group)', { pid: 0, device: 'cpu', startedAt: 0 }],
    ['pid 1 (init)', { pid: 1, device: 'cpu', startedAt: 0 }],
    ['a fraction', { pid: 1.5, device: 'cpu', startedAt: 0 }],
    ['a string', { pid: String(unrelated.pid), device: 'cpu', startedAt: 0 }],
    ['this test process', { pid: process.pid, device: 'cpu', startedAt: 0 }],
    ['an unrelated process', { pid: unrelated.pid, device: 'cpu', startedAt: 0 }],
    [
      "another run's trainer",
      { pid: trainerOfOther.pid, device: 'cpu', startedAt: 0, procStart: kernelStart(trainerOfOther.pid!) },
    ],
  ];
  for (const [what, pidFile] of cases) {
    const dir = runDir(`case-${what.replace(/\W+/g, '-')}`);
    writePidFile(dir, pidFile);
    assert.equal(readPid(dir), undefined, what);
  }
});

test(
  "only this run's trainer counts as running, by command line and start time",
  { skip: !linux },
  async () => {
    const dir = runDir('mine');
    const trainer = await fakeTrainer(root, dir);
    const start = kernelStart(trainer.pid!);
    // macOS reads the same through ps: the arguments, and the start time to the second
    const ps = psFacts(trainer.pid!);
    assert.deepEqual(ps?.argv.slice(-trainArgs(dir).length), trainArgs(dir));
    assert.ok(Math.abs(ps!.startedAtMs! - Date.now()) < 5000, `ps start ${ps?.startedAtMs}`);
    writePidFile(dir, { pid: trainer.pid, device: 'cpu', startedAt: Date.now(), procStart: start });
    assert.equal(readPid(dir)?.pid, trainer.pid, 'the pid file written at spawn');
    writePidFile(dir, { pid: trainer.pid, device: 'cpu', startedAt: Date.now() });
    assert.equal(
      readPid(dir)?.pid,
      trainer.pid,
      'a pid file from before start times: the command line matches',
    );
    writePidFile(dir, { pid: trainer.pid, device: 'cpu', startedAt: Date.now(), procStart: start + 1 });
    assert.equal(readPid(dir), undefined, 'the pid was reused by a process started at another time');
    writePidFile(dir, { pid: trainer.pid, device: 'cpu', startedAt: Date.now(), procStart: start });
    await killAndWait(trainer);
    assert.equal(readPid(dir), undefined, 'after it exited');

    // forked with the extension host's node options before the script
    const withOptions = await fakeTrainer(root, dir, ['--no-warnings', '--max-old-space-size=512']);
    writePidFile(dir, { pid: withOptions.pid, device: 'cpu', startedAt: Date.now() });
    assert.equal(readPid(dir)?.pid, withOptions.pid, 'node options before the script');
    await killAndWait(withOptions);
  },
);

test("Stop signals this run's trainer and nothing else", { skip: !linux }, async () => {
  const sent: [number, string][] = [];
  const record = ((pid: number, signal: string) => {
    sent.push([pid, signal]);
    return true;
  }) as typeof process.kill;
  for (const pid of [-1, 0, 1, 1.5, process.pid]) {
    const dir = runDir(`stop-${pid}`);
    writePidFile(dir, { pid, device: 'cpu', startedAt: 0 });
    assert.equal(signalRun(dir, 'SIGINT', record), false, `pid ${pid}`);
  }
  assert.deepEqual(sent, [], 'no signal is sent');

  const unrelatedDir = runDir('stop-unrelated');
  const unrelated = await sigintRecorder(path.join(root, 'unrelated2.js'), [], unrelatedDir);
  writePidFile(unrelatedDir, { pid: unrelated.pid, device: 'cpu', startedAt: 0 });
  assert.equal(signalRun(unrelatedDir, 'SIGINT'), false);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(
    fs.existsSync(path.join(unrelatedDir, 'sigint')),
    false,
    'the unrelated process got no SIGINT',
  );

  const dir = runDir('stop-mine');
  const trainer = await fakeTrainer(root, dir);
  writePidFile(dir, { pid: trainer.pid, device: 'cpu', startedAt: 0, procStart: kernelStart(trainer.pid!) });
  const exited = new Promise((resolve) => trainer.once('exit', resolve));
  assert.equal(signalRun(dir, 'SIGINT'), true);
  await exited;
  assert.equal(fs.existsSync(path.join(dir, 'sigint')), true, 'the trainer got SIGINT');
});
