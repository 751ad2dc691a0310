/**
 * loadCheckpoint against config.json and weights that disagree: every refusal names the file, the
 * config field and the value to set. The reference is the fixture's own GPT-2 (test/fixtures/train:
 * 2 layers, no biases, 32 wide, block 32, 58 characters), whose tensors are counted by hand below.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { encodeSafetensors, type TensorToWrite } from '../../src/engine/checkpoint/writer';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';

const FIX = path.resolve('test/fixtures/train');
const CONFIG = JSON.parse(fs.readFileSync(path.join(FIX, 'config.json'), 'utf8')) as Record<string, unknown>;
/** A block without biases: ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj. */
const PER_LAYER = 6;

/** A checkpoint folder: the fixture's weights (or `tensors`) with a config.json changed by `edit`. */
function checkpoint(edit: (c: Record<string, unknown>) => unknown, tensors?: TensorToWrite[]): string {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-load-'));
  const model = path.join(d, 'model.safetensors');
  if (tensors) fs.writeFileSync(model, encodeSafetensors(tensors));
  else fs.copyFileSync(path.join(FIX, 'step20.safetensors'), model);
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(edit(structuredClone(CONFIG))));
  return d;
}

async function fixtureTensors(): Promise<TensorToWrite[]> {
  const f = await openSafetensors(path.join(FIX, 'step20.safetensors'));
  const out: TensorToWrite[] = [];
  for (const t of f.tensors)
    out.push({ name: t.name, dtype: 'F32', shape: t.shape, data: await f.readValues(t.name) });
  await f.close();
  return out;
}

