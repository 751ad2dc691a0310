/**
 * llm-lens rl: group-relative policy gradient from a fine-tuned checkpoint on a task with checked answers
 * (src/engine/rl/rlLoop.ts), printing a line per step and the held-out pass@1 every N steps. Options come
 * from flags or a run file with `"stage": "rl"` (--config; flags win); the host starts RL runs as
 * `llm-lens train --config RUN_DIR/request.json --control RUN_DIR/control.json`, which lands here.
 *
 *   llm-lens rl --from runs/sft/checkpoints/step-300 --task addition --max-digits 2 --steps 40 --group-size 8
 *   llm-lens rl --from runs/sft/checkpoints/step-300 --task addition --device webgpu   # on a GPU
 *   // step 1: reward 0.41, zero-signal 25%, answer 14.2 tokens, loss 0.0021, 1.9 s
 */
import * as path from 'node:path';
import { defaultsOf, flagHelp, parseFlags } from '../engine/options';
import { trainRl, type RlConfig } from '../engine/rl/rlLoop';
import { flushDenormalsToZero } from '../engine/runtime/session';
import { parseRlRunFile, readRunFileText } from '../engine/train/runFile';
import type { OptionTable } from '../protocol/options';
import { RL_OPTIONS } from '../protocol/rlOptions';
import { UsageError } from './main';
import { steerRun } from './train';

const RL_HELP = `llm-lens rl --from CKPT_DIR --task NAME [--run-dir DIR] [--steps N] [--group-size G]
             [--prompts-per-step P] [--lr X] [--eval-interval N] [options]
llm-lens rl --config RUN.llmlens.json [options]

Reinforcement learning on a task with checked answers (GRPO, nanochat's variant): each step samples G
answers to each of P training prompts, rewards the right ones with 1, and pushes the model towards the
answers that beat their group's mean. Prints reward, zero-signal groups and answer length per step, and
the held-out pass@1 (greedy) every --eval-interval steps; checkpoints go to RUN_DIR/checkpoints/.

Tasks: addition, arithmetic, multiplication, spelling (letter counts), compare, word-problems, polite
(make SFT data for each with llm-lens chat-data --task NAME), or your own FILE.jsonl of
{"prompt": …, "answer": …} lines checked by --checker exact|numeric|contains|regex, with held-out
prompts from --heldout FILE or every 10th line. With --reward-model DIR (llm-lens reward-train) the
reward model scores the answers and the task's checker is shown beside it as the true reward.
--device webgpu|cuda runs the policy steps, rollouts and the reward model on a GPU.
`;

/** Flags of `llm-lens rl` that steer the process, not the run (the host's `train` arguments among them). */
// prettier-ignore
const PROCESS_OPTIONS = {
  config: { type: 'str', path: true, meta: 'RUN.json', doc: 'Read options from a run file with "stage": "rl"; flags win.' },
  control: { type: 'str', path: true, meta: 'FILE', doc: "Follow pause and checkpoint requests in this file (a run's control.json)." },
  logInterval: { type: 'int', min: 1, default: 1, doc: 'Steps between printed lines.' },
} as const satisfies OptionTable;

const RL_FLAGS = { ...RL_OPTIONS, ...PROCESS_OPTIONS };

export async function rlCommand(args: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s + '\n');
  if (args.includes('--help') || args.includes('-h')) {
    out(`${RL_HELP}\nOptions:\n${flagHelp(RL_FLAGS).join('\n')}`);
    return 0;
  }
  const { values, rest, problems } = parseFlags(args, RL_FLAGS);
  if (rest.length) problems.push(`unexpected argument ${rest[0]} (each value follows its --flag)`);
  if (problems.length) throw new UsageError(`rl: ${problems.join('; ')}`);
  const { config: file, control: controlFile, logInterval, ...flags } = values;
  const fromFile = file ? parseRlRunFile(readRunFileText(file), file, { request: true }) : undefined;
  const { stage: _stage, name, ...fileOptions } = fromFile ?? {};
  const o = { ...defaultsOf(RL_OPTIONS), ...fileOptions, ...flags };
  if (!o.from || !o.task) throw new UsageError('rl: --from CKPT_DIR and --task NAME are required');
  if (o.groupSize < 2)
    throw new UsageError(
      `rl: --group-size ${o.groupSize} is too small: each prompt needs at least 2 answers to compare, or every advantage is 0 (use 8–16)`,
    );
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const runDir =
    o.runDir ?? path.join('.llmlens', 'runs', `${name ?? `rl-${path.basename(o.task)}`}-${stamp}`);
  const config: RlConfig = { ...o, from: o.from, task: o.task, runDir };
  const { signal, control, release } = steerRun(out, 'the step under way', controlFile);
  let failed = false;
  try {
    flushDenormalsToZero(true);
    for await (const e of trainRl(config, { signal, control })) {
      if (e.kind === 'start')
        out(
          `run: ${e.runDir}\nrl on ${o.task} from ${o.from}: ${o.promptsPerStep} prompts × ${o.groupSize} answers per step, lr ${o.lr}, ${(e.params / 1e6).toFixed(2)}M parameters, on ${o.device}${o.rewardModel ? `\nreward: the reward model ${o.rewardModel} (true reward: the task's checker, shown only)` : ''}`,
        );
      else if (e.kind === 'step' && (e.step % (logInterval ?? 1) === 0 || e.step === o.steps))
        out(
          `step ${e.step}: reward ${e.reward!.toFixed(3)}${e.trueReward !== undefined ? ` (true ${e.trueReward.toFixed(3)})` : ''}, zero-signal ${(e.zeroSignal! * 100).toFixed(0)}%, answer ${e.answerTokens!.toFixed(1)} tokens, loss ${e.loss.toFixed(4)}, grad norm ${e.gradNorm.toFixed(3)}${e.kl !== undefined ? `, kl ${e.kl.toFixed(4)}` : ''}${e.clipFrac !== undefined ? `, clipped ${(e.clipFrac * 100).toFixed(0)}%` : ''}, ${(e.ms / 1000).toFixed(1)} s`,
        );
      else if (e.kind === 'taskEval')
        out(
          `step ${e.step}: held-out pass@1 ${e.correct}/${e.total} = ${(e.correct / e.total).toFixed(2)}${e.k && e.correctAtK !== undefined ? `, pass@${e.k} ${(e.correctAtK / e.total).toFixed(2)}` : ''}${e.reward !== undefined ? `, learned reward ${e.reward.toFixed(3)}` : ''}`,
        );
      else if (e.kind === 'checkpoint') out(`saved checkpoint ${e.dir}`);
      else if (e.kind === 'done')
        out(`${e.reason} at step ${e.step} after ${(e.elapsedMs / 1000).toFixed(0)} s`);
      else if (e.kind === 'error') {
        failed = true;
        process.stderr.write(`llm-lens rl: ${e.message}\n`);
      }
    }
  } finally {
    release();
  }
  return failed ? 1 : 0;
}
