/**
 * The builder's contract: shape and dtype errors that name the op, the shapes and what to change;
 * shared subexpressions built once; branches that don't reach an output or the loss pruned;
 * readable names in the emitted ONNX; runtime errors that say what to change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradients } from '../../src/engine/graph/autodiff';
import { emitOnnx, toOnnxModel } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import { decodeModel } from '../../src/engine/graph/onnxProto';
import { buildGptTrainGraph, gptParams } from '../../src/engine/model/gpt';
import { GraphRunner, toHost } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { addOptimizer } from '../../src/engine/train/optim';

test('shape mismatches name the op and both shapes', () => {
  const g = new Graph();
  const a = g.input('a', 'f32', [2, 3]);
  const b = g.input('b', 'f32', [4, 3]);
  assert.throws(() => g.add(a, b), /Add: shapes \[2, 3\] and \[4, 3\] do not broadcast.*reshape or expand/);
  assert.throws(
    () => g.matmul(a, b),
    /MatMul: inner dimensions differ: f32\[2, 3\] @ f32\[4, 3\] contracts 3 with 4/,
  );
  assert.doesNotThrow(() => g.matmul(a, b, { transB: true }));
  assert.throws(() => g.reshape(a, [4, 2]), /Reshape: cannot reshape f32\[2, 3\] \(6 elements\) to \[4, 2\]/);
  assert.throws(() => g.concat([a, g.input('c', 'f32', [2, 4])], 0), /Concat: .* differ outside axis 0/);
  assert.throws(
    () => g.layerNorm(a, g.input('w', 'f32', [4])),
    /LayerNormalization: weight\/bias must be f32\[3\]/,
  );
  assert.throws(
    () => g.crossEntropy(a, g.input('t', 'i64', [3])),
    /expects logits \(N, V\) and targets \(N\).*reshape to \(B·T, V\)/,
  );
  assert.throws(() => g.split(a, [1, 1], 1), /Split: sizes \[1, 1\] do not add up to dim 1/);
});

test('dtype and op mismatches say what to cast', () => {
  const g = new Graph();
  const x = g.input('x', 'f32', [2]);
  const i = g.input('i', 'i64', [2]);
  assert.throws(() => g.add(x, i), /Add: operand dtypes differ \(f32\[2\] vs i64\[2\]\); Cast one side/);
  assert.throws(() => g.gelu(i), /Gelu: needs a float tensor, got i64\[2\]; Cast it first/);
  assert.throws(() => g.where(x, x, x), /Where: the condition must be bool/);
  assert.throws(() => g.gather(x, x), /Gather: indices must be i64 or i32/);
  assert.throws(() => g.param('p', [2], 'i64'), /parameters must be float/);
  assert.throws(() => g.gather(g.param('table', [4, 3]), i, 1), /only axis 0 has a gradient rule; transpose/);
});

test('an op without a gradient rule on the path to the loss is an error naming it', () => {
  const g = new Graph();
  const w = g.param('w', [3]);
  const rounded = g.node({ type: 'Round' }, [w], {}, [{ dtype: 'f32', shape: [3] }])[0];
  assert.throws(() => gradients(g, g.reduceSum(rounded), [w]), /Round \(Round_\d+\) has no gradient rule/);
});

test('identical subexpressions are built once, in the forward and in the gradients', () => {
  const g = new Graph();
  const x = g.param('x', [4]);
  assert.equal(g.mul(x, x), g.mul(x, x));
  assert.equal(g.scalar(2, 'f32'), g.scalar(2, 'f32'));
  const y = g.add(g.tanh(x), g.tanh(x)); // tanh built once, used twice
  const before = g.nodes.length;
  gradients(g, g.reduceSum(y), [x]);
  const tanhGradMuls = g.nodes.slice(before).filter((n) => n.def.type === 'Tanh');
  assert.equal(tanhGradMuls.length, 0);
  assert.equal(g.nodes.filter((n) => n.def.type === 'Tanh').length, 1);
});

test('dead branches: unused forward work is not emitted, parameters off the loss path get zero gradients', async () => {
  const g = new Graph();
  const x = g.param('x', [3]);
  const unused = g.param('unused', [3]);
  g.exp(g.mul(x, 7)); // computed but never used
  g.exp(unused); // a parameter branch that never reaches the loss
  const loss = g.reduceSum(g.mul(x, x));
  const grads = gradients(g, loss, [x, unused]);
  g.output('loss', loss);
  g.output('grad/x', grads.get(x)!);
  g.output('grad/unused', grads.get(unused)!);
  const model = toOnnxModel(g);
  assert.ok(!model.graph.node.some((n) => n.opType === 'Exp'), 'no Exp in the emitted graph');
  const r = await GraphRunner.create(emitOnnx(g), { threads: 1 });
  const out = await r.run({
    x: { dtype: 'f32', shape: [3], data: Float32Array.from([1, 2, 3]) },
    unused: { dtype: 'f32', shape: [3], data: new Float32Array(3) },
  });
  assert.deepEqual(Array.from((await toHost(out['grad/x'])).data as Float32Array), [2, 4, 6]);
  assert.deepEqual(Array.from((await toHost(out['grad/unused'])).data as Float32Array), [0, 0, 0]);
  await r.release();
});

test('the emitted GPT step reads like the model: HF names, grad/ and new/ names, opset 20', () => {
  const c = { vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, bias: false, batchSize: 2 };
  const { graph } = buildGptTrainGraph(c, { kind: 'adamw', weightDecay: 0.1, clip: 1, outputGrads: true });
  const m = decodeModel(emitOnnx(graph));
  assert.deepEqual(m.opsetImport.find((o) => !o.domain)?.version, 20);
  const inputs = new Set(m.graph.input.map((i) => i.name));
  const outputs = new Set(m.graph.output.map((o) => o.name));
  for (const p of gptParams(c)) {
    assert.ok(inputs.has(p.name), p.name);
    assert.ok(outputs.has(`grad/${p.name}`) && outputs.has(`new/${p.name}`), p.name);
  }
  // AdamW keeps its moments in one flat vector per group (matrices decay, norms don't)
  for (const name of ['adam.m/@decay', 'adam.v/@decay', 'adam.m/@no_decay', 'adam.v/@no_decay'])
    assert.ok(inputs.has(name) && outputs.has(`new/${name}`), name);
  assert.ok(
    m.graph.node.some((n) => n.name?.startsWith('update/decay/')),
    'update nodes are under update/<group>/',
  );
  // per parameter when asked: adam.m/<name>
  const perParam = decodeModel(
    emitOnnx(buildGptTrainGraph(c, { kind: 'adamw', weightDecay: 0.1, clip: 1, flat: false }).graph),
  );
  const perInputs = new Set(perParam.graph.input.map((i) => i.name));
  for (const p of gptParams(c))
    assert.ok(perInputs.has(`adam.m/${p.name}`) && perInputs.has(`adam.v/${p.name}`), p.name);
  assert.ok(inputs.has('transformer.h.1.attn.c_attn.weight'));
  assert.ok(outputs.has('loss') && outputs.has('grad_norm'));
  assert.ok(
    m.graph.node.some((n) => n.name?.startsWith('h.1.attn/')),
    'nodes are scoped by block',
  );
  assert.ok(
    m.graph.node.some((n) => n.name?.startsWith('grad/')),
    'backward nodes are under grad/',
  );
});

test('an op/dtype combination the provider lacks is an error that says to use f32', async () => {
  const g = new Graph();
  g.output('y', g.erf(g.input('x', 'f64', [2])));
  await assert.rejects(
    GraphRunner.create(emitOnnx(g), { threads: 1 }),
    /cpu execution provider has no kernel for Erf .* build that op in f32/,
  );
});

test('missing feeds and missing initial weights are errors naming them', async () => {
  const g = new Graph();
  const w = g.param('w', [2]);
  const x = g.input('x', 'f32', [2]);
  const spec = addOptimizer(g, g.reduceSum(g.mul(w, x)), { kind: 'sgd' });
  const bytes = emitOnnx(g);
  await assert.rejects(TrainRunner.create(bytes, spec, {}), /no initial weights for parameter w/);
  await assert.rejects(
    TrainRunner.create(bytes, spec, { w: { dtype: 'f32', shape: [3], data: new Float32Array(3) } }),
    /w has 3 values, the graph expects \[2\]/,
  );
  const runner = await TrainRunner.create(
    bytes,
    spec,
    { w: { dtype: 'f32', shape: [2], data: new Float32Array(2) } },
    { threads: 1 },
  );
  await assert.rejects(runner.step({}, 0.1), /missing inputs x/);
  await runner.release();
  assert.throws(() => emitOnnx(new Graph()), /no outputs; call g.output/);
});

test('an execution provider that does not load is an error naming it, with what to do', async () => {
  const g = new Graph();
  g.output('y', g.tanh(g.input('x', 'f32', [2])));
  for (const ep of ['webgpu', 'cuda'] as const) {
    try {
      const r = await GraphRunner.create(emitOnnx(g), { ep });
      await r.release(); // this machine has that GPU provider: nothing to check here for it
    } catch (e) {
      const msg = (e as Error).message;
      assert.match(msg, new RegExp(`The ${ep} execution provider is not available here: .+`));
      assert.match(msg, /use the 'cpu' execution provider/);
    }
  }
});

test('f16, i32 and bool tensors: constants are encoded as IEEE half / int32 / bytes and run', async () => {
  const g = new Graph();
  const x = g.input('x', 'f32', [3]);
  const half = g.cast(g.cast(x, 'f16'), 'f32'); // round to half precision and back
  const k = g.cast(g.constant([0.1, 65504, -2.5], 'f16', [3]), 'f32');
  const i = g.cast(g.add(g.constant([1, 2, 3], 'i32', [3]), g.constant([10, 20, 30], 'i32', [3])), 'f32');
  const b = g.cast(g.constant([1, 0, 1], 'bool', [3]), 'f32');
  g.output('half', half);
  g.output('k', k);
  g.output('i', i);
  g.output('b', b);
  const r = await GraphRunner.create(emitOnnx(g), { threads: 1 });
  const out = await r.run({ x: { dtype: 'f32', shape: [3], data: Float32Array.from([1 / 3, 1e-8, 70000]) } });
  const get = async (n: string) => Array.from((await toHost(out[n])).data as Float32Array);
  // IEEE binary16: 1/3 -> 0x3555 = 0.333251953125; 1e-8 underflows to 0; 70000 overflows to +Inf; 0.1 -> 0x2e66
  assert.deepEqual(await get('half'), [0.333251953125, 0, Infinity]);
  assert.deepEqual(await get('k'), [0.0999755859375, 65504, -2.5]);
  assert.deepEqual(await get('i'), [11, 22, 33]);
  assert.deepEqual(await get('b'), [1, 0, 1]);
  await r.release();
});
