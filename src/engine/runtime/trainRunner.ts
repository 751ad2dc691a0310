/**
 * Drives a training-step graph (see train/optim.ts): keeps weights and optimizer moments between
 * steps (on the device for GPU providers), feeds lr and the 1-based step, and swaps in the new state
 * only when the loss and the gradient norm are finite. A NaN/Inf step is reported, not applied.
 *
 * Made from a step loop (train/stepLoop.ts) instead of a step graph, the runner takes several steps in
 * one session run (`runSteps`): the state crosses into JavaScript once per run instead of once per step.
 */
import type { StateSlot, TrainStepSpec } from '../train/optim';
import { STEP_LOOP } from '../train/stepLoop';
import {
  disposeValue,
  GraphRunner,
  scalarOf,
  toHost,
  type DeviceValue,
  type HostTensor,
  type RunnerOptions,
} from './session';

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** False when the loss or gradient norm was NaN/Inf: the weights were left as they were. */
  applied: boolean;
  /** What was not finite, when applied is false. */
  nonFinite?: ('loss' | 'grad_norm')[];
  ms: number;
  /** Other outputs of the graph (e.g. grad/<name> when the graph was built with outputGrads). */
  extra: Record<string, DeviceValue>;
}

/** One step's data and learning rate, for `runSteps`. */
export interface StepInput {
  data: Record<string, HostTensor>;
  lr: number;
}

export class TrainRunner {
  private stepCount = 0;
  /** CPU: the other half of the double-buffered state, which the next step writes into. */
  private spare?: Map<string, HostTensor>;
  /** The model is a step loop (train/stepLoop.ts): `runSteps` runs several steps per session run. */
  readonly isLoop: boolean;
  private constructor(
    readonly runner: GraphRunner,
    readonly spec: TrainStepSpec,
    private state: Map<string, HostTensor | DeviceValue>,
  ) {
    this.isLoop = runner.inputNames.includes(STEP_LOOP.steps);
    if (runner.ep === 'cpu' && !this.isLoop) {
      this.spare = new Map();
      for (const s of spec.state)
        this.spare.set(s.name, {
          dtype: spec.dtype,
          shape: s.shape,
          data: new (spec.dtype === 'f64' ? Float64Array : Float32Array)(size(s.shape)),
        });
    }
  }

  /**
   * @param init the parameters' starting weights by name (moments start at zero).
   * @param resume optimizer moments and the number of steps already taken, to continue a run exactly.
   */
  static async create(
    model: Uint8Array,
    spec: TrainStepSpec,
    init: Record<string, HostTensor>,
    o: RunnerOptions = {},
    resume?: { moments: Record<string, HostTensor>; steps: number },
  ): Promise<TrainRunner> {
    const state = new Map<string, HostTensor | DeviceValue>();
    for (const s of spec.state) {
      const saved =
        resume && s.init === 'zeros'
          ? (resume.moments[s.name] ?? gatherViews(spec, s.name, resume.moments))
          : undefined;
      if (resume && s.init === 'zeros' && !saved)
        throw new Error(`TrainRunner: the checkpoint to resume has no optimizer state ${s.name}`);
      if (saved) {
        if (saved.data.length !== size(s.shape))
          throw new Error(
            `TrainRunner: ${s.name} has ${saved.data.length} values, the graph expects [${s.shape.join(', ')}]`,
          );
        state.set(s.name, { ...saved, shape: s.shape, data: saved.data.slice() }); // owned, as the weights below
        continue;
      }
      if (s.init === 'zeros') {
        state.set(s.name, {
          dtype: spec.dtype,
          shape: s.shape,
          data: spec.dtype === 'f64' ? new Float64Array(size(s.shape)) : new Float32Array(size(s.shape)),
        });
        continue;
      }
      const w = init[s.name];
      if (!w) throw new Error(`TrainRunner: no initial weights for parameter ${s.name}`);
      if (w.data.length !== size(s.shape))
        throw new Error(
          `TrainRunner: ${s.name} has ${w.data.length} values, the graph expects [${s.shape.join(', ')}]`,
        );
      state.set(s.name, { ...w, shape: s.shape, data: w.data.slice() }); // owned: the runner reuses its buffers
    }
    const runner = await GraphRunner.create(model, {
      ...o,
      keepOnDevice: [...(o.keepOnDevice ?? []), ...spec.state.map((s) => s.next)],
    });
    const r = new TrainRunner(runner, spec, state);
    r.stepCount = resume?.steps ?? 0;
    return r;
  }

  /** Steps applied so far (AdamW's bias correction uses step + 1 next). */
  get steps(): number {
    return this.stepCount;
  }

