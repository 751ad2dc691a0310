/**
 * The training loop against PyTorch (gpt_ref.py fixtures made by test/fixtures/gen/train_parity.sh), and its
 * promises: resume equals an uninterrupted run, checkpoints load back bit-identical, bad input is refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { GptInference } from '../../src/engine/model/inference';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { loadCheckpoint, saveCheckpoint } from '../../src/engine/train/checkpoint';
import {
  MAX_STEPS_PER_RUN,
  stepsPerRun,
  TARGET_RUN_MS,
  trainGpt,
  type TrainConfig,
  type TrainEvent,
} from '../../src/engine/train/loop';
import { checkpointsToDelete } from '../../src/engine/train/retention';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';

const FIX = path.resolve('test/fixtures/train');
const tokenizer = CharTokenizer.fromJson(fs.readFileSync(path.join(FIX, 'vocab.char.json'), 'utf8'));
const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-train-'));

function config(runDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    runDir,
    dataDir: path.join(FIX, 'data'),
    model: { nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32, bias: false },
    tokenizerFiles: [path.join(FIX, 'vocab.char.json')],
    tokenizerId: 'char',
    batchSize: 4,
    gradAccum: 1,
    maxIters: 20,
    lr: 1e-3,
    minLr: 1e-4,
    warmupIters: 0,
    lrDecayIters: 20,
    decayLr: true,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.99,
    gradClip: 1,
    evalInterval: 0,
    evalIters: 0,
    sampleInterval: 0,
    sampleTokens: 0,
    prompt: '',
    temperature: 1,
    topK: 0,
    checkpointInterval: 0,
    keepCheckpoints: 3,
    seed: 1337,
    device: 'cpu',
    threads: 1,
    stage: 'pretrain',
    answerPrompts: 3,
    ...over,
  };
}

async function run(c: TrainConfig): Promise<TrainEvent[]> {
  const out: TrainEvent[] = [];
  for await (const e of trainGpt(c, { tokenizer })) out.push(e);
  const err = out.find((e) => e.kind === 'error');
  if (err && err.kind === 'error') throw new Error(err.message);
  return out;
}
const losses = (es: TrainEvent[]) => es.flatMap((e) => (e.kind === 'step' ? [e.loss] : []));

/** A checkpoint folder holding one of the fixture's safetensors files. */
function fixtureCheckpoint(file: string): string {
  const d = tmp();
  fs.copyFileSync(path.join(FIX, file), path.join(d, 'model.safetensors'));
  fs.copyFileSync(path.join(FIX, 'config.json'), path.join(d, 'config.json'));
  return d;
}

