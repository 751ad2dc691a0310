/**
 * The Checkpoint Inspector as a person uses it in a real VS Code: right-click a checkpoint in the
 * Explorer, read its parameter count, open a tensor's statistics and histogram, compare with the step-0
 * checkpoint, and double-click a corrupt file. The checkpoints are written here with known values; every
 * expected number (parameter count, mean/std/min/max/L2, relative changes) is computed here from them.
 * A sharded Llama folder (test/fixtures/llama/gqa_sharded) opened by one shard shows the whole model's
 * module tree, each tensor's shard, and a tensor of the other shard inspected.
 */
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { writeSafetensorsAtomic, type TensorToWrite } from '../../src/engine/checkpoint/writer';
import { encodeModel, OnnxDataType } from '../../src/engine/graph/onnxProto';
import { GptInference } from '../../src/engine/model/inference';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import * as ort from 'onnxruntime-node';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const N_LAYER = 2;
const N_EMBD = 16;
const VOCAB = 65;
const BLOCK = 32;

/** Deterministic values in [-scale/2, scale/2) from a 32-bit LCG, rounded to float32 as they are stored. */
function lcg(n: number, seed: number, scale: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = offset + (x / 2 ** 32 - 0.5) * scale;
  }
  return out;
}

/** Shapes of a GPT-2 checkpoint in Hugging Face naming (Conv1D [in, out]). */
function gpt2Shapes(): Array<[string, number[]]> {
  const C = N_EMBD;
  const s: Array<[string, number[]]> = [
    ['transformer.wte.weight', [VOCAB, C]],
    ['transformer.wpe.weight', [BLOCK, C]],
  ];
  for (let i = 0; i < N_LAYER; i++) {
    const h = `transformer.h.${i}`;
    s.push(
      [`${h}.ln_1.weight`, [C]],
      [`${h}.ln_1.bias`, [C]],
      [`${h}.attn.c_attn.weight`, [C, 3 * C]],
      [`${h}.attn.c_attn.bias`, [3 * C]],
      [`${h}.attn.c_proj.weight`, [C, C]],
      [`${h}.attn.c_proj.bias`, [C]],
      [`${h}.ln_2.weight`, [C]],
      [`${h}.ln_2.bias`, [C]],
      [`${h}.mlp.c_fc.weight`, [C, 4 * C]],
      [`${h}.mlp.c_fc.bias`, [4 * C]],
      [`${h}.mlp.c_proj.weight`, [4 * C, C]],
      [`${h}.mlp.c_proj.bias`, [C]],
    );
  }
  s.push(['transformer.ln_f.weight', [C]], ['transformer.ln_f.bias', [C]]);
  return s;
}

/** The bit of HTMLCanvasElement the pixel count uses (the test tsconfig has no DOM types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** step 0: the init; step 200: init plus a per-tensor amount of change (none for the layer-norm biases). */
function checkpoints(): { step0: TensorToWrite[]; step200: TensorToWrite[] } {
  const step0: TensorToWrite[] = [];
  const step200: TensorToWrite[] = [];
  gpt2Shapes().forEach(([name, shape], k) => {
    const n = size(shape);
    const isLn = /\.ln_\d\.|ln_f/.test(name);
    const init = isLn
      ? lcg(n, 7 + k, name.endsWith('weight') ? 0.02 : 0, name.endsWith('weight') ? 1 : 0)
      : lcg(n, 100 + k, 0.04);
    const moved = Float32Array.from(init);
    const amount = isLn && name.endsWith('bias') ? 0 : 0.002 * (1 + ((k * 7) % 13));
    const delta = lcg(n, 900 + k, amount);
    for (let i = 0; i < n; i++) moved[i] = init[i] + delta[i];
    step0.push({ name, dtype: 'F32', shape, data: init });
    step200.push({ name, dtype: 'F32', shape, data: moved });
  });
  return { step0, step200 };
}

const { step0, step200 } = checkpoints();
const PARAMS = gpt2Shapes().reduce((a, [, shape]) => a + size(shape), 0);
const INSPECT = 'transformer.h.0.attn.c_attn.weight';
const TOKENIZER_JSON = JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: {}, merges: [] } });
const ONNX_W = [1, -2, 3, -4, 5, -6];