  /** One forward + backward + update on a batch. */
  async step(data: Record<string, HostTensor>, lr: number): Promise<StepResult> {
    if (this.isLoop) return (await this.runSteps([{ data, lr }]))[0];
    const dt = this.spec.dtype === 'f64' ? Float64Array : Float32Array;
    const feeds: Record<string, HostTensor | DeviceValue> = { ...data };
    feeds[this.spec.lr] = { dtype: this.spec.dtype, shape: [], data: dt.from([lr]) };
    feeds[this.spec.step] = { dtype: this.spec.dtype, shape: [], data: dt.from([this.stepCount + 1]) };
    for (const [k, v] of this.state) feeds[k] = v;
    const t0 = performance.now();
    const spare = this.spare;
    const into = spare && Object.fromEntries(this.spec.state.map((s) => [s.next, spare.get(s.name)!]));
    const out = await this.runner.run(feeds, into);
    const ms = performance.now() - t0;
    const loss = await scalarOf(out[this.spec.loss]);
    const gradNorm = await scalarOf(out[this.spec.gradNorm]);
    const nonFinite = [
      ...(Number.isFinite(loss) ? [] : ['loss' as const]),
      ...(Number.isFinite(gradNorm) ? [] : ['grad_norm' as const]),
    ];
    const nextNames = new Set(this.spec.state.map((s) => s.next));
    const extra = Object.fromEntries(
      Object.entries(out).filter(
        ([k]) => !nextNames.has(k) && k !== this.spec.loss && k !== this.spec.gradNorm,
      ),
    );
    if (nonFinite.length) {
      for (const s of this.spec.state) disposeValue(out[s.next]);
      return { loss, gradNorm, applied: false, nonFinite, ms, extra };
    }
    if (spare) {
      // swap halves: the buffers just written become the state, the old state the next spare
      for (const s of this.spec.state) {
        const old = this.state.get(s.name) as HostTensor;
        this.state.set(s.name, spare.get(s.name)!);
        spare.set(s.name, {
          ...old,
          data: old.data.length === size(s.shape) ? old.data : new Float32Array(size(s.shape)),
        });
      }
    } else {
      for (const s of this.spec.state) {
        const old = this.state.get(s.name);
        if (old && !('dtype' in old)) disposeValue(old);
        this.state.set(s.name, out[s.next]);
      }
    }
    this.stepCount++;
    return { loss, gradNorm, applied: true, ms, extra };
  }

  /**
   * Steps in order, up to the first one that is not applied (its result is the last one returned).
   * A step loop runs them all in one session run; a step graph runs one per step.
   */
  async runSteps(inputs: StepInput[]): Promise<StepResult[]> {
    if (!this.isLoop) {
      const out: StepResult[] = [];
      for (const i of inputs) {
        out.push(await this.step(i.data, i.lr));
        if (!out[out.length - 1].applied) break;
      }
      return out;
    }
    if (!inputs.length) return [];
    const k = inputs.length;
    const dt = this.spec.dtype === 'f64' ? Float64Array : Float32Array;
    const feeds: Record<string, HostTensor | DeviceValue> = {
      [STEP_LOOP.steps]: { dtype: 'i64', shape: [], data: BigInt64Array.from([BigInt(k)]) },
      [STEP_LOOP.lr]: { dtype: this.spec.dtype, shape: [k], data: dt.from(inputs.map((i) => i.lr)) },
      [STEP_LOOP.step]: { dtype: this.spec.dtype, shape: [], data: dt.from([this.stepCount + 1]) },
    };
    for (const d of this.spec.data) feeds[STEP_LOOP.data(d.name)] = stack(d, inputs);
    for (const [name, v] of this.state) feeds[STEP_LOOP.state(name)] = v;
    const t0 = performance.now();
    const out = await this.runner.run(feeds);
    const ms = performance.now() - t0;
    const losses = (await toHost(out[STEP_LOOP.loss])).data;
    const norms = (await toHost(out[STEP_LOOP.gradNorm])).data;
    const ran = losses.length;
    const results: StepResult[] = [];
    for (let i = 0; i < ran; i++) {
      const loss = Number(losses[i]);
      const gradNorm = Number(norms[i]);
      const nonFinite = [
        ...(Number.isFinite(loss) ? [] : ['loss' as const]),
        ...(Number.isFinite(gradNorm) ? [] : ['grad_norm' as const]),
      ];
      results.push(
        nonFinite.length
          ? { loss, gradNorm, applied: false, nonFinite, ms: ms / ran, extra: {} }
          : { loss, gradNorm, applied: true, ms: ms / ran, extra: {} },
      );
    }
    const bad = results.findIndex((r) => !r.applied);
    if (bad < 0) {
      if (ran !== k)
        throw new Error(`TrainRunner: the step loop ran ${ran} of ${k} steps without a non-finite one`);
      for (const s of this.spec.state) this.state.set(s.name, await toHost(out[STEP_LOOP.next(s.next)]));
      this.stepCount += k;
      return results;
    }
    // The loop stopped after step `bad`, whose update is in the outputs: take the good steps again
    // from the inputs, which ORT left as they were (the same run of the same graph: the same result).
    const good = bad > 0 ? await this.runSteps(inputs.slice(0, bad)) : [];
    if (good.length !== bad || good.some((r, i) => !r.applied || r.loss !== results[i].loss))
      throw new Error(`TrainRunner: replaying ${bad} good steps did not reproduce them`);
    return [...good, results[bad]];
  }

