/**
 * *.llmlens.json run files as Start Training takes them: the engine's reader (src/engine/train/runFile.ts),
 * which checks every field against the option table, with the defaults a request needs filled in. The
 * editor validates the file as you type through media/llmlens.schema.json, made from the same table.
 *
 *   { "data": ["docs", "README.md"], "tokenizer": "char", "preset": "tiny", "maxIters": 600 }
 */
import { parseRunFileOptions } from '../../engine/train/runFile';
import type { TrainRequest } from '../../protocol/training';
import { DATA_OPTIONS, LOOP_OPTIONS, RUN_OPTIONS } from '../../protocol/trainOptions';

export type RunFileRequest = Omit<TrainRequest, 'runDir' | 'dataCacheDir'>;

/** Parses and checks a run file; every problem is listed in the error, with the field it concerns. */
export function parseRunFile(text: string, file: string): RunFileRequest {
  const o = parseRunFileOptions(text, file);
  return {
    tokenizer: DATA_OPTIONS.tokenizer.default,
    preset: RUN_OPTIONS.preset.default,
    device: LOOP_OPTIONS.device.default,
    ...o,
    data: o.data ?? [], // a run file without data is refused above
  };
}