let vs: VSCodeSession;
let workspace: string;
before(async () => {
  const ws = (workspace = makeWorkspace({
    'config.json': JSON.stringify(
      {
        model_type: 'gpt2',
        n_layer: N_LAYER,
        n_head: 2,
        n_embd: N_EMBD,
        n_positions: BLOCK,
        vocab_size: VOCAB,
      },
      null,
      2,
    ),
    'models/README.md': 'an ONNX model\n',
    'trainer.json': JSON.stringify(
      {
        format: 'llm-lens-trainer',
        version: 1,
        step: 200,
        trainLoss: 2.4817,
        valLoss: 2.5533,
        tokensSeen: 51200,
      },
      null,
      2,
    ),
  }));
  await writeSafetensorsAtomic(join(ws, 'step-200.safetensors'), step200, { format: 'pt' });
  await writeSafetensorsAtomic(join(ws, 'step-0.safetensors'), step0, { format: 'pt' });
  await writeSafetensorsAtomic(join(ws, 'corrupt.safetensors'), step0, { format: 'pt' });
  truncateSync(join(ws, 'corrupt.safetensors'), 4000); // the header is whole, the data is cut short
  writeFileSync(join(ws, 'tokenizer.json'), TOKENIZER_JSON);
  writeFileSync(
    join(ws, 'models', 'tiny.onnx'),
    encodeModel({
      irVersion: 9,
      producerName: 'e2e',
      opsetImport: [{ domain: '', version: 20 }],
      graph: {
        name: 'g',
        node: [
          { opType: 'MatMul', input: ['x', 'W'], output: ['xw'] },
          { opType: 'Add', input: ['xw', 'b'], output: ['y'] },
        ],
        initializer: [
          { name: 'W', dims: [3, 2], dataType: OnnxDataType.FLOAT, floatData: ONNX_W },
          { name: 'b', dims: [2], dataType: OnnxDataType.FLOAT, floatData: [0.5, -0.5] },
        ],
        input: [
          {
            name: 'x',
            type: {
              tensorType: {
                elemType: OnnxDataType.FLOAT,
                shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] },
              },
            },
          },
        ],
        output: [
          {
            name: 'y',
            type: {
              tensorType: {
                elemType: OnnxDataType.FLOAT,
                shape: { dim: [{ dimParam: 'batch' }, { dimValue: 2 }] },
              },
            },
          },
        ],
      },
    }),
  );
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

test('Open in Checkpoint Inspector shows the parameter count, architecture and training step', async () => {
  await vs.explorerContextMenu('step-200.safetensors', 'Open in Checkpoint Inspector');
  const view = await vs.webview('step-200.safetensors');
  const count = view.locator('#param-count');
  await count.waitFor({ timeout: 60_000 });
  assert.equal(Number(await count.getAttribute('data-value')), PARAMS);
  assert.equal(await count.innerText(), PARAMS.toLocaleString('en-US'));
  assert.equal(await view.locator('#tensor-count').getAttribute('data-value'), String(step200.length));
  assert.match(
    await view.locator('#architecture').innerText(),
    /GPT-2.*n_layer 2 · n_head 2 · n_embd 16 · vocab 65/,
  );
  assert.match(
    await view.locator('#training').innerText(),
    /step 200 · train loss 2\.4817 · val loss 2\.5533/,
  );
  assert.equal(await view.locator('tr.tensor-row').count(), step200.length);
  assert.equal(
    await view.locator('#banner').isVisible(),
    false,
    'no reload prompt for a file that did not change',
  );
  // the table filters and sorts
  await view.locator('#tensor-filter input').fill('c_fc weight');
  await view.locator('#table-count', { hasText: /^2 of / }).waitFor({ timeout: 10_000 });
  await view.locator('#tensor-filter input').fill('');
  await view.locator('th[data-sort=elements]').click();
  assert.equal(
    await view.locator('tr.tensor-row').first().getAttribute('data-name'),
    'transformer.wte.weight',
  );
  await vs.screenshot('checkpoint-summary');
});

