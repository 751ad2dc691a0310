/**
 * The reward model against PyTorch (test/fixtures/gen/reward_fixtures.py): a two-layer GPT with
 * GPT2ForSequenceClassification's score head on 4 fixed preference pairs whose last real tokens sit at
 * the end, the middle and the start of their rows (tokens after them must not count). Rewards, the
 * Bradley–Terry loss −log σ(r_c − r_r), pair accuracy and every parameter's gradient (score.weight
 * included) agree within 1e-5 relative (max |engine - torch| ≤ 1e-5 · max |torch|, as engineTorch.test.ts);
 * the forward-only scoring graph gives the same rewards. Also: a checkpoint without the head is refused
 * for scoring, naming the file and score.weight; one saved with it loads it back with a reward config.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { emitOnnx } from '../../src/engine/graph/emit';
import { gptParams, type GptConfig } from '../../src/engine/model/gpt';
import {
  buildRewardScoreGraph,
  buildRewardTrainGraph,
  REWARD_CONFIG,
  requireScoreHead,
  SCORE_WEIGHT,
} from '../../src/engine/rl/rewardModel';
import { GraphRunner, toHost, type HostTensor } from '../../src/engine/runtime/session';
import { TrainRunner } from '../../src/engine/runtime/trainRunner';
import { loadCheckpoint, saveCheckpoint } from '../../src/engine/train/checkpoint';
import { assertClose, fixtureGptConfig, readFixture } from '../fixtures/engine/torchFixture';

const fx = readFixture('gpt_reward.safetensors');
const c: GptConfig = fixtureGptConfig(fx.meta, +fx.meta.batch);
const names = [...gptParams(c).map((p) => p.name), SCORE_WEIGHT];
const f32 = (name: string): Float32Array => fx.get(name).data as Float32Array;
const init = (): Record<string, HostTensor> => Object.fromEntries(names.map((n) => [n, fx.get(`init/${n}`)]));
const LN_F_BIAS = 'transformer.ln_f.bias';
const pairs = () => ({
  chosen: fx.get('data/chosen'),
  chosen_last: fx.get('data/chosen_last'),
  rejected: fx.get('data/rejected'),
  rejected_last: fx.get('data/rejected_last'),
});

test('Bradley–Terry step: rewards, loss, accuracy and every gradient equal PyTorch', async () => {
  const { graph, spec } = buildRewardTrainGraph(c, { kind: 'sgd', outputGrads: true });
  assert.deepEqual(
    spec.data.map((d) => d.name),
    ['chosen', 'chosen_last', 'rejected', 'rejected_last'],
  );
  const runner = await TrainRunner.create(emitOnnx(graph), spec, init(), { threads: 1 });
  const r = await runner.step(pairs(), 0);
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(r.extra)) out[k] = (await toHost(v)).data as Float32Array;
  await runner.release();
  assertClose('reward_chosen', out.reward_chosen, f32('reward_chosen'));
  assertClose('reward_rejected', out.reward_rejected, f32('reward_rejected'));
  assertClose('loss', [r.loss], f32('loss'));
  assert.equal(out.accuracy[0], f32('accuracy')[0]);
  for (const n of names.filter((n) => n !== LN_F_BIAS))
    assertClose(`grad/${n}`, out[`grad/${n}`], f32(`grad/${n}`));
  // ln_f.bias adds score·b to both rewards of a pair, so r_c − r_r and the loss do not depend on it
  assert.ok(f32(`grad/${LN_F_BIAS}`).every((v) => v === 0));
  assert.ok(
    out[`grad/${LN_F_BIAS}`].every((v) => Math.abs(v) < 1e-6),
    `${out[`grad/${LN_F_BIAS}`]}`,
  );
});

test('the scoring graph gives each row the reward PyTorch gives it', async () => {
  const runner = await GraphRunner.create(emitOnnx(buildRewardScoreGraph(c)), { threads: 1 });
  for (const side of ['chosen', 'rejected'] as const) {
    const out = await runner.run({
      ...init(),
      idx: fx.get(`data/${side}`),
      last: fx.get(`data/${side}_last`),
    });
    assertClose(`${side} reward`, (await toHost(out.reward)).data as Float32Array, f32(`reward_${side}`));
  }
  await runner.release();
});

test('checkpoints: the head saves with a reward config and loads back; a language model is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reward-ckpt-'));
  try {
    const trainer = {
      format: 'llm-lens-trainer' as const,
      version: 1,
      step: 1,
      rngState: 0,
      seed: 0,
      tokensSeen: 0,
      elapsedMs: 0,
    };
    const { batchSize: _b, ...config } = c;
    const base = { config, moments: {}, trainer, tokenizerFiles: [] };
    const { [SCORE_WEIGHT]: head, ...gpt } = init();
    const lm = await saveCheckpoint({ ...base, runDir: path.join(dir, 'lm'), weights: gpt });
    const lmCkpt = await loadCheckpoint(lm);
    assert.equal(lmCkpt.score, undefined);
    const file = path.join(lm, 'model.safetensors');
    assert.throws(
      () => requireScoreHead(lmCkpt, file),
      (e: Error) =>
        e.message.startsWith(`${file} has no scalar head`) &&
        e.message.includes('score.weight [1, 16]') &&
        e.message.includes(`llm-lens reward-train --from ${lm}`),
    );
    const rm = await saveCheckpoint({
      ...base,
      runDir: path.join(dir, 'rm'),
      weights: init(),
      configExtra: { stage: 'reward' },
      configTop: REWARD_CONFIG,
    });
    const j = JSON.parse(fs.readFileSync(path.join(rm, 'config.json'), 'utf8'));
    assert.deepEqual(j.architectures, ['GPT2ForSequenceClassification']);
    assert.equal(j.num_labels, 1);
    assert.equal(j.llm_lens.stage, 'reward');
    const rmCkpt = await loadCheckpoint(rm);
    assert.deepEqual(requireScoreHead(rmCkpt, rm).data, head.data);
    assert.deepEqual(Object.keys(rmCkpt.weights).sort(), Object.keys(gpt).sort());
    const wide = { ...rmCkpt, score: { dtype: 'f32' as const, shape: [2, 16], data: new Float32Array(32) } };
    assert.throws(() => requireScoreHead(wide, rm), /score\.weight is \[2,16\], not \[1, 16\]/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
