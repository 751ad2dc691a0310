/**
 * llm-lens export-torch, run for real: a tiny char-level run is exported, and its train.py trains under
 * `torchrun --standalone --nproc_per_node 2` on the CPU (gloo, Debian's python3-torch). References:
 * the host's own metrics parser and run-state fold (what the dashboard and Runs view read), ln(vocab)
 * for the first loss of a GPT-2 initialisation, the logits train.py saved for the first block of
 * val.bin against LLM Lens's forward pass on the checkpoint it wrote (opened as the Sampler opens it;
 * within 1e-5: measured 4e-7, and a tanh GELU in place of the exact one is 1e-4 off),
 * and one process with the whole batch against two with half each (DDP must not change the math).
 * python3 with torch and numpy is required (CI installs python3-torch): without it the test fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  exportTorchRun,
  torchSourceFromRunDir,
  type TorchExportSource,
} from '../../src/engine/export/torchExport';
import { GptInference } from '../../src/engine/model/inference';
import { openModelForInference } from '../../src/engine/sample/openModel';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import { listCheckpoints } from '../../src/host/training/runFiles';
import { applyEvent, emptyProgress, parseMetrics } from '../../src/host/training/runState';
import type { RunEvent } from '../../src/protocol/training';

const PYTHON = '/usr/bin/python3';
const TORCHRUN = '/usr/bin/torchrun';
const CLI = path.resolve('dist/cli.js');
const TEXT = 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n'.repeat(
  80,
);

const temps: string[] = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-torch-'));
  temps.push(d);
  return d;
};

before(() => {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  assert.equal(
    r.status,
    0,
    `${PYTHON} with torch and numpy is needed to run the exported trainer (apt-get install python3-torch python3-numpy): ${r.error?.message ?? r.stderr}`,
  );
  assert.ok(fs.existsSync(TORCHRUN), `${TORCHRUN} is missing: apt-get install python3-torch`);
});

/** Exports a tiny run with the CLI from a run file; returns the exported folder. */
function exportTiny(dir: string, extra: Record<string, unknown> = {}): string {
  fs.writeFileSync(path.join(dir, 'input.txt'), TEXT);
  const run = {
    data: 'input.txt',
    tokenizer: 'char',
    preset: 'tiny',
    maxIters: 6,
    batchSize: 4,
    evalIters: 2,
  };
  fs.writeFileSync(
    path.join(dir, 'tiny.llmlens.json'),
    JSON.stringify({ ...run, sampleTokens: 16, ...extra }),
  );
  const out = path.join(dir, 'torch');
  const r = spawnSync(
    process.execPath,
    [CLI, 'export-torch', '--config', 'tiny.llmlens.json', '--out', out],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/** Runs train.py: under torchrun with `nproc` processes, or plainly. Debian's torchrun 1.13 needs --redirects/--tee (see README). */
function train(out: string, nproc: number, args: string[]): void {
  const cmd =
    nproc > 1
      ? [
          TORCHRUN,
          '--standalone',
          '--nproc_per_node',
          String(nproc),
          '--redirects',
          '1',
          '--tee',
          '1',
          'train.py',
        ]
      : [PYTHON, 'train.py'];
  const r = spawnSync(cmd[0], [...cmd.slice(1), ...args], {
    cwd: out,
    encoding: 'utf8',
    timeout: 150_000,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  assert.equal(r.status, 0, `${cmd.join(' ')} failed (${r.signal ?? r.status}):\n${r.stdout}\n${r.stderr}`);
}

const NUMBERS: Record<string, string[]> = {
  start: ['params', 'tokensPerStep', 'startStep', 'maxIters', 'time'],
  step: ['step', 'loss', 'lr', 'gradNorm', 'ms', 'tokPerSec', 'tokensSeen', 'elapsedMs', 'etaMs', 'time'],
  eval: ['step', 'trainLoss', 'valLoss', 'time'],
  sample: ['step', 'time'],
  checkpoint: ['step', 'time'],
  done: ['step', 'elapsedMs', 'time'],
};

/** Every event is a RunEvent of a kind the dashboard draws, with its fields of the protocol's types. */
function checkShapes(events: RunEvent[]): void {
  for (const e of events) {
    const want = NUMBERS[e.kind];
    assert.ok(want, `unexpected event kind ${e.kind}`);
    for (const k of want)
      assert.ok(Number.isFinite((e as Record<string, unknown>)[k]), `${e.kind}.${k}: ${JSON.stringify(e)}`);
  }
  for (const e of events.filter((x) => x.kind === 'sample'))
    assert.ok(typeof e.prompt === 'string' && typeof e.text === 'string', JSON.stringify(e));
  const last = events.filter((x) => x.kind === 'checkpoint').at(-1);
  assert.ok(last && fs.existsSync(path.join(last.dir, 'model.safetensors')), JSON.stringify(last));
}

test('the exported train.py trains under torchrun on 2 processes; LLM Lens reads its log and checkpoint', async () => {
  const out = exportTiny(tmp());
  train(out, 2, ['--dump-logits', 'logits.json']);
  const events = parseMetrics(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8'));
  checkShapes(events);
  const p = emptyProgress();
  events.forEach((e) => applyEvent(p, e));
  assert.deepEqual([p.ended, p.step, p.maxIters, p.stage], ['finished', 6, 6, 'pretrain']);
  const steps = events.filter((e) => e.kind === 'step');
  assert.deepEqual(
    steps.map((e) => e.step),
    [1, 2, 3, 4, 5, 6],
  );
  const vocab = new Set(TEXT).size;
  assert.ok(Math.abs(steps[0].loss - Math.log(vocab)) < 0.25, `first loss ${steps[0].loss} vs ln ${vocab}`);
  const evals = events.filter((e) => e.kind === 'eval');
  assert.ok(
    evals.at(-1)!.valLoss < evals[0].valLoss - 0.2,
    `val loss ${evals[0].valLoss} → ${evals.at(-1)!.valLoss}`,
  );
  assert.deepEqual(
    listCheckpoints(out).map((c) => c.step),
    [4, 5, 6],
    'keepCheckpoints 3: the last three',
  );

  // the checkpoint as the Sampler opens it: LLM Lens's forward pass gives the logits train.py saved
  const ck = path.join(out, 'checkpoints', 'step-6');
  const m = await openModelForInference(ck);
  assert.equal(m.model.family, 'gpt2');
  assert.equal(m.tokenizer.vocabSize, vocab);
  const dump = JSON.parse(fs.readFileSync(path.join(out, 'logits.json'), 'utf8')) as {
    ids: number[];
    logits: number[][];
  };
  const infer = await GptInference.create(m.model.config as never, m.model.weights);
  try {
    for (const k of [1, 17, dump.ids.length]) {
      const ours = await infer.nextLogits(dump.ids.slice(0, k));
      const ref = dump.logits[k - 1];
      const diff = Math.max(...ref.map((v, i) => Math.abs(v - ours[i])));
      assert.ok(diff <= 1e-5, `position ${k - 1}: max |LLM Lens - torch| = ${diff}`);
    }
  } finally {
    await infer.release();
  }
  const full = await loadCheckpoint(ck);
  assert.equal(full.trainer?.step, 6);
  assert.equal(Object.keys(full.moments).length, 2 * Object.keys(full.weights).length);

  // one process with the whole batch of 4 rows takes the same steps as two with 2 rows each
  const single = path.join(out, 'single');
  train(out, 1, ['--max-iters', '2', '--eval-interval', '0', '--sample-interval', '0', '--out-dir', single]);
  const one = parseMetrics(fs.readFileSync(path.join(single, 'metrics.jsonl'), 'utf8')).filter(
    (e) => e.kind === 'step',
  );
  for (const [i, e] of one.entries()) {
    assert.ok(Math.abs(e.loss - steps[i].loss) < 1e-5, `step ${e.step} loss ${e.loss} vs ${steps[i].loss}`);
    assert.ok(
      Math.abs(e.gradNorm - steps[i].gradNorm) < 1e-4 * steps[i].gradNorm,
      `step ${e.step} grad norm`,
    );
  }
});

test('export-torch refuses what it cannot write, before writing anything', async () => {
  const dir = tmp();
  const out = exportTiny(dir);
  const again = spawnSync(
    process.execPath,
    [CLI, 'export-torch', '--config', 'tiny.llmlens.json', '--out', out],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  assert.equal(again.status, 1);
  assert.match(again.stderr, /is not empty .*--force/);
  // a Llama-family run (the trainer's run folder config.json says so)
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(runDir);
  const run = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')) as { model: object };
  const config = { format: 'llm-lens-run', version: 1, model: { ...run.model, family: 'llama' } };
  fs.writeFileSync(
    path.join(runDir, 'config.json'),
    JSON.stringify({ ...config, tokenizerFiles: [], tokenizerId: 'gpt2' }),
  );
  const src: TorchExportSource = await torchSourceFromRunDir(runDir);
  const empty = path.join(dir, 'empty');
  await assert.rejects(
    exportTorchRun(src, { out: empty }),
    /export-torch writes GPT-2-family runs; this run is llama/,
  );
  assert.equal(fs.existsSync(empty), false);
});