test('clicking a tensor shows its stats (equal to the values written) and a histogram', async () => {
  const view = await vs.webview('step-200.safetensors');
  await view.locator(`tr.tensor-row[data-name="${INSPECT}"]`).click();
  await view.locator(`#detail[data-state=done][data-name="${INSPECT}"]`).waitFor({ timeout: 30_000 });
  const v = Array.from(step200.find((t) => t.name === INSPECT)!.data as Float32Array);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const expected: Record<string, number> = {
    mean,
    std: Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length),
    min: Math.min(...v),
    max: Math.max(...v),
    l2: Math.sqrt(v.reduce((a, x) => a + x * x, 0)),
    zeroFraction: v.filter((x) => x === 0).length / v.length,
    nonFinite: 0,
  };
  for (const [key, want] of Object.entries(expected)) {
    const got = Number(await view.locator(`[data-stat=${key}]`).getAttribute('data-value'));
    assert.ok(
      Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)),
      `${key}: shown ${got}, computed ${want}`,
    );
  }
  // the histogram and the heatmap are drawn: count painted pixels on each canvas
  const painted = (sel: string) =>
    view.locator(sel).evaluate((e) => {
      const c = e as unknown as CanvasLike;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return { n, area: c.width * c.height };
    });
  await view.locator('#histogram').waitFor();
  const hist = await painted('#histogram');
  assert.ok(hist.n > hist.area * 0.05, `histogram: ${hist.n} of ${hist.area} pixels painted`);
  const heat = await painted('#heatmap');
  assert.ok(heat.area > 0 && heat.n === heat.area, `heatmap: ${heat.n} of ${heat.area} pixels painted`);
  await vs.screenshot('checkpoint-tensor');
});

test('Compare with… step 0 lists every tensor by relative change, largest first', async () => {
  const view = await vs.webview('step-200.safetensors');
  await view.locator('#compare').click();
  await vs.pick('step-0.safetensors');
  await view.locator('#change-table tr.change-row').first().waitFor({ timeout: 30_000 });
  const rows = await view
    .locator('#change-table tr.change-row')
    .evaluateAll((els) =>
      els.map((e) => [e.getAttribute('data-name')!, Number(e.getAttribute('data-rel'))] as [string, number]),
    );
  // ‖a − b‖ / ‖a‖ with a = this checkpoint (step 200), b = step 0
  const expected = step200
    .map((t, k) => {
      const a = t.data as Float32Array;
      const b = step0[k].data as Float32Array;
      let d = 0;
      let n = 0;
      for (let i = 0; i < a.length; i++) {
        d += (a[i] - b[i]) ** 2;
        n += a[i] * a[i];
      }
      return { name: t.name, rel: n === 0 ? 0 : Math.sqrt(d) / Math.sqrt(n) };
    })
    .sort((x, y) => y.rel - x.rel || (x.name < y.name ? -1 : 1));
  assert.deepEqual(
    rows.map((r) => r[0]),
    expected.map((e) => e.name),
  );
  rows.forEach(([name, rel], i) =>
    assert.ok(
      Math.abs(rel - expected[i].rel) <= 1e-9 * Math.max(1e-9, expected[i].rel),
      `${name}: ${rel} vs ${expected[i].rel}`,
    ),
  );
  assert.equal(rows.filter((r) => r[1] === 0).length, 2 * N_LAYER + 1, 'the layer-norm biases did not move');
  assert.match(
    await view.locator('#compare-summary').innerText(),
    new RegExp(`^${step200.length - (2 * N_LAYER + 1)} of ${step200.length} shared tensors changed`),
  );
  await vs.screenshot('checkpoint-compare');
});

test('a corrupt checkpoint opens (double-click) with a clear message; fixed on disk, it offers a reload', async () => {
  await vs.page.keyboard.press('Control+Shift+E');
  await vs.page
    .locator('.explorer-folders-view .monaco-list-row', { hasText: 'corrupt.safetensors' })
    .first()
    .dblclick();
  const view = await vs.webview('corrupt.safetensors');
  const error = view.locator('#open-error');
  await error.waitFor({ timeout: 30_000 });
  assert.equal(await error.getAttribute('data-code'), 'truncated');
  const text = await error.innerText();
  assert.match(text, /cannot be inspected/);
  assert.match(text, /corrupt\.safetensors/);
  assert.match(text, /truncated: .* ends at byte \d+ of the data section/, 'the message says what is wrong');
  assert.match(text, /save it again/, 'and what to do');
  assert.equal(await view.locator('#banner').isVisible(), false);
  await vs.screenshot('checkpoint-corrupt');

  await writeSafetensorsAtomic(join(workspace, 'corrupt.safetensors'), step0, { format: 'pt' });
  await view.locator('#banner', { hasText: 'changed on disk' }).waitFor({ timeout: 30_000 });
  await view.locator('#reload').click();
  const count = view.locator('#param-count');
  await count.waitFor({ timeout: 30_000 });
  assert.equal(Number(await count.getAttribute('data-value')), PARAMS);
  assert.equal(await view.locator('#banner').isVisible(), false);
});

