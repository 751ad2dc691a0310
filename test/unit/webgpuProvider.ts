/**
 * Which GPU execution provider runs a graph on this machine, for the GPU tests: each skips with the
 * providers' own reasons where none loads (CI without a GPU or a Vulkan driver).
 *
 *   const { ep, why } = await gpuProvider(['webgpu']);
 *   if (!ep) return t.skip(why);
 */
import { emitOnnx } from '../../src/engine/graph/emit';
import { Graph } from '../../src/engine/graph/graph';
import type { ExecutionProvider } from '../../src/engine/runtime/ort';
import { GraphRunner } from '../../src/engine/runtime/session';

const found = new Map<string, Promise<{ ep?: ExecutionProvider; why: string }>>();

/** The first of `eps` that creates a session, or why none did (each provider's message). */
export function gpuProvider(
  eps: readonly ExecutionProvider[] = ['cuda', 'webgpu'],
): Promise<{ ep?: ExecutionProvider; why: string }> {
  const key = eps.join(',');
  let p = found.get(key);
  if (!p) found.set(key, (p = firstThatLoads(eps)));
  return p;
}

async function firstThatLoads(eps: readonly ExecutionProvider[]) {
  const g = new Graph();
  g.output('y', g.tanh(g.input('x', 'f32', [2])));
  const why: string[] = [];
  for (const ep of eps) {
    try {
      const r = await GraphRunner.create(emitOnnx(g), { ep });
      await r.release();
      return { ep, why: '' };
    } catch (e) {
      why.push((e as Error).message);
    }
  }
  return { why: `no GPU execution provider (${eps.join(', ')}) loads on this machine: ${why.join(' | ')}` };
}
