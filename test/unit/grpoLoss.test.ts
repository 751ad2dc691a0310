/**
 * The policy-gradient step against PyTorch (test/fixtures/gen/grpo_fixtures.py): a two-layer GPT, a group
 * of 4 answers with advantages ±0.5 on their own tokens (a forced tool-output token at weight 0), weights =
 * mask / answer tokens. Cases: the plain on-policy loss −Σ w·A·logp, and the clipped surrogate (ε 0.2)
 * against fixed old log-probs whose ratios fall on both sides of the clip range for both signs of A, plus
 * the k3 KL penalty (β 0.1) to fixed reference log-probs. Loss, logp, kl, clip_frac and every parameter's
 * gradient agree within 1e-5 relative (max |engine - torch| ≤ 1e-5 · max |torch|, as engineTorch.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { gptParams, type GptConfig } from '../../src/engine/model/gpt';
import { buildGptLogProbGraph, buildGptPolicyGraph, lossWeights } from '../../src/engine/rl/policyLoss';
import { GraphRunner, toHost, type HostTensor } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { assertClose, fixtureGptConfig, readFixture } from '../fixtures/engine/torchFixture';

const fx = readFixture('gpt_grpo.safetensors');
const c: GptConfig = fixtureGptConfig(fx.meta, +fx.meta.batch);
const names = gptParams(c).map((p) => p.name);
const f32 = (name: string): Float32Array => fx.get(name).data as Float32Array;
const init = () => Object.fromEntries(names.map((n) => [n, fx.get(`init/${n}`)]));

async function step(o: Parameters<typeof buildGptPolicyGraph>[2], feeds: Record<string, HostTensor>) {
  const { graph, spec } = buildGptPolicyGraph(c, { kind: 'sgd', outputGrads: true }, o);
  const runner = await TrainRunner.create(emitOnnx(graph), spec, init(), { threads: 1 });
  const r = await runner.step(feeds, 0);
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(r.extra)) out[k] = (await toHost(v)).data as Float32Array;
  await runner.release();
  return { loss: r.loss, out, spec };
}

const base = () => ({
  idx: fx.get('data/idx'),
  targets: fx.get('data/targets'),
  advantages: fx.get('data/advantages'),
  weights: fx.get('data/weights'),
});

function assertGrads(label: string, out: Record<string, Float32Array>, prefix: string): void {
  for (const n of names) assertClose(`${label} grad/${n}`, out[`grad/${n}`], f32(`${prefix}/grad/${n}`));
}

test('plain policy gradient −Σ w·A·logp: loss, logp and every gradient equal PyTorch', async () => {
  const { loss, out, spec } = await step({}, base());
  assert.deepEqual(
    spec.data.map((d) => d.name),
    ['idx', 'targets', 'advantages', 'weights'],
  );
  assertClose('loss', [loss], f32('plain/loss'));
  assertClose('logp', out.logp, f32('logp'));
  assertGrads('plain', out, 'plain');
});

test('clipped surrogate (ε 0.2) with the k3 KL penalty (β 0.1): loss, kl, clip_frac and gradients equal PyTorch', async () => {
  const feeds = { ...base(), old_logp: fx.get('data/old_logp'), ref_logp: fx.get('data/ref_logp') };
  const o = { old: true, ref: true, clipEps: +fx.meta.clip_eps, klBeta: +fx.meta.kl_beta };
  const { loss, out } = await step(o, feeds);
  assertClose('loss', [loss], f32('clip_kl/loss'));
  assertClose('logp', out.logp, f32('logp'));
  assertClose('kl', out.kl, f32('clip_kl/kl'));
  assertClose('clip_frac', out.clip_frac, f32('clip_kl/clip_frac'));
  assert.ok(out.clip_frac[0] > 0.2 && out.clip_frac[0] < 0.8, `clip_frac ${out.clip_frac[0]}`);
  assertGrads('clip_kl', out, 'clip_kl');
});

test('on-policy (old = the policy’s own logp, no KL term): the clipped loss has the plain gradient', async () => {
  const own = buildGptLogProbGraph(c);
  const runner = await GraphRunner.create(emitOnnx(own), { threads: 1 });
  const logp = await toHost(
    (await runner.run({ ...init(), idx: fx.get('data/idx'), targets: fx.get('data/targets') })).logp,
  );
  await runner.release();
  assertClose('forward-only logp', logp.data as Float32Array, f32('logp'));
  const { out } = await step({ old: true, clipEps: 0.2 }, { ...base(), old_logp: logp });
  assert.equal(out.clip_frac[0], 0);
  assertGrads('on-policy', out, 'plain');
});

test('lossWeights: token, sequence and constant normalisation by hand', () => {
  const mask = [0, 1, 1, 0, 0, 1, 1, 1];
  const close = (a: ArrayLike<number>, b: number[]) =>
    b.forEach((x, i) => assert.ok(Math.abs(a[i] - x) < 1e-7, `[${i}] ${a[i]} vs ${x}`));
  close(lossWeights(mask, 2, 4).data as Float32Array, [0, 1 / 5, 1 / 5, 0, 0, 1 / 5, 1 / 5, 1 / 5]);
  close(lossWeights(mask, 2, 4, { kind: 'sequence' }).data as Float32Array, [
    0,
    1 / 4,
    1 / 4,
    0,
    0,
    1 / 6,
    1 / 6,
    1 / 6,
  ]);
  close(
    lossWeights(mask, 2, 4, { kind: 'constant', maxLen: 10 }).data as Float32Array,
    [0, 0.05, 0.05, 0, 0, 0.05, 0.05, 0.05],
  );
  close(lossWeights(mask, 2, 4, { total: 10 }).data as Float32Array, [0, 0.1, 0.1, 0, 0, 0.1, 0.1, 0.1]);
  close(lossWeights([0, 0, 0, 0], 2, 2).data as Float32Array, [0, 0, 0, 0]);
  assert.throws(() => lossWeights(mask, 3, 4), /8 values, expected B·T = 3·4/);
});
