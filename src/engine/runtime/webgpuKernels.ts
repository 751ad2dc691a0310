/**
 * The WebGPU kernels of the onnxruntime-node we ship, as a table (webgpuKernels.json, written by
 * scripts/gen-webgpu-kernels.mjs on a WebGPU adapter): for each op and dtypes the graph builder emits,
 * whether ORT's WebGPU execution provider ran it ('webgpu') or placed it on the CPU provider ('cpu').
 * `offDevice` lists a graph's nodes that the table says would run on the CPU, so a test can keep every
 * graph the engine runs on a GPU free of host round trips without a GPU.
 *
 *   nodeKey(node)                         // 'Gather(f32,i64)->f32', 'com.microsoft.FusedMatMul(f32,f32)->f32'
 *   offDevice(graph, table)               // [{ key: 'OneHot(i64,i64,f32)->f32', nodes: ['OneHot_812'] }]
 */
import type { Graph } from '../graph/graph';
import type { Node } from '../graph/tensor';

/** The generated table: where each op/dtype ran on WebGPU, and with which runtime. */
export interface WebgpuKernelTable {
  onnxruntimeNode: string;
  date: string;
  adapter: string;
  kernels: Record<string, 'webgpu' | 'cpu' | string>;
}

/** An op and its input and output dtypes: `Op(in,…)->out,…`, the domain before the op when not ONNX's. */
export function nodeKey(n: Pick<Node, 'def' | 'inputs' | 'outputs'>): string {
  const op = n.def.domain ? `${n.def.domain}.${n.def.type}` : n.def.type;
  return `${op}(${n.inputs.map((t) => t.dtype).join(',')})->${n.outputs.map((t) => t.dtype).join(',')}`;
}

/** The nodes the graph emits (emit.ts drops those no output depends on), in build order. */
export function emittedNodes(g: Graph): Node[] {
  const needed = new Set<number>();
  const stack = g.outputs.map((o) => o.tensor);
  while (stack.length) {
    const t = stack.pop()!;
    if (!t.node || needed.has(t.node.id)) continue;
    needed.add(t.node.id);
    stack.push(...t.node.inputs);
  }
  return g.nodes.filter((n) => needed.has(n.id));
}

/**
 * The op/dtypes of g that would not run on WebGPU: those the table places on the CPU, and those it does
 * not list (never probed: run the generator). Each with the names of its nodes.
 */
export function offDevice(
  g: Graph,
  table: WebgpuKernelTable,
): { key: string; where: string; nodes: string[] }[] {
  const out = new Map<string, { key: string; where: string; nodes: string[] }>();
  for (const n of emittedNodes(g)) {
    const key = nodeKey(n);
    const where = table.kernels[key] ?? 'not in the table';
    if (where === 'webgpu') continue;
    const e = out.get(key) ?? { key, where, nodes: [] };
    e.nodes.push(n.name);
    out.set(key, e);
  }
  return [...out.values()];
}
