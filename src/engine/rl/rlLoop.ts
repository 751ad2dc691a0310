/**
 * Group-relative RL from a fine-tuned checkpoint on a task with checked answers (rlTasks.ts: a shipped
 * task or a user's JSONL file; grpo.ts has the algorithm and its defaults). Each step takes P prompts
 * from the task's train split, samples G answers to each in one batch on the KV cache (temperature 1),
 * rewards each with the task's checker (1 or 0), turns rewards into advantages per group, and takes one
 * Adam step on the (P·G, T) rows of prompt + answer with the loss on the answer's tokens only
 * (policyLoss.ts). A step whose groups all got equal rewards has no gradient and is not applied. Every
 * `evalInterval` steps the held-out pass@1 (greedy) is measured with the same checker; checkpoints are
 * saved like fine-tuning's, with stage 'rl' in config.json. Events are RunEvents (one per line of
 * RUN_DIR/metrics.jsonl).
 *
 *   for await (const e of trainRl({ ...defaultsOf(RL_OPTIONS), from: 'sft/checkpoints/step-300',
 *     task: 'addition', maxDigits: 2, runDir: 'runs/rl' })) console.log(e);
 *   // { kind: 'step', step: 1, reward: 0.41, zeroSignal: 0.25, answerTokens: 14, loss: …, … }
 *
 * Against a reward model (`rewardModel`, a checkpoint of llm-lens reward-train): the reward of each
 * answer is the reward model's score (RewardScorer), and the task's checker runs alongside on the same
 * answers as the true reward, which is shown, never trained on: `trueReward` in step events (its mean)
 * and per answer in groups events; in taskEval `correct` is the true checker's count and `reward` the
 * learned reward's mean over the same held-out answers. The advantages stay reward − group mean
 * (scaleByStd as asked, off by default), on purpose: a reward model's scores are real numbers, so
 * answers it barely tells apart (3.05 against 3.06) differ by little and push little, where dividing by
 * the group's std would blow that noise up to a full-size push; the scale of the scores (a few units
 * after reward-train) then plays the part of the learning rate. --scale-by-std is there to follow those
 * small differences anyway; `npm run demo:rlhf` does, to show the reward model gamed within minutes.
 *
 * A checker (or the reward model) that fails at run time stops the run: a checkpoint of the weights so
 * far is saved first, then an error event names the task, the prompt and the checker.
 * PPO: with updatesPerBatch > 1 each batch of rollouts takes that many Adam steps, and every token's ratio
 * to the policy that sampled it (its log-probs taken once before the first update) is clipped to
 * [1 − clipEps, 1 + clipEps] (policyLoss.ts); the first update is the on-policy one (every ratio is 1).
 * Tools: with `tools` (calculator, python, search) and a model that has the tool tokens, each rollout runs
 * the tool loop per stream (generateBatch's force hook): a call's output is forced into the answer, carries
 * no loss and no advantage (toolRollout.ts's maskForced), and the checker reads only the text after the last
 * tool output, so an answer is right when the model wrote the result itself, not when the tool printed it.
 * Without `tools`, a model with tool tokens is kept from opening a call.
 * Device: on a GPU provider (`device` webgpu or cuda) the policy step is built as its GPU variant
 * (graph.ts's GraphOptions.target, flat AdamW with maxJoin as train/loop.ts builds it), and the rollouts,
 * the log-prob passes, the held-out evaluation and the reward model run on the same device; weights and
 * optimizer moments stay there between steps, and the weights copy down once per step for the rollouts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../protocol/training';
import { RL_OPTIONS } from '../../protocol/rlOptions';
import type { DeviceName } from '../../protocol/trainOptions';
import { chatFormatOf, chatPrompt } from '../chat/chatPrompt';
import { evalQuestions } from '../chat/evalTask';
import { emitOnnx } from '../graph/emit';
import { targetOf } from '../graph/graph';
import { gptParams } from '../model/gpt';
import type { GptModelConfig } from '../model/inference';
import { KvCacheModel } from '../model/kvCache';
import { checkOptions } from '../options';
import type { HostTensor } from '../runtime/session';
import { GraphRunner, toHost } from '../runtime/session';
import { TrainRunner } from '../runtime/trainRunner';
import { generateBatch, type BatchAnswer } from '../sample/generateBatch';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { disposeTools, makeTools, parseToolList } from '../tools/registry';
import type { Tool } from '../tools/tool';
import { toolForcer, toolsOff } from '../tools/toolLoop';
import { maskForced } from './toolRollout';
import { loadCheckpoint, saveCheckpoint, TRAINER_FORMAT, TRAINER_FORMAT_VERSION } from '../train/checkpoint';
import type { TrainControl } from '../train/loop';
import { GPU_MAX_JOIN } from '../train/optim';
import { writeFileAtomic } from '../train/data';
import { loadModelTokenizer } from '../train/runTokenizer';
import { groupAdvantages, GRPO_DEFAULTS, tokenAdvantages } from './grpo';
import { buildGptLogProbGraph, buildGptPolicyGraph, lossWeights } from './policyLoss';
import { RewardScorer } from './rewardTrain';
import { rlTask, type Checker, type RlTask } from './rlTasks';

export interface RlConfig {
  from: string;
  /** A shipped task's name (RL_TASK_NAMES) or a JSONL file of {"prompt", "answer"} lines. */
  task: string;
  /** A task file's checker (default 'contains'). */
  checker?: Checker;
  /** A task file's held-out prompts (default: every 10th line). */
  heldout?: string;
  /** Reward answers with this reward model; the task's checker becomes the true reward. */
  rewardModel?: string;
  runDir: string;
  steps: number;
  groupSize: number;
  promptsPerStep: number;
  lr: number;
  maxTokens: number;
  temperature: number;
  scaleByStd: boolean;
  klBeta: number;
  gradClip: number;
  /** Adam steps per batch of rollouts; above 1, PPO's clipped ratio to the sampling policy (default 1). */
  updatesPerBatch?: number;
  /** PPO's clip range ε (default 0.2). */
  clipEps?: number;
  maxDigits?: number;
  evalInterval: number;
  evalCount: number;
  /** pass@k at each evaluation (k answers per held-out question); 1: pass@1 only. */
  passK: number;
  /** Log the first GROUPS_LOGGED prompts' groups every N steps (and at step 1); 0: never. */
  groupsInterval: number;
  checkpointInterval: number;
  seed: number;
  /** Where the policy steps, rollouts and the reward model run: cpu, webgpu or cuda. */
  device: DeviceName;
  threads?: number;
  /** Tools the rollouts may call, comma-separated, or 'none' (registry.ts's parseToolList). */
  tools?: string;
  /** Each tool call's time limit, ms (default 5000). */
  toolTimeout?: number;
}

