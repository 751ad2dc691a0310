/**
 * Values kept on a WebGPU device between runs (RunnerOptions.keepOnDevice): they come back to the host
 * equal to the CPU provider's results, feed back as inputs, and every misuse that crashes
 * onnxruntime-node in native code (reading a buffer after its session is released, feeding a disposed
 * one) is refused with an error instead. Skips, with the provider's reason, where WebGPU does not load.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import {
  disposeValue,
  GraphRunner,
  isOnDevice,
  toHost,
  type HostTensor,
} from '../../src/engine/runtime/session';
import { gpuProvider } from './webgpuProvider';

/** y = tanh(x·W + 1) (3, 4), s = Σx (), k = i + i (int64). */
function model(): Uint8Array {
  const g = new Graph();
  const x = g.input('x', 'f32', [3, 2]); // (N, D)
  const w = g.input('w', 'f32', [2, 4]); // (D, H)
  const i = g.input('i', 'i64', [3]); // (N)
  g.output('y', g.tanh(g.add(g.matmul(x, w), 1))); // (N, H)
  g.output('s', g.reduceSum(x)); // ()
  g.output('k', g.add(i, i)); // (N)
  return emitOnnx(g);
}

const feeds = (): Record<string, HostTensor> => ({
  x: { dtype: 'f32', shape: [3, 2], data: Float32Array.from([0.5, -1, 2, 0.25, -0.75, 1.5]) },
  w: { dtype: 'f32', shape: [2, 4], data: Float32Array.from([0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]) },
  i: { dtype: 'i64', shape: [3], data: BigInt64Array.from([7n, -2n, 1n << 40n]) },
});

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let j = 0; j < a.length; j++)
    assert.ok(Math.abs(a[j] - b[j]) <= tol, `${what}[${j}]: ${a[j]} vs ${b[j]}`);
}

test('device values come back to the host equal to the CPU provider, in every dtype and rank', async (t) => {
  const { ep, why } = await gpuProvider(['webgpu']);
  if (!ep) return t.skip(why);
  const cpu = await GraphRunner.create(model());
  const gpu = await GraphRunner.create(model(), { ep, keepOnDevice: ['y', 's', 'k'] });
  const want = await cpu.run(feeds());
  const got = await gpu.run(feeds());
  for (const n of ['y', 's', 'k']) assert.ok(isOnDevice(got[n]), `${n} stays on the device`);
  const [y, s, k] = await Promise.all(['y', 's', 'k'].map((n) => toHost(got[n])));
  assert.deepEqual(y.shape, [3, 4]);
  assert.deepEqual(s.shape, []);
  close(y.data as Float32Array, (await toHost(want.y)).data as Float32Array, 1e-6, 'y');
  close(s.data as Float32Array, [2.5], 1e-6, 's');
  assert.deepEqual(k.data, BigInt64Array.from([14n, -4n, 1n << 41n]));
  await cpu.release();
  await gpu.release();
});

test('a device value fed back as an input iterates like host values on the CPU provider', async (t) => {
  const { ep, why } = await gpuProvider(['webgpu']);
  if (!ep) return t.skip(why);
  const g = new Graph();
  const x = g.input('x', 'f32', [4]);
  g.output('y', g.tanh(g.add(g.mul(x, 1.5), 0.25)));
  const cpu = await GraphRunner.create(emitOnnx(g));
  const gpu = await GraphRunner.create(emitOnnx(g), { ep, keepOnDevice: ['y'] });
  let a: HostTensor = { dtype: 'f32', shape: [4], data: Float32Array.from([1, -2, 0.5, 3]) };
  let b = (await gpu.run({ x: a })).y;
  a = await toHost((await cpu.run({ x: a })).y);
  for (let i = 0; i < 5; i++) {
    const next = (await gpu.run({ x: b })).y;
    disposeValue(b);
    b = next;
    a = await toHost((await cpu.run({ x: a })).y);
  }
  close((await toHost(b)).data as Float32Array, a.data as Float32Array, 1e-6, 'x after 6 runs');
  await cpu.release();
  await gpu.release();
});

test('a device value read, fed or disposed after release, or used after dispose, is an error', async (t) => {
  const { ep, why } = await gpuProvider(['webgpu']);
  if (!ep) return t.skip(why);
  const gpu = await GraphRunner.create(model(), { ep, keepOnDevice: ['y'] });
  const other = await GraphRunner.create(model(), { ep, keepOnDevice: ['y'] });
  const gone = (await other.run(feeds())).y;
  const disposed = (await other.run(feeds())).y;
  disposeValue(disposed);
  await assert.rejects(toHost(disposed), /toHost: this device value was disposed/);
  await assert.rejects(gpu.run({ ...feeds(), x: disposed }), /input x: this device value was disposed/);
  await other.release();
  await assert.rejects(toHost(gone), /belonged to a session that was released.*toHost/);
  await assert.rejects(gpu.run({ ...feeds(), x: gone }), /input x: .*session that was released/);
  disposeValue(gone); // a no-op: the session freed it
  const y = (await gpu.run(feeds())).y; // the device still works
  assert.equal((await toHost(y)).data.length, 12);
  await gpu.release();
});
