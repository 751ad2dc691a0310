#!/usr/bin/env node
/**
 * The llm-lens command line: the same engine as the extension, for scripting, CI and bigger machines.
 *   llm-lens env [--json]      versions, onnxruntime-node backends and working execution providers
 *   llm-lens download REPO     a model from the Hugging Face hub into its cache (see USAGE)
 */
import * as os from 'node:os';
import { probeRuntime } from '../engine/runtime/probe';
import type { RuntimeReport } from '../protocol/environment';
import {
  chatCommand,
  chatDataCommand,
  evalRefusalCommand,
  evalTaskCommand,
  probeCommand,
  toolCommand,
} from './chat';
import { downloadCommand } from './download';
import { exportTorchCommand } from './exportTorch';
import { logsCommand } from './logs';
import { rewardDataCommand, rewardScoreCommand, rewardTrainCommand } from './reward';
import { rlCommand } from './rl';
import { tokenizeCommand, trainTokenizerCommand } from './tokenize';
import { evalCommand, prepareCommand, sampleCommand, sftCommand, trainCommand } from './train';

declare const LLM_LENS_VERSION: string | undefined;
const VERSION = typeof LLM_LENS_VERSION === 'string' ? LLM_LENS_VERSION : 'dev';

const USAGE = `llm-lens ${VERSION} — see how language models work

Usage:
  llm-lens env [--json]     report versions, onnxruntime-node backends and execution providers
  llm-lens download REPO [--revision R] [--cache-dir DIR] [--endpoint URL]
                            fetch a model from the Hugging Face hub into its cache (HF_HOME/hub):
                            config, tokenizer and safetensors weights, checked and resumable; prints
                            the snapshot folder. HF_TOKEN: token for gated repos; HF_ENDPOINT: hub
  llm-lens logs [--json] [--follow] PATH
                            the scalars and texts of TensorBoard event files and JSONL logs (a file,
                            or a folder of runs): --json prints {"run","tag","step","value"|"text"}
                            a line; damaged records are skipped and counted on standard error
  llm-lens tokenize --tokenizer NAME|PATH [--json] [--allow-special] [FILE|-]
                            print the token ids of FILE (or standard input); --json adds offsets and
                            token strings. NAME: gpt2, r50k_base, p50k_base, cl100k_base, o200k_base;
                            PATH: a tokenizer.json, a trained tokenizer folder, a character vocabulary
  llm-lens train-tokenizer --vocab-size N [--pattern gpt4|gpt2] [--special TOK]... [--name NAME] --out DIR FILES...
                            train a byte-level BPE tokenizer (tiktoken ranks + vocab.txt in DIR)
  llm-lens prepare [--tokenizer char|NAME|PATH] [--out DIR] FILES|FOLDERS...
                            tokenize text into train.bin / val.bin (nanoGPT format) + meta.json
  llm-lens train --data FILES|FOLDERS [--preset tiny|shakespeare-char|gpt2-124m] [--tokenizer char|NAME|PATH]
                 [--config RUN.json] [--run-dir DIR] [--resume CHECKPOINT_DIR] [--max-iters N] [options]
                            train a GPT, printing loss, evals and samples; checkpoints in DIR/checkpoints/
                            (on CPU several steps per ONNX run, ~5 s; Ctrl+C stops after them);
                            llm-lens train --help lists every option
  llm-lens sft --from CHECKPOINT_DIR --data FILE.jsonl [--run-dir DIR] [--heldout FILE.jsonl] [options]
                            fine-tune a checkpoint on conversations (loss on the answers only); the
                            tokenizer gains <|im_start|> <|im_end|>; llm-lens sft --help lists every option
  llm-lens sample --checkpoint DIR [--prompt TEXT] [--max-tokens N] [--temperature X] [--top-k N]
                  [--top-p X] [--seed N] [--num-samples N] [--json]
                            generate text; --json prints each token with its top probabilities
  llm-lens eval --checkpoint DIR --data DATASET_DIR [--iters N]
                            mean loss on the train and val splits
  llm-lens export-torch --config RUN.json|RUN_DIR --out DIR [--init-from CKPT | --resume CKPT] [--force]
                            write the run as a PyTorch trainer (train.py, its data, run.sh for torchrun
                            on 1 or N GPUs) whose metrics.jsonl and checkpoints LLM Lens opens
  llm-lens chat-data --task identity|arithmetic|addition|spelling|compare|multiplication|word-problems|polite|refusal|tool-multiply|tool-letters|tool-facts
                     --count N --out FILE.jsonl [--name NAME] [--maker M] [--max-digits D] [--digits D]
                     [--letters count|nth|every] [--seed S] [--split train|heldout]
                            generate conversations for fine-tuning, one {"messages": …} a line; identity
                            needs --name (the assistant's) and takes --maker; the tool-* tasks answer
                            through tool calls; held-out problems never appear in train (default seed
                            1337, split train)
  llm-lens chat --checkpoint DIR [--system TEXT] [--prompt TEXT] [--num-samples N] [--json] [--max-tokens N]
                [--temperature X] [--top-k N] [--top-p X] [--min-p X] [--repetition-penalty X] [--seed N]
                            answer a message (--prompt, or standard input) as the checkpoint's assistant:
                            ChatML with <|im_start|>/<|im_end|>, stopping at <|im_end|>; a base model
                            without chat tokens gets "User: …\\nAssistant:" and continues the document;
                            --json prints the prompt's ids and each answer token
                [--tools calculator,python,search|none] [--search-dir DIR] [--tool-timeout MS]
                            a checkpoint with tool tokens runs the tools it calls and its output goes
                            into the context (none: it cannot call one); --json lists each call
  llm-lens tool NAME INPUT [--search-dir DIR] [--tool-timeout MS] [--json]
                            run one tool (calculator, python, search) as the sampler would
  llm-lens rl --from CKPT_DIR --task NAME [--run-dir DIR] [--steps N] [--group-size G]
              [--prompts-per-step P] [--lr X] [--eval-interval N] [--max-digits D] [options]
                            reinforcement learning on a task with checked answers (GRPO): samples G
                            answers per prompt, rewards the right ones; --device webgpu|cuda runs it on
                            a GPU; llm-lens rl --help lists options
  llm-lens eval-task --checkpoint DIR --task NAME|FILE.jsonl [--checker C] [--heldout FILE] [--count N] [--digits D] [--max-digits D] [--tools LIST|none] [--json]
                            accuracy on the task's held-out questions (chat-data's tasks), greedy;
                            the tools it calls run (none: the same model without tools)
  llm-lens probe --checkpoint DIR (--questions FILE.jsonl | --task NAME [--count N]) [--samples N]
                 [--temperature X] [--threshold X] [--out FILE.jsonl] [--json]
                            ask each question N times and group the answers: where they disagree the
                            model does not know; --out writes fine-tuning data answering those with
                            "I don't know" and keeping what it knows
  llm-lens eval-refusal --checkpoint DIR (--unknown FILE.jsonl | --task refusal) --known FILE.jsonl
                        [--samples N] [--temperature X] [--json]
                            the effect of "I don't know" training: made_up = share of answers about
                            made-up people that do not refuse, answered_known = same on known facts
  llm-lens reward-data --count N --out FILE.jsonl [--split train|heldout] [--seed S]
                            preference pairs for the toy preference "polite and short", one
                            {"prompt", "chosen", "rejected", "answer"} a line (rl/preferences.ts: the
                            loophole a reward model trained on them has, on purpose)
  llm-lens reward-train --from CKPT_DIR --data PAIRS.jsonl [--heldout PAIRS.jsonl] [--steps N] [--lr X]
                        [--batch-size N] [--run-dir DIR] [--seed S] [--device cpu|webgpu|cuda] [--threads N]
                            train a reward model (the GPT with a scalar head, Bradley–Terry loss);
                            prints held-out pair accuracy before and after; checkpoint in
                            DIR/checkpoints/step-N (GPT2ForSequenceClassification)
  llm-lens reward-score --checkpoint DIR --prompt TEXT --answer TEXT [--answer TEXT]... [--expected A]
                        [--device cpu|webgpu|cuda]
                            the reward of each answer; --expected also runs the true checker
  llm-lens COMMAND --help   the options of prepare, train, sample and eval, with ranges and defaults
  llm-lens --version
  llm-lens --help
`;

