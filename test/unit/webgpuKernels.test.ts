/**
 * Every graph the engine runs on a GPU device (test/unit/webgpuGraphs.ts: training step, eval, KV-cache
 * prefill and decode, inspection, for GPT-2 tiny and llama-tiny; RL's policy step and log-probs and the
 * reward model's step and scoring for GPT-2 tiny) uses only op/dtypes that the shipped
 * onnxruntime-node runs on its WebGPU provider, per the generated table src/engine/runtime/webgpuKernels.json
 * (scripts/gen-webgpu-kernels.mjs, run on a WebGPU adapter). No GPU needed: it reads the table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { offDevice, type WebgpuKernelTable } from '../../src/engine/runtime/webgpuKernels';
import { engineGraphs } from './webgpuGraphs';

const table = JSON.parse(readFileSync('src/engine/runtime/webgpuKernels.json', 'utf8')) as WebgpuKernelTable;

test('the kernel table is for the onnxruntime-node installed', () => {
  const pkg = JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as {
    version: string;
  };
  assert.equal(table.onnxruntimeNode, pkg.version, 'regenerate it: node scripts/gen-webgpu-kernels.mjs');
  assert.equal(table.kernels['LogSoftmax(f32)->f32'], 'cpu', 'the table knows the CPU-only ops');
  assert.equal(table.kernels['MatMul(f32,f32)->f32'], 'webgpu');
});

test("every node of the engine's GPU graphs has a WebGPU kernel", async () => {
  const bad: string[] = [];
  for (const { name, graph } of await engineGraphs('gpu'))
    for (const o of offDevice(graph, table))
      bad.push(`${name}: ${o.key} ${o.where} ×${o.nodes.length} (${o.nodes.slice(0, 3).join(', ')})`);
  assert.deepEqual(bad, [], `ops that would run on the CPU:\n${bad.join('\n')}`);
});
