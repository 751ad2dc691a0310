/**
 * Optimizers inside the step graph. `addOptimizer` derives the gradients of the loss, clips them by
 * their global norm and appends the update, so that one ONNX run is forward + backward + update:
 *
 *   inputs:  data…, lr (), step () (1-based), every parameter P and its state (adam.m/P, adam.v/P)
 *   outputs: loss (), grad_norm () (before clipping), new/P, new/adam.m/P, new/adam.v/P [, grad/P]
 *
 * AdamW follows torch.optim.AdamW: decoupled weight decay p·(1 - lr·wd) per parameter group,
 * bias-corrected moments, eps added after the bias-corrected sqrt(v); clipping follows
 * torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6), capped at 1).
 */
import { gradients } from '../graph/autodiff';
import type { Graph } from '../graph/graph';
import { GraphError, type Tensor } from '../graph/tensor';

export interface AdamWOptions {
  kind: 'adamw';
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay for parameters in the decay group. */
  weightDecay?: number;
  /** Which parameters decay; default: rank ≥ 2 (matrices and embeddings, not biases or norms). */
  decays?: (p: Tensor) => boolean;
}
export interface SgdOptions {
  kind: 'sgd';
}
export type OptimizerOptions = (AdamWOptions | SgdOptions) & {
  /**
   * AdamW over one flat vector per parameter group (decay / no decay) for the parameters with fewer
   * than `flatBelow` elements: the same arithmetic in ~15 ops instead of 13 per parameter, which a
   * small model's step notices (each ORT kernel launch costs microseconds). Their moments are the slots
   * adam.m/@<group>, adam.v/@<group> and spec.views names each parameter's part. Default true.
   */
  flat?: boolean;
  /**
   * Parameters with at least this many elements are updated on their own even when `flat`: joining
   * them costs two concatenations, a split and a copy per step, more than their 13 kernel launches
   * (nanoGPT shakespeare_char: its steps ran 1–3% faster than with every parameter in the flat
   * vectors, A/B in one process). Default 65536.
   */
  flatBelow?: number;
  /**
   * The most tensors one Concat or Split of the flat vectors joins (default: no limit). A WebGPU kernel
   * binds each input and output as a storage buffer, and adapters allow few per shader (lavapipe 16):
   * the GPU devices build the join as a tree of Concats of at most this many, and split it back the same
   * way. The values are the same; only the copies differ.
   */
  maxJoin?: number;
  /** Clip the gradient to this global L2 norm (0 or undefined: no clipping). */
  clip?: number;
  /** Also output every gradient as grad/<name> (tests, inspection). */
  outputGrads?: boolean;
};

/** maxJoin on the GPU devices: 7 inputs and an output, well under 16 storage buffers per shader. */
export const GPU_MAX_JOIN = 7;

/** One piece of optimizer state: a graph input and the output that replaces it after a step. */
export interface StateSlot {
  name: string;
  next: string;
  shape: number[];
  /** 'param': the parameter's own weights; 'zeros': an optimizer moment that starts at zero. */
  init: 'param' | 'zeros';
}

/** A parameter's moment (adam.m/<name>) as a range of a flat state slot (adam.m/<group>). */
export interface StateView {
  name: string;
  slot: string;
  offset: number;
  shape: number[];
}

/** What a runner needs to drive a training step graph. */
export interface TrainStepSpec {
  state: StateSlot[];
  /** Per-parameter moments inside flat slots (empty when every moment is its own slot). */
  views: StateView[];
  loss: 'loss';
  gradNorm: 'grad_norm';
  lr: 'lr';
  step: 'step';
  /** dtype of lr, step and the parameters. */
  dtype: Tensor['dtype'];
  /** Data inputs (not state, not lr/step) the caller feeds each step. */
  data: { name: string; dtype: Tensor['dtype']; shape: number[] }[];
}

/** Global L2 norm of a set of gradients: sqrt(Σ‖g‖²). */
export function globalNorm(g: Graph, grads: Tensor[]): Tensor {
  const sq = grads.map((d) => g.reduceSumSquare(d)); // () each
  return g.sqrt(sq.reduce((a, b) => g.add(a, b))); // ()
}

