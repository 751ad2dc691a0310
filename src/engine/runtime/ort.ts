/**
 * The only module that imports onnxruntime-node. Everything else in LLM Lens reaches the runtime
 * through this file, so that the native binding loads lazily (never at extension activation) and
 * a missing or broken binary becomes a clear error instead of a crash.
 */
import type * as OrtModule from 'onnxruntime-node';

export type Ort = typeof OrtModule;
import type { ExecutionProviderName } from '../../protocol/environment';

export type ExecutionProvider = ExecutionProviderName;
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'webgpu', 'cuda'];

let ort: Ort | undefined;
let loadError: Error | undefined;

/** Loads onnxruntime-node once. Throws an error that says what to do when the binary cannot load. */
export function loadOrt(): Ort {
  if (ort) return ort;
  if (loadError) throw loadError;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('onnxruntime-node') as Ort;
    // ORT prints provider-loading failures to stderr; LLM Lens reports them itself.
    loaded.env.logLevel = 'fatal';
    ort = loaded;
    return ort;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    loadError = new Error(
      `onnxruntime-node could not be loaded on ${process.platform}-${process.arch} (Node ${process.versions.node}): ${reason}. ` +
        'Install the LLM Lens build for this platform, or run `npm ci` in the extension folder.',
    );
    throw loadError;
  }
}

/** Session options for one execution provider, with graph optimization on and threads from the machine. */
export function sessionOptions(
  ep: ExecutionProvider,
  intraOpNumThreads?: number,
): OrtModule.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: intraOpNumThreads ?? 0,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
}

/** Creates a session on the chosen provider; a provider that does not load is an error naming it, with ORT's message. */
export async function createSession(
  model: Uint8Array,
  ep: ExecutionProvider,
  options: Partial<OrtModule.InferenceSession.SessionOptions> = {},
): Promise<OrtModule.InferenceSession> {
  const o = loadOrt();
  try {
    return await o.InferenceSession.create(model, {
      ...sessionOptions(ep),
      ...options,
      executionProviders: [ep],
    });
  } catch (e) {
    throw new Error(sessionError(ep, ortMessage(e)), { cause: e });
  }
}

/** What each GPU provider needs from the machine, for the message when it does not load. */
const PROVIDER_NEEDS: Partial<Record<ExecutionProvider, string>> = {
  cuda: 'CUDA 12 with cuDNN 9 and an NVIDIA GPU',
  webgpu: 'a GPU adapter that WebGPU (Dawn) supports: Vulkan, Metal or D3D12',
};

/**
 * Tells a graph that the provider cannot run (a missing kernel, a type clash) apart from a provider
 * that does not load, and says what to change in each case.
 */
export function sessionError(ep: ExecutionProvider, msg: string): string {
  const kernel = /Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'/.exec(msg);
  if (kernel)
    return (
      `The ${ep} execution provider has no kernel for ${kernel[1]} (opset ${kernel[2]}) with these input types (node ${kernel[3]}): ` +
      `build that op in f32 (Cast its inputs), or use another execution provider. ORT: ${msg}`
    );
  if (/Type Error|ShapeInferenceError|Invalid model|INVALID_GRAPH|Node \(/.test(msg))
    return `onnxruntime rejected the graph on the ${ep} execution provider: ${msg}`;
  const fix = PROVIDER_NEEDS[ep] ?? 'a working onnxruntime-node install';
  return `The ${ep} execution provider is not available here: ${msg}. It needs ${fix}; or use the 'cpu' execution provider.`;
}

/**
 * ORT's native errors carry source paths and assertion text; keep what a person can act on.
 * "/onnxruntime_src/…/webgpu_context.cc:136 … status == Success was false. Failed to get a WebGPU adapter: No supported adapters"
 * becomes "Failed to get a WebGPU adapter: No supported adapters".
 */
export function ortMessage(e: unknown): string {
  const raw = (e instanceof Error ? e.message : String(e)).trim();
  const cleaned = raw
    .replace(/^[\s\S]*? was false\.\s*/, '')
    .replace(/\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/g, '')
    .replace(/\/onnxruntime_src\/\S+:\d+\s+/g, '')
    .trim();
  return cleaned || raw;
}
