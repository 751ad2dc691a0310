/**
 * llm-lens download: a model from the Hugging Face hub into its cache (engine/hub/download.ts).
 *   llm-lens download HuggingFaceTB/SmolLM2-135M [--revision R] [--cache-dir DIR] [--endpoint URL]
 * Progress goes to standard error (a line per file at most every 2 s, and when it is done); the
 * snapshot folder, which loadModel and `--checkpoint` take, to standard output. HF_TOKEN gives the
 * token for gated and private repos, HF_ENDPOINT the hub's address (--endpoint wins).
 */
import { downloadModel, DEFAULT_ENDPOINT, progressLine } from '../engine/hub/download';
import { UsageError } from './main';

const USAGE = 'download REPO [--revision R] [--cache-dir DIR] [--endpoint URL]';

export async function downloadCommand(args: string[]): Promise<number> {
  let repo: string | undefined;
  let revision: string | undefined;
  let cacheDir: string | undefined;
  let endpoint: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`download: ${a} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') {
      process.stdout.write(`llm-lens ${USAGE}\n`);
      return 0;
    } else if (a === '--revision') revision = value();
    else if (a === '--cache-dir') cacheDir = value();
    else if (a === '--endpoint') endpoint = value();
    else if (a.startsWith('-')) throw new UsageError(`download: unknown option ${a}`);
    else if (repo) throw new UsageError(`download: one REPO at a time (got ${repo} and ${a})`);
    else repo = a;
  }
  if (!repo)
    throw new UsageError(`download: give the repo, e.g. llm-lens ${USAGE.replace('REPO', 'org/name')}`);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  const last = new Map<string, number>();
  try {
    const dir = await downloadModel({
      repo,
      revision,
      cacheDir,
      endpoint: endpoint ?? (process.env.HF_ENDPOINT || DEFAULT_ENDPOINT),
      token: process.env.HF_TOKEN || undefined,
      signal: abort.signal,
      onProgress: (p) => {
        const done = p.bytes >= p.total;
        if (!done && Date.now() - (last.get(p.file) ?? 0) < 2000) return;
        last.set(p.file, Date.now());
        process.stderr.write(progressLine(p) + '\n');
      },
    });
    process.stdout.write(dir + '\n');
    return 0;
  } catch (e) {
    if (abort.signal.aborted) {
      process.stderr.write('llm-lens: download stopped; run it again to resume\n');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', stop);
  }
}
