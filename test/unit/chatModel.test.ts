/**
 * The grown embedding against brute force: old rows bit for bit, new rows the column means of the old
 * ones (summed here in plain double precision), other weights untouched; and what the mean is for, on the
 * model itself: with the tied head, each new token's logit equals the mean of the old tokens' logits,
 * and the old tokens' logits do not change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chatModel, growEmbedding } from '../../src/engine/chat/chatModel';
import { initGptWeights } from '../../src/engine/model/gpt';
import { GptInference, type GptModelConfig } from '../../src/engine/model/inference';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';

const config: GptModelConfig = { vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8, bias: true };
const WTE = 'transformer.wte.weight';
const model = () => ({ config, weights: initGptWeights({ ...config, batchSize: 1 }, 7) });

/** Brute force: the mean of rows `rows` of a (V, C) matrix, column by column. */
function meanRow(data: Float32Array, C: number, rows: number[]): number[] {
  return [...Array(C).keys()].map((c) => rows.reduce((s, r) => s + data[r * C + c], 0) / rows.length);
}

test('growEmbedding: old rows kept bit for bit, new rows the mean of the old, other weights shared', () => {
  const m = model();
  const old = m.weights[WTE].data;
  const g = growEmbedding(m, 14);
  assert.equal(g.config.vocabSize, 14);
  assert.deepEqual(g.weights[WTE].shape, [14, 8]);
  const data = g.weights[WTE].data as Float32Array;
  assert.deepEqual(data.subarray(0, 11 * 8), old);
  const mean = meanRow(old as Float32Array, 8, [...Array(11).keys()]);
  for (let r = 11; r < 14; r++)
    for (let c = 0; c < 8; c++) assert.ok(Math.abs(data[r * 8 + c] - mean[c]) < 1e-7, `row ${r} column ${c}`);
  for (const name of Object.keys(m.weights)) if (name !== WTE) assert.equal(g.weights[name], m.weights[name]);
  assert.equal(m.weights[WTE].data, old); // the input is not changed
  assert.equal(m.config.vocabSize, 11);

  // a padded vocabulary's unused rows given to new tokens start at the mean of the others
  const f = growEmbedding(m, 12, [9, 11]);
  const fd = f.weights[WTE].data as Float32Array;
  const others = meanRow(old as Float32Array, 8, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]);
  for (const r of [9, 11]) for (let c = 0; c < 8; c++) assert.ok(Math.abs(fd[r * 8 + c] - others[c]) < 1e-7);
  assert.deepEqual(fd.subarray(10 * 8, 11 * 8), (old as Float32Array).subarray(10 * 8, 11 * 8));

  assert.throws(
    () => growEmbedding(m, 10),
    /the embedding can only grow: it has 11 rows, and 10 were asked for/,
  );
  assert.throws(() => growEmbedding(m, 12, [12]), /row 12 to start afresh is outside/);
});

test("with the tied head, a new token's logit is the mean of the old logits, and old logits do not move", async () => {
  const m = model();
  const g = growEmbedding(m, 13);
  const before = await GptInference.create(m.config, m.weights, { threads: 1 });
  const after = await GptInference.create(g.config, g.weights, { threads: 1 });
  try {
    for (const context of [[1], [3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5, 8]]) {
      const a = await before.nextLogits(context);
      const b = await after.nextLogits(context);
      assert.equal(b.length, 13);
      for (let i = 0; i < 11; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `old token ${i}`);
      const mean = a.reduce((s, x) => s + x, 0) / 11;
      for (const i of [11, 12]) assert.ok(Math.abs(b[i] - mean) < 1e-5, `new token ${i}: ${b[i]} vs ${mean}`);
    }
  } finally {
    await before.release();
    await after.release();
  }
});

test('chatModel: the tokenizer gains the chat tokens and the embedding a row for each; a chat model is left as it is', () => {
  const tok = new CharTokenizer('char', 'abcdefghijk'.split(''));
  const m = model();
  const c = chatModel(m, tok);
  assert.deepEqual(c.chat, { imStart: 11, imEnd: 12 });
  assert.equal(c.added, 2);
  assert.equal(c.config.vocabSize, 13);
  assert.deepEqual(c.weights[WTE].shape, [13, 8]);
  const again = chatModel(c, c.tokenizer);
  assert.equal(again.added, 0);
  assert.equal(again.weights, c.weights);
  // a padded model (16 rows for 11 characters): the chat ids 11 and 12 get fresh rows, nothing grows
  const padded = growEmbedding(m, 16);
  const p = chatModel(padded, tok);
  assert.equal(p.config.vocabSize, 16);
  assert.deepEqual(p.chat, { imStart: 11, imEnd: 12 });
});
