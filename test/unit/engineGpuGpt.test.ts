/**
 * A GPT on a GPU provider: 20 AdamW steps of a tiny GPT-2 from the same weights and batches (the CPU
 * graph on the CPU provider, the GPU variant on the GPU, as train/loop.ts builds them) give the CPU
 * provider's losses within float tolerance, with no node on the CPU, and key/value-cache decoding on the
 * GPU gives the logits and greedy tokens of recomputing the whole context. Skips, with each provider's reason, where no GPU
 * execution provider (cuda, webgpu) loads. On lavapipe (software Vulkan) the file takes about 10 s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { targetOf } from '../../src/engine/graph/graph';
import { buildGptTrainGraph, initGptWeights, type GptConfig } from '../../src/engine/model/gpt';
import { GptInference, type GptModelConfig } from '../../src/engine/model/inference';
import { KvCacheModel } from '../../src/engine/model/kvCache';
import type { HostTensor } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { GPU_MAX_JOIN } from '../../src/engine/train/optim';
import { Rng } from '../../src/engine/train/rng';
import { gpuProvider } from './webgpuProvider';

const model: GptModelConfig = { vocabSize: 37, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 16, bias: true };

function batch(rng: Rng, B: number, T: number): Record<string, HostTensor> {
  const ids = Array.from({ length: B * (T + 1) }, () => Math.floor(rng.next() * model.vocabSize));
  const idx = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      idx[b * T + t] = BigInt(ids[b * (T + 1) + t]);
      targets[b * T + t] = BigInt(ids[b * (T + 1) + t + 1]);
    }
  return {
    idx: { dtype: 'i64', shape: [B, T], data: idx },
    targets: { dtype: 'i64', shape: [B, T], data: targets },
  };
}

test('20 training steps of a GPT on the GPU give the CPU losses within float tolerance', async (t) => {
  const { ep, why } = await gpuProvider();
  if (!ep) return t.skip(why);
  const c: GptConfig = { ...model, batchSize: 4 };
  // each provider gets the graph train/loop.ts builds for it: the CPU graph on cpu; on the GPU its variant
  // (target 'gpu') and flat AdamW as a tree (maxJoin): one Concat of every small parameter would bind
  // 17+ buffers in one shader, over lavapipe's 16 ("Too many storage buffers")
  const cpuStep = buildGptTrainGraph(c, { kind: 'adamw', weightDecay: 0.1, clip: 1 });
  const gpuOpt = { kind: 'adamw', weightDecay: 0.1, clip: 1, maxJoin: GPU_MAX_JOIN } as const;
  const gpuStep = buildGptTrainGraph({ ...c, target: targetOf(ep) }, gpuOpt);
  const init = initGptWeights(c, 1);
  const placed: string[] = [];
  const cpu = await TrainRunner.create(emitOnnx(cpuStep.graph), cpuStep.spec, init, { ep: 'cpu' });
  const gpu = await TrainRunner.create(emitOnnx(gpuStep.graph), gpuStep.spec, init, {
    ep,
    onCpuNodes: (w) => placed.push(w),
  });
  const rng = new Rng(3);
  let worst = 0;
  try {
    for (let s = 0; s < 20; s++) {
      const data = batch(rng, c.batchSize, c.blockSize);
      const a = await cpu.step(data, 3e-3);
      const b = await gpu.step(data, 3e-3);
      assert.ok(b.applied, `step ${s + 1} applied on ${ep}`);
      worst = Math.max(worst, Math.abs(a.loss - b.loss) / Math.abs(a.loss));
      assert.ok(
        Math.abs(a.loss - b.loss) <= 1e-4 * Math.abs(a.loss),
        `step ${s + 1}: cpu ${a.loss} vs ${ep} ${b.loss}`,
      );
      assert.ok(Math.abs(a.gradNorm - b.gradNorm) <= 1e-3 * a.gradNorm, `step ${s + 1} grad norm`);
    }
    const a = (await cpu.get('transformer.wte.weight')).data;
    const b = (await gpu.get('transformer.wte.weight')).data;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(Number(a[i]) - Number(b[i])) <= 1e-4, `wte[${i}]`);
    assert.deepEqual(placed, [], 'no node of the GPU training step ran on the CPU');
    t.diagnostic(`${ep}: worst relative loss difference over 20 steps ${worst.toExponential(2)}`);
  } finally {
    await cpu.release();
    await gpu.release();
  }
});

test('KV-cache decoding on the GPU gives the logits and greedy tokens of recomputing the context', async (t) => {
  const { ep, why } = await gpuProvider();
  if (!ep) return t.skip(why);
  const w = initGptWeights({ ...model, batchSize: 1 }, 5);
  for (const v of Object.values(w)) if (v.shape.length === 2) v.data = v.data.map((x) => x * 20); // peaked
  const ref = await GptInference.create(model, w, { ep });
  const kv = await KvCacheModel.create(model, w, { ep, slideKeep: model.blockSize });
  try {
    const cache = kv.newCache();
    const ctx = [3, 14, 15, 9, 2, 6];
    let logits = await kv.prefill(cache, ctx);
    let worst = 0;
    for (let i = 0; i < 20; i++) {
      const want = await ref.nextLogits(ctx); // (V)
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(want[j] - logits[j]));
      let next = 0;
      for (let j = 1; j < want.length; j++) if (want[j] > want[next]) next = j;
      ctx.push(next);
      logits = await kv.append(cache, next);
    }
    assert.ok(worst < 1e-4, `max |Δlogit| ${worst}`);
    assert.ok(cache.slides > 0, 'the window slid past the block size');
    assert.deepEqual(cache.tokens, ctx);
  } finally {
    await ref.release();
    await kv.release();
  }
});

test('maxJoin builds the flat AdamW as Concat/Split trees: no node joins more, and the steps are bitwise the same', async () => {
  const c: GptConfig = { ...model, batchSize: 2 };
  const whole = buildGptTrainGraph(c, { kind: 'adamw', weightDecay: 0.1, clip: 1 });
  const tree = buildGptTrainGraph(c, { kind: 'adamw', weightDecay: 0.1, clip: 1, maxJoin: 3 });
  const widest = (g: typeof whole.graph, type: string) =>
    Math.max(
      0,
      ...g.nodes.filter((n) => n.def.type === type).map((n) => Math.max(n.inputs.length, n.outputs.length)),
    );
  assert.ok(widest(whole.graph, 'Concat') > 3, 'without maxJoin one Concat joins every small parameter');
  assert.ok(widest(tree.graph, 'Concat') <= 3 && widest(tree.graph, 'Split') <= 3);
  const init = initGptWeights(c, 2);
  const a = await TrainRunner.create(emitOnnx(whole.graph), whole.spec, init, { ep: 'cpu' });
  const b = await TrainRunner.create(emitOnnx(tree.graph), tree.spec, init, { ep: 'cpu' });
  const rng = new Rng(4);
  try {
    for (let s = 0; s < 3; s++) {
      const data = batch(rng, c.batchSize, c.blockSize);
      assert.equal((await b.step(data, 1e-2)).loss, (await a.step(data, 1e-2)).loss, `step ${s + 1}`);
    }
    for (const name of [
      'transformer.ln_f.bias',
      'transformer.h.1.attn.c_attn.bias',
      'transformer.wte.weight',
    ])
      assert.deepEqual((await b.get(name)).data, (await a.get(name)).data, name);
  } finally {
    await a.release();
    await b.release();
  }
});
