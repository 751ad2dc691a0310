/**
 * The fine-tuning loss against PyTorch (test/fixtures/gen/sft_fixtures.py): a two-layer GPT whose targets
 * carry weight 1 inside the answers and 0 elsewhere (a whole row at 0). PyTorch is given the targets with
 * -100 where the weight is 0 and computes F.cross_entropy(ignore_index=-100) in float64; the engine is
 * given every target and the weights. Loss, every parameter's gradient and d loss/d logits agree within
 * 1e-5 relative (max |engine - torch| ≤ 1e-5 · max |torch|, as engineTorch.test.ts); on masked rows the
 * gradient is exactly 0, and what a masked target is changes no gradient at all (equal floats).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradients } from '../../src/engine/graph/autodiff';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import { buildGptTrainGraph, gptForward, gptParams, type GptConfig } from '../../src/engine/model/gpt';
import { GraphRunner, toHost, type HostTensor } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { assertClose, fixtureGptConfig, readFixture } from '../fixtures/engine/torchFixture';

interface Fixture {
  c: GptConfig;
  get(name: string): HostTensor;
}

function load(): Fixture {
  const fx = readFixture('gpt_sft.safetensors');
  return { c: fixtureGptConfig(fx.meta, +fx.meta.batch), get: fx.get };
}

const paramNames = (c: GptConfig) => gptParams(c).map((p) => p.name);
const data = (f: Fixture, w = f.get('data/weights'), targets = f.get('data/targets')) => ({
  idx: f.get('data/idx'),
  targets,
  weights: { dtype: 'f32' as const, shape: w.shape, data: Float32Array.from(w.data as Float32Array) },
});

test('weighted training step: loss and every gradient equal PyTorch cross_entropy(ignore_index=-100)', async () => {
  const f = load();
  const { graph, spec } = buildGptTrainGraph(f.c, { kind: 'sgd', outputGrads: true }, { weighted: true });
  assert.deepEqual(
    spec.data.map((d) => [d.name, d.dtype, d.shape]),
    [
      ['idx', 'i64', [3, 8]],
      ['targets', 'i64', [3, 8]],
      ['weights', 'f32', [3, 8]],
    ],
  );
  const init = Object.fromEntries(paramNames(f.c).map((n) => [n, f.get(`init/${n}`)]));
  const runner = await TrainRunner.create(emitOnnx(graph), spec, init, { threads: 1 });
  const r = await runner.step(data(f), 0);
  assertClose('loss', [r.loss], f.get('loss').data as Float32Array);
  for (const n of paramNames(f.c))
    assertClose(
      `grad/${n}`,
      (await toHost(r.extra[`grad/${n}`])).data as Float32Array,
      f.get(`grad/${n}`).data as Float32Array,
    );
  await runner.release();
});

/** A graph with the loss, every parameter's gradient and d loss/d logits as outputs. */
async function lossGraph(c: GptConfig): Promise<GraphRunner> {
  const g = new Graph({ name: 'sft-loss', embeddingGrad: 'onehot' });
  const B = c.batchSize;
  const T = c.blockSize;
  const idx = g.input('idx', 'i64', [B, T]); // (B, T)
  const targets = g.input('targets', 'i64', [B, T]); // (B, T)
  const weights = g.input('weights', 'f32', [B, T]); // (B, T)
  const { logits } = gptForward(g, c, idx, { train: true }); // (B·T, V)
  const loss = g.crossEntropy(logits, g.reshape(targets, [B * T]), { weights: g.reshape(weights, [B * T]) }); // ()
  const grads = gradients(g, loss, [...g.params, logits]);
  g.output('loss', loss);
  for (const [t, d] of grads) g.output(`grad/${t.name}`, d);
  return GraphRunner.create(emitOnnx(g), { threads: 1 });
}

async function run(runner: GraphRunner, f: Fixture, feeds: ReturnType<typeof data>) {
  const params = Object.fromEntries(paramNames(f.c).map((n) => [n, f.get(`init/${n}`)]));
  const out = await runner.run({ ...params, ...feeds });
  const host: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(out)) host[k] = (await toHost(v)).data as Float32Array;
  return host;
}

test('d loss/d logits equals PyTorch and is exactly 0 on masked rows; masked targets change nothing', async () => {
  const f = load();
  const V = f.c.vocabSize;
  const runner = await lossGraph(f.c);
  const out = await run(runner, f, data(f));
  assertClose('loss', out.loss, f.get('loss').data as Float32Array);
  assertClose('grad/logits', out['grad/logits'], f.get('grad/logits').data as Float32Array);
  const w = f.get('data/weights').data as Float32Array;
  let masked = 0;
  w.forEach((wi, i) => {
    const row = out['grad/logits'].subarray(i * V, (i + 1) * V);
    if (wi === 0) {
      masked++;
      assert.ok(
        row.every((x) => x === 0),
        `row ${i} (weight 0): gradient ${Array.from(row).join(', ')}`,
      );
    } else
      assert.ok(
        row.some((x) => x !== 0),
        `row ${i} (weight 1) has no gradient`,
      );
  });
  assert.ok(masked >= 8 && masked < w.length);

  // other targets where the weight is 0: exactly the same loss and gradients
  const t = f.get('data/targets');
  const shifted = BigInt64Array.from(t.data as BigInt64Array, (x, i) =>
    w[i] === 0 ? (x + 1n + BigInt(i % 3)) % BigInt(V) : x,
  );
  const other = await run(runner, f, data(f, undefined, { ...t, data: shifted }));
  for (const k of Object.keys(out)) {
    const same = out[k].every((x, i) => x === other[k][i]); // exactly equal (a masked row's 0 may flip to -0)
    assert.ok(same, `${k} changed with a masked target`);
  }
  await runner.release();
});

test('no token to learn from (every weight 0): loss 0 and every gradient 0, no NaN', async () => {
  const f = load();
  const runner = await lossGraph(f.c);
  const zeros = { ...f.get('data/weights'), data: new Float32Array(f.get('data/weights').data.length) };
  const out = await run(runner, f, data(f, zeros));
  assert.equal(out.loss[0], 0);
  for (const [k, v] of Object.entries(out))
    assert.ok(
      v.every((x) => x === 0),
      `${k} is not all zero`,
    );
  await runner.release();
});
