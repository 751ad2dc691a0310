/**
 * Reverse-mode autodiff over a Graph. Walks the nodes that lie between the parameters and the loss
 * in reverse build order, asks each op's rule (beside the op, in ops/*.ts) for its input gradients,
 * and sums the contributions of tensors used more than once. Branches that don't reach the loss, or
 * don't depend on a requested tensor, are never differentiated; identical gradient subexpressions are
 * built once (the builder's node reuse).
 */
import type { Graph } from './graph';
import { GraphError, isFloat, type Tensor } from './tensor';
import { alias } from './ops/elementwise';

/**
 * Gradients of a scalar `loss` with respect to each tensor in `wrt` (usually g.params), as new tensors
 * of the graph named `grad/<name>`. A tensor the loss does not depend on gets zeros.
 */
export function gradients(g: Graph, loss: Tensor, wrt: Tensor[]): Map<Tensor, Tensor> {
  if (loss.size !== 1 || !isFloat(loss.dtype))
    throw new GraphError(`gradients: the loss must be a float scalar, got ${loss}`);
  const nodes = g.nodes.slice(); // the forward graph as it is now
  const depends = forwardReach(nodes, wrt);
  const reaches = backwardReach(loss);
  const contrib = new Map<number, Tensor[]>();
  const push = (t: Tensor, d: Tensor) => (contrib.get(t.id) ?? contrib.set(t.id, []).get(t.id)!).push(d);
  const total = (t: Tensor): Tensor | undefined => {
    const parts = contrib.get(t.id);
    if (!parts?.length) return undefined;
    const sum = parts.reduce((a, b) => g.add(a, b));
    contrib.set(t.id, [sum]);
    return sum;
  };

  g.scope('grad', () => {
    push(loss, g.constant([1], loss.dtype, [...loss.shape])); // dL/dL = 1
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (!reaches.has(node.id)) continue;
      const need = node.inputs.map((t) => depends.has(t.id) && isFloat(t.dtype));
      if (!need.some(Boolean)) continue;
      const dy = node.outputs.map(total);
      if (dy.every((d) => d === undefined)) continue;
      if (!node.def.grad)
        throw new GraphError(
          `${node.def.type} (${node.name}) has no gradient rule, but the loss depends on it through a parameter; detach its input or use a differentiable op`,
        );
      const dx = node.def.grad(g, node, dy, need);
      node.inputs.forEach((t, k) => {
        if (need[k] && dx[k]) push(t, dx[k]!);
      });
    }
  });

  const out = new Map<Tensor, Tensor>();
  const taken = new Set<Tensor>();
  for (const t of wrt) {
    let grad = total(t) ?? g.zeros(t.shape, t.dtype); // (t.shape)
    if (grad.kind !== 'op' || taken.has(grad) || wrt.includes(grad)) grad = alias(g, grad, t.name); // one name per gradient
    taken.add(grad);
    out.set(t, g.named(grad, `grad/${t.name}`));
  }
  return out;
}

/** Ids of tensors that depend on any of `from`. */
function forwardReach(nodes: Graph['nodes'], from: Tensor[]): Set<number> {
  const set = new Set(from.map((t) => t.id));
  for (const n of nodes) if (n.inputs.some((t) => set.has(t.id))) for (const o of n.outputs) set.add(o.id);
  return set;
}

/** Ids of nodes whose outputs the loss depends on. */
function backwardReach(loss: Tensor): Set<number> {
  const seen = new Set<number>();
  const stack: Tensor[] = [loss];
  while (stack.length) {
    const n = stack.pop()!.node;
    if (!n || seen.has(n.id)) continue;
    seen.add(n.id);
    stack.push(...n.inputs);
  }
  return seen;
}
