/**
 * Training-step graphs against PyTorch (fixtures from test/fixtures/gen/engine_fixtures.py, float64
 * autograd + torch.optim.AdamW + clip_grad_norm_): a small MLP (LayerNorm, tanh GELU, cross-entropy
 * with an ignored token and per-token weights) and a one-block GPT (gpt_ref.py's model).
 * Loss, grad norm, every gradient and the weights after 3 AdamW steps agree within 1e-5 relative:
 * max |engine - torch| ≤ 1e-5 · max |torch| for each tensor. For the weights, an element whose
 * gradient is tiny gets what float32 gradients can give it (see assertWeightsClose), and no more than
 * 1% of a tensor's elements may need it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import { buildGptTrainGraph, gptParams, type GptConfig } from '../../src/engine/model/gpt';
import { toHost, type HostTensor } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { addOptimizer, type TrainStepSpec } from '../../src/engine/train/optim';
import { assertClose, fixtureGptConfig, readFixture, type Fixture } from '../fixtures/engine/torchFixture';

/**
 * Weights after `steps` AdamW steps. Adam divides each gradient by its running RMS, so an element whose
 * gradient is near zero (a sum of terms that cancel) moves by lr·(rounding noise)/(RMS + eps): the float32
 * gradients here agree with float64 torch to 3.3e-7 of the largest gradient, and at an element whose
 * gradient is 1e-5 of the largest that noise alone is percents of its update. Each element is held to
 *   1e-5 · max |torch|  +  min(steps · lr · δg / (√v̂ + eps), 20 · 1e-5 · max |torch|),
 *   δg = 1e-6 · max |first-step gradient| · clip coefficient
 * (v̂ our bias-corrected second moment of the clipped gradients, δg three times the measured gradient
 * error), which is the plain bound wherever the gradient is well above the noise. At most 0.2% of a
 * tensor's elements (at least one) may need the second term; a wrong optimizer (weight decay, eps, bias
 * correction) moves every element and fails.
 */
function assertWeightsClose(
  name: string,
  ours: Float32Array,
  ref: Float32Array,
  v: Float32Array,
  o: { lr: number; beta2: number; steps: number; maxGrad: number; clipCoef: number },
): void {
  assert.equal(ours.length, ref.length, `${name}: length`);
  const maxRef = ref.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
  const plain = 1e-5 * maxRef;
  const dg = 1e-6 * o.maxGrad * o.clipCoef;
  const bc2 = 1 - o.beta2 ** o.steps;
  let noisy = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    if (d <= plain) continue;
    noisy++;
    const bound = plain + Math.min((o.steps * o.lr * dg) / (Math.sqrt(v[i] / bc2) + 1e-8), 20 * plain);
    assert.ok(
      d <= bound,
      `${name}[${i}]: |engine - torch| = ${d.toExponential(2)} > ${bound.toExponential(2)} (1e-5 × max |torch| = ${plain.toExponential(2)}, √v̂ = ${Math.sqrt(v[i] / bc2).toExponential(2)})`,
    );
  }
  assert.ok(
    noisy <= Math.max(1, 0.002 * ref.length),
    `${name}: ${noisy} of ${ref.length} elements differ by more than 1e-5 × max |torch| (${plain.toExponential(2)})`,
  );
}

