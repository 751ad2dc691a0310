/**
 * Sharded safetensors checkpoints as Hugging Face saves large models: `model.safetensors.index.json`
 * ({"metadata": {...}, "weight_map": {tensor name: shard file}}) beside `model-00001-of-00002.safetensors`
 * and the other shards. One reader over all shards: every tensor with the shard that holds it, values read
 * from that shard.
 *
 *   const index = shardIndexOf('llama/model-00002-of-00002.safetensors'); // 'llama/model.safetensors.index.json'
 *   const m = await openShardedSafetensors(index!);
 *   m.tensors.map((t) => `${t.name} in ${t.shard}`);
 *   for await (const { values } of m.chunks('lm_head.weight')) ...       // float32 for F16 / BF16
 *   await m.close();
 *
 * A shard the index names that is missing is refused; a tensor the index maps to a shard that does not hold
 * it, or a tensor a shard holds that the index does not name, is a warning (the tensors found are shown).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from './errors';
import type { TensorInfo } from './header';
import { openSafetensors, type Chunk, type ChunkOptions, type SafetensorsFile } from './safetensors';
import type { TensorValues } from './dtypes';

/** The suffix of a shard index file. */
export const SHARD_INDEX_SUFFIX = '.safetensors.index.json';

/** A tensor of a sharded checkpoint: its header entry and the shard file (base name) that holds it. */
export type ShardedTensor = TensorInfo & { shard: string };

/** The index's weight_map (tensor name → shard file name, in the index's order) and its metadata. */
export interface ShardIndex {
  path: string;
  weightMap: Map<string, string>;
  metadata: Record<string, unknown>;
}

/**
 * The shard index of a path: the path itself when it is a `*.safetensors.index.json`, or the index beside a
 * safetensors file whose weight_map names that file (a shard); undefined for a single-file checkpoint.
 */
export function shardIndexOf(path: string): string | undefined {
  if (path.endsWith(SHARD_INDEX_SUFFIX)) return path;
  const dir = dirname(path);
  const name = basename(path);
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((f) => f.endsWith(SHARD_INDEX_SUFFIX));
  } catch {
    return undefined;
  }
  for (const f of entries.sort()) {
    try {
      if ([...readShardIndex(join(dir, f)).weightMap.values()].includes(name)) return join(dir, f);
    } catch {
      // an index that does not parse is not this file's: the file opens alone
    }
  }
  return undefined;
}

/** Reads and checks a shard index; errors name the file, the field and the fix. */
export function readShardIndex(path: string): ShardIndex {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(
      'bad-header',
      `not valid JSON (${e instanceof Error ? e.message : String(e)}): download the index again`,
      path,
    );
  }
  const obj = typeof j === 'object' && j !== null && !Array.isArray(j) ? (j as Record<string, unknown>) : {};
  const map = obj.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw new CheckpointError(
      'bad-header',
      'no "weight_map" object (tensor name → shard file): download the index again',
      path,
    );
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !shard || /[/\\]/.test(shard) || shard.startsWith('.'))
      throw new CheckpointError(
        'bad-header',
        `"weight_map": {"${name}": ${JSON.stringify(shard)}} must be a file name beside the index: download the index again`,
        path,
      );
    weightMap.set(name, shard);
  }
  const metadata =
    typeof obj.metadata === 'object' && obj.metadata !== null && !Array.isArray(obj.metadata)
      ? (obj.metadata as Record<string, unknown>)
      : {};
  return { path, weightMap, metadata };
}

/** All shards of an index as one checkpoint: tensors in shard order, then each shard's file order. */
export class ShardedSafetensors {
  readonly tensors: readonly ShardedTensor[];
  readonly warnings: readonly string[];
  private readonly byName = new Map<string, { t: ShardedTensor; f: SafetensorsFile }>();

