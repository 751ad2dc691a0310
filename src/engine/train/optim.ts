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
  /** Clip the gradient to this global L2 norm (0 or undefined: no clipping). */
  clip?: number;
  /** Also output every gradient as grad/<name> (tests, inspection). */
  outputGrads?: boolean;
};

/** One piece of optimizer state: a graph input and the output that replaces it after a step. */
export interface StateSlot {
  name: string;
  next: string;
  shape: number[];
  /** 'param': the parameter's own weights; 'zeros': an optimizer moment that starts at zero. */
  init: 'param' | 'zeros';
}

/** What a runner needs to drive a training step graph. */
export interface TrainStepSpec {
  state: StateSlot[];
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
export function addOptimizer(g: Graph, loss: Tensor, o: OptimizerOptions, params: Tensor[] = g.params): TrainStepSpec {
  if (!params.length) throw new GraphError('addOptimizer: the graph has no parameters; declare them with g.param()');
  const grads = gradients(g, loss, params);
  const data = g.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] }));
  const lr = g.input('lr', params[0].dtype, []); // ()
  const step = g.input('step', params[0].dtype, []); // ()
  const norm = g.scope('clip', () => globalNorm(g, [...grads.values()])); // ()
  // clip coefficient min(max_norm / (norm + 1e-6), 1): a scalar, folded into the update's scalar factors
  const coef = o.clip ? g.scope('clip', () => g.min(g.div(o.clip!, g.add(norm, 1e-6)), 1)) : undefined; // ()
  const state: StateSlot[] = [];
  for (const p of params) {
    const d = grads.get(p)!;
    if (o.outputGrads) g.output(`grad/${p.name}`, d);
    const slots = g.scope(`update/${p.name}`, () => (o.kind === 'sgd' ? sgdUpdate(g, p, d, lr, coef) : adamwUpdate(g, p, d, lr, step, coef, o)));
    for (const [name, next, t] of slots) {
      g.output(next, t);
      state.push({ name, next, shape: [...p.shape], init: name === p.name ? 'param' : 'zeros' });
    }
  }
  g.output('loss', loss);
  g.output('grad_norm', norm);
  return { state, loss: 'loss', gradNorm: 'grad_norm', lr: 'lr', step: 'step', dtype: params[0].dtype, data };
}

type Slot = [name: string, next: string, value: Tensor];

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
function adamwUpdate(g: Graph, p: Tensor, d: Tensor, lr: Tensor, step: Tensor, coef: Tensor | undefined, o: AdamWOptions): Slot[] {
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const wd = o.weightDecay ?? 0;
  const decays = (o.decays ?? ((t: Tensor) => t.rank >= 2))(p);
  const m = g.input(`adam.m/${p.name}`, p.dtype, [...p.shape]); // (p.shape)
  const v = g.input(`adam.v/${p.name}`, p.dtype, [...p.shape]); // (p.shape)
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