test('20 steps from the same weights and batches match PyTorch (gpt_ref.py) within 1e-4', async () => {
  const dir = tmp();
  const events = await run(config(dir, { initFrom: fixtureCheckpoint('step0.safetensors') }));
  const ours = losses(events);
  const torch = fs
    .readFileSync(path.join(FIX, 'torch_losses.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
  assert.equal(ours.length, 20);
  // same batches as the fixture run (seeded RNG), so gpt_ref.py saw exactly what we train on
  assert.deepEqual(
    fs.readFileSync(path.join(dir, 'offsets.i64')),
    fs.readFileSync(path.join(FIX, 'offsets.i64')),
  );
  for (let i = 0; i < 20; i++)
    assert.ok(Math.abs(ours[i] - torch[i]) < 1e-4, `step ${i}: ours ${ours[i]} vs torch ${torch[i]}`);
  assert.ok(ours[19] < ours[0], 'loss goes down');
});

test("logits of a saved checkpoint equal PyTorch's within 1e-5", async () => {
  const ckpt = await loadCheckpoint(fixtureCheckpoint('step20.safetensors'));
  const m = await GptInference.create(ckpt.config, ckpt.weights, { threads: 1 });
  const V = ckpt.config.vocabSize;
  const train = fs.readFileSync(path.join(FIX, 'data', 'train.bin'));
  const ids = Array.from({ length: 32 }, (_, i) => train.readUInt16LE(i * 2));
  const torch = new Float32Array(fs.readFileSync(path.join(FIX, 'torch_logits.f32')).buffer.slice(0));
  let worst = 0;
  for (const t of [0, 7, 31]) {
    const ours = await m.nextLogits(ids.slice(0, t + 1));
    for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(ours[v] - torch[t * V + v]));
  }
  await m.release();
  assert.ok(worst < 1e-5, `max |Δlogit| ${worst}`);
});

test('a run stopped at step 8 and resumed matches the uninterrupted run, step for step', async () => {
  const a = tmp();
  const full = losses(await run(config(a, { maxIters: 14 })));
  const b = tmp();
  await run(config(b, { maxIters: 14, stopAfter: 8 }));
  const resumed = losses(
    await run(config(b, { maxIters: 14, resumeFrom: path.join(b, 'checkpoints', 'step-8') })),
  );
  assert.equal(resumed.length, 6);
  assert.deepEqual(
    [
      ...losses(
        fs
          .readFileSync(path.join(b, 'metrics.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as TrainEvent),
      ),
    ],
    full,
  );
  assert.deepEqual(
    fs.readFileSync(path.join(a, 'offsets.i64')),
    fs.readFileSync(path.join(b, 'offsets.i64')),
  );
});

test('a checkpoint loads back bit-identical; a corrupt or truncated one is refused with a clear message', async () => {
  const dir = tmp();
  await run(config(dir, { maxIters: 3 }));
  const ck = path.join(dir, 'checkpoints', 'step-3');
  const a = await loadCheckpoint(ck);
  const saved = await saveCheckpoint({
    runDir: tmp(),
    config: a.config,
    weights: a.weights,
    moments: a.moments,
    trainer: a.trainer!,
    tokenizerFiles: [],
  });
  assert.deepEqual(
    fs.readFileSync(path.join(saved, 'model.safetensors')),
    fs.readFileSync(path.join(ck, 'model.safetensors')),
  );
  assert.deepEqual(
    fs.readFileSync(path.join(saved, 'trainer.safetensors')),
    fs.readFileSync(path.join(ck, 'trainer.safetensors')),
  );
  const b = await loadCheckpoint(saved);
  for (const k of Object.keys(a.weights)) assert.deepEqual(b.weights[k].data, a.weights[k].data, k);

  const model = path.join(ck, 'model.safetensors');
  fs.truncateSync(model, fs.statSync(model).size - 100);
  await assert.rejects(loadCheckpoint(ck), /truncat/i);
  fs.writeFileSync(model, 'not a checkpoint at all');
  await assert.rejects(loadCheckpoint(ck), /safetensors/i);
  fs.writeFileSync(path.join(ck, 'config.json'), '{"model_type": "llama", "n_layer": 2}');
  await assert.rejects(loadCheckpoint(ck), /not gpt2/);
});

test('a checkpoint whose optimizer state is missing still loads (to sample, export) but is refused for resuming', async () => {
  const dir = tmp();
  await run(config(dir, { maxIters: 3 }));
  const ck = path.join(dir, 'checkpoints', 'step-3');
  const full = await loadCheckpoint(ck);
  fs.rmSync(path.join(ck, 'trainer.safetensors'));
  const partial = await loadCheckpoint(ck);
  assert.deepEqual(Object.keys(partial.moments), []);
  for (const k of Object.keys(full.weights))
    assert.deepEqual(partial.weights[k].data, full.weights[k].data, k);
  await assert.rejects(
    run(config(dir, { maxIters: 5, resumeFrom: ck })),
    /has no optimizer state \(trainer\.safetensors\): it can be sampled, not resumed/,
  );
});

test('evaluations come every evalInterval steps from step 0 as in nanoGPT, or from the first interval with noInitialEval', async () => {
  const evalSteps = (es: TrainEvent[]) => es.flatMap((e) => (e.kind === 'eval' ? [e.step] : []));
  assert.deepEqual(
    evalSteps(await run(config(tmp(), { maxIters: 10, evalInterval: 5, evalIters: 1 }))),
    [0, 5, 10],
  );
  assert.deepEqual(
    evalSteps(await run(config(tmp(), { maxIters: 10, evalInterval: 5, evalIters: 1, noInitialEval: true }))),
    [5, 10],
  );
});

test('a failed checkpoint write leaves the previous checkpoint as it was', async () => {
  const dir = tmp();
  await run(config(dir, { maxIters: 2, checkpointInterval: 1 }));
  const ck = await loadCheckpoint(path.join(dir, 'checkpoints', 'step-2'));
  const before = fs.readFileSync(path.join(dir, 'checkpoints', 'step-2', 'model.safetensors'));
  await assert.rejects(
    saveCheckpoint({
      runDir: dir,
      config: ck.config,
      weights: ck.weights,
      moments: ck.moments,
      trainer: ck.trainer!,
      tokenizerFiles: [path.join(dir, 'no-such-tokenizer.json')],
    }),
    /no-such-tokenizer/,
  );
  assert.deepEqual(fs.readFileSync(path.join(dir, 'checkpoints', 'step-2', 'model.safetensors')), before);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).sort(), ['step-1', 'step-2']);
});

test('a NaN loss stops the run at that step, unapplied, and keeps the last good checkpoint', async () => {
  const dir = tmp();
  const events: TrainEvent[] = [];
  for await (const e of trainGpt(
    config(dir, { maxIters: 30, lr: 1e12, minLr: 1e12, gradClip: 0, checkpointInterval: 1 }),
    { tokenizer },
  ))
    events.push(e);
  const err = events.find((e) => e.kind === 'error');
  assert.ok(err && err.kind === 'error', 'the run reports an error');
  assert.match(err.message, /step \d+ went bad: (loss|gradient norm) (NaN|Infinity)/);
  const badStep = err.step;
  const steps = events.filter((e) => e.kind === 'step').map((e) => (e as { step: number }).step);
  assert.equal(Math.max(...steps), badStep, 'no step after the bad one');
  const kept = await loadCheckpoint(path.join(dir, 'checkpoints', `step-${badStep}`));
  for (const w of Object.values(kept.weights)) assert.ok(w.data.every((x) => Number.isFinite(x as number)));
});

/** Runs `fn` while recording how many steps each TrainRunner.runSteps call was given. */
async function runSizes<T>(fn: () => Promise<T>): Promise<{ result: T; sizes: number[] }> {
  const original = TrainRunner.prototype.runSteps;
  const sizes: number[] = [];
  TrainRunner.prototype.runSteps = function (this: TrainRunner, inputs) {
    sizes.push(inputs.length);
    return original.call(this, inputs);
  };
  try {
    return { result: await fn(), sizes };
  } finally {
    TrainRunner.prototype.runSteps = original;
  }
}

test('steps taken several per ONNX run equal one step per run, bit for bit, and runs stop at evaluations, samples and checkpoints', async () => {
  const over = {
    maxIters: 23,
    evalInterval: 10,
    evalIters: 1,
    checkpointInterval: 6,
    keepCheckpoints: 0,
    sampleInterval: 8,
    sampleTokens: 6,
  };
  const one = tmp();
  const many = tmp();
  const a = await runSizes(() => run(config(one, { ...over, stepsPerRun: 1 })));
  const b = await runSizes(() => run(config(many, { ...over, stepsPerRun: 64 })));
  assert.ok(a.sizes.every((k) => k === 1));
  // runs end at the multiples of 6 (checkpoints), 8 (samples) and 10 (evaluations), and at 23
  assert.deepEqual(b.sizes, [6, 2, 2, 2, 4, 2, 2, 3]);
  const strip = (es: TrainEvent[]) =>
    es.map((e) =>
      JSON.stringify(e, (k, v) =>
        ['time', 'ms', 'tokPerSec', 'elapsedMs', 'etaMs', 'runDir', 'dir', 'config'].includes(k)
          ? undefined
          : v,
      ),
    );
  assert.deepEqual(strip(b.result), strip(a.result));
  assert.equal(b.result.filter((e) => e.kind === 'sample').length, 4); // steps 0, 8, 16, 23
  assert.deepEqual(
    fs.readFileSync(path.join(many, 'offsets.i64')),
    fs.readFileSync(path.join(one, 'offsets.i64')),
  );
  for (const ck of ['step-6', 'step-12', 'step-18', 'step-23']) {
    for (const f of ['model.safetensors', 'trainer.safetensors'])
      assert.deepEqual(
        fs.readFileSync(path.join(many, 'checkpoints', ck, f)),
        fs.readFileSync(path.join(one, 'checkpoints', ck, f)),
        `${ck}/${f}`,
      );
  }
  // the steps of a run get times spread over it, in order
  const times = b.result.flatMap((e) => (e.kind === 'step' ? [e.time] : []));
  assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]));
});

