/**
 * *.llmlens.json run files: training options as JSON, the fields of TRAIN_OPTIONS
 * (src/protocol/trainOptions.ts) plus `$schema`; with `"stage": "rl"`, the fields of RL_RUN_OPTIONS
 * (src/protocol/rlOptions.ts). Read by the extension's Start Training and by
 * `llm-lens train --config`; relative paths are relative to the file's folder, and one path may stand
 * for a list ("data": "input.txt").
 *
 *   { "data": ["docs", "README.md"], "tokenizer": "char", "preset": "tiny", "maxIters": 600 }
 *
 * The run request the extension writes into a run folder is a run file too, with the fields a person
 * does not write (runDir, dataCacheDir): `{ request: true }` reads those.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OptionTable } from '../../protocol/options';
import { RL_RUN_OPTIONS } from '../../protocol/rlOptions';
import type { RlRequest } from '../../protocol/training';
import { TRAIN_OPTIONS, type TrainOptionValues } from '../../protocol/trainOptions';
import { jsonSchemaOf, readOptions } from '../options';

/** A run file's JSON object; the error names the file. */
function runFileObject(text: string, file: string): Record<string, unknown> {
  const name = path.basename(file);
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    throw new Error(`${name} must hold a JSON object, as in { "data": ["input.txt"] }`);
  return j as Record<string, unknown>;
}

/** Whether a run file's text asks for an RL run (`"stage": "rl"`); false for anything else, bad JSON included. */
export function isRlRunFile(text: string): boolean {
  try {
    return (JSON.parse(text) as { stage?: unknown } | null)?.stage === 'rl';
  } catch {
    return false;
  }
}

/**
 * Parses and checks a run file with `"stage": "rl"` against RL_RUN_OPTIONS; `from` and `task` must be
 * given, and `from` must exist. The run folder is left out unless `request` (the host's request file).
 */
export function parseRlRunFile(
  text: string,
  file: string,
  o: { request?: boolean } = {},
): Omit<RlRequest, 'runDir'> & { runDir?: string } {
  const name = path.basename(file);
  const fields = runFileObject(text, file);
  const { values, problems } = readOptions(RL_RUN_OPTIONS, fields, {
    base: path.dirname(file),
    fileOnly: !o.request,
    ignore: ['$schema'],
  });
  for (const k of ['from', 'task'] as const)
    if (fields[k] === undefined) problems.push(`"${k}" is missing: ${RL_RUN_OPTIONS[k].doc}`);
  if (values.from !== undefined && !fs.existsSync(values.from))
    problems.push(`"from": ${String(fields.from)} does not exist (paths are relative to ${name})`);
  if (problems.length) throw new Error(`${name}: ${problems.join('; ')}`);
  return { ...values, stage: 'rl', device: values.device ?? 'cpu', from: values.from!, task: values.task! };
}

/** Parses and checks a run file; the error names the file and lists every problem with its field. */
export function parseRunFileOptions(
  text: string,
  file: string,
  o: { request?: boolean } = {},
): TrainOptionValues {
  const name = path.basename(file);
  const fields = runFileObject(text, file);
  if (fields.stage === 'rl')
    throw new Error(`${name} is an RL run ("stage": "rl"): start it with llm-lens rl --config ${name}`);
  const { values, problems } = readOptions(TRAIN_OPTIONS, fields, {
    base: path.dirname(file),
    fileOnly: !o.request,
    ignore: ['$schema'],
  });
  const given = typeof fields.data === 'string' ? [fields.data] : (fields.data as string[]);
  for (const [i, d] of (values.data ?? []).entries())
    if (!fs.existsSync(d))
      problems.push(`"data": ${given[i]} does not exist (paths are relative to ${name})`);
  if (problems.length) throw new Error(`${name}: ${problems.join('; ')}`);
  return values;
}

/** A run file's text; the error names the file. */
export function readRunFileText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the run file ${file}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

/** Reads a run file from disk (see parseRunFileOptions). */
export function readRunFileOptions(file: string, o: { request?: boolean } = {}): TrainOptionValues {
  return parseRunFileOptions(readRunFileText(file), file, o);
}

/** The fields an RL run file must give besides its stage (parseRlRunFile asks for them too). */
const RL_FILE_REQUIRED = ['from', 'task'];

/** The object schema of a run file made of `table`'s fields (those a person writes), and `$schema`. */
function fieldsSchema(
  table: OptionTable,
  title: string,
  required: readonly string[] = [],
): Record<string, unknown> {
  const fields = Object.entries(table).filter(([, s]) => s.file !== false);
  return {
    title,
    type: 'object',
    additionalProperties: false,
    required: [...fields.filter(([, s]) => s.required).map(([k]) => k), ...required],
    properties: {
      $schema: { type: 'string' },
      ...Object.fromEntries(fields.map(([k, s]) => [k, jsonSchemaOf(s)])),
    },
  };
}

/**
 * The JSON schema of run files (media/llmlens.schema.json, written by `npm run gen:schema`): a file with
 * `"stage": "rl"` has RL_RUN_OPTIONS's fields, any other TRAIN_OPTIONS's.
 */
export function runFileSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'LLM Lens run file',
    description:
      'A run for LLM Lens: training (data, tokenizer, model preset and overrides) or, with "stage": "rl", reinforcement learning from a fine-tuned checkpoint. Paths are relative to this file.',
    $comment:
      'Made from src/protocol/trainOptions.ts and rlOptions.ts by npm run gen:schema: edit the tables, not this file.',
    type: 'object',
    if: { properties: { stage: { const: 'rl' } }, required: ['stage'] },
    then: fieldsSchema(RL_RUN_OPTIONS, 'RL run', RL_FILE_REQUIRED),
    else: fieldsSchema(TRAIN_OPTIONS, 'Training run'),
  };
}
