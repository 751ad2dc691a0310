/**
 * What the runtime can do on this machine: which onnxruntime-node backends load and which execution
 * providers (cpu, webgpu, cuda) really run a graph. Used by `LLM Lens: Show Environment` and `llm-lens env`.
 */
import { encodeModel, OnnxDataType } from '../graph/onnxProto';
import type { ProviderStatus, RuntimeReport } from '../../protocol/environment';
import { createSession, EXECUTION_PROVIDERS, loadOrt, type ExecutionProvider } from './ort';

/** A graph computing y = x + x for a float32 [2] input: small enough to probe any provider. */
export function probeModel(): Uint8Array {
  const f32 = (name: string) => ({
    name,
    type: { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: [{ dimValue: 2 }] } } },
  });
  return encodeModel({
    irVersion: 9,
    opsetImport: [{ domain: '', version: 20 }],
    producerName: 'llm-lens',
    graph: {
      name: 'probe',
      node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'], name: 'probe/add' }],
      input: [f32('x')],
      output: [f32('y')],
    },
  });
}

async function probeProvider(ep: ExecutionProvider, model: Uint8Array): Promise<ProviderStatus> {
  const ort = loadOrt();
  const t0 = performance.now();
  try {
    const session = await createSession(model, ep);
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1.5, -2]), [2]) });
      const y = out.y.data as Float32Array;
      if (y[0] !== 3 || y[1] !== -4) return { name: ep, ok: false, error: `wrong result ${Array.from(y)}` };
      return { name: ep, ok: true, ms: performance.now() - t0 };
    } finally {
      await session.release();
    }
  } catch (e) {
    return { name: ep, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Loads the runtime and tries every execution provider; never throws. */
export async function probeRuntime(cpus: number): Promise<RuntimeReport> {
  const report: RuntimeReport = {
    nodeVersion: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    cpus,
    backends: [],
    providers: [],
  };
  let ort;
  try {
    ort = loadOrt();
  } catch (e) {
    report.ortError = e instanceof Error ? e.message : String(e);
    report.providers = EXECUTION_PROVIDERS.map((name) => ({
      name,
      ok: false,
      error: 'onnxruntime-node did not load',
    }));
    return report;
  }
  report.ortVersion = ort.env.versions?.node ?? ort.env.versions?.common;
  report.backends = ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
  const model = probeModel();
  for (const ep of EXECUTION_PROVIDERS) report.providers.push(await probeProvider(ep, model));
  return report;
}
