/**
 * Export a GPT as standalone ONNX inference graphs with a key/value cache, weights inside, for
 * onnxruntime (any language) or any ONNX runtime:
 *
 *   prefill.onnx  idx (1, T) i64 padded after the prompt, last (1) i64 = index of the last prompt token
 *                 → logits (1, V) at `last`, k.{l} / v.{l} (1, nh, T, hd) for every layer
 *   decoder.onnx  idx (1, 1), pos (1) i64, mask (1, T) f32 (0 for filled cache slots, -inf for empty),
 *                 past_k.{l} / past_v.{l} (1, nh, T, hd) → logits (1, V), k.{l} / v.{l} (1, nh, 1, hd):
 *                 the caller writes the new k/v into slot `pos` of its cache
 *   llmlens-onnx.json  the shapes above, the model config and this recipe
 * T is the model's block size. Shapes are static (LLM Lens's graphs are); see the JSON for the loop.
 *
 *   await exportGptOnnx(config, weights, 'out/onnx')
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toOnnxModel } from '../graph/emit';
import { encodeModel, OnnxDataType, type OnnxModel } from '../graph/onnxProto';
import type { HostTensor } from '../runtime/session';
import type { GptModelConfig } from './inference';
import { buildDecodeGraph, buildPrefillGraph } from './kvCache';

/** Moves the graph inputs named in `weights` into initializers holding their values. */
export function bakeWeights(model: OnnxModel, weights: Record<string, HostTensor>): OnnxModel {
  const baked = model.graph.input.filter((i) => weights[i.name]);
  const initializer = [...(model.graph.initializer ?? [])];
  for (const i of baked) {
    const w = weights[i.name];
    if (!(w.data instanceof Float32Array)) throw new Error(`export: ${i.name} is ${w.dtype}, expected f32`);
    const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength).slice();
    initializer.push({ name: i.name, dims: w.shape, dataType: OnnxDataType.FLOAT, rawData: bytes });
  }
  return { ...model, graph: { ...model.graph, initializer, input: model.graph.input.filter((i) => !weights[i.name]) } };
}

export async function exportGptOnnx(c: GptModelConfig, weights: Record<string, HostTensor>, outDir: string): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const T = c.blockSize;
  const hd = c.nEmbd / c.nHead;
  const files: [string, Uint8Array | string][] = [
    ['prefill.onnx', encodeModel(bakeWeights(toOnnxModel(buildPrefillGraph(c, T)), weights))],
    ['decoder.onnx', encodeModel(bakeWeights(toOnnxModel(buildDecodeGraph(c)), weights))],
    ['llmlens-onnx.json', JSON.stringify({
      format: 'llm-lens-onnx', version: 1, config: c,
      prefill: { inputs: { idx: ['int64', [1, T]], last: ['int64', [1]] }, outputs: { logits: ['float32', [1, c.vocabSize]], 'k.{l}': ['float32', [1, c.nHead, T, hd]], 'v.{l}': ['float32', [1, c.nHead, T, hd]] } },
      decoder: {
        inputs: { idx: ['int64', [1, 1]], pos: ['int64', [1]], mask: ['float32', [1, T]], 'past_k.{l}': ['float32', [1, c.nHead, T, hd]], 'past_v.{l}': ['float32', [1, c.nHead, T, hd]] },
        outputs: { logits: ['float32', [1, c.vocabSize]], 'k.{l}': ['float32', [1, c.nHead, 1, hd]], 'v.{l}': ['float32', [1, c.nHead, 1, hd]] },
      },
      recipe: [
        'prefill: idx = prompt ids padded with 0 to T, last = len(prompt) - 1; keep k.{l}, v.{l} as the cache (slots past the prompt are garbage, masked below)',
        'sample the next token from logits',
        'decode: idx = [[token]], pos = [n] where n tokens are in the cache, mask[i] = 0 for i < n else -inf, past_k/v = the cache',
        'write k.{l}, v.{l} into cache slot n; repeat until n = T (then re-prefill the last tokens)',
      ],
    }, null, 2) + '\n'],
  ];
  for (const [name, data] of files) {
    const file = path.join(outDir, name);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  }
  return files.map(([n]) => path.join(outDir, n));
}