export type RlEvent = RunEvent;

/** Prompts per `groups` event: enough to see the pattern, few enough to keep metrics.jsonl small. */
export const GROUPS_LOGGED = 4;

/**
 * The run's task (its file read and checked); throws naming every field that is wrong and how to fix it,
 * before anything runs.
 */
export function validateRlConfig(c: RlConfig, given?: RlTask): RlTask {
  const problems = checkOptions(RL_OPTIONS, c, true);
  if (c.groupSize < 2)
    problems.push(
      `groupSize ${c.groupSize}: each prompt needs at least 2 answers to compare, or every advantage is 0 (use 8–16)`,
    );
  try {
    parseToolList(c.tools ?? 'none');
  } catch (e) {
    problems.push(`tools: ${(e as Error).message}`);
  }
  let task = given;
  if (!task)
    try {
      task = rlTask(c.task, { checker: c.checker, heldout: c.heldout, maxDigits: c.maxDigits });
    } catch (e) {
      problems.push(e instanceof Error ? e.message : String(e));
    }
  if (problems.length || !task) throw new Error(`rl: ${problems.join('; ')}`);
  return task;
}

/**
 * A checker or the reward model that failed on an answer: the run saves its weights, then stops with
 * this message, which names the task, the prompt and the checker.
 */
