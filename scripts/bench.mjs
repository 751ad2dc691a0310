// `npm run bench [NAME…]`: builds and runs the benchmarks in bench/NAME.bench.ts (all when no name is given).
// Each benchmark prints its figures and ends with lines `BENCH <name> <ours> <unit> <peer> <theirs> <ratio>x`.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const wanted = process.argv.slice(2);
const all = readdirSync('bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();
// gpu runs only when named (bench/gpu.sh on a GPU machine): on a software adapter its full sizes take hours
const BY_NAME_ONLY = new Set(['gpu']);
const names = wanted.length ? wanted : all.filter((n) => !BY_NAME_ONLY.has(n));
for (const n of names)
  if (!all.includes(n)) throw new Error(`no benchmark bench/${n}.bench.ts (have: ${all.join(', ')})`);
execFileSync(process.execPath, ['scripts/build.mjs', '--no-tests', '--bench'], { stdio: 'inherit' });
let failed = 0;
for (const n of names) {
  console.log(`\n=== bench ${n}`);
  const r = spawnSync(process.execPath, ['--enable-source-maps', `out/bench/${n}.bench.js`], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
