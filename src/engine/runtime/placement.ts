/**
 * Where a GPU session really ran each node. ORT places a node the GPU provider has no kernel for (or
 * one it prefers on the CPU, such as small int64 shape arithmetic) on CPUExecutionProvider, silently,
 * with a copy across the bus before and after it. GraphRunner profiles the first run of every GPU
 * session, reads the profile's per-node provider, and warns once per graph naming the ops that ran on
 * the CPU.
 *
 *   const nodes = cpuNodes(JSON.parse(readFileSync(profileFile, 'utf8')));
 *   const msg = placementWarning('webgpu', 'train step', nodes); // "… ran 3 nodes on the CPU: LogSoftmax ×1, …"
 */

/** A node that ran on the CPU provider: its op type and node name. */
export interface CpuNode {
  op: string;
  node: string;
}

interface TraceEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string };
}

/** The nodes of an ORT profile (its JSON array of trace events) that ran on CPUExecutionProvider, each once. */
export function cpuNodes(profile: unknown): CpuNode[] {
  if (!Array.isArray(profile)) throw new Error('cpuNodes: an ORT profile is a JSON array of trace events');
  const seen = new Map<string, CpuNode>();
  for (const e of profile as TraceEvent[]) {
    if (e?.cat !== 'Node' || e.args?.provider !== 'CPUExecutionProvider' || !e.args.op_name) continue;
    const node = (e.name ?? '').replace(/_kernel_time$/, '');
    seen.set(node, { op: e.args.op_name, node });
  }
  return [...seen.values()];
}

/** The warning for a graph with nodes on the CPU, or undefined when every node ran on the device. */
export function placementWarning(ep: string, graph: string, nodes: CpuNode[]): string | undefined {
  if (!nodes.length) return undefined;
  const count = new Map<string, number>();
  for (const n of nodes) count.set(n.op, (count.get(n.op) ?? 0) + 1);
  const ops = [...count].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return (
    `The ${ep} execution provider ran ${nodes.length} node${nodes.length === 1 ? '' : 's'} of ${graph} on the CPU ` +
    `(${ops.map(([op, k]) => `${op} ×${k}`).join(', ')}): each costs a copy between host and device. ` +
    `Nodes: ${nodes
      .slice(0, 6)
      .map((n) => n.node)
      .join(', ')}${nodes.length > 6 ? ', …' : ''}.`
  );
}