test('by default the first run is one step (nothing timed yet), then runs of several', async () => {
  const { sizes } = await runSizes(() => run(config(tmp(), { maxIters: 20 })));
  assert.equal(sizes[0], 1);
  assert.ok(sizes.length >= 2 && Math.max(...sizes.slice(1)) > 1, `run sizes ${sizes.join(', ')}`);
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    20,
  );
});

test('a stop while paused ends the run without another run of steps, with a checkpoint', async () => {
  const dir = tmp();
  const abort = new AbortController();
  const control = { paused: false, checkpointNow: false };
  const events: TrainEvent[] = [];
  for await (const e of trainGpt(config(dir, { maxIters: 200, stepsPerRun: 8 }), {
    tokenizer,
    signal: abort.signal,
    control,
  })) {
    events.push(e);
    if (e.kind === 'step' && e.step === 1) {
      control.paused = true; // the run pauses once its first run of 8 steps is done
      setTimeout(() => abort.abort(), 300);
    }
  }
  const steps = events.flatMap((e) => (e.kind === 'step' ? [e.step] : []));
  assert.equal(Math.max(...steps), 8);
  const done = events.at(-1);
  assert.ok(done?.kind === 'done' && done.reason === 'stopped', JSON.stringify(done));
  assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'step-8', 'model.safetensors')));
});

