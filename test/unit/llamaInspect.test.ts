/**
 * The inspection pass on Llama-family models against PyTorch (test/fixtures/gen/llama_inspect_fixtures.py:
 * modeling_llama.py's eager forward on the fixture folders' weights): every attention probability per query
 * head, every residual row (row 0 the token embedding) and every logit-lens logit (model.norm, then lm_head,
 * on each row) within 1e-4, for grouped-query attention with an untied lm_head read from two F16 shards and
 * from one BF16 file, tied embeddings with llama3 RoPE, and Qwen2's single key/value head with biases; the
 * query heads of a key/value group as Hugging Face's repeat_kv orders them; and the Sampler worker's
 * samplerInspect / samplerAttention on a Llama folder.
 *
 *   node --enable-source-maps --test out/test/unit/llamaInspect.test.js
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { GptInspector, kvGroup } from '../../src/engine/model/inspect';
import { loadModel } from '../../src/engine/model/pretrained';
import type { SamplerJobResult } from '../../src/protocol/sampler';
import { runSamplerJob } from '../../src/worker/samplerJobs';
import { kvGroupOf } from '../../webview/sampler/kvGroups';
import { copyHubFolder, LLAMA_FIXTURES } from '../fixtures/llama/hubFolder';

const TOL = 1e-4;
const MODELS = [
  { folder: 'gqa_sharded', ref: 'gqa', nKvHead: 2 },
  { folder: 'gqa_bf16', ref: 'gqa', nKvHead: 2 },
  { folder: 'tied_llama3', ref: 'tied_llama3', nKvHead: 2 },
  { folder: 'qwen2_mqa', ref: 'qwen2_mqa', nKvHead: 1 },
];
const temps: string[] = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

interface Refs {
  idx: number[];
  /** (L, nh, T, T) */
  att: Float32Array;
  /** (L+1, T, C) */
  resid: Float32Array;
  /** (L+1, T, V) */
  lens: Float32Array;
  shape: { L: number; nh: number; T: number; C: number; V: number };
}

