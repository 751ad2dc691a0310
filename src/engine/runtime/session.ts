/**
 * Running graphs on onnxruntime-node. A GraphRunner owns one InferenceSession (graph optimization on,
 * intra-op threads from the machine, the execution provider the caller chose) and is reused for every
 * run. Values cross the boundary as HostTensors (typed array + shape) or as opaque DeviceValues that
 * stay where ORT put them (GPU buffers on GPU providers), so no onnxruntime type leaks out of runtime/.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import { encodeModel, OnnxDataType } from '../graph/onnxProto';
import type { DType } from '../graph/tensor';
import { createSession, loadOrt, ortMessage, type ExecutionProvider } from './ort';
import { cpuNodes, placementWarning, type CpuNode } from './placement';

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
  /** What the graph is, for the warning when a GPU session runs some of its nodes on the CPU. */
  graphName?: string;
  /**
   * Called after the first run of a GPU session that ran nodes on the CPU (see placement.ts); default:
   * process.emitWarning, once per distinct message. Not checked when `profilePrefix` is set.
   */
  onCpuNodes?: (warning: string, nodes: CpuNode[]) => void;
}

let flushDenormals = false;
let placements = 0;
const warned = new Set<string>();

function warnOnce(warning: string): void {
  if (warned.has(warning)) return;
  warned.add(warning);
  process.emitWarning(warning, 'LLMLensCpuFallback');
}

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
    // a GPU session profiles its first run to learn where each node ran (placement.ts)
    const placement =
      gpu && !o.profilePrefix
        ? join(tmpdir(), `llm-lens-placement-${process.pid}-${++placements}`)
        : undefined;
    if (placement) Object.assign(opts, { enableProfiling: true, profileFilePrefix: placement });
    if (gpu && o.keepOnDevice?.length)
      opts.preferredOutputLocation = Object.fromEntries(
        o.keepOnDevice.map((n) => [n, 'gpu-buffer'] as const),
      );
    const r = new GraphRunner(await createSession(model, ep, opts), ep);
    if (placement)
      r.placement = {
        prefix: placement,
        graph: o.graphName ?? 'the graph',
        report: o.onCpuNodes ?? warnOnce,
      };
    return r;
  }

  /** Set until the first run of a GPU session has been checked for nodes on the CPU. */
  private placement?: { prefix: string; graph: string; report: (w: string, nodes: CpuNode[]) => void };

  /** Ends the first run's profile and reports the nodes that ran on the CPU. */
  private checkPlacement(): void {
    const p = this.placement!;
    this.placement = undefined;
    this.session.endProfiling();
    const dir = dirname(p.prefix);
    const files = readdirSync(dir).filter((f) => f.startsWith(basename(p.prefix) + '_'));
    try {
      for (const f of files) {
        const nodes = cpuNodes(JSON.parse(readFileSync(join(dir, f), 'utf8')));
        const warning = placementWarning(this.ep, p.graph, nodes);
        if (warning) p.report(warning, nodes);
      }
    } finally {
      for (const f of files) rmSync(join(dir, f), { force: true });
    }
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
      if (!isHost(f)) checkLive(f, `GraphRunner.run: input ${n}`);
      ortFeeds[n] = isHost(f)
        ? new ort.Tensor(ORT_TYPE[f.dtype], f.data as never, f.shape)
        : (f as unknown as OrtModule.Tensor);
    }
    let out: OrtModule.InferenceSession.ReturnType;
    try {
      if (!into) out = await this.session.run(ortFeeds);
      else {
        const fetches: Record<string, OrtModule.Tensor | null> = {};
        for (const n of this.session.outputNames) {
          const t = into[n];
          fetches[n] = t ? new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.shape) : null;
        }
        out = await this.session.run(ortFeeds, fetches);
      }
    } catch (e) {
      const msg = ortMessage(e);
      const hint = /Too many storage buffers/.test(msg)
        ? " A node with that many inputs and outputs exceeds the GPU adapter's buffers per shader: split it " +
          '(for AdamW, build the step with maxJoin: GPU_MAX_JOIN, as the training loop does on a GPU).'
        : '';
      throw new Error(`onnxruntime (${this.ep}) failed to run the graph: ${msg}.${hint}`, { cause: e });
    }
    for (const t of Object.values(out)) if (t.location === 'gpu-buffer') this.adopt(t);
    if (this.placement) this.checkPlacement();
    return out as unknown as Record<string, DeviceValue>;
  }

  /** Writes the profile started by `profilePrefix`. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  /** Ends the session. Its device values die with it: copy what you need with `toHost` first. */
  async release(): Promise<void> {
    this.isReleased = true;
    if (this.placement) this.checkPlacement(); // never ran: an empty profile, removed
    // free the buffers while the session's allocator lives (disposing them later crashes)
    for (const ref of this.live) (ref.deref() as OrtModule.Tensor | undefined)?.dispose();
    this.live.clear();
    await this.session.release();
  }

  get released(): boolean {
    return this.isReleased;
  }

  private isReleased = false;
  /** This session's device values not yet disposed (weakly: a dropped value is freed by the GC). */
  private readonly live = new Set<WeakRef<object>>();

  private adopt(t: OrtModule.Tensor): void {
    const ref = new WeakRef(t);
    owners.set(t, { runner: this, ref });
    this.live.add(ref);
    if (this.live.size > 2 * this.lastLive) {
      for (const r of this.live) if (!r.deref()) this.live.delete(r);
      this.lastLive = Math.max(this.live.size, 64);
    }
  }
  private lastLive = 64;

  /** Forgets a value that the caller disposed. */
  forget(v: object): void {
    const o = owners.get(v);
    if (o) this.live.delete(o.ref);
  }
}

