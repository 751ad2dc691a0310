/**
 * *.llmlens.json run files: a TrainRequest written by hand, validated on start (the editor validates it
 * as you type through the contributed JSON schema, media/llmlens.schema.json). Relative paths are
 * relative to the run file's folder.
 *
 *   { "data": ["docs", "README.md"], "tokenizer": "char", "preset": "tiny", "maxIters": 600 }
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PRESETS } from '../../engine/model/presets';
import type { DeviceName, TrainRequest } from '../../protocol/training';
import type { PresetName } from '../../protocol/trainOptions';

const NUMBER_FIELDS = [
  'maxIters',
  'batchSize',
  'blockSize',
  'nLayer',
  'nHead',
  'nEmbd',
  'lr',
  'evalInterval',
  'evalIters',
  'sampleInterval',
  'sampleTokens',
  'checkpointInterval',
  'seed',
] as const;
const KNOWN = new Set<string>([
  '$schema',
  'data',
  'tokenizer',
  'preset',
  'device',
  'prompt',
  'name',
  ...NUMBER_FIELDS,
]);

export type RunFileRequest = Omit<TrainRequest, 'runDir' | 'dataCacheDir'> & { name?: string };

/** Parses and checks a run file; every problem is listed in the error, with the field it concerns. */
export function parseRunFile(text: string, file: string): RunFileRequest {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${path.basename(file)} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    throw new Error(`${path.basename(file)} must hold a JSON object`);
  const o = j as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) problems.push(`unknown field "${k}"`);
  const base = path.dirname(file);
  let data: string[] = [];
  if (!Array.isArray(o.data) || !o.data.length || !o.data.every((d) => typeof d === 'string'))
    problems.push('"data" must be a non-empty list of files or folders');
  else {
    data = (o.data as string[]).map((d) => path.resolve(base, d));
    for (const [i, d] of data.entries())
      if (!fs.existsSync(d)) problems.push(`"data"[${i}]: ${(o.data as string[])[i]} does not exist`);
  }
  const tokenizer = o.tokenizer ?? 'char';
  if (typeof tokenizer !== 'string')
    problems.push('"tokenizer" must be a string: char, a built-in encoding or a path');
  const preset = o.preset ?? 'tiny';
  if (typeof preset !== 'string' || !PRESETS.some((p) => p.name === preset))
    problems.push(`"preset" must be one of ${PRESETS.map((p) => p.name).join(', ')}`);
  const device = (o.device ?? 'cpu') as DeviceName;
  if (!['cpu', 'webgpu', 'cuda'].includes(device)) problems.push('"device" must be cpu, webgpu or cuda');
  for (const k of NUMBER_FIELDS) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (k !== 'lr' && !Number.isInteger(v)))
      problems.push(`"${k}" must be a ${k === 'lr' ? 'positive number' : 'whole number ≥ 0'}`);
  }
  if (o.prompt !== undefined && typeof o.prompt !== 'string') problems.push('"prompt" must be a string');
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.name)))
    problems.push('"name" must be letters, digits, dot, dash or underscore');
  if (problems.length) throw new Error(`${path.basename(file)}: ${problems.join('; ')}`);
  const t =
    typeof tokenizer === 'string' &&
    !/^(char|gpt2|r50k_base|p50k_base|cl100k_base|o200k_base)$/.test(tokenizer)
      ? path.resolve(base, tokenizer)
      : (tokenizer as string);
  const numbers = Object.fromEntries(
    NUMBER_FIELDS.filter((k) => o[k] !== undefined).map((k) => [k, o[k] as number]),
  );
  return {
    data,
    tokenizer: t,
    preset: preset as PresetName,
    device,
    prompt: o.prompt as string | undefined,
    name: o.name as string | undefined,
    ...numbers,
  };
}