test('Export for Hugging Face writes a folder transformers can load: GPT2Config fields, GPT-2 names, tokenizer', async () => {
  await vs.webview('step-200.safetensors').then((v) => v.locator('#export-hf').click());
  const outDir = join(workspace, 'step-200-hf');
  await vs.input(outDir);
  await vs.notification(/exported for Hugging Face/, 30_000);
  assert.deepEqual(readdirSync(outDir).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
  const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.deepEqual(
    [config.n_layer, config.n_head, config.n_embd, config.n_positions, config.vocab_size],
    [N_LAYER, 2, N_EMBD, BLOCK, VOCAB],
  );
  assert.equal(config.model_type, 'gpt2');
  assert.equal(readFileSync(join(outDir, 'tokenizer.json'), 'utf8'), TOKENIZER_JSON);
  const out = await openSafetensors(join(outDir, 'model.safetensors'));
  try {
    assert.deepEqual(out.tensors.map((t) => t.name).sort(), step200.map((t) => t.name).sort());
    const wte = step200.find((t) => t.name === 'transformer.wte.weight')!.data as Float32Array;
    assert.deepEqual(Array.from(await out.readNumbers('transformer.wte.weight')), Array.from(wte));
  } finally {
    await out.close();
  }
  await vs.screenshot('checkpoint-export');
});

test('Export ONNX writes a folder onnxruntime and transformers.js load: onnx/model.onnx with a key/value cache', () =>
  vs.step('export-onnx', async () => {
    await vs.webview('step-200.safetensors').then((v) => v.locator('#export-onnx').click());
    const outDir = join(workspace, 'step-200-onnx');
    await vs.input(outDir);
    // the workspace's tokenizer.json has an empty vocabulary, which no tokenizer loads: it is not copied, and the message says why
    await vs.notification(/exported ONNX.*No tokenizer\.json: invalid tokenizer\.json/, 60_000);
    assert.deepEqual(readdirSync(outDir).sort(), ['config.json', 'onnx']);
    // the reference: the engine's own forward pass on the same weights (the unit tests hold both to PyTorch)
    const ckpt = await loadCheckpoint(join(workspace, 'step-200.safetensors'));
    const ref = await GptInference.create(ckpt.config, ckpt.weights, { threads: 1 });
    const session = await ort.InferenceSession.create(join(outDir, 'onnx', 'model.onnx'));
    const prompt = [5, 17, 3, 22];
    const ids = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
    const empty = Object.fromEntries(
      Array.from({ length: N_LAYER }, (_, l) =>
        ['key', 'value'].map((k) => [
          `past_key_values.${l}.${k}`,
          new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, N_EMBD / 2]),
        ]),
      ).flat(),
    );
    const out = await session.run({
      input_ids: ids(prompt),
      attention_mask: ids(prompt.map(() => 1)),
      position_ids: ids(prompt.map((_, i) => i)),
      ...empty,
    });
    const logits = (out.logits as ort.Tensor).data as Float32Array;
    const expected = await ref.nextLogits(prompt);
    const worst = Array.from(expected).reduce(
      (m, x, i) => Math.max(m, Math.abs(x - logits[(prompt.length - 1) * VOCAB + i])),
      0,
    );
    assert.ok(worst < 1e-4, `max |Δlogit| ${worst}`);
    await session.release();
    await ref.release();
  }));