/** Appends gradients, clipping and the update to the graph; declares its outputs. */
export function addOptimizer(
  g: Graph,
  loss: Tensor,
  o: OptimizerOptions,
  params: Tensor[] = g.params,
): TrainStepSpec {
  if (!params.length)
    throw new GraphError('addOptimizer: the graph has no parameters; declare them with g.param()');
  const grads = gradients(g, loss, params);
  const data = g.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] }));
  const lr = g.input('lr', params[0].dtype, []); // ()
  const step = g.input('step', params[0].dtype, []); // ()
  if (o.kind === 'adamw' && (o.flat ?? true)) return flatAdamW(g, o, loss, params, grads, lr, step, data);
  const norm = g.scope('clip', () => globalNorm(g, [...grads.values()])); // ()
  // clip coefficient min(max_norm / (norm + 1e-6), 1): a scalar, folded into the update's scalar factors
  const coef = o.clip ? g.scope('clip', () => g.min(g.div(o.clip!, g.add(norm, 1e-6)), 1)) : undefined; // ()
  const state: StateSlot[] = [];
  for (const p of params) {
    const d = grads.get(p)!;
    if (o.outputGrads) g.output(`grad/${p.name}`, d);
    state.push(
      ...outputSlots(
        g,
        p,
        g.scope(`update/${p.name}`, () =>
          o.kind === 'sgd' ? sgdUpdate(g, p, d, lr, coef) : adamwUpdate(g, p, d, lr, step, coef, o),
        ),
      ),
    );
  }
  g.output('loss', loss);
  g.output('grad_norm', norm);
  return {
    state,
    views: [],
    loss: 'loss',
    gradNorm: 'grad_norm',
    lr: 'lr',
    step: 'step',
    dtype: params[0].dtype,
    data,
  };
}

/**
 * AdamW over one flat vector per group (parameters that decay, and the rest) for the small
 * parameters: they and their gradients are concatenated, updated by the same ops as adamwUpdate, and
 * split back. Parameters of `flatBelow` elements or more are updated on their own.
 */
function flatAdamW(
  g: Graph,
  o: AdamWOptions & OptimizerOptions,
  loss: Tensor,
  params: Tensor[],
  grads: Map<Tensor, Tensor>,
  lr: Tensor,
  step: Tensor,
  data: TrainStepSpec['data'],
): TrainStepSpec {
  const state: StateSlot[] = [];
  const views: StateView[] = [];
  if (o.outputGrads) for (const p of params) g.output(`grad/${p.name}`, grads.get(p)!);
  const decays = o.decays ?? ((t: Tensor) => t.rank >= 2);
  const below = o.flatBelow ?? 65536;
  const alone = params.filter((p) => p.size >= below);
  const pooled = params.filter((p) => p.size < below);
  const join = o.maxJoin ?? Infinity;
  if (join < 2) throw new Error(`optimizer: maxJoin must be at least 2, got ${join}`);
  const flat = (ts: Tensor[]) =>
    concatTree(
      g,
      ts.map((t) => g.reshape(t, [t.size])),
      join,
    ); // (n)
  const groups = (
    [
      ['decay', pooled.filter(decays)],
      ['no_decay', pooled.filter((p) => !decays(p))],
    ] as const
  )
    .filter(([, members]) => members.length)
    .map(([name, members]) =>
      g.scope(`update/${name}`, () => ({
        name,
        members,
        p: flat(members),
        d: flat(members.map((t) => grads.get(t)!)),
      })),
    );
  const norm = g.scope('clip', () =>
    globalNorm(g, [...groups.map((x) => x.d), ...alone.map((p) => grads.get(p)!)]),
  ); // ()
  const coef = o.clip ? g.scope('clip', () => g.min(g.div(o.clip!, g.add(norm, 1e-6)), 1)) : undefined; // ()
  for (const p of alone)
    state.push(
      ...outputSlots(
        g,
        p,
        g.scope(`update/${p.name}`, () => adamwUpdate(g, p, grads.get(p)!, lr, step, coef, o)),
      ),
    );
  for (const { name: group, members, p, d } of groups) {
    const [[, , p1], ...moments] = g.scope(`update/${group}`, () =>
      adamwUpdate(
        g,
        p,
        d,
        lr,
        step,
        coef,
        { ...o, decays: () => group === 'decay' },
        `adam.m/@${group}`,
        `adam.v/@${group}`,
      ),
    ); // '@': no parameter is named like a slot
    const parts = g.scope(`update/${group}`, () =>
      splitTree(
        g,
        p1,
        members.map((t) => t.size),
        join,
      ),
    );
    members.forEach((t, i) => {
      g.output(`new/${t.name}`, g.reshape(parts[i], [...t.shape]));
      state.push({ name: t.name, next: `new/${t.name}`, shape: [...t.shape], init: 'param' });
    });
    let offset = 0;
    for (const t of members) {
      for (const [slot] of moments)
        views.push({ name: `${slot.split('/')[0]}/${t.name}`, slot, offset, shape: [...t.shape] });
      offset += t.size;
    }
    for (const [slot, next, t] of moments) {
      g.output(next, t);
      state.push({ name: slot, next, shape: [offset], init: 'zeros' });
    }
  }
  g.output('loss', loss);
  g.output('grad_norm', norm);
  return {
    state,
    views,
    loss: 'loss',
    gradNorm: 'grad_norm',
    lr: 'lr',
    step: 'step',
    dtype: params[0].dtype,
    data,
  };
}