test('steps per run: as many as fit in the target time, at least 1, at most the cap', () => {
  assert.equal(stepsPerRun(undefined), 1);
  assert.equal(stepsPerRun(TARGET_RUN_MS * 2), 1);
  assert.equal(stepsPerRun(TARGET_RUN_MS / 3), 3);
  assert.equal(stepsPerRun(TARGET_RUN_MS / 3 + 1), 2);
  assert.equal(stepsPerRun(0.01), MAX_STEPS_PER_RUN);
});

test('a NaN loss in the middle of a run of steps stops the run at the same step as one step per run', async () => {
  const over = { maxIters: 30, lr: 1e12, minLr: 1e12, gradClip: 0, stepsPerRun: 8 };
  const collect = async (c: TrainConfig) => {
    const es: TrainEvent[] = [];
    for await (const e of trainGpt(c, { tokenizer })) es.push(e);
    return es;
  };
  const many = await runSizes(() => collect(config(tmp(), over)));
  const one = await collect(config(tmp(), { ...over, stepsPerRun: 1 }));
  const err = many.result.find((e) => e.kind === 'error');
  assert.ok(err && err.kind === 'error');
  assert.deepEqual(err.step, one.find((e) => e.kind === 'error')?.step);
  assert.equal(many.sizes[0], 8);
  assert.ok(err.step % 8 !== 0, `the bad step (${err.step}) is inside a run of 8, not its first`);
  assert.deepEqual(losses(many.result), losses(one));
});

test('bad configs are refused with messages that say what to change', async () => {
  await assert.rejects(
    run(config(tmp(), { model: { nLayer: 2, nHead: 3, nEmbd: 32, blockSize: 32, bias: false } })),
    /nEmbd 32 is not divisible by nHead 3/,
  );
  await assert.rejects(
    run(config(tmp(), { model: { nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 100000, bias: false } })),
    /not more than one block/,
  );
  await assert.rejects(
    run(config(tmp(), { resumeFrom: path.join(tmp(), 'nothing') })),
    /nothing does not exist/,
  );
  await assert.rejects(
    run(config(tmp(), { prompt: 'Ω', sampleInterval: 5, sampleTokens: 5 })),
    /the sample prompt "Ω" cannot be encoded \(char: character "Ω" .* is not in the vocabulary\): give a prompt \(--prompt\)/,
  );
  const damaged = fixtureCheckpoint('step20.safetensors');
  fs.writeFileSync(path.join(damaged, 'trainer.json'), 'null');
  await assert.rejects(
    run(config(tmp(), { resumeFrom: damaged })),
    /trainer\.json is not an LLM Lens trainer state: resume from another checkpoint/,
  );
  await assert.rejects(
    run(config(tmp(), { stepsPerRun: 0 })),
    /stepsPerRun must be a whole number ≥ 1, got 0/,
  );
});

test(
  'an interval or count that is not a whole number is refused before any step (it never left step 0)',
  {
    timeout: 60_000,
  },
  async () => {
    for (const over of [
      { evalInterval: 0.5, evalIters: 1 },
      { sampleInterval: 0.5, sampleTokens: 4 },
      { checkpointInterval: 0.5 },
      { stepsPerRun: 0.5 },
      { maxIters: 2.5 },
      { keepCheckpoints: 1.5 },
    ]) {
      const dir = tmp();
      const [k, v] = Object.entries(over)[0];
      await assert.rejects(run(config(dir, over)), new RegExp(`${k} must be a whole number ≥ \\d, got ${v}`));
      assert.ok(!fs.existsSync(path.join(dir, 'checkpoints')), `${k}: nothing written`);
    }
  },
);

const checkpointSteps = (dir: string) =>
  fs
    .readdirSync(path.join(dir, 'checkpoints'))
    .flatMap((n) => (/^step-\d+$/.test(n) ? [Number(n.slice(5))] : []))
    .sort((a, b) => a - b);

