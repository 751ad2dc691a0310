/**
 * The step loop (train/stepLoop.ts): k training steps in one ONNX run against k runs of the step graph
 * itself (whose steps match PyTorch in engineTorch.test.ts), bit for bit, and its NaN/Inf handling:
 * the loop stops at the first bad step and the runner keeps the state of the good steps before it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import { buildGptTrainGraph, initGptWeights, type GptConfig } from '../../src/engine/model/gpt';
import { TrainRunner, type StepInput } from '../../src/engine/runtime/trainRunner';
import { addOptimizer } from '../../src/engine/train/optim';
import { emitTrainLoop } from '../../src/engine/train/stepLoop';

const config: GptConfig = {
  vocabSize: 11,
  blockSize: 8,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  bias: true,
  batchSize: 3,
};

/** Batch `s` of a deterministic token stream, with a learning rate that changes every step. */
function gptInput(s: number): StepInput {
  const n = config.batchSize! * config.blockSize;
  const tok = (i: number) => BigInt((i * 7 + s * 5 + ((i * i) % 3)) % config.vocabSize);
  return {
    lr: 3e-3 * (1 + s / 4),
    data: {
      idx: {
        dtype: 'i64',
        shape: [config.batchSize!, config.blockSize],
        data: BigInt64Array.from({ length: n }, (_, i) => tok(i)),
      },
      targets: {
        dtype: 'i64',
        shape: [config.batchSize!, config.blockSize],
        data: BigInt64Array.from({ length: n }, (_, i) => tok(i + 1)),
      },
    },
  };
}

async function state(r: TrainRunner): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const s of r.spec.state)
    out.set(s.name, Array.from((await r.get(s.name)).data as Float32Array | Float64Array));
  return out;
}

test('k AdamW steps of a GPT in one ONNX run equal k runs of the step graph, bit for bit (losses, norms, weights, moments)', async () => {
  // flatBelow 200: matrices updated alone, biases and norms in the flat per-group slots; clipping on
  const { graph, spec } = buildGptTrainGraph(config, {
    kind: 'adamw',
    weightDecay: 0.1,
    beta2: 0.99,
    clip: 0.5,
    flatBelow: 200,
  });
  const init = initGptWeights(config, 3);
  const plain = await TrainRunner.create(emitOnnx(graph), spec, init, { threads: 1 });
  const loop = await TrainRunner.create(emitTrainLoop(graph, spec), spec, init, { threads: 1 });
  assert.equal(plain.isLoop, false);
  assert.equal(loop.isLoop, true);
  const inputs = Array.from({ length: 9 }, (_, s) => gptInput(s));
  const expected = [];
  for (const i of inputs) expected.push(await plain.step(i.data, i.lr));
  // runs of 4, 1 and 4 steps: the step number (AdamW's bias correction) carries across runs
  const got = [
    ...(await loop.runSteps(inputs.slice(0, 4))),
    ...(await loop.runSteps(inputs.slice(4, 5))),
    ...(await loop.runSteps(inputs.slice(5))),
  ];
  assert.deepEqual(
    got.map((r) => [r.loss, r.gradNorm, r.applied]),
    expected.map((r) => [r.loss, r.gradNorm, r.applied]),
  );
  assert.ok(
    expected.some((r) => r.gradNorm > 0.5),
    'some steps are clipped',
  );
  const initial = new Map(
    spec.state.map((s) => [s.name, s.init === 'param' ? Array.from(init[s.name].data as Float32Array) : []]),
  );
  for (const s of spec.state.filter((s) => s.init === 'param'))
    assert.notDeepEqual((await state(plain)).get(s.name), initial.get(s.name), `${s.name} was updated`);
  assert.equal(loop.steps, 9);
  assert.deepEqual(await state(loop), await state(plain));
  assert.deepEqual(await loop.moments(), await plain.moments());
  // step() on a loop is a run of one
  const one = gptInput(9);
  const a = await plain.step(one.data, one.lr);
  const b = await loop.step(one.data, one.lr);
  assert.deepEqual([b.loss, b.gradNorm, b.applied], [a.loss, a.gradNorm, a.applied]);
  assert.deepEqual(await state(loop), await state(plain));
  assert.deepEqual(await loop.runSteps([]), []);
  await plain.release();
  await loop.release();
});

/** y = x·w, loss = mean((y - 1)²) with SGD: a bad x makes a step's loss NaN or its gradient norm Inf. */
async function regression(asLoop: boolean, dtype: 'f32' | 'f64' = 'f32'): Promise<TrainRunner> {
  const g = new Graph();
  const x = g.input('x', dtype, [2, 3]); // (N, D)
  const w = g.param('w', [3, 1], dtype); // (D, 1)
  const d = g.sub(g.matmul(x, w), 1); // (N, 1)
  const spec = addOptimizer(g, g.reduceMean(g.mul(d, d)), { kind: 'sgd', clip: 10 });
  const init = {
    w: { dtype, shape: [3, 1], data: (dtype === 'f64' ? Float64Array : Float32Array).from([0.1, 0.2, 0.3]) },
  };
  return TrainRunner.create(asLoop ? emitTrainLoop(g, spec) : emitOnnx(g), spec, init, { threads: 1 });
}
const xs = (v: number[], lr = 0.05, dtype: 'f32' | 'f64' = 'f32'): StepInput => ({
  lr,
  data: { x: { dtype, shape: [2, 3], data: (dtype === 'f64' ? Float64Array : Float32Array).from(v) } },
});
const good = (s: number) => xs([1, 2, 3 + s, 0, 1, s]);
const nan = xs([1, 2, NaN, 0, 1, 0]);
const inf = xs([3e18, 3e18, 3e18, 0, 0, 0]); // loss ≈ 1e37 is finite, its gradient's square overflows