  /** The optimizer moments by parameter (adam.m/<name>, adam.v/<name>), whether or not the graph keeps them in flat slots. */
  get momentNames(): string[] {
    return [...this.ownMomentSlots.map((s) => s.name), ...this.spec.views.map((v) => v.name)];
  }

  /** Moment slots that belong to one parameter (the rest are flat slots that views cut up). */
  private get ownMomentSlots(): StateSlot[] {
    const flat = new Set(this.spec.views.map((v) => v.slot));
    return this.spec.state.filter((s) => s.init === 'zeros' && !flat.has(s.name));
  }

  /** Every optimizer moment by parameter name, copied to host memory (each flat slot is read once). */
  async moments(): Promise<Record<string, HostTensor>> {
    const out: Record<string, HostTensor> = {};
    for (const s of this.ownMomentSlots) out[s.name] = await this.get(s.name);
    const slots = new Map<string, HostTensor>();
    for (const v of this.spec.views) {
      let slot = slots.get(v.slot);
      if (!slot) slots.set(v.slot, (slot = await this.host(v.slot)));
      out[v.name] = {
        dtype: slot.dtype,
        shape: v.shape,
        data: slot.data.slice(v.offset, v.offset + size(v.shape)) as HostTensor['data'],
      };
    }
    return out;
  }

  /** Current value of a state slot or a moment (a parameter, or adam.m/<name>, adam.v/<name>), copied to host memory. */
  async get(name: string): Promise<HostTensor> {
    const view = this.spec.views.find((v) => v.name === name);
    if (view) {
      const slot = await this.host(view.slot);
      return {
        dtype: slot.dtype,
        shape: view.shape,
        data: slot.data.slice(view.offset, view.offset + size(view.shape)) as HostTensor['data'],
      };
    }
    const h = await this.host(name);
    return { ...h, data: h.data.slice() }; // a copy: the runner writes into its buffers again two steps on
  }

  /** A slot's values on the host: the runner's own buffer on CPU (not to be kept), a download from a device. */
  private async host(name: string): Promise<HostTensor> {
    const v = this.state.get(name);
    if (!v) throw new Error(`TrainRunner: no state named ${name}`);
    if (!('dtype' in v)) return toHost(v);
    return v as HostTensor;
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** One data input of every step, stacked on a new first axis (the step loop's loop/data/<name>). */
function stack(d: TrainStepSpec['data'][number], inputs: StepInput[]): HostTensor {
  const n = size(d.shape);
  const first = inputs[0].data[d.name];
  if (!first) throw new Error(`TrainRunner.runSteps: missing inputs ${d.name}`);
  const data = new (first.data.constructor as new (n: number) => HostTensor['data'])(n * inputs.length);
  inputs.forEach((i, k) => {
    const t = i.data[d.name];
    if (!t)
      throw new Error(`TrainRunner.runSteps: missing inputs ${d.name} (step ${k + 1} of ${inputs.length})`);
    if (t.dtype !== d.dtype || t.data.length !== n)
      throw new Error(
        `TrainRunner.runSteps: ${d.name} of step ${k + 1} has ${t.data.length} ${t.dtype} values, the graph expects ${d.dtype} [${d.shape.join(', ')}] (${n} values)`,
      );
    (data as Float32Array).set(t.data as Float32Array, k * n);
  });
  return { dtype: d.dtype, shape: [inputs.length, ...d.shape], data };
}

/** A flat moment slot assembled from per-parameter moments (a checkpoint's adam.m/<name>), or undefined if one is missing. */
function gatherViews(
  spec: TrainStepSpec,
  slot: string,
  moments: Record<string, HostTensor>,
): HostTensor | undefined {
  const views = spec.views.filter((v) => v.slot === slot);
  if (!views.length) return undefined;
  const total = views.reduce((a, v) => Math.max(a, v.offset + size(v.shape)), 0);
  const data = spec.dtype === 'f64' ? new Float64Array(total) : new Float32Array(total);
  for (const v of views) {
    const m = moments[v.name];
    if (!m) return undefined;
    if (m.data.length !== size(v.shape))
      throw new Error(
        `TrainRunner: ${v.name} has ${m.data.length} values, the graph expects [${v.shape.join(', ')}]`,
      );
    data.set(m.data as Float32Array, v.offset);
  }
  return { dtype: spec.dtype, shape: [total], data };
}
