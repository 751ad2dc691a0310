// What the demos share: the llm-lens CLI, timed headings, the build, and a base model pretrained once
// and reused (its folder name carries what makes it different), then fine-tuned.
//   import { cli, say, build, pretrainBase, fineTune } from './demoLib.mjs';
//   build();
//   const base = pretrainBase({ dir, name: 'base-600', model: MODEL, iters: 600, text: () => corpus });
//   const ckpt = fineTune({ from: base, data: [file], runDir, iters: 2000, args: ['--lr', '1e-3'] });
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SHAKESPEARE = path.join('..', 'shared', 'data', 'tinyshakespeare.txt');
const t0 = Date.now();

/** Runs `llm-lens args…` (dist/cli.js); with `capture`, returns its standard output (`quiet`: no stderr). */
export const cli = (args, o = {}) =>
  execFileSync(process.execPath, ['dist/cli.js', ...args], {
    stdio: o.capture ? ['ignore', 'pipe', o.quiet ? 'pipe' : 'inherit'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });

/** The model flags of llm-lens train: layers, heads, width, block and batch size. */
export const modelArgs = (nLayer, nHead, nEmbd, blockSize, batchSize = 16) =>
  [
    '--n-layer',
    nLayer,
    '--n-head',
    nHead,
    '--n-embd',
    nEmbd,
    '--block-size',
    blockSize,
    '--batch-size',
    batchSize,
  ].map(String);

/** A heading with the seconds since the demo started. */
export const say = (s) => console.log(`\n=== [${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}`);

export const build = () =>
  execFileSync(process.execPath, ['scripts/build.mjs', '--no-tests'], { stdio: 'inherit' });

/** Shakespeare's first `chars` characters; the demos pretrain on them. */
export function shakespeare(chars) {
  if (!fs.existsSync(SHAKESPEARE)) throw new Error(`${SHAKESPEARE} is missing: the demo pretrains on it`);
  return fs.readFileSync(SHAKESPEARE, 'utf8').slice(0, chars);
}

/**
 * The checkpoint of a character-level base model pretrained for `iters` steps on `text()` in
 * `dir/name` (reused when it is there: `text` is only called to train one); `args`: more train flags.
 */
export function pretrainBase({ dir, name, model, iters, text, what, args = [] }) {
  const run = path.join(dir, name);
  const ckpt = path.join(run, 'checkpoints', `step-${iters}`);
  if (fs.existsSync(path.join(ckpt, 'model.safetensors'))) {
    say(`reusing the base model ${ckpt}`);
    return ckpt;
  }
  say(`pretraining the base model (${iters} steps on ${what})`);
  const file = path.join(dir, 'pretrain.txt');
  fs.writeFileSync(file, text());
  fs.rmSync(run, { recursive: true, force: true });
  cli([
    'train', '--data', file, '--tokenizer', 'char', ...model, '--max-iters', String(iters),
    '--eval-interval', String(iters), '--eval-iters', '4', '--sample-tokens', '0', '--log-interval', '100',
    '--no-initial-eval', '--run-dir', run, ...args,
  ]); // prettier-ignore
  return ckpt;
}

/** Fine-tuning flags of a quick run: batches of 8, no evaluation, no samples, a line every 50 steps. */
export const QUIET_SFT = [
  '--batch-size',
  '8',
  '--eval-iters',
  '0',
  '--sample-tokens',
  '0',
  '--log-interval',
  '50',
];

/** Fine-tunes `from` on conversations (`data` files) in a fresh `runDir`; returns the last checkpoint. */
export function fineTune({ from, data, runDir, iters, args = [] }) {
  fs.rmSync(runDir, { recursive: true, force: true });
  cli([
    'sft', '--from', from, ...data.flatMap((f) => ['--data', f]), '--run-dir', runDir,
    '--max-iters', String(iters), '--no-initial-eval', ...args,
  ]); // prettier-ignore
  return path.join(runDir, 'checkpoints', `step-${iters}`);
}
