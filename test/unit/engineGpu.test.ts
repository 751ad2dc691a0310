/**
 * The GPU path: a training step on a GPU execution provider keeps weights and optimizer state on the
 * device between steps (preferredOutputLocation 'gpu-buffer') and matches the CPU provider.
 * Skips, saying why, only when no GPU execution provider (webgpu, cuda) loads on this machine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { addOptimizer } from '../../src/engine/train/optim';
import { gpuProvider } from './webgpuProvider';

function mlpStep() {
  const g = new Graph();
  const x = g.input('x', 'f32', [4, 3]); // (N, D)
  const t = g.input('t', 'i64', [4]); // (N)
  const logits = g.linear(
    g.gelu(g.linear(x, g.param('fc1.weight', [3, 8]), g.param('fc1.bias', [8]))),
    g.param('fc2.weight', [8, 5]),
  ); // (N, V)
  const spec = addOptimizer(g, g.crossEntropy(logits, t), { kind: 'adamw', weightDecay: 0.1, clip: 1 });
  const init = Object.fromEntries(
    g.params.map((p, k) => [
      p.name,
      {
        dtype: 'f32' as const,
        shape: [...p.shape],
        data: Float32Array.from({ length: p.size }, (_, i) => Math.sin(i + k)),
      },
    ]),
  );
  return { bytes: emitOnnx(g), spec, init };
}

test('a GPU provider trains with state on the device and matches the CPU provider', async (t) => {
  const { ep, why } = await gpuProvider();
  if (!ep) return t.skip(why);
  const { bytes, spec, init } = mlpStep();
  const feeds = {
    x: {
      dtype: 'f32' as const,
      shape: [4, 3],
      data: Float32Array.from({ length: 12 }, (_, i) => Math.cos(i)),
    },
    t: { dtype: 'i64' as const, shape: [4], data: BigInt64Array.from([0n, 4n, 2n, 1n]) },
  };
  const cpu = await TrainRunner.create(bytes, spec, init, { ep: 'cpu' });
  const gpu = await TrainRunner.create(bytes, spec, init, { ep });
  for (let s = 0; s < 3; s++) {
    const a = await cpu.step(feeds, 1e-2);
    const b = await gpu.step(feeds, 1e-2);
    assert.ok(
      Math.abs(a.loss - b.loss) <= 1e-4 * Math.max(1, Math.abs(a.loss)),
      `step ${s + 1}: cpu loss ${a.loss} vs ${ep} ${b.loss}`,
    );
  }
  for (const p of ['fc1.weight', 'fc2.weight']) {
    const a = (await cpu.get(p)).data as Float32Array;
    const b = (await gpu.get(p)).data as Float32Array;
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i] - b[i]) <= 1e-4, `${p}[${i}]: cpu ${a[i]} vs ${ep} ${b[i]}`);
  }
  await cpu.release();
  await gpu.release();
});
