// `npm run demo`: trains a small character-level GPT for about two minutes on this project's own
// sources and docs, printing loss, evals and samples as they turn from gibberish into TypeScript.
import { execFileSync } from 'node:child_process';

execFileSync(process.execPath, ['scripts/build.mjs', '--no-tests'], { stdio: 'inherit' });
const iters = process.env.DEMO_ITERS ?? '3000';
const args = [
  'dist/cli.js',
  'train',
  '--data',
  'README.md',
  'src',
  'webview',
  '--tokenizer',
  'char',
  '--preset',
  'tiny',
  '--max-iters',
  iters,
  '--eval-interval',
  '500',
  '--eval-iters',
  '10',
  '--sample-interval',
  '500',
  '--sample-tokens',
  '240',
  '--prompt',
  'export function ',
  '--log-interval',
  '100',
  '--run-dir',
  '.llmlens/runs/demo',
];
execFileSync(process.execPath, args, { stdio: 'inherit' });
console.log(
  `\nSample from it:  node dist/cli.js sample --checkpoint .llmlens/runs/demo/checkpoints/step-${iters} --prompt "export function "`,
);