for (const [what, bad, nonFinite] of [
  ['a NaN loss', nan, ['loss', 'grad_norm']],
  ['an Inf gradient norm', inf, ['grad_norm']],
] as const) {
  test(`${what} in the middle of a run: the steps before it are applied, it is not, and the state is that of the good steps`, async () => {
    const plain = await regression(false);
    const loop = await regression(true);
    const expected = [];
    for (const i of [good(0), good(1), bad]) expected.push(await plain.step(i.data, i.lr));
    assert.deepEqual(
      expected.map((r) => r.applied),
      [true, true, false],
    );
    const rs = await loop.runSteps([good(0), good(1), bad, good(2), good(3)]);
    assert.deepEqual(
      rs.map((r) => [r.loss, r.gradNorm, r.applied]),
      expected.map((r) => [r.loss, r.gradNorm, r.applied]),
    );
    assert.deepEqual(rs[2].nonFinite, nonFinite);
    assert.equal(loop.steps, 2);
    assert.deepEqual(await state(loop), await state(plain));
    // the run goes on from there
    const next = [good(2), good(3)];
    const after = await loop.runSteps(next);
    for (const [k, i] of next.entries()) assert.equal((await plain.step(i.data, i.lr)).loss, after[k].loss);
    assert.deepEqual(await state(loop), await state(plain));
    await plain.release();
    await loop.release();
  });
}

test('a bad first step of a run leaves the state as it was', async () => {
  const loop = await regression(true);
  const before = await state(loop);
  const rs = await loop.runSteps([nan, good(0)]);
  assert.deepEqual(
    rs.map((r) => r.applied),
    [false],
  );
  assert.ok(Number.isNaN(rs[0].loss));
  assert.equal(loop.steps, 0);
  assert.deepEqual(await state(loop), before);
  await loop.release();
});

test('wrong data for a step loop is refused with a message naming the input, the step and the shapes', async () => {
  const loop = await regression(true);
  await assert.rejects(
    loop.runSteps([good(0), xs([1, 2, 3])]),
    /x of step 2 has 3 f32 values, the graph expects f32 \[2, 3\] \(6 values\)/,
  );
  await assert.rejects(loop.runSteps([good(0), { lr: 0.1, data: {} }]), /missing inputs x \(step 2 of 2\)/);
  await assert.rejects(loop.runSteps([{ lr: 0.1, data: { y: good(0).data.x } }]), /missing inputs x/);
  assert.equal(loop.steps, 0);
  await loop.release();
});

test('a step graph with extra outputs cannot be looped: the message says what to change', () => {
  const g = new Graph();
  const x = g.input('x', 'f32', [2]);
  const w = g.param('w', [2]);
  const spec = addOptimizer(g, g.reduceSum(g.mul(x, w)), { kind: 'sgd', outputGrads: true });
  assert.throws(
    () => emitTrainLoop(g, spec),
    /outputs grad\/w are not state, loss or grad_norm \(build the graph without outputGrads\)/,
  );
});

test('a float64 step loop equals the float64 step graph, NaN in the middle included', async () => {
  const plain = await regression(false, 'f64');
  const loop = await regression(true, 'f64');
  const ins = [
    xs([1, 2, 3, 0, 1, 0], 0.05, 'f64'),
    xs([1, 2, 4, 0, 1, 1], 0.07, 'f64'),
    xs([1, 2, NaN, 0, 1, 0], 0.05, 'f64'),
    xs([1, 2, 5, 0, 1, 2], 0.05, 'f64'),
  ];
  const expected = [];
  for (const i of ins.slice(0, 3)) expected.push(await plain.step(i.data, i.lr));
  const got = await loop.runSteps(ins);
  assert.deepEqual(
    got.map((r) => [r.loss, r.gradNorm, r.applied]),
    expected.map((r) => [r.loss, r.gradNorm, r.applied]),
  );
  assert.equal((await loop.get('w')).dtype, 'f64');
  assert.deepEqual(await state(loop), await state(plain));
  await plain.release();
  await loop.release();
});

test("a step graph with names under loop/ is refused (they are the loop's own)", () => {
  const g = new Graph();
  const x = g.input('loop/data/x', 'f32', [2]);
  const w = g.param('w', [2]);
  const spec = addOptimizer(g, g.reduceSum(g.mul(x, w)), { kind: 'sgd' });
  assert.throws(
    () => emitTrainLoop(g, spec),
    /the step graph has a value named loop\/data\/x; names under loop\/ are the loop's own/,
  );
});