test('a config.json with fewer layers than the weights is refused, naming the unused weights and n_layer', async () => {
  const d = checkpoint((c) => ({ ...c, n_layer: 1 }));
  await assert.rejects(
    loadCheckpoint(d),
    (e: Error) =>
      e.message.includes(
        `${path.join(d, 'model.safetensors')} does not match ${path.join(d, 'config.json')}`,
      ) &&
      e.message.includes(`holds ${PER_LAYER} weight(s) the config does not use (transformer.h.1.`) &&
      e.message.includes(`and ${PER_LAYER - 3} more`) &&
      /says "n_layer": 1 but the weights hold "n_layer": 2/.test(e.message),
  );
  const more = checkpoint((c) => ({ ...c, n_layer: 3 }));
  await assert.rejects(
    loadCheckpoint(more),
    new RegExp(`lacks ${PER_LAYER} weight\\(s\\) the config needs \\(transformer\\.h\\.2\\..*"n_layer": 2`),
  );
  // as fast for a hostile count: the layers it lacks are named, not listed one by one
  await assert.rejects(
    loadCheckpoint(checkpoint((c) => ({ ...c, n_layer: 100_000_000 }))),
    /lacks the weights of layers 2 to 99999999 \(transformer\.h\.2\..*"n_layer": 100000000 but the weights hold "n_layer": 2/,
  );
});

test('weights the GPT-2 does not have, or of another shape, are refused with the config field to change', async () => {
  const extra = [
    ...(await fixtureTensors()),
    {
      name: 'transformer.h.0.attn.rotary.inv_freq',
      dtype: 'F32' as const,
      shape: [4],
      data: new Float32Array(4),
    },
  ];
  await assert.rejects(
    loadCheckpoint(checkpoint((c) => c, extra)),
    /holds 1 weight\(s\) the config does not use \(transformer\.h\.0\.attn\.rotary\.inv_freq\)\. the file is damaged or holds another model/,
  );
  await assert.rejects(
    loadCheckpoint(checkpoint((c) => ({ ...c, vocab_size: 50 }))),
    /transformer\.wte\.weight \[58,32\], not \[50,32\].*says "vocab_size": 50 but the weights hold "vocab_size": 58/,
  );
  await assert.rejects(
    loadCheckpoint(checkpoint((c) => ({ ...c, n_positions: 64, n_ctx: 64 }))),
    /transformer\.wpe\.weight \[32,32\], not \[64,32\].*"n_positions": 32/,
  );
  await assert.rejects(
    loadCheckpoint(checkpoint((c) => ({ ...c, llm_lens: { bias: true } }))),
    /lacks 13 weight\(s\).*"llm_lens": \{"bias": true\} but the weights hold "llm_lens": \{"bias": false\}/, // 6 per layer + ln_f
  );
});

test("the hub's GPT-2 layout loads: names without transformer., the tied lm_head and attention-mask buffers", async () => {
  const fixture = await fixtureTensors();
  const hub = fixture.map((t) => ({ ...t, name: t.name.replace(/^transformer\./, '') }));
  const wte = fixture.find((t) => t.name === 'transformer.wte.weight')!;
  hub.push({ ...wte, name: 'lm_head.weight' });
  for (const l of [0, 1])
    hub.push({ name: `h.${l}.attn.bias`, dtype: 'F32', shape: [1, 1, 32, 32], data: new Float32Array(1024) });
  const { weights } = await loadCheckpoint(checkpoint((c) => c, hub));
  assert.deepEqual(Object.keys(weights).sort(), fixture.map((t) => t.name).sort());
  for (const t of fixture) assert.deepEqual(weights[t.name].data, t.data, t.name);
});

test("an lm_head that is not wte is refused: LLM Lens's GPT-2 ties them, this model's output layer is its own", async () => {
  const fixture = await fixtureTensors();
  const wte = fixture.find((t) => t.name === 'transformer.wte.weight')!;
  const untied = (wte.data as Float32Array).map((v) => v + 1);
  await assert.rejects(
    loadCheckpoint(checkpoint((c) => c, [...fixture, { ...wte, name: 'lm_head.weight', data: untied }])),
    /model\.safetensors: lm_head\.weight is not transformer\.wte\.weight: .*"tie_word_embeddings": false/,
  );
});

test('a config.json that is null, a list, or has fields LLM Lens cannot run says the file, the field and the fix', async () => {
  const cases: [(c: Record<string, unknown>) => unknown, RegExp][] = [
    [() => null, /config\.json holds null, not an object of GPT2Config fields .*: restore the config\.json/],
    [() => [], /config\.json holds a list, not an object/],
    [
      (c) => ({ ...c, n_head: 3 }),
      /config\.json: "n_head": 3 does not divide "n_embd": 32 .*a divisor of 32/,
    ],
    [
      (c) => ({ ...c, n_layer: 0 }),
      /"n_layer" must be a positive integer, got 0: set "n_layer": 2 \(what the weights hold\)/,
    ],
    [(c) => ({ ...c, n_layer: -2 }), /"n_layer" must be a positive integer, got -2: set "n_layer": 2/],
    [(c) => ({ ...c, n_embd: '32' }), /"n_embd" must be a positive integer, got "32": set "n_embd": 32/],
    [
      (c) => ({ ...c, vocab_size: 57.5 }),
      /"vocab_size" must be a positive integer, got 57\.5: set "vocab_size": 58/,
    ],
    [
      (c) => ({ ...c, n_head: undefined }),
      /"n_head" must be a positive integer, got nothing: set it to the model's number of attention heads/,
    ],
    [
      (c) => ({ ...c, n_positions: undefined, n_ctx: undefined }),
      /"n_positions" must be a positive integer, got nothing: set "n_positions": 32/,
    ],
    [(c) => ({ ...c, n_inner: 64 }), /"n_inner": 64 is not 4 × n_embd \(128\)/],
    [
      (c) => ({ ...c, activation_function: 'relu' }),
      /"activation_function": "relu" is not one LLM Lens computes/,
    ],
    [
      (c) => ({ ...c, llm_lens: { bias: 'no' } }),
      /"llm_lens": \{"bias": "no"\} must be true or false: set it to false/,
    ],
  ];
  for (const [edit, message] of cases) await assert.rejects(loadCheckpoint(checkpoint(edit)), message);
});

test("config.json's n_ctx stands for a missing n_positions, and a missing activation is GPT2Config's gelu_new", async () => {
  const { config } = await loadCheckpoint(
    checkpoint((c) => ({ ...c, n_positions: undefined, activation_function: undefined })),
  );
  assert.equal(config.blockSize, 32);
  assert.equal(config.gelu, 'tanh');
});

test('a weight of a dtype LLM Lens does not load is named with its dtype, not reported missing', async () => {
  const d = checkpoint((c) => c);
  const model = path.join(d, 'model.safetensors');
  const bytes = fs.readFileSync(model);
  const at = bytes.indexOf('"dtype":"F32"');
  bytes.write('"dtype":"X99"', at); // the first tensor in the header: transformer.h.0.attn.c_attn.weight
  fs.writeFileSync(model, bytes);
  await assert.rejects(
    loadCheckpoint(d),
    /model\.safetensors: transformer\.h\.0\.attn\.c_attn\.weight is X99; LLM Lens loads weights of dtype F32, F16, BF16, F64/,
  );
});

test('a checkpoint path that does not exist is named, with the checkpoints beside it', async () => {
  const run = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-load-'));
  for (const s of [3, 12]) fs.mkdirSync(path.join(run, 'checkpoints', `step-${s}`), { recursive: true });
  const missing = path.join(run, 'checkpoints', 'step-9');
  await assert.rejects(
    loadCheckpoint(missing),
    (e: Error) =>
      e.message ===
      `${missing} does not exist: ${path.join(run, 'checkpoints')} holds step-12, step-3 (newest first)`,
  );
  await assert.rejects(
    loadCheckpoint(path.join(run, 'nowhere', 'step-1')),
    /step-1 does not exist: give a checkpoint folder/,
  );
});

test('a damaged trainer.json still lets the weights load (to sample), and says why it cannot resume', async () => {
  const d = checkpoint((c) => c);
  for (const [text, why] of [
    ['null', /trainer\.json is not an LLM Lens trainer state/],
    [
      '{"format": "llm-lens-trainer", "version": 1, "step": -1}',
      /trainer\.json: "step" must be a whole number ≥ 0, got -1/,
    ],
    ['{"format": "llm-lens-trainer", "ver', /trainer\.json is not valid JSON/],
  ] as const) {
    fs.writeFileSync(path.join(d, 'trainer.json'), text);
    const c = await loadCheckpoint(d);
    assert.equal(c.trainer, undefined);
    assert.equal(Object.keys(c.weights).length, 2 * PER_LAYER + 3); // + wte, wpe, ln_f
    assert.match(c.trainerError!, why);
    assert.match(c.trainerError!, /resume from another checkpoint, or start from these weights/);
  }
  const state = {
    format: 'llm-lens-trainer',
    version: 1,
    step: 20,
    rngState: 7,
    seed: 1,
    tokensSeen: 0,
    elapsedMs: 0,
  };
  fs.writeFileSync(path.join(d, 'trainer.json'), JSON.stringify(state));
  fs.writeFileSync(
    path.join(d, 'trainer.safetensors'),
    fs.readFileSync(path.join(FIX, 'step20.safetensors')).subarray(0, 900),
  );
  const c = await loadCheckpoint(d);
  assert.equal(c.trainer, undefined);
  assert.match(c.trainerError!, /trainer\.safetensors: truncated/);
});
