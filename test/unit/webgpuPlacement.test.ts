/**
 * Node placement on a GPU provider: the profile parser against a hand-written ORT profile, and on a
 * WebGPU adapter a graph with an op the WebGPU EP has no kernel for (LogSoftmax in onnxruntime 1.30.0)
 * warns once naming it, while a graph of WebGPU ops does not warn. Skips where WebGPU does not load.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import { cpuNodes, placementWarning } from '../../src/engine/runtime/placement';
import { GraphRunner, type HostTensor } from '../../src/engine/runtime/session';
import { gpuProvider } from './webgpuProvider';

const node = (name: string, op: string, provider: string) => ({
  cat: 'Node',
  name: `${name}_kernel_time`,
  args: { op_name: op, provider },
});

test('cpuNodes reads the CPU-placed nodes of an ORT profile once each; the warning counts them by op', () => {
  const profile = [
    { cat: 'Session', name: 'model_run', args: {} },
    node('mm', 'MatMul', 'WebGpuExecutionProvider'),
    node('ls', 'LogSoftmax', 'CPUExecutionProvider'),
    { cat: 'Node', name: 'ls_fence_before', args: { op_name: 'LogSoftmax' } },
    node('ls', 'LogSoftmax', 'CPUExecutionProvider'), // a second run of the same node
    node('eq', 'Equal', 'CPUExecutionProvider'),
    node('ls2', 'LogSoftmax', 'CPUExecutionProvider'),
  ];
  assert.deepEqual(cpuNodes(profile), [
    { op: 'LogSoftmax', node: 'ls' },
    { op: 'Equal', node: 'eq' },
    { op: 'LogSoftmax', node: 'ls2' },
  ]);
  assert.equal(
    placementWarning('webgpu', 'the train step', cpuNodes(profile)),
    'The webgpu execution provider ran 3 nodes of the train step on the CPU (LogSoftmax ×2, Equal ×1): ' +
      'each costs a copy between host and device. Nodes: ls, eq, ls2.',
  );
  assert.equal(
    placementWarning('webgpu', 'g', cpuNodes([node('mm', 'MatMul', 'WebGpuExecutionProvider')])),
    undefined,
  );
  assert.throws(() => cpuNodes({}), /JSON array of trace events/);
});

test('on WebGPU, a graph with an op that has no WebGPU kernel warns once, naming it', async (t) => {
  const { ep, why } = await gpuProvider(['webgpu']);
  if (!ep) return t.skip(why);
  const x: HostTensor = { dtype: 'f32', shape: [2, 3], data: Float32Array.from([1, 2, 3, -1, 0, 1]) };
  const build = (withCpuOp: boolean) => {
    const g = new Graph();
    const h = g.tanh(g.input('x', 'f32', [2, 3])); // (2, 3)
    g.output('y', withCpuOp ? g.logSoftmax(h, -1) : g.softmax(h, -1)); // (2, 3)
    return emitOnnx(g);
  };
  const seen: string[][] = [];
  const onCpuNodes = (_: string, nodes: { op: string }[]) => seen.push(nodes.map((n) => n.op));
  const cpuOp = await GraphRunner.create(build(true), { ep, graphName: 'a test graph', onCpuNodes });
  for (let i = 0; i < 3; i++) await cpuOp.run({ x });
  assert.deepEqual(seen, [['LogSoftmax']], 'one warning, after the first run, naming LogSoftmax');
  const onDevice = await GraphRunner.create(build(false), { ep, onCpuNodes });
  await onDevice.run({ x });
  assert.equal(seen.length, 1, 'Tanh and Softmax run on WebGPU: no warning');
  await cpuOp.release();
  await onDevice.release();
});