  private constructor(
    readonly index: ShardIndex,
    /** Shard base name → its reader, in the order the index first names them. */
    readonly shards: ReadonlyMap<string, SafetensorsFile>,
    private readonly indexStat: { size: number; mtimeMs: number },
  ) {
    const tensors: ShardedTensor[] = [];
    const warnings: string[] = [];
    const notHeld: string[] = [];
    const unnamed: string[] = [];
    for (const [shard, f] of shards)
      for (const t of f.tensors) {
        const mapped = index.weightMap.get(t.name);
        if (mapped !== shard) {
          if (mapped === undefined) unnamed.push(`${t.name} (${shard})`);
          continue; // another shard holds the one the index names
        }
        const st = { ...t, shard };
        tensors.push(st);
        this.byName.set(t.name, { t: st, f });
      }
    for (const [name, shard] of index.weightMap)
      if (!this.byName.has(name)) notHeld.push(`${name} (${shard})`);
    const few = (a: string[]) =>
      `${a.slice(0, 5).join(', ')}${a.length > 5 ? `, … ${a.length - 5} more` : ''}`;
    if (notHeld.length)
      warnings.push(
        `${basename(index.path)} maps ${notHeld.length} tensor(s) to shards that do not hold them: ${few(notHeld)}; the download is incomplete or damaged`,
      );
    if (unnamed.length)
      warnings.push(
        `${unnamed.length} tensor(s) in the shards are not in ${basename(index.path)}'s weight_map: ${few(unnamed)}`,
      );
    for (const [shard, f] of shards) for (const w of f.warnings) warnings.push(`${shard}: ${w}`);
    this.tensors = tensors;
    this.warnings = warnings;
  }

  /** Opens every shard the index names; refuses a missing shard (closing those already open). */
  static async open(indexPath: string): Promise<ShardedSafetensors> {
    const index = readShardIndex(indexPath);
    const dir = dirname(indexPath);
    const names = [...new Set(index.weightMap.values())];
    const missing = names.filter((n) => !existsSync(join(dir, n)));
    if (missing.length)
      throw new CheckpointError(
        'not-found',
        `names shard(s) ${missing.join(', ')}, missing from ${dir}: download the missing shards (or open one shard file alone)`,
        indexPath,
      );
    const shards = new Map<string, SafetensorsFile>();
    try {
      for (const n of names) shards.set(n, await openSafetensors(join(dir, n)));
    } catch (e) {
      for (const f of shards.values()) await f.close();
      throw e;
    }
    const s = statSync(indexPath);
    return new ShardedSafetensors(index, shards, { size: s.size, mtimeMs: s.mtimeMs });
  }

  /** Bytes of all shard files. */
  get size(): number {
    let n = 0;
    for (const f of this.shards.values()) n += f.size;
    return n;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  tensor(name: string): ShardedTensor {
    return this.entry(name).t;
  }

  /** The reader of the shard that holds `name`. */
  shardOf(name: string): SafetensorsFile {
    return this.entry(name).f;
  }

  readValues(name: string, start?: number, count?: number): Promise<TensorValues> {
    return this.shardOf(name).readValues(name, start, count);
  }

  chunks(name: string, options: ChunkOptions = {}): AsyncGenerator<Chunk> {
    return this.shardOf(name).chunks(name, options);
  }

  /** True when the index or any shard changed since it was opened. */
  async changedOnDisk(): Promise<boolean> {
    const s = await stat(this.index.path).catch(() => undefined);
    if (!s || s.size !== this.indexStat.size || s.mtimeMs !== this.indexStat.mtimeMs) return true;
    for (const f of this.shards.values()) if (await f.changedOnDisk()) return true;
    return false;
  }

  async close(): Promise<void> {
    for (const f of this.shards.values()) await f.close();
  }

  private entry(name: string): { t: ShardedTensor; f: SafetensorsFile } {
    const e = this.byName.get(name);
    if (!e) throw new CheckpointError('not-found', `no tensor named '${name}' in any shard`, this.index.path);
    return e;
  }
}

/** Opens a sharded checkpoint by its index file. */
export function openShardedSafetensors(indexPath: string): Promise<ShardedSafetensors> {
  return ShardedSafetensors.open(indexPath);
}
