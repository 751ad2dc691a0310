/**
 * Group advantages against brute force written another way: reward − group mean as the average of pairwise
 * differences (1/G)·Σ_j (r_i − r_j), the unbiased variance as Σ_{i<j} (r_i − r_j)² / (G(G−1)) (the
 * pairwise form, never the mean), on random groups with 0/1 and real-valued rewards; plus known values and
 * the zero-signal count (groups whose rewards are all equal), and the clear errors for bad input.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupAdvantages, tokenAdvantages } from '../../src/engine/rl/grpo';
import { Rng } from '../../src/engine/train/rng';

function bruteForce(rewards: number[], G: number, scaleByStd: boolean, eps = 1e-4) {
  const adv: number[] = [];
  let zero = 0;
  for (let k = 0; k < rewards.length / G; k++) {
    const r = rewards.slice(k * G, (k + 1) * G);
    let sq = 0;
    for (let i = 0; i < G; i++) for (let j = i + 1; j < G; j++) sq += (r[i] - r[j]) ** 2;
    const std = Math.sqrt(sq / (G * (G - 1)));
    if (new Set(r).size === 1) zero++;
    for (let i = 0; i < G; i++) {
      const centred = r.reduce((a, rj) => a + (r[i] - rj), 0) / G;
      adv.push(scaleByStd ? centred / (std + eps) : centred);
    }
  }
  return { adv, zero };
}

test('known values: rewards 1, 0, 0, 1 give ±0.5, or ±0.5/(std + 1e-4) with std √(1/3)', () => {
  const r = groupAdvantages([1, 0, 0, 1, 1, 1, 1, 1], 4);
  assert.deepEqual(Array.from(r.advantages), [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0]);
  assert.equal(r.zeroSignal, 1);
  assert.equal(r.groups, 2);
  assert.deepEqual(Array.from(r.means), [0.5, 1]);
  const s = groupAdvantages([1, 0, 0, 1], 4, { scaleByStd: true });
  const a = 0.5 / (Math.sqrt(1 / 3) + 1e-4);
  Array.from(s.advantages).forEach((x, i) => assert.ok(Math.abs(x - [a, -a, -a, a][i]) < 1e-12, `${x}`));
});

test('random groups: advantages and zero-signal counts equal the pairwise brute force', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 200; trial++) {
    const G = 2 + Math.floor(rng.next() * 15);
    const groups = 1 + Math.floor(rng.next() * 6);
    const binary = trial % 2 === 0;
    const draw = () => (binary ? Number(rng.next() < 0.7) : Math.round(rng.next() * 40) / 8 - 2);
    const rewards = Array.from({ length: G * groups }, draw);
    if (trial % 5 === 0) rewards.fill(0.1, 0, G); // an all-equal group whose mean rounds (0.1·G/G ≠ 0.1)
    for (const scaleByStd of [false, true]) {
      const ours = groupAdvantages(rewards, G, { scaleByStd });
      const ref = bruteForce(rewards, G, scaleByStd);
      assert.equal(ours.zeroSignal, ref.zero, `trial ${trial}: zero-signal groups`);
      ref.adv.forEach((x, i) =>
        assert.ok(
          Math.abs(ours.advantages[i] - x) <= 1e-9 * (1 + Math.abs(x)),
          `trial ${trial} [${i}]: ${ours.advantages[i]} vs ${x}`,
        ),
      );
      if (trial % 5 === 0)
        assert.ok(
          ours.advantages.subarray(0, G).every((x) => x === 0),
          'zero-signal group not exactly 0',
        );
    }
  }
});

test('bad input: a group of 1, a partial group, a reward that is not a number', () => {
  assert.throws(() => groupAdvantages([1, 0], 1), /group size 1 is too small.*at least 2 answers/);
  assert.throws(() => groupAdvantages([1, 0, 1], 2), /3 rewards are not whole groups of 2/);
  assert.throws(() => groupAdvantages([1, NaN], 2), /reward 1 is NaN.*check the checker/);
});

test('tokenAdvantages puts each answer’s advantage on its own tokens only', () => {
  const A = tokenAdvantages([0.5, -0.5], [0, 1, 1, 0, 1, 0, 1, 1], 4);
  assert.deepEqual(Array.from(A), [0, 0.5, 0.5, 0, -0.5, 0, -0.5, -0.5]);
});
