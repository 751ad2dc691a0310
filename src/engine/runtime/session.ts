/**
 * Running graphs on onnxruntime-node. A GraphRunner owns one InferenceSession (graph optimization on,
 * intra-op threads from the machine, the execution provider the caller chose) and is reused for every
 * run. Values cross the boundary as HostTensors (typed array + shape) or as opaque DeviceValues that
 * stay where ORT put them (GPU buffers on GPU providers), so no onnxruntime type leaks out of runtime/.
 */
import { availableParallelism } from 'node:os';
import type * as OrtModule from 'onnxruntime-node';
import type { DType } from '../graph/tensor';
import { createSession, loadOrt, ortMessage, type ExecutionProvider } from './ort';

export type HostArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
/** A tensor in host memory. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: HostArray;
}
/** A value produced by a run, possibly on a device; feed it back or download it with `toHost`. */
export interface DeviceValue {
  readonly dims: readonly number[];
  readonly __device: unique symbol;
}

const ORT_TYPE: Record<DType, OrtModule.Tensor.Type> = {
  f32: 'float32',
  f16: 'float16',
  f64: 'float64',
  i64: 'int64',
  i32: 'int32',
  bool: 'bool',
};
const DTYPE_OF: Partial<Record<string, DType>> = Object.fromEntries(
  Object.entries(ORT_TYPE).map(([k, v]) => [v, k as DType]),
);

export interface RunnerOptions {
  /** Execution provider; default 'cpu'. */
  ep?: ExecutionProvider;
  /** Intra-op threads; default: every core of the machine (os.availableParallelism()). */
  threads?: number;
  /** Outputs to keep on the device between runs (GPU providers only; ignored on CPU). */
  keepOnDevice?: string[];
  /** Write an ORT profile (JSON) with this file prefix; `endProfiling()` finishes it. */
  profilePrefix?: string;
}

let flushDenormals = false;

/**
 * Sessions created from now on flush denormals to zero (ORT's session.set_denormal_as_zero). Softmax over
 * a causally masked row computes exp() of huge negative numbers, whose denormal intermediates made ORT's
 * Softmax 4x slower (8.2 → 1.9 ms at 16×6×256×256, kernel time in ORT's profile). ORT sets FTZ/DAZ on
 * its threads and on the thread that creates the session, so JavaScript arithmetic on that thread also
 * reads values under 1.2e-38 (float32) as 0: the training process turns it on; the extension host and
 * the worker, which show tensor statistics and probabilities, keep IEEE arithmetic.
 */
export function flushDenormalsToZero(on: boolean): void {
  flushDenormals = on;
}

export class GraphRunner {
  private constructor(
    private readonly session: OrtModule.InferenceSession,
    readonly ep: ExecutionProvider,
  ) {}

  /** Creates the session once; throws naming the provider (with ORT's message) when it does not load. */
  static async create(model: Uint8Array, o: RunnerOptions = {}): Promise<GraphRunner> {
    const ep = o.ep ?? 'cpu';
    const gpu = ep !== 'cpu';
    const opts: Partial<OrtModule.InferenceSession.SessionOptions> = {
      intraOpNumThreads: o.threads ?? availableParallelism(),
      graphOptimizationLevel: 'all',
      enableCpuMemArena: true,
      enableMemPattern: true,
    };
    if (flushDenormals) Object.assign(opts, { extra: { session: { set_denormal_as_zero: '1' } } });
    if (o.profilePrefix) Object.assign(opts, { enableProfiling: true, profileFilePrefix: o.profilePrefix });
    if (gpu && o.keepOnDevice?.length)
      opts.preferredOutputLocation = Object.fromEntries(
        o.keepOnDevice.map((n) => [n, 'gpu-buffer'] as const),
      );
    return new GraphRunner(await createSession(model, ep, opts), ep);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /**
   * One run. Feeds missing from `feeds` are an error naming them; extra feeds are ignored.
   * `into` names outputs to write into caller-owned host buffers (no allocation, no copy), e.g. the
   * other half of a double-buffered optimizer state; the other outputs are allocated by ORT.
   */
  async run(
    feeds: Record<string, HostTensor | DeviceValue>,
    into?: Record<string, HostTensor>,
  ): Promise<Record<string, DeviceValue>> {
    const ort = loadOrt();
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length)
      throw new Error(
        `GraphRunner.run: missing inputs ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` (+${missing.length - 8})` : ''}`,
      );
    const ortFeeds: Record<string, OrtModule.Tensor> = {};
    for (const n of this.session.inputNames) {
      const f = feeds[n];
      ortFeeds[n] = isHost(f)
        ? new ort.Tensor(ORT_TYPE[f.dtype], f.data as never, f.shape)
        : (f as unknown as OrtModule.Tensor);
    }
    try {
      if (!into) return (await this.session.run(ortFeeds)) as unknown as Record<string, DeviceValue>;
      const fetches: Record<string, OrtModule.Tensor | null> = {};
      for (const n of this.session.outputNames) {
        const t = into[n];
        fetches[n] = t ? new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.shape) : null;
      }
      return (await this.session.run(ortFeeds, fetches)) as unknown as Record<string, DeviceValue>;
    } catch (e) {
      throw new Error(`onnxruntime (${this.ep}) failed to run the graph: ${ortMessage(e)}`, { cause: e });
    }
  }

  /** Writes the profile started by `profilePrefix`. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function isHost(v: HostTensor | DeviceValue): v is HostTensor {
  return 'dtype' in v && !('location' in v);
}

/** Copies a run's value into host memory (a no-op view for CPU values). */
export async function toHost(v: DeviceValue): Promise<HostTensor> {
  const t = v as unknown as OrtModule.Tensor;
  const dtype = DTYPE_OF[t.type];
  if (!dtype) throw new Error(`toHost: unsupported tensor type ${t.type}`);
  const data = (t.location === 'cpu' ? t.data : await t.getData(true)) as HostArray;
  return { dtype, shape: [...t.dims], data };
}

/** A run's scalar output as a number. */
export async function scalarOf(v: DeviceValue): Promise<number> {
  return Number((await toHost(v)).data[0]);
}

/** Frees a value's device memory (GPU buffers); a no-op on CPU. */
export function disposeValue(v: DeviceValue): void {
  const t = v as unknown as OrtModule.Tensor;
  if (t.location !== 'cpu') t.dispose();
}