/** A command's exit status; thrown errors print their message and exit 1. */
type Command = (args: string[]) => Promise<number>;

/** A command line that cannot run; `showUsage`: print the whole usage (an unknown command). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

async function envCommand(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length) throw new UsageError(`env: unknown argument ${unknown[0]}`);
  const report = await probeRuntime(os.availableParallelism());
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatRuntime(report));
  return report.providers.some((p) => p.ok) ? 0 : 1;
}

export function formatRuntime(r: RuntimeReport): string {
  const lines = [
    `node              ${r.nodeVersion}`,
    `platform          ${r.platform}-${r.arch}, ${r.cpus} CPUs`,
    `onnxruntime-node  ${r.ortVersion ?? `not loaded: ${r.ortError}`}`,
    `backends          ${r.backends.map((b) => b.name + (b.bundled ? '' : ' (not bundled)')).join(', ') || 'none'}`,
    ...r.providers.map(
      (p) =>
        `provider ${p.name.padEnd(8)} ${p.ok ? `works (${(p.ms ?? 0).toFixed(0)} ms)` : `unavailable: ${(p.error ?? '').split('\n')[0]}`}`,
    ),
  ];
  return lines.join('\n') + '\n';
}

const commands: Record<string, Command> = {
  env: envCommand,
  download: downloadCommand,
  logs: logsCommand,
  tokenize: tokenizeCommand,
  'train-tokenizer': trainTokenizerCommand,
  prepare: prepareCommand,
  train: trainCommand,
  sft: sftCommand,
  sample: sampleCommand,
  eval: evalCommand,
  'export-torch': exportTorchCommand,
  'chat-data': chatDataCommand,
  chat: chatCommand,
  tool: toolCommand,
  'eval-task': evalTaskCommand,
  probe: probeCommand,
  'eval-refusal': evalRefusalCommand,
  'reward-data': rewardDataCommand,
  'reward-train': rewardTrainCommand,
  'reward-score': rewardScoreCommand,
  rl: rlCommand,
};

/** Commands whose options the usage above lists in full: their --help prints it. */
const HELP_IN_USAGE = new Set([
  'env',
  'tokenize',
  'train-tokenizer',
  'chat-data',
  'chat',
  'tool',
  'eval-task',
  'probe',
  'reward-data',
  'reward-train',
  'reward-score',
]);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  const run = commands[cmd];
  if (!run) throw new UsageError(`unknown command '${cmd}'`, true);
  if (HELP_IN_USAGE.has(cmd) && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(USAGE);
    return 0;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      const hint = `Run 'llm-lens ${process.argv[2]} --help' for its options.\n`;
      process.stderr.write(`llm-lens: ${e.message}\n${e.showUsage ? `\n${USAGE}` : hint}`);
    } else process.stderr.write(`llm-lens: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
