/**
 * The training process's environment (train/processEnv.ts), checked against the kernel's own count of
 * minor page faults: a process that allocates, touches and frees a 48 MB block again and again faults
 * the whole block in every time with glibc's defaults, and almost never with the training tunables.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { trainingProcessEnv } from '../../src/engine/train/processEnv';

test('trainingProcessEnv adds the malloc tunables and keeps tunables the caller set', () => {
  assert.equal(
    trainingProcessEnv({ PATH: '/bin' }).GLIBC_TUNABLES,
    'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295',
  );
  assert.equal(trainingProcessEnv({ PATH: '/bin' }).PATH, '/bin');
  const mine = trainingProcessEnv({
    GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1024:glibc.malloc.arena_max=2',
  }).GLIBC_TUNABLES!.split(':');
  assert.deepEqual(mine, [
    'glibc.malloc.trim_threshold=1024',
    'glibc.malloc.arena_max=2',
    'glibc.malloc.mmap_max=0',
  ]);
  const env = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' };
  trainingProcessEnv(env);
  assert.equal(env.GLIBC_TUNABLES, 'glibc.malloc.arena_max=2', "the caller's object is not changed");
});

// Allocate, touch and free 48 MB twelve times; print the minor faults of each round.
const CHURN = `
const faults = [];
for (let i = 0; i < 12; i++) {
  const before = process.resourceUsage().minorPageFault;
  let b = Buffer.allocUnsafeSlow(48 << 20);
  b.fill(i);
  b = null;
  globalThis.gc();
  faults.push(process.resourceUsage().minorPageFault - before);
}
console.log(JSON.stringify(faults));`;

const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
  ?.header?.glibcVersionRuntime;

test(
  'with the training tunables, freed blocks are reused instead of faulted in again (glibc)',
  { skip: glibc ? false : 'not a glibc system: the variable is ignored there' },
  () => {
    const run = (env: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, ['--expose-gc', '-e', CHURN], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const rounds = (JSON.parse(r.stdout) as number[]).slice(1).sort((a, b) => a - b); // the first round faults in either way
      return rounds[rounds.length >> 1];
    };
    const base = { ...process.env, GLIBC_TUNABLES: '' };
    // a fault maps a 4 KiB page, or a 2 MiB one where transparent huge pages are always on
    const thp = (() => {
      try {
        return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
      } catch {
        return '';
      }
    })();
    const pages = (48 << 20) / (thp.includes('[always]') ? 2 << 20 : 4096);
    const plain = run(base);
    const tuned = run(trainingProcessEnv(base));
    assert.ok(
      plain > 0.9 * pages,
      `glibc ${glibc} defaults: a median ${plain} faults per round, expected the whole block (${pages} pages)`,
    );
    assert.ok(
      tuned < 0.1 * plain,
      `with ${trainingProcessEnv(base).GLIBC_TUNABLES}: a median ${tuned} faults per round, expected almost none (defaults: ${plain})`,
    );
  },
);
