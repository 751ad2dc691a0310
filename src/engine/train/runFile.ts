/**
 * *.llmlens.json run files: training options as JSON, the fields of TRAIN_OPTIONS
 * (src/protocol/trainOptions.ts) plus `$schema`. Read by the extension's Start Training and by
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
import { TRAIN_OPTIONS, type TrainOptionValues } from '../../protocol/trainOptions';
import { readOptions } from '../options';

/** Parses and checks a run file; the error names the file and lists every problem with its field. */
export function parseRunFileOptions(
  text: string,
  file: string,
  o: { request?: boolean } = {},
): TrainOptionValues {
  const name = path.basename(file);
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    throw new Error(`${name} must hold a JSON object, as in { "data": ["input.txt"] }`);
  const fields = j as Record<string, unknown>;
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

/** Reads a run file from disk (see parseRunFileOptions). */
export function readRunFileOptions(file: string, o: { request?: boolean } = {}): TrainOptionValues {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the run file ${file}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  return parseRunFileOptions(text, file, o);
}