/**
 * The runner whose session made each device value. Reading, feeding or disposing a WebGPU buffer after
 * its session was released crashes the process in native code (SIGABRT / SIGSEGV, seen on Dawn with
 * onnxruntime-node 1.30.0), so those are refused here with an error instead.
 */
const owners = new WeakMap<object, { runner: GraphRunner; ref: WeakRef<object> }>();

function checkLive(v: DeviceValue, what: string): void {
  const owner = owners.get(v)?.runner;
  if (owner?.released)
    throw new Error(
      `${what}: this ${owner.ep} device value belonged to a session that was released; ` +
        'copy it to the host (toHost) before releasing the runner',
    );
  if ((v as unknown as OrtModule.Tensor).location === 'none')
    throw new Error(`${what}: this device value was disposed (disposeValue) and holds no data`);
}

function isHost(v: HostTensor | DeviceValue): v is HostTensor {
  return 'dtype' in v && !('location' in v);
}

/**
 * Copies a run's value into host memory (a no-op view for CPU values). A WebGPU buffer comes down
 * through a one-node Identity session on the same device: onnxruntime-node's own download of a
 * 'gpu-buffer' tensor (`Tensor.getData`) throws a C string from native code ("not implemented" in
 * js/node/src/tensor_helper.cc, 1.30.0), which no JavaScript catch sees: it aborts the process.
 */
export async function toHost(v: DeviceValue): Promise<HostTensor> {
  const t = v as unknown as OrtModule.Tensor;
  const dtype = DTYPE_OF[t.type];
  if (!dtype) throw new Error(`toHost: unsupported tensor type ${t.type}`);
  if (t.location === 'cpu' || t.location === 'cpu-pinned')
    return { dtype, shape: [...t.dims], data: t.data as HostArray };
  checkLive(v, 'toHost');
  if (t.location !== 'gpu-buffer')
    throw new Error(`toHost: cannot copy a value from '${t.location}' memory to the host`);
  const session = await downloader(t.type);
  const out = await session.run({ x: t });
  return { dtype, shape: [...t.dims], data: out.y.data as HostArray };
}

/** One Identity session per element type: a WebGPU buffer in, a host tensor out. */
const downloaders = new Map<string, Promise<OrtModule.InferenceSession>>();

function downloader(type: OrtModule.Tensor.Type): Promise<OrtModule.InferenceSession> {
  let s = downloaders.get(type);
  if (!s) {
    const dtype = DTYPE_OF[type]!;
    s = createSession(identityModel(ONNX_ELEM[dtype]), 'webgpu');
    s.catch(() => downloaders.delete(type));
    downloaders.set(type, s);
  }
  return s;
}

const ONNX_ELEM: Record<DType, number> = {
  f32: OnnxDataType.FLOAT,
  f16: OnnxDataType.FLOAT16,
  f64: OnnxDataType.DOUBLE,
  i64: OnnxDataType.INT64,
  i32: OnnxDataType.INT32,
  bool: OnnxDataType.BOOL,
};

/** y = Identity(x) for a tensor of any shape of one element type. */
function identityModel(elemType: number): Uint8Array {
  const value = (name: string) => ({ name, type: { tensorType: { elemType } } });
  return encodeModel({
    irVersion: 9,
    opsetImport: [{ domain: '', version: 20 }],
    producerName: 'llm-lens',
    graph: {
      name: 'download',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'download' }],
      input: [value('x')],
      output: [value('y')],
    },
  });
}

/** A run's scalar output as a number. */
export async function scalarOf(v: DeviceValue): Promise<number> {
  return Number((await toHost(v)).data[0]);
}

/** Frees a value's device memory (GPU buffers); a no-op on CPU. */
export function disposeValue(v: DeviceValue): void {
  const t = v as unknown as OrtModule.Tensor;
  const owner = owners.get(v)?.runner;
  if (t.location === 'cpu' || owner?.released) return; // a released session freed it already
  owner?.forget(v);
  t.dispose();
}

/** Whether a run's value lives in device memory (a WebGPU buffer) rather than on the host. */
export function isOnDevice(v: DeviceValue): boolean {
  return (v as unknown as OrtModule.Tensor).location === 'gpu-buffer';
}
