/**
 * The Checkpoint Inspector on Llama-family folders (test/fixtures/llama, written by llama_fixtures.py): the
 * module tree and parameter counts against the config.json's shapes, a sharded checkpoint opened by its
 * index or by any shard showing every tensor with the shard the index names, tensors inspected from either
 * shard, BF16 and F16 statistics against a brute-force decode written here (the fixtures hold the same
 * values in both), the tied lm_head, and the refusals of a missing shard or a broken index.
 *
 *   node --enable-source-maps --test out/test/unit/checkpointLlama.test.js
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { openInspectedFile } from '../../src/host/checkpoint/inspector';
import type { ModuleRow } from '../../src/protocol/checkpoint';
import { LLAMA_FIXTURES } from '../fixtures/llama/hubFolder';

const SHARDED = path.join(LLAMA_FIXTURES, 'gqa_sharded');
const INDEX = path.join(SHARDED, 'model.safetensors.index.json');
const temps: string[] = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const json = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
const weightMap = () => json(INDEX).weight_map as Record<string, string>;

/** Every parameter's shape from config.json, as Hugging Face's LlamaForCausalLM declares it. */
function expectedShapes(dir: string): Map<string, number[]> {
  const c = json(path.join(dir, 'config.json')) as Record<string, number & boolean>;
  const [C, V, I, L] = [c.hidden_size, c.vocab_size, c.intermediate_size, c.num_hidden_layers];
  const hd = C / c.num_attention_heads;
  const [q, kv] = [c.num_attention_heads * hd, c.num_key_value_heads * hd];
  const out = new Map<string, number[]>([['model.embed_tokens.weight', [V, C]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    out.set(`${p}.self_attn.q_proj.weight`, [q, C]);
    out.set(`${p}.self_attn.k_proj.weight`, [kv, C]);
    out.set(`${p}.self_attn.v_proj.weight`, [kv, C]);
    out.set(`${p}.self_attn.o_proj.weight`, [C, q]);
    out.set(`${p}.mlp.gate_proj.weight`, [I, C]);
    out.set(`${p}.mlp.up_proj.weight`, [I, C]);
    out.set(`${p}.mlp.down_proj.weight`, [C, I]);
    out.set(`${p}.input_layernorm.weight`, [C]);
    out.set(`${p}.post_attention_layernorm.weight`, [C]);
  }
  out.set('model.norm.weight', [C]);
  if (!c.tie_word_embeddings) out.set('lm_head.weight', [V, C]);
  return out;
}

const count = (s: number[]) => s.reduce((a, b) => a * b, 1);

function find(root: ModuleRow, dotted: string): ModuleRow {
  let n = root;
  for (const part of dotted.split('.')) {
    const c = n.children.find((x) => x.name === part);
    assert.ok(c, `no ${part} under '${n.path}'`);
    n = c;
  }
  return n;
}

/** A tensor's values decoded here from the file's bytes: header JSON, then F16 / BF16 / F32 by hand. */
function bruteValues(file: string, name: string): number[] {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const e = h[name];
  const [a, b] = e.data_offsets as [number, number];
  const data = buf.subarray(8 + n + a, 8 + n + b);
  const out: number[] = [];
  for (let i = 0; i < data.length;) {
    if (e.dtype === 'F32') {
      out.push(data.readFloatLE(i));
      i += 4;
      continue;
    }
    const u = data.readUInt16LE(i);
    i += 2;
    if (e.dtype === 'BF16') {
      const sign = u >> 15 ? -1 : 1;
      const exp = (u >> 7) & 0xff;
      const man = u & 0x7f;
      out.push(exp === 0 ? sign * man * 2 ** -133 : sign * (1 + man / 128) * 2 ** (exp - 127));
    } else {
      const sign = u >> 15 ? -1 : 1;
      const exp = (u >> 10) & 0x1f;
      const man = u & 0x3ff;
      out.push(exp === 0 ? sign * man * 2 ** -24 : sign * (1 + man / 1024) * 2 ** (exp - 15));
    }
  }
  return out;
}

function bruteStats(v: number[]) {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return {
    mean,
    std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length),
    min: Math.min(...v),
    max: Math.max(...v),
    l2: Math.sqrt(v.reduce((a, b) => a + b * b, 0)),
    zeros: v.filter((x) => x === 0).length,
  };
}

for (const opened of ['model.safetensors.index.json', 'model-00002-of-00002.safetensors']) {
  test(`sharded Llama opened by ${opened}: every tensor across both shards, each with its shard`, async () => {
    const f = await openInspectedFile(path.join(SHARDED, opened));
    try {
      const o = f.overview;
      const shapes = expectedShapes(SHARDED);
      const map = weightMap();
      assert.deepEqual(o.tensors.map((t) => t.name).sort(), [...shapes.keys()].sort());
      for (const t of o.tensors) {
        assert.deepEqual(t.shape, shapes.get(t.name), t.name);
        assert.equal(t.shard, map[t.name], `${t.name}'s shard`);
        assert.equal(t.dtype, 'F16');
      }
      const total = [...shapes.values()].reduce((a, s) => a + count(s), 0);
      assert.equal(o.params, total);
      assert.equal(o.bytes, total * 2);
      const files = [...new Set(Object.values(map))].sort();
      assert.deepEqual(
        o.shards?.files.map((s) => [s.name, s.tensors, s.bytes]),
        files.map((s) => [
          s,
          Object.values(map).filter((x) => x === s).length,
          fs.statSync(path.join(SHARDED, s)).size,
        ]),
      );
      assert.equal(o.shards?.index, 'model.safetensors.index.json');
      assert.deepEqual(o.warnings, []);
      const a = o.architecture;
      assert.deepEqual(
        [a.family, a.nLayer, a.nHead, a.nKvHead, a.nEmbd, a.vocabSize, a.intermediateSize, a.tiedEmbeddings],
        ['llama', 2, 4, 2, 64, 97, 96, false],
      );
      // the module tree: Hugging Face's modules, with their parameter counts
      const layer0 = find(o.tree, 'model.layers.0');
      assert.deepEqual(
        layer0.children.map((c) => c.name),
        ['input_layernorm', 'mlp', 'post_attention_layernorm', 'self_attn'],
      );
      assert.deepEqual(
        find(layer0, 'self_attn').children.map((c) => c.name),
        ['k_proj', 'o_proj', 'q_proj', 'v_proj'],
      );
      assert.deepEqual(
        find(layer0, 'mlp').children.map((c) => c.name),
        ['down_proj', 'gate_proj', 'up_proj'],
      );
      const under = (p: string) =>
        [...shapes].filter(([n]) => n.startsWith(`${p}.`)).reduce((s, [, sh]) => s + count(sh), 0);
      for (const p of ['model.layers.0', 'model.layers.1.self_attn', 'model.layers.1.mlp', 'model'])
        assert.equal(find(o.tree, p).params, under(p), p);
      assert.equal(find(o.tree, 'lm_head').params, 97 * 64);
      assert.equal(find(o.tree, 'lm_head').note, undefined);
      assert.equal(find(o.tree, 'model.norm.weight').tensor, 'model.norm.weight');
    } finally {
      await f.close();
    }
  });
}

test('a tensor inspects from either shard; F16 and BF16 stats equal a brute-force decode', async () => {
  const map = weightMap();
  const sharded = await openInspectedFile(INDEX);
  const bf16Path = path.join(LLAMA_FIXTURES, 'gqa_bf16', 'model.safetensors');
  const bf16 = await openInspectedFile(bf16Path);
  try {
    const names = ['model.embed_tokens.weight', 'lm_head.weight', 'model.layers.1.input_layernorm.weight'];
    assert.notEqual(map[names[0]], map[names[1]], 'the fixture puts them in different shards');
    for (const name of names) {
      const want = bruteStats(bruteValues(path.join(SHARDED, map[name]), name));
      // the fixtures hold the same values as BF16 and F16: both must give the same stats
      assert.deepEqual(bruteStats(bruteValues(bf16Path, name)), want);
      for (const [f, dtype] of [
        [sharded, 'F16'],
        [bf16, 'BF16'],
      ] as const) {
        const d = await f.inspect(name);
        assert.equal(d.dtype, dtype);
        assert.equal(d.shard, dtype === 'F16' ? map[name] : undefined);
        for (const k of ['mean', 'std', 'min', 'max', 'l2'] as const)
          assert.ok(
            Math.abs(d.stats[k]! - want[k]) <= 1e-6 * Math.max(1, Math.abs(want[k])),
            `${dtype} ${name} ${k}: ${d.stats[k]} vs ${want[k]}`,
          );
        assert.equal(d.stats.zeros, want.zeros);
        assert.equal(
          d.histogram!.counts.reduce((a, b) => a + b, 0),
          d.stats.count,
        );
        assert.equal(d.heatmap !== undefined, name.endsWith('proj.weight') || !name.includes('norm'));
      }
    }
  } finally {
    await sharded.close();
    await bf16.close();
  }
});

test('a tied Llama shows lm_head tied to embed_tokens, with no parameters of its own', async () => {
  const dir = path.join(LLAMA_FIXTURES, 'tied_llama3');
  const f = await openInspectedFile(path.join(dir, 'model.safetensors'));
  try {
    const o = f.overview;
    const shapes = expectedShapes(dir);
    assert.ok(!shapes.has('lm_head.weight'));
    assert.equal(
      o.params,
      [...shapes.values()].reduce((a, s) => a + count(s), 0),
    );
    const head = find(o.tree, 'lm_head');
    assert.deepEqual([head.params, head.tensorCount, head.note], [0, 0, 'tied to model.embed_tokens.weight']);
    assert.equal(o.tree.params, o.params);
    assert.equal(o.architecture.tiedEmbeddings, true);
    assert.equal(o.shards, undefined);
  } finally {
    await f.close();
  }
});

function copySharded(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-shards-'));
  temps.push(d);
  fs.cpSync(SHARDED, d, { recursive: true });
  return d;
}

test('a missing shard or a broken index is refused with the file and what to do; a stray tensor warns', async () => {
  const missing = copySharded();
  fs.rmSync(path.join(missing, 'model-00002-of-00002.safetensors'));
  await assert.rejects(
    openInspectedFile(path.join(missing, 'model.safetensors.index.json')),
    /model\.safetensors\.index\.json: names shard\(s\) model-00002-of-00002\.safetensors, missing from .*download the missing shards/,
  );
  const broken = copySharded();
  fs.writeFileSync(path.join(broken, 'model.safetensors.index.json'), '{"weight_map": {"a": "../x"}}');
  await assert.rejects(
    openInspectedFile(path.join(broken, 'model.safetensors.index.json')),
    /"weight_map": \{"a": "\.\.\/x"\} must be a file name beside the index/,
  );
  // the index maps a tensor to the other shard, and leaves one out: both warned about, neither shown
  const moved = copySharded();
  const j = json(INDEX) as { weight_map: Record<string, string> };
  j.weight_map['lm_head.weight'] = j.weight_map['model.embed_tokens.weight'];
  delete j.weight_map['model.norm.weight'];
  fs.writeFileSync(path.join(moved, 'model.safetensors.index.json'), JSON.stringify(j));
  const f = await openInspectedFile(path.join(moved, 'model.safetensors.index.json'));
  try {
    const shown = new Set(f.overview.tensors.map((t) => t.name));
    assert.ok(!shown.has('lm_head.weight') && !shown.has('model.norm.weight'));
    assert.equal(shown.size, expectedShapes(SHARDED).size - 2);
    assert.match(
      f.overview.warnings.join('\n'),
      /maps 1 tensor\(s\) to shards that do not hold them: lm_head/,
    );
    assert.match(
      f.overview.warnings.join('\n'),
      /1 tensor\(s\) in the shards are not in .*weight_map: model\.norm\.weight/,
    );
  } finally {
    await f.close();
  }
});
