/**
 * llm-lens export-torch: writes a run as a self-contained PyTorch training folder (engine/export/torchExport.ts)
 * that trains under torchrun and comes back into LLM Lens's panels.
 *   llm-lens export-torch --config tiny.llmlens.json --out tiny-torch
 *   llm-lens export-torch --config .llmlens/runs/tiny-1 --out tiny-torch --resume .llmlens/runs/tiny-1/checkpoints/step-2000
 * A run folder is read from its config.json (the settings its trainer resolved); a run file (or a run's
 * request.json) is prepared as Start Training would, its data tokenized into the data cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  exportTorchRun,
  outProblem,
  torchSourceFromRunDir,
  torchSourceFromRunFile,
  type TorchExportSource,
} from '../engine/export/torchExport';
import { defaultsOf } from '../engine/options';
import { readRunFileOptions } from '../engine/train/runFile';
import type { TrainRequest } from '../protocol/training';
import { TRAIN_OPTIONS } from '../protocol/trainOptions';
import { UsageError } from './main';

export const EXPORT_TORCH_USAGE =
  'export-torch --config RUN.json|RUN_DIR --out DIR [--init-from CHECKPOINT | --resume CHECKPOINT] [--force]';

const HELP = `llm-lens ${EXPORT_TORCH_USAGE}

Writes DIR/: train.py (a nanoGPT-style PyTorch trainer of the run's GPT-2, its data and hyperparameters,
DDP under torchrun), run.json, data/, tokenizer/, run.sh (torchrun --standalone --nproc_per_node \${NPROC:-1}
train.py) and README.md. Trained there, DIR is a run folder LLM Lens opens: metrics.jsonl in the dashboard's
events, checkpoints/step-N in Hugging Face GPT-2 naming.

  --config RUN.json|RUN_DIR   a run file (*.llmlens.json, a run's request.json) or a run folder
  --out DIR                   the folder to write (new or empty)
  --init-from CHECKPOINT      start from a checkpoint's weights with a new optimizer
  --resume CHECKPOINT         continue a checkpoint's run: weights, AdamW moments, step, schedule
  --data-cache-dir DIR        where a run file's data is tokenized (default: .llmlens/data beside it)
  --force                     write into a folder that holds other files
`;

interface ExportArgs {
  config?: string;
  out?: string;
  initFrom?: string;
  resume?: string;
  dataCacheDir?: string;
  force: boolean;
}

function parseArgs(args: string[]): ExportArgs | undefined {
  const o: ExportArgs = { force: false };
  const valued: Record<string, keyof Omit<ExportArgs, 'force'>> = {
    '--config': 'config',
    '--out': 'out',
    '--init-from': 'initFrom',
    '--resume': 'resume',
    '--data-cache-dir': 'dataCacheDir',
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(HELP);
      return undefined;
    }
    if (flag === '--force') o.force = true;
    else if (valued[flag]) {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new UsageError(`export-torch: ${flag} needs a value`);
      o[valued[flag]] = v;
    } else throw new UsageError(`export-torch: unknown argument ${args[i]}`);
  }
  if (!o.config) throw new UsageError(`export-torch: give the run: --config RUN.json|RUN_DIR`);
  if (!o.out) throw new UsageError(`export-torch: give the folder to write: --out DIR`);
  if (o.initFrom && o.resume) throw new UsageError('export-torch: give --init-from or --resume, not both');
  return o;
}

/** The run to export from --config: a run folder (its config.json, else its request.json) or a run file. */
async function sourceOf(a: ExportArgs, log: (s: string) => void): Promise<TorchExportSource> {
  const given = path.resolve(a.config!);
  if (!fs.existsSync(given))
    throw new Error(`--config ${a.config} does not exist: give a run file (*.llmlens.json) or a run folder`);
  let file = given;
  if (fs.statSync(given).isDirectory()) {
    if (fs.existsSync(path.join(given, 'config.json'))) return torchSourceFromRunDir(given);
    file = path.join(given, 'request.json');
    if (!fs.existsSync(file))
      throw new Error(
        `${given} has neither config.json nor request.json: not a run folder (give its run file with --config RUN.json)`,
      );
  }
  const values = readRunFileOptions(file, { request: true });
  const r = {
    ...defaultsOf(TRAIN_OPTIONS),
    ...values,
    runDir: '', // prepareRun's tokenizer folder: a temporary one (torchSourceFromRunFile)
    dataCacheDir: a.dataCacheDir
      ? path.resolve(a.dataCacheDir)
      : (values.dataCacheDir ?? path.join(path.dirname(file), '.llmlens', 'data')),
  } as TrainRequest;
  return torchSourceFromRunFile(r, file, log);
}

export async function exportTorchCommand(args: string[]): Promise<number> {
  const a = parseArgs(args);
  if (!a) return 0;
  const out = path.resolve(a.out!);
  const problem = outProblem(out, a.force); // before the data is prepared: nothing done for a folder we refuse
  if (problem) throw new Error(problem);
  const log = (s: string) => process.stderr.write(s + '\n');
  const src = await sourceOf(a, log);
  try {
    const done = await exportTorchRun(src, {
      out,
      initFrom: a.initFrom && path.resolve(a.initFrom),
      resumeFrom: a.resume && path.resolve(a.resume),
      force: a.force,
    });
    process.stdout.write(
      `wrote ${done.out} (${done.params.toLocaleString('en-US')} parameters)\n` +
        `train it:  cd ${path.relative(process.cwd(), done.out) || '.'} && ./run.sh      (NPROC=8 ./run.sh: 8 GPUs)\n` +
        `follow it: put the folder under .llmlens/runs/ of a workspace; README.md says more\n`,
    );
    return 0;
  } finally {
    src.dispose?.();
  }
}
