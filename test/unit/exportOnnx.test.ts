/** Exported ONNX graphs, run by onnxruntime itself, give the logits of the engine's recompute path. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { exportGptOnnx } from '../../src/engine/model/exportOnnx';
import { GptInference } from '../../src/engine/model/inference';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';

test('prefill.onnx + decoder.onnx (weights inside) reproduce the model\'s logits with a KV cache', async () => {
  const src = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-export-'));
  fs.copyFileSync('test/fixtures/train/step20.safetensors', path.join(src, 'model.safetensors'));
  fs.copyFileSync('test/fixtures/train/config.json', path.join(src, 'config.json'));
  const ck = await loadCheckpoint(src);
  const c = ck.config;
  const out = path.join(src, 'onnx');
  const files = await exportGptOnnx(c, ck.weights, out);
  assert.deepEqual(files.map((f) => path.basename(f)), ['prefill.onnx', 'decoder.onnx', 'llmlens-onnx.json']);
  const ref = await GptInference.create(c, ck.weights, { threads: 1 });

  const T = c.blockSize;
  const prompt = [5, 17, 3, 22, 9, 1, 40];
  const prefill = await ort.InferenceSession.create(path.join(out, 'prefill.onnx'));
  assert.deepEqual([...prefill.inputNames].sort(), ['idx', 'last'], 'the weights are inside, not inputs');
  const idx = new BigInt64Array(T);
  prompt.forEach((t, i) => (idx[i] = BigInt(t)));
  const p = await prefill.run({ idx: new ort.Tensor('int64', idx, [1, T]), last: new ort.Tensor('int64', BigInt64Array.of(BigInt(prompt.length - 1)), [1]) });
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  assert.ok(maxDiff(p.logits.data as Float32Array, await ref.nextLogits(prompt)) < 1e-5);

  // one decode step after the prompt, with the prefill's keys/values as the cache
  const decoder = await ort.InferenceSession.create(path.join(out, 'decoder.onnx'));
  const next = 11;
  const n = prompt.length;
  const mask = new Float32Array(T).fill(-Infinity, n).fill(0, 0, n);
  const feeds: Record<string, ort.Tensor> = {
    idx: new ort.Tensor('int64', BigInt64Array.of(BigInt(next)), [1, 1]),
    pos: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), [1]),
    mask: new ort.Tensor('float32', mask, [1, T]),
  };
  for (let l = 0; l < c.nLayer; l++) {
    feeds[`past_k.${l}`] = p[`k.${l}`];
    feeds[`past_v.${l}`] = p[`v.${l}`];
  }
  const d = await decoder.run(feeds);
  assert.ok(maxDiff(d.logits.data as Float32Array, await ref.nextLogits([...prompt, next])) < 1e-5);
  assert.deepEqual(d['k.0'].dims, [1, c.nHead, 1, c.nEmbd / c.nHead]);
  await prefill.release();
  await decoder.release();
  await ref.release();
});