test('LLM Lens: Open Checkpoint… opens an ONNX model: interface, opset, op counts, initializer stats', () =>
  vs.step('onnx', async () => {
    await vs.runCommand('LLM Lens: Open Checkpoint…');
    // VS Code's own file dialog (code-server's): type the path, then accept with its button
    await vs.input(join(workspace, 'models', 'tiny.onnx'));
    const accept = vs.page.locator('.quick-input-widget .monaco-button', { hasText: 'Open Checkpoint' });
    if (await accept.isVisible()) await accept.click();
    const view = await vs.webview('tiny.onnx');
    await view.locator('#param-count').waitFor({ timeout: 30_000 });
    assert.equal(await view.locator('#param-count').getAttribute('data-value'), '8');
    assert.equal(await view.locator('#opsets').innerText(), 'ai.onnx 20');
    assert.match(await view.locator('#op-counts').innerText(), /2: Add × 1, MatMul × 1/);
    assert.equal(
      await view
        .locator('#onnx-inputs tr[data-name=x]')
        .innerText()
        .then((t) => t.replace(/\s+/g, ' ').trim()),
      'x F32 [batch, 3]',
    );
    await view.locator('tr.tensor-row[data-name=W]').click();
    await view.locator('#detail[data-state=done][data-name=W]').waitFor({ timeout: 30_000 });
    const mean = ONNX_W.reduce((a, b) => a + b, 0) / ONNX_W.length;
    assert.equal(Number(await view.locator('[data-stat=mean]').getAttribute('data-value')), mean);
    assert.equal(Number(await view.locator('[data-stat=min]').getAttribute('data-value')), -6);
    assert.equal(Number(await view.locator('[data-stat=max]').getAttribute('data-value')), 5);
    await vs.screenshot('checkpoint-onnx');
  }));

/** Elements of every tensor in a safetensors file, from its header read here. */
function headerParams(file: string): Record<string, number> {
  const b = readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[] }>;
  delete h.__metadata__;
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, size(v.shape)]));
}

test("a sharded Llama folder opened by one shard shows the whole module tree and each tensor's shard", () =>
  vs.step('llama-sharded', async () => {
    const dir = join(workspace, 'llama-sharded');
    cpSync('test/fixtures/llama/gqa_sharded', dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as {
      weight_map: Record<string, string>;
    };
    const shards = [...new Set(Object.values(index.weight_map))].sort();
    const params = Object.assign({}, ...shards.map((f) => headerParams(join(dir, f)))) as Record<
      string,
      number
    >;
    const total = Object.values(params).reduce((a, b) => a + b, 0);
    await vs.runCommand('LLM Lens: Open Checkpoint…');
    await vs.input(join(dir, shards[0]));
    const accept = vs.page.locator('.quick-input-widget .monaco-button', { hasText: 'Open Checkpoint' });
    if (await accept.isVisible()) await accept.click();
    const view = await vs.webview(shards[0]);
    await view.locator('#param-count').waitFor({ timeout: 30_000 });
    assert.equal(Number(await view.locator('#param-count').getAttribute('data-value')), total);
    assert.equal(await view.locator('#shards').getAttribute('data-count'), String(shards.length));
    assert.match(await view.locator('#architecture').innerText(), /Llama-style \(llama\).*kv heads 2/);
    assert.equal(await view.locator('tr.tensor-row').count(), Object.keys(index.weight_map).length);
    // the module tree: model → layers → 0 → self_attn → q_proj → weight, opened as a person clicks through it
    for (const p of [
      'model.layers',
      'model.layers.0',
      'model.layers.0.self_attn',
      'model.layers.0.self_attn.q_proj',
    ])
      await view.locator(`details.tree-node[data-path="${p}"] > summary`).first().click();
    const q = view.locator('.tree-leaf[data-name="model.layers.0.self_attn.q_proj.weight"]');
    await q.waitFor({ timeout: 10_000 });
    // a tensor of the other shard: its row names the shard, and it inspects
    const other = Object.keys(index.weight_map).find((n) => index.weight_map[n] === shards[1])!;
    const row = view.locator(`tr.tensor-row[data-name="${other}"]`);
    assert.equal(await row.locator('td[data-shard]').getAttribute('data-shard'), shards[1]);
    await row.click();
    await view.locator(`#detail[data-state=done][data-name="${other}"]`).waitFor({ timeout: 30_000 });
    assert.equal(await view.locator('#detail-meta').getAttribute('data-shard'), shards[1]);
    await vs.screenshot('checkpoint-llama-sharded');
  }));