export class RewardError extends Error {}

/** The checker's reward of `text`; a throw or a reward that is not a number becomes a RewardError. */
function checkAnswer(task: RlTask, prompt: string, text: string, answer: string): number {
  const where = `task ${task.name}: the checker "${task.checker}" failed on the prompt ${JSON.stringify(prompt)} (answer ${JSON.stringify(text)}, expected ${JSON.stringify(answer)})`;
  let r: number;
  try {
    r = task.check(text, answer);
  } catch (e) {
    throw new RewardError(`${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (typeof r !== 'number' || !Number.isFinite(r))
    throw new RewardError(`${where}: it returned ${String(r)}, not a finite number`);
  return r;
}

/** One prompt of a step: its ids and the result a right answer contains. */
export interface RlPrompt {
  question: string;
  ids: number[];
  expected: string;
}

/**
 * The rows of a step, answer by answer (answers[k] are the G answers of prompts[k]): row b is prompt +
 * answer shifted by one (idx = seq[0..L−2], targets = seq[1..L−1]), padded with 0 to T; mask is 1 where
 * the target is an answer token (the stop token included, as fine-tuning counts <|im_end|>).
 */
export function rolloutRows(
  prompts: readonly { ids: readonly number[] }[],
  answers: readonly (readonly (readonly number[])[])[],
  T: number,
): { idx: BigInt64Array; targets: BigInt64Array; mask: Float32Array; B: number } {
  const B = answers.reduce((s, a) => s + a.length, 0);
  const idx = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  const mask = new Float32Array(B * T);
  let b = 0;
  for (const [k, group] of answers.entries())
    for (const answer of group) {
      const seq = [...prompts[k].ids, ...answer];
      if (seq.length - 1 > T)
        throw new Error(
          `rolloutRows: prompt ${k} + answer is ${seq.length} tokens, more than T + 1 = ${T + 1}`,
        );
      const start = prompts[k].ids.length - 1; // the first position whose target is an answer token
      for (let t = 0; t < seq.length - 1; t++) {
        idx[b * T + t] = BigInt(seq[t]);
        targets[b * T + t] = BigInt(seq[t + 1]);
        mask[b * T + t] = t >= start ? 1 : 0;
      }
      b++;
    }
  return { idx, targets, mask, B };
}

/** `count` prompts of a split of the task (a task file may have fewer), tokenized. */
function taskPrompts(
  task: RlTask,
  c: RlConfig,
  tok: Tokenizer,
  split: 'train' | 'heldout',
  count: number,
): RlPrompt[] {
  return task.items(split, count, c.seed).map((x) => ({
    question: x.prompt,
    ids: chatPrompt(tok, [{ role: 'user', content: x.prompt }]).ids,
    expected: x.answer,
  }));
}

const now = () => Date.now();
const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Runs an RL run, yielding its events; see the file's header. */
export async function* trainRl(
  c: RlConfig,
  /**
   * `task`: run this task instead of the one `c.task` names (a caller's own checker); `tools`: these tools
   * instead of the ones `c.tools` names (a caller's own, not disposed here).
   */
  o: { signal?: AbortSignal; control?: TrainControl; task?: RlTask; tools?: readonly Tool[] } = {},
): AsyncGenerator<RlEvent> {
  const task = validateRlConfig(c, o.task);
  const ckpt = await loadCheckpoint(c.from);
  const tok = loadModelTokenizer(ckpt);
  const format = chatFormatOf(tok);
  if (format?.stop === undefined)
    throw new Error(
      `${ckpt.dir} has no chat tokens: RL starts from a fine-tuned (SFT) checkpoint; run llm-lens sft first`,
    );
  const config: GptModelConfig = ckpt.config;
  const S = config.blockSize;
  const G = c.groupSize;
  const P = c.promptsPerStep;
  const B = P * G;
  // a checkpoint without a scalar head is refused here, naming the file and llm-lens reward-train
  const ep = { ep: c.device, threads: c.threads };
  const scorer = c.rewardModel ? await RewardScorer.load(c.rewardModel, { ...ep, batchSize: G }) : undefined;
  const pool = taskPrompts(task, c, tok, 'train', Math.min(c.steps * P, 5000));
  const heldout = taskPrompts(task, c, tok, 'heldout', c.evalCount);
  const longest = Math.max(...pool.map((p) => p.ids.length));
  if (longest >= S)
    throw new Error(
      `a prompt of ${c.task} has ${longest} tokens, the model's block is ${S}: no room to answer`,
    );
  const stopTokens = [format.stop];
  const tools = format.kind === 'chatml' ? format.chat.tools : undefined;
  const toolNames = parseToolList(c.tools ?? 'none');
  const ownTools = !o.tools;
  const toolList: readonly Tool[] = o.tools ?? (await makeTools(toolNames));
  if (toolList.length && !tools)
    throw new Error(
      `${ckpt.dir} has no tool tokens (<|tool_start|> …): fine-tune it on conversations with tool calls (chat-data --task tool-multiply) before RL with --tools, or leave --tools out`,
    );
  const force =
    tools && toolList.length
      ? toolForcer({
          tokens: tools,
          tokenizer: tok,
          tools: toolList,
          timeoutMs: c.toolTimeout,
          signal: o.signal,
        })
      : undefined;
  const banned = tools && !force ? toolsOff(tools) : [];
  // prompt + answer − 1 (the last token is only a target); a tool's output can make an answer longer
  // than maxTokens, up to the block (generateBatch keeps prompt + answer within S + 1)
  const T = force ? S : Math.min(S, longest + c.maxTokens - 1);
  /** An answer's text, its stop token left out. */
  const text = (ids: readonly number[]) => tok.decode(ids.filter((id) => !stopTokens.includes(id)));
  /** What the checker reads: the text after the answer's last forced token (a tool's output), if any. */
  const checkedText = (a: { ids: readonly number[]; forced: readonly number[] }) =>
    text(a.ids.slice(a.forced.length ? a.forced[a.forced.length - 1] + 1 : 0));
  /** An answer's text without special tokens the policy sampled in it (<|im_start|>): what a reward model reads. */
  const visible = (answer: string) =>
    [...tok.specialTokens.keys()].reduce((s, t) => s.split(t).join(''), answer);
  /** The reward model's scores of [prompt, answer] pairs; a failure names the model and the prompt. */
  const scoreAnswers = async (pairs: readonly (readonly [string, string])[]): Promise<number[]> => {
    try {
      return await scorer!.score(pairs.map(([prompt, answer]) => ({ prompt, answer: visible(answer) })));
    } catch (e) {
      throw new RewardError(
        `task ${task.name}: the reward model ${c.rewardModel} failed on a step's answers (the first prompt ${JSON.stringify(pairs[0]?.[0])}): ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  };

  const graphConfig = { ...config, batchSize: B, seqLen: T, target: targetOf(c.device) };
  const updates = c.updatesPerBatch ?? GRPO_DEFAULTS.updatesPerBatch;
  // a WebGPU shader binds each Concat/Split input and output: stay under the adapter's 16 (as loop.ts)
  const maxJoin = c.device === 'cpu' ? undefined : GPU_MAX_JOIN;
  const { graph, spec } = buildGptPolicyGraph(
    graphConfig,
    { kind: 'adamw', beta1: 0.9, beta2: 0.95, weightDecay: 0, clip: c.gradClip, maxJoin },
    { ref: c.klBeta > 0, klBeta: c.klBeta, old: updates > 1, clipEps: c.clipEps ?? GRPO_DEFAULTS.clipEps },
  );
  const copy = (w: Record<string, HostTensor>) =>
    Object.fromEntries(Object.entries(w).map(([k, t]) => [k, { ...t, data: t.data.slice() }])) as Record<
      string,
      HostTensor
    >;
  const names = gptParams(graphConfig).map((p) => p.name);
  const runner = await TrainRunner.create(emitOnnx(graph), spec, copy(ckpt.weights), {
    ...ep,
    graphName: 'the RL policy step',
  });
  // log-probs of the targets under given weights: the reference model's (KL) and the sampling policy's (PPO)
  const logProbs =
    c.klBeta > 0 || updates > 1
      ? await GraphRunner.create(emitOnnx(buildGptLogProbGraph(graphConfig)), {
          ...ep,
          graphName: 'the log-probs pass',
        })
      : undefined;
  const refWeights = copy(ckpt.weights);
  const kv = await KvCacheModel.create(config, copy(ckpt.weights), ep);
  const weightsNow = async () => {
    const w: Record<string, HostTensor> = {};
    for (const n of names) w[n] = await runner.get(n);
    return w;
  };

  fs.mkdirSync(c.runDir, { recursive: true });
  const metrics = path.join(c.runDir, 'metrics.jsonl');
  fs.writeFileSync(metrics, '');
  const log = (e: RlEvent): RlEvent => {
    fs.appendFileSync(metrics, JSON.stringify(e) + '\n');
    return e;
  };
  writeFileAtomic(
    path.join(c.runDir, 'config.json'),
    JSON.stringify({ format: 'llm-lens-run', version: 1, stage: 'rl', ...c, model: config }, null, 2) + '\n',
  );
  // the checkpoint's own files beside the weights (the tokenizer's) go into each RL checkpoint
  const own = new Set(['model.safetensors', 'trainer.safetensors', 'trainer.json', 'config.json']);
  const tokenizerFiles = fs
    .readdirSync(ckpt.dir)
    .filter((f) => !own.has(f) && fs.statSync(path.join(ckpt.dir, f)).isFile())
    .map((f) => path.join(ckpt.dir, f));
  const fromExtra = (
    JSON.parse(fs.readFileSync(path.join(ckpt.dir, 'config.json'), 'utf8')) as {
      llm_lens?: Record<string, unknown>;
    }
  ).llm_lens;
  const { bias: _bias, ...extra } = fromExtra ?? {};

  const t0 = now();
  let step = 0;
  let tokensSeen = 0;
  const checkpoint = async (): Promise<RlEvent> => {
    const dir = await saveCheckpoint({
      runDir: c.runDir,
      config,
      weights: await weightsNow(),
      moments: await runner.moments(),
      trainer: {
        format: TRAINER_FORMAT,
        version: TRAINER_FORMAT_VERSION,
        step,
        rngState: 0,
        seed: c.seed,
        tokensSeen,
        elapsedMs: now() - t0,
      },
      tokenizerFiles,
      configExtra: { ...extra, stage: 'rl', rlFrom: path.resolve(ckpt.dir), rlTask: c.task },
    });
    return log({ kind: 'checkpoint', step, dir, time: now() });
  };
  const evaluate = async (): Promise<RlEvent> => {
    const r = await evalQuestions(
      kv, // its graphs compiled once, on the run's device
      tok,
      heldout.map((p) => ({ question: p.question, expected: p.expected })),
      (text, expected, question) => checkAnswer(task, question, text, expected) >= 1,
      {
        seed: c.seed,
        tools: toolList,
        toolTimeoutMs: c.toolTimeout,
        maxTokens: c.maxTokens,
        signal: o.signal,
      },
    );
    const learned = scorer ? await scoreAnswers(r.items.map((x) => [x.question, x.answer])) : undefined;
    let correctAtK: number | undefined;
    if (c.passK > 1) {
      correctAtK = 0;
      for (const [i, p] of heldout.entries()) {
        const answers = await generateBatch(
          kv,
          p.ids,
          c.passK,
          {
            temperature: c.temperature,
            maxTokens: c.maxTokens,
            seed: (c.seed + 7919 * (i + 1)) >>> 0,
            stopTokens,
            vocabLimit: tok.vocabSize,
            bannedTokens: banned,
          },
          { signal: o.signal, force },
        );
        if (answers.some((a) => checkAnswer(task, p.question, checkedText(a), p.expected) >= 1)) correctAtK++;
      }
    }
    return log({
      kind: 'taskEval',
      step,
      task: c.task,
      correct: r.correct,
      total: r.total,
      ...(correctAtK !== undefined ? { k: c.passK, correctAtK } : {}),
      ...(learned ? { reward: mean(learned) } : {}),
      time: now(),
    });
  };
  /** Waits while the run is paused; true when a checkpoint was asked for. */
  const steer = async (): Promise<boolean> => {
    while (o.control?.paused) {
      o.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!o.control?.checkpointNow) return false;
    o.control.checkpointNow = false;
    return true;
  };
  const groupsEvent = (
    prompts: readonly RlPrompt[],
    answers: readonly (readonly BatchAnswer[])[],
    rewards: readonly number[],
    trueRewards: readonly number[] | undefined,
    advantages: ArrayLike<number>,
  ): RlEvent => ({
    kind: 'groups',
    step,
    groups: prompts.slice(0, GROUPS_LOGGED).map((p, k) => ({
      prompt: p.question,
      expected: p.expected,
      answers: answers[k].map((a, j) => ({
        // the stop token is an answer's last, so the forced indices stay valid without it
        tokens: a.ids.filter((id) => !stopTokens.includes(id)).map((id) => tok.decode([id])),
        ...(a.forced.length ? { forced: a.forced } : {}),
        reward: rewards[k * G + j],
        ...(trueRewards ? { trueReward: trueRewards[k * G + j] } : {}),
        advantage: advantages[k * G + j],
      })),
    })),
    time: now(),
  });

  try {
    yield log({
      kind: 'start',
      runDir: c.runDir,
      params: names.reduce((s, n) => s + ckpt.weights[n].data.length, 0),
      tokensPerStep: B * T,
      startStep: 0,
      maxIters: c.steps,
      stage: 'rl',
      time: now(),
    });
    if (c.evalInterval > 0) yield await evaluate();
    const stepMs: number[] = [];
    while (step < c.steps) {
      o.signal?.throwIfAborted();
      if (await steer()) yield await checkpoint();
      const t = performance.now();
      const prompts = Array.from({ length: P }, (_, k) => pool[(step * P + k) % pool.length]);
      const groups: BatchAnswer[][] = [];
      const checked: number[] = []; // the checker's rewards
      for (const [k, p] of prompts.entries()) {
        const seed = (c.seed + 1_000_003 * (step + 1) + 7919 * k) >>> 0;
        const group = await generateBatch(
          kv,
          p.ids,
          G,
          {
            temperature: c.temperature,
            maxTokens: c.maxTokens,
            seed,
            stopTokens,
            vocabLimit: tok.vocabSize,
            bannedTokens: banned,
          },
          { signal: o.signal, force },
        );
        groups.push(group);
        for (const a of group) checked.push(checkAnswer(task, p.question, checkedText(a), p.expected));
      }
      const answers = groups.map((g) => g.map((a) => a.ids));
      const rewards = scorer
        ? await scoreAnswers(answers.flatMap((g, k) => g.map((ids) => [prompts[k].question, text(ids)])))
        : checked;
      const trueRewards = scorer ? checked : undefined;
      const adv = groupAdvantages(rewards, G, { scaleByStd: c.scaleByStd });
      const rows = rolloutRows(prompts, answers, T);
      maskForced(rows.mask, prompts, groups, T); // a tool's output carries no loss
      const answerTokens = answers.flat().reduce((s, a) => s + a.length, 0) / B;
      const reward = mean(rewards);
      let loss = 0;
      let gradNorm = 0;
      let kl: number | undefined;
      let clipFrac: number | undefined;
      if (adv.zeroSignal < adv.groups || c.klBeta > 0) {
        const data: Record<string, HostTensor> = {
          idx: { dtype: 'i64', shape: [B, T], data: rows.idx },
          targets: { dtype: 'i64', shape: [B, T], data: rows.targets },
          advantages: { dtype: 'f32', shape: [B, T], data: tokenAdvantages(adv.advantages, rows.mask, T) },
          weights: lossWeights(rows.mask, B, T, { kind: GRPO_DEFAULTS.lossNorm }),
        };
        if (c.klBeta > 0) {
          const out = await logProbs!.run({ ...refWeights, idx: data.idx, targets: data.targets });
          data.ref_logp = await toHost(out.logp);
        }
        if (updates > 1) {
          // the policy that sampled the answers (the weights now, which kv holds): fixed for every update
          const out = await logProbs!.run({ ...kv.weights, idx: data.idx, targets: data.targets });
          data.old_logp = await toHost(out.logp);
        }
        for (let u = 0; u < updates; u++) {
          const r = await runner.step(data, c.lr);
          if (!r.applied) {
            yield log({
              kind: 'error',
              step,
              message: `step ${step + 1} went bad (loss ${r.loss}, gradient norm ${r.gradNorm}${updates > 1 ? `, update ${u + 1} of ${updates}` : ''}); the update was not applied. Lower the learning rate.`,
              time: now(),
            });
            return;
          }
          if (u === 0) {
            // the first update's: the gradient of the batch as sampled (ratio 1)
            loss = r.loss;
            gradNorm = r.gradNorm;
            if (r.extra.kl) kl = (await toHost(r.extra.kl)).data[0] as number;
          }
          if (r.extra.clip_frac) clipFrac = (await toHost(r.extra.clip_frac)).data[0] as number;
        }
        kv.setWeights(await weightsNow());
      }
      step++;
      tokensSeen += rows.mask.reduce((s, m) => s + m, 0);
      const ms = performance.now() - t;
      stepMs.push(ms);
      const typical = [...stepMs].sort((a, b) => a - b)[stepMs.length >> 1];
      yield log({
        kind: 'step',
        step,
        loss,
        lr: c.lr,
        gradNorm,
        ms,
        tokPerSec: (B * answerTokens) / (ms / 1000),
        tokensSeen,
        reward,
        zeroSignal: adv.zeroSignal / adv.groups,
        answerTokens,
        ...(kl !== undefined ? { kl } : {}),
        ...(trueRewards ? { trueReward: mean(trueRewards) } : {}),
        ...(clipFrac !== undefined ? { clipFrac } : {}),
        elapsedMs: now() - t0,
        etaMs: typical * (c.steps - step),
        time: now(),
      });
      if (c.groupsInterval > 0 && (step === 1 || step % c.groupsInterval === 0))
        yield log(groupsEvent(prompts, groups, rewards, trueRewards, adv.advantages));
      if (c.evalInterval > 0 && (step % c.evalInterval === 0 || step === c.steps)) yield await evaluate();
      if (c.checkpointInterval > 0 && step % c.checkpointInterval === 0 && step < c.steps)
        yield await checkpoint();
    }
    yield await checkpoint();
    yield log({ kind: 'done', step, reason: 'finished', elapsedMs: now() - t0, time: now() });
  } catch (e) {
    if (e instanceof RewardError) {
      const saved = await checkpoint();
      yield saved;
      const dir = saved.kind === 'checkpoint' ? saved.dir : '';
      yield log({
        kind: 'error',
        step,
        message: `${e.message}. The weights so far are saved in ${dir}`,
        time: now(),
      });
      return;
    }
    if (o.signal?.aborted) {
      yield await checkpoint();
      yield log({ kind: 'done', step, reason: 'stopped', elapsedMs: now() - t0, time: now() });
      return;
    }
    yield log({ kind: 'error', step, message: e instanceof Error ? e.message : String(e), time: now() });
  } finally {
    await runner.release();
    await logProbs?.release();
    await kv.release();
    await scorer?.release();
    if (ownTools) await disposeTools(toolList);
  }
}
