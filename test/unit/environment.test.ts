/** The runtime probe, the worker that runs it, the CLI that prints it and the webview message validator. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ortMessage } from '../../src/engine/runtime/ort';
import { probeRuntime } from '../../src/engine/runtime/probe';
import { isEnvironmentWebviewMessage } from '../../src/host/panels/validate';
import type { RuntimeReport } from '../../src/protocol/environment';
import { WorkerClient } from '../../src/worker/client';

const ortVersion = (
  JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }
).version;

test('the probe finds the installed onnxruntime-node and a working cpu provider', async () => {
  const r = await probeRuntime(2);
  assert.equal(r.ortVersion, ortVersion);
  assert.deepEqual(
    r.providers.map((p) => p.name),
    ['cpu', 'webgpu', 'cuda'],
  );
  assert.equal(r.providers[0].ok, true, r.providers[0].error);
  for (const p of r.providers) assert.ok(p.ok || p.error, `${p.name}: neither ok nor a reason`);
  assert.ok(r.backends.some((b) => b.name === 'cpu' && b.bundled));
});

test('ORT assertion messages are reduced to what a person can act on', () => {
  const raw =
    '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n';
  assert.equal(ortMessage(new Error(raw)), 'Failed to get a WebGPU adapter: No supported adapters');
  assert.equal(
    ortMessage(new Error('[ONNXRuntimeError] : 1 : FAIL : Load model failed')),
    'Load model failed',
  );
  assert.equal(ortMessage('plain'), 'plain');
});

test('the worker runs the probe off the main thread and reports the same runtime', async () => {
  const client = new WorkerClient(resolve('dist/worker.js'));
  try {
    const result = await client.run({ kind: 'probeRuntime', cpus: 3 });
    assert.equal(result.kind, 'probeRuntime');
    assert.equal(result.report.ortVersion, ortVersion);
    assert.equal(result.report.cpus, 3);
    assert.equal(result.report.providers[0].ok, true);
  } finally {
    await client.dispose();
  }
});

test('a worker that dies rejects its pending jobs with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llm-lens-worker-'));
  const crashing = join(dir, 'worker.js');
  writeFileSync(
    crashing,
    "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom in job'); });",
  );
  const client = new WorkerClient(crashing);
  await assert.rejects(
    client.run({ kind: 'probeRuntime', cpus: 1 }),
    /The LLM Lens worker crashed: boom in job/,
  );
  await client.dispose();
});

test('llm-lens env --json prints the runtime report; bad usage exits 2 with help', () => {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'env', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as RuntimeReport;
  assert.equal(report.ortVersion, ortVersion);
  assert.equal(report.providers.find((p) => p.name === 'cpu')?.ok, true);

  const bad = spawnSync(process.execPath, ['dist/cli.js', 'frobnicate'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
  assert.match(bad.stderr, /Usage:/);
  // a command's bad option: its message and where to look, not the whole usage over it
  const badOption = spawnSync(process.execPath, ['dist/cli.js', 'sample', '--top-p', '0'], {
    encoding: 'utf8',
  });
  assert.equal(badOption.status, 2);
  assert.equal(
    badOption.stderr,
    "llm-lens: sample: --top-p must be a number > 0 and ≤ 1, got 0\nRun 'llm-lens sample --help' for its options.\n",
  );
  const tokenizeHelp = spawnSync(process.execPath, ['dist/cli.js', 'tokenize', '--help'], {
    encoding: 'utf8',
  });
  assert.equal(tokenizeHelp.status, 0);
  assert.match(tokenizeHelp.stdout, /llm-lens tokenize --tokenizer NAME\|PATH/);
  const version = spawnSync(process.execPath, ['dist/cli.js', '--version'], { encoding: 'utf8' });
  assert.equal(
    version.stdout.trim(),
    (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version,
  );
});

test('webview messages are validated: exact shapes only', () => {
  for (const ok of [{ type: 'ready' }, { type: 'refresh' }, { type: 'copy' }])
    assert.equal(isEnvironmentWebviewMessage(ok), true);
  for (const bad of [
    null,
    'ready',
    [],
    { type: 'exec' },
    { type: 'ready', extra: 1 },
    { kind: 'ready' },
    { type: 1 },
  ]) {
    assert.equal(isEnvironmentWebviewMessage(bad), false, JSON.stringify(bad));
  }
});