async function refs(name: string): Promise<Refs> {
  const f = await openSafetensors(path.join(LLAMA_FIXTURES, 'inspect_refs.safetensors'));
  try {
    const [L, nh, T] = f.tensor(`${name}/att`).shape;
    const [, , C] = f.tensor(`${name}/resid`).shape;
    const [, , V] = f.tensor(`${name}/lens`).shape;
    return {
      idx: Array.from((await f.readValues(`${name}/idx`)) as BigInt64Array, Number),
      att: (await f.readValues(`${name}/att`)) as Float32Array,
      resid: (await f.readValues(`${name}/resid`)) as Float32Array,
      lens: (await f.readValues(`${name}/lens`)) as Float32Array,
      shape: { L, nh, T, C, V },
    };
  } finally {
    await f.close();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

for (const { folder, ref, nKvHead } of MODELS) {
  test(`${folder}: attention per query head, residuals and logit lens equal torch within 1e-4`, async () => {
    const m = await loadModel(path.join(LLAMA_FIXTURES, folder));
    assert.equal(m.family, 'llama');
    const r = await refs(ref);
    const { L, nh, T, C, V } = r.shape;
    const ins =
      m.family === 'llama'
        ? await GptInspector.forFamily(m.fam, m.config, m.weights, { threads: 1 })
        : assert.fail('not a Llama');
    try {
      const x = await ins.inspect(r.idx, { topK: 4, lensLogits: true });
      assert.deepEqual([x.n, x.nLayer, x.nHead, x.nKvHead], [T, L, nh, nKvHead]);
      for (let l = 0; l < L; l++) {
        const want = r.att.subarray(l * nh * T * T, (l + 1) * nh * T * T);
        const d = maxDiff(x.attention[l], want);
        assert.ok(d <= TOL, `layer ${l} attention: max |engine - torch| = ${d.toExponential(2)}`);
      }
      for (let l = 0; l <= L; l++) {
        const dr = maxDiff(x.residual[l], r.resid.subarray(l * T * C, (l + 1) * T * C));
        assert.ok(dr <= TOL, `residual row ${l}: max |engine - torch| = ${dr.toExponential(2)}`);
        const want = r.lens.subarray(l * T * V, (l + 1) * T * V);
        const dl = maxDiff(x.lens.logits![l], want);
        assert.ok(dl <= TOL, `lens row ${l}: max |engine - torch| = ${dl.toExponential(2)}`);
        // the top-k ids are torch's k largest logits, their probabilities torch's softmax
        for (let i = 0; i < T; i++) {
          const row = want.subarray(i * V, (i + 1) * V);
          const top = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
          const at = (l * T + i) * x.lens.k;
          assert.equal(x.lens.ids[at], top[0], `lens row ${l} position ${i}`);
          const z = row.reduce((s, v) => s + Math.exp(v - row[top[0]]), 0);
          assert.ok(Math.abs(x.lens.probs[at] - 1 / z) < 1e-5);
        }
      }
    } finally {
      await ins.release();
    }
  });
}

test("kvGroup (engine) and the head grid's kvGroupOf order query heads as Hugging Face's repeat_kv", () => {
  // repeat_kv expands (B, nkv, T, hd) to (B, nkv, G, T, hd) and flattens: query head kv·G + r reads kv
  for (const [nh, nkv] of [
    [4, 2],
    [4, 1],
    [8, 8],
    [32, 8],
    [9, 3],
  ]) {
    const G = nh / nkv;
    const expanded = Array.from({ length: nkv }, (_, kv) => Array<number>(G).fill(kv)).flat();
    const heads = Array.from({ length: nh }, (_, h) => h);
    assert.deepEqual(
      heads.map((h) => kvGroup(h, nh, nkv)),
      expanded,
    );
    assert.deepEqual(
      heads.map((h) => kvGroupOf(h, nh, nkv).group),
      expanded,
    );
    // a separator before each group's first head, none without grouping
    const starts = heads.filter((h) => kvGroupOf(h, nh, nkv).starts);
    assert.deepEqual(starts, nkv < nh ? heads.filter((h) => h > 0 && expanded[h] !== expanded[h - 1]) : []);
  }
  assert.deepEqual(kvGroupOf(5, 8, 2), {
    group: 1,
    first: 4,
    last: 7,
    starts: false,
    label: 'head 5 · kv group 1',
  });
  assert.equal(kvGroupOf(5, 8, 8).label, 'head 5');
});

async function job(j: Parameters<typeof runSamplerJob>[0]): Promise<SamplerJobResult> {
  return runSamplerJob(j);
}

test('Sampler worker: samplerInspect on a Llama folder carries nKvHead; samplerAttention is torch', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-llama-inspect-'));
  temps.push(tmp);
  const dir = copyHubFolder('gqa_sharded', path.join(tmp, 'gqa_sharded'));
  const r = await refs('gqa');
  const { nh, T } = r.shape;
  const res = await job({ kind: 'samplerInspect', checkpoint: dir, ids: r.idx, thumbSize: 8 });
  assert.equal(res.kind, 'samplerInspect');
  if (res.kind !== 'samplerInspect') return;
  assert.deepEqual([res.view.nLayer, res.view.nHead, res.view.nKvHead], [2, 4, 2]);
  assert.equal(res.view.lens.ids.length, 3 * T * res.view.lens.k);
  const head = await job({ kind: 'samplerAttention', layer: 1, head: 3 });
  assert.equal(head.kind, 'samplerAttention');
  if (head.kind !== 'samplerAttention') return;
  const want = r.att.subarray((1 * nh + 3) * T * T, (1 * nh + 4) * T * T);
  assert.ok(maxDiff(head.weights, want) <= TOL);
});