/** Runs 3 steps on the fixture's batch and checks loss, grad norm, first-step gradients and final weights. */
async function compareWithTorch(
  fx: Fixture,
  bytes: Uint8Array,
  spec: TrainStepSpec,
  feeds: Record<string, HostTensor>,
  paramNames: string[],
): Promise<void> {
  const init = Object.fromEntries(paramNames.map((n) => [n, fx.get(`init/${n}`)]));
  const runner = await TrainRunner.create(bytes, spec, init, { threads: 1 });
  const losses = fx.get('loss').data as Float32Array;
  const norms = fx.get('grad_norm').data as Float32Array;
  for (let s = 0; s < 3; s++) {
    const r = await runner.step(feeds, Number(fx.meta.lr));
    assert.ok(r.applied);
    assertClose(`loss at step ${s + 1}`, [r.loss], [losses[s]]);
    assertClose(`grad norm at step ${s + 1}`, [r.gradNorm], [norms[s]]);
    if (s === 0)
      for (const n of paramNames)
        assertClose(
          `grad/${n}`,
          (await toHost(r.extra[`grad/${n}`])).data as Float32Array,
          fx.get(`grad/${n}`).data as Float32Array,
        );
  }
  const moments = await runner.moments();
  for (const n of paramNames) {
    const ours = (await runner.get(n)).data as Float32Array;
    const ref = fx.get(`final/${n}`).data as Float32Array;
    if (!n.endsWith('attn.c_attn.bias')) {
      const maxGrad = (fx.get(`grad/${n}`).data as Float32Array).reduce(
        (a, x) => Math.max(a, Math.abs(x)),
        0,
      );
      const clipCoef = Math.min(Number(fx.meta.clip) / (norms[0] + 1e-6), 1); // torch's clip_grad_norm_ coefficient at step 1
      assertWeightsClose(`${n} after 3 AdamW steps`, ours, ref, moments[`adam.v/${n}`].data as Float32Array, {
        lr: Number(fx.meta.lr),
        beta2: Number(fx.meta.beta2),
        steps: 3,
        maxGrad,
        clipCoef,
      });
      continue;
    }
    // The key bias (middle third) has an exactly-zero gradient (softmax ignores a per-row shift), so
    // both sides feed Adam pure rounding noise (torch ~1e-18, float32 ~1e-10) and it divides that by
    // (|noise| + eps): the update is lr·noise/eps, not a property of the graph. Query and value biases
    // are held to 1e-5 relative; the key bias to 1e-2·lr per step.
    const C = ours.length / 3;
    const qv = (a: Float32Array) => [...a.subarray(0, C), ...a.subarray(2 * C)];
    assertClose(`${n} (query, value) after 3 AdamW steps`, qv(ours), qv(ref));
    const lr = Number(fx.meta.lr);
    for (let i = C; i < 2 * C; i++)
      assert.ok(Math.abs(ours[i] - ref[i]) <= 3e-2 * lr, `${n} (key)[${i - C}]: ${ours[i]} vs ${ref[i]}`);
  }
  await runner.release();
}

test('MLP training step (LayerNorm, tanh GELU, weighted cross-entropy with ignore index) matches PyTorch for 3 AdamW steps', async () => {
  const fx = readFixture('mlp.safetensors');
  const g = new Graph({ name: 'mlp' });
  const x = g.input('x', 'f32', [8, 6]); // (N, D)
  const targets = g.input('targets', 'i64', [8]); // (N)
  const weights = g.input('weights', 'f32', [8]); // (N)
  const p = (n: string, s: number[]) => g.param(n, s);
  const h = g.layerNorm(
    g.linear(x, p('fc1.weight', [6, 10]), p('fc1.bias', [10])),
    p('ln.weight', [10]),
    p('ln.bias', [10]),
  ); // (N, H)
  const logits = g.linear(g.gelu(h, 'tanh'), p('fc2.weight', [10, 5]), p('fc2.bias', [5])); // (N, V)
  const loss = g.crossEntropy(logits, targets, { ignoreIndex: -100, weights }); // ()
  const m = fx.meta;
  const spec = addOptimizer(g, loss, {
    kind: 'adamw',
    weightDecay: +m.wd,
    beta1: +m.beta1,
    beta2: +m.beta2,
    clip: +m.clip,
    outputGrads: true,
  });
  const asF32 = (t: HostTensor): HostTensor => ({
    dtype: 'f32',
    shape: t.shape,
    data: Float32Array.from(t.data as Float32Array),
  });
  const feeds = {
    x: asF32(fx.get('data/x')),
    targets: fx.get('data/targets'),
    weights: asF32(fx.get('data/weights')),
  };
  await compareWithTorch(
    fx,
    emitOnnx(g),
    spec,
    feeds,
    g.params.map((t) => t.name),
  );
});

// 'auto' folds only the lm_head's LayerNorm at these small shapes; 'always' folds every LayerNorm
for (const foldNorms of ['auto', 'always'] as const)
  test(`one-block GPT training step matches PyTorch (gpt_ref.py) for 3 AdamW steps (LayerNorm folds: ${foldNorms})`, async () => {
    const fx = readFixture('gpt_block.safetensors');
    const m = fx.meta;
    const c: GptConfig = { ...fixtureGptConfig(m, 2), foldNorms };
    const { graph, spec } = buildGptTrainGraph(c, {
      kind: 'adamw',
      weightDecay: +m.wd,
      beta1: +m.beta1,
      beta2: +m.beta2,
      clip: +m.clip,
      outputGrads: true,
    });
    const feeds = { idx: fx.get('data/idx'), targets: fx.get('data/targets') };
    await compareWithTorch(
      fx,
      emitOnnx(graph),
      spec,
      feeds,
      gptParams(c).map((p) => p.name),
    );
  });