test('which checkpoints go: all but the last N, the best by val loss and the protected; 0 keeps all', () => {
  const val = new Map([
    [4, 1.2],
    [8, 1.5],
    [10, 1.3],
  ]);
  assert.deepEqual(checkpointsToDelete([10, 2, 8, 6, 4], 2, val, new Set()), [2, 6]);
  assert.deepEqual(checkpointsToDelete([2, 4, 6, 8, 10], 1, val, new Set([2])), [6, 8]);
  assert.deepEqual(checkpointsToDelete([2, 4, 6, 8, 10], 1, new Map(), new Set()), [2, 4, 6, 8]);
  assert.deepEqual(checkpointsToDelete([2, 4, 6, 8, 10], 0, val, new Set()), []);
});

test('a run keeps its last keepCheckpoints checkpoints and the best by val loss; a resumed run keeps the one it resumed from', async () => {
  const dir = tmp();
  const over = { checkpointInterval: 2, evalInterval: 4, evalIters: 2, keepCheckpoints: 2 };
  const step = (n: number) => path.join(dir, 'checkpoints', `step-${n}`);
  const valAt = (events: TrainEvent[]) =>
    new Map(events.flatMap((e) => (e.kind === 'eval' ? [[e.step, e.valLoss] as const] : [])));
  // 1: twelve steps, a checkpoint every 2 and an eval every 4; the val loss falls, so the best is the last
  const first = await run(config(dir, { ...over, maxIters: 12 }));
  assert.deepEqual(
    first.flatMap((e) => (e.kind === 'checkpoint' ? [e.step] : [])),
    [2, 4, 6, 8, 10, 12],
  );
  const v1 = valAt(first);
  assert.ok(v1.get(12)! < v1.get(8)! && v1.get(8)! < v1.get(4)!, JSON.stringify([...v1]));
  assert.deepEqual(checkpointSteps(dir), [10, 12]);
  // 2: on from step-12 with a learning rate that makes the val loss worse, keeping 1: step-12, the best
  // (its val loss is in the first session's metrics), stays beside the last
  const worse = { ...over, keepCheckpoints: 1, lr: 0.3, minLr: 0.3 };
  const second = await run(config(dir, { ...worse, maxIters: 20, resumeFrom: step(12) }));
  const v2 = valAt(second);
  assert.ok(v1.get(12)! < Math.min(v2.get(16)!, v2.get(20)!), JSON.stringify([...v2]));
  assert.deepEqual(checkpointSteps(dir), [12, 20]);
  // 3: on from step-20, neither the last nor the best: it stays as the run's origin
  await run(config(dir, { ...worse, maxIters: 24, resumeFrom: step(20) }));
  assert.deepEqual(checkpointSteps(dir), [12, 20, 24]);
  // 0 keeps all
  const keepAll = tmp();
  await run(config(keepAll, { ...over, maxIters: 12, keepCheckpoints: 0 }));
  assert.deepEqual(checkpointSteps(keepAll), [2, 4, 6, 8, 10, 12]);
});

test('a run removes the checkpoint temp folders of a killed process, not those of a living one', async () => {
  const dir = tmp();
  const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has ended
  const left = path.join(dir, 'checkpoints', `.step-8.tmp-${dead}-1700000000000`);
  const living = path.join(dir, 'checkpoints', `.step-9.tmp-${process.pid}-1700000000000`);
  for (const d of [left, living]) {
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'model.safetensors'), 'half a file');
  }
  await run(config(dir, { maxIters: 2 }));
  assert.ok(!fs.existsSync(left), 'the dead process left it: removed');
  assert.ok(fs.existsSync(living), 'a living process may be writing it: kept');
  assert.deepEqual(checkpointSteps(dir), [2]);
});

test("samples of a model with more rows than the tokenizer's vocabulary draw only the tokenizer's ids", async () => {
  // gpt2-124m's 50257 rows under a character tokenizer: an untrained model's near-uniform logits put
  // 40 of every ~100 draws past the tokenizer, whose decode refused them ("no token with id").
  const c = config(tmp(), {
    model: {
      nLayer: 1,
      nHead: 2,
      nEmbd: 16,
      blockSize: 32,
      bias: false,
      vocabSize: tokenizer.vocabSize + 40,
    },
    maxIters: 2,
    lrDecayIters: 2,
    sampleInterval: 1,
    sampleTokens: 60,
  });
  const samples = (await run(c)).flatMap((e) => (e.kind === 'sample' ? [e.text] : []));
  assert.equal(samples.length, 3); // steps 0, 1 and 2
  for (const text of samples) assert.equal([...text].length, 60);
});