type Slot = [name: string, next: string, value: Tensor];

/** Declares a parameter's updated slots as graph outputs; their state entries (the weights, or moments starting at zero). */
function outputSlots(g: Graph, p: Tensor, slots: Slot[]): StateSlot[] {
  return slots.map(([name, next, t]) => {
    g.output(next, t);
    return { name, next, shape: [...p.shape], init: name === p.name ? 'param' : 'zeros' };
  });
}

function sgdUpdate(g: Graph, p: Tensor, d: Tensor, lr: Tensor, coef: Tensor | undefined): Slot[] {
  const rate = coef ? g.mul(lr, coef) : lr; // () lr · clip coefficient
  return [[p.name, `new/${p.name}`, g.sub(p, g.mul(d, rate))]]; // p - lr·g
}

/**
 * torch.optim.AdamW with g = coef·d, rearranged so that every full-size op is needed (13 per
 * parameter) and the rest are scalar:
 *   m' = β1·m + ((1-β1)·coef)·d
 *   v' = β2·v + ((1-β2)·coef²)·d²
 *   p' = p·(1 - lr·wd) - (lr/bc1)·m'/(√v'/√bc2 + eps) = p·(1 - lr·wd) + m'/(√v' + eps·√bc2) · (-lr·√bc2/bc1)
 */
function adamwUpdate(
  g: Graph,
  p: Tensor,
  d: Tensor,
  lr: Tensor,
  step: Tensor,
  coef: Tensor | undefined,
  o: AdamWOptions,
  mName = `adam.m/${p.name}`,
  vName = `adam.v/${p.name}`,
): Slot[] {
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const wd = o.weightDecay ?? 0;
  const decays = (o.decays ?? ((t: Tensor) => t.rank >= 2))(p);
  const m = g.input(mName, p.dtype, [...p.shape]); // (p.shape)
  const v = g.input(vName, p.dtype, [...p.shape]); // (p.shape)
  const s1 = coef ? g.mul(coef, 1 - b1) : 1 - b1; // ()
  const s2 = coef ? g.mul(g.mul(coef, coef), 1 - b2) : 1 - b2; // ()
  const m1 = g.add(g.mul(m, b1), g.mul(d, s1)); // (p.shape)
  const v1 = g.add(g.mul(v, b2), g.mul(g.mul(d, d), s2)); // (p.shape)
  const bc1 = g.sub(1, g.pow(g.scalar(b1, step.dtype), step)); // ()
  const sqrtBc2 = g.sqrt(g.sub(1, g.pow(g.scalar(b2, step.dtype), step))); // ()
  const rate = g.div(g.mul(g.neg(lr), sqrtBc2), bc1); // () -lr·√bc2/bc1
  const denom = g.add(g.sqrt(v1), g.mul(sqrtBc2, o.eps ?? 1e-8)); // (p.shape)
  const decayed = decays && wd ? g.mul(p, g.sub(1, g.mul(lr, wd))) : p; // (p.shape)
  const p1 = g.add(decayed, g.mul(g.div(m1, denom), rate)); // (p.shape)
  return [
    [p.name, `new/${p.name}`, p1],
    [m.name, `new/${m.name}`, m1],
    [v.name, `new/${v.name}`, v1],
  ];
}

/** Vectors joined end to end (1-D), by Concats of at most `max` inputs (a tree when there are more). */
export function concatTree(g: Graph, ts: Tensor[], max: number): Tensor {
  if (ts.length === 1) return ts[0];
  if (ts.length <= max) return g.concat(ts, 0);
  const chunks: Tensor[] = [];
  for (let i = 0; i < ts.length; i += max) chunks.push(concatTree(g, ts.slice(i, i + max), max));
  return concatTree(g, chunks, max);
}

/** concatTree's inverse: a vector cut into pieces of `sizes`, by Splits of at most `max` outputs. */
export function splitTree(g: Graph, x: Tensor, sizes: number[], max: number): Tensor[] {
  if (sizes.length === 1) return [x];
  if (sizes.length <= max) return g.split(x, sizes, 0);
  const groups: number[][] = [];
  for (let i = 0; i < sizes.length; i += max) groups.push(sizes.slice(i, i + max));
  const totals = groups.map((s) => s.reduce((a, b) => a + b, 0));
  const parts = splitTree(g, x, totals, max);
  return groups.flatMap((s, i) => splitTree(g, parts[i], s, max));
}
