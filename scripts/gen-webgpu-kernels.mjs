// Regenerates src/engine/runtime/webgpuKernels.json, the table of which op/dtypes the shipped
// onnxruntime-node runs on its WebGPU provider, on this machine's WebGPU adapter (lavapipe will do):
//   node scripts/gen-webgpu-kernels.mjs
// Bundles test/fixtures/gen/webgpuKernels.ts (which documents the method) into out/gen and runs it.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';

await build({
  entryPoints: ['test/fixtures/gen/webgpuKernels.ts'],
  outfile: 'out/gen/webgpuKernels.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'inline',
  external: ['onnxruntime-node', 'tiktoken', '@huggingface/transformers', 'pyodide'],
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, ['--enable-source-maps', 'out/gen/webgpuKernels.js'], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
