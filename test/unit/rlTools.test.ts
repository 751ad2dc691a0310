/**
 * RL rollouts that call tools (src/engine/rl/rlLoop.ts with tools): on a GPT whose weights make it open a
 * call right after a ChatML prompt (toolCallingModel), every tool output is forced into the answer, shown
 * as forced in the Groups view's data, left out of the loss (the step's tokensSeen counts sampled tokens
 * only: Σ answer tokens − Σ forced, both read from the logged answers), and the checker reads only the text
 * after an answer's last tool output. Without tools the same model is kept from opening a call.
 * PPO (updatesPerBatch 2) on the same rollouts: its first update has the on-policy gradient (every ratio is
 * 1, so the gradient norm equals a plain run's), the second moves the weights further, and the share of
 * clipped tokens is reported.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { defaultsOf } from '../../src/engine/options';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import { trainRl, type RlConfig } from '../../src/engine/rl/rlLoop';
import type { RlTask } from '../../src/engine/rl/rlTasks';
import { RL_OPTIONS } from '../../src/protocol/rlOptions';
import type { RunEvent } from '../../src/protocol/training';
import { chatCheckpoint } from '../fixtures/chat/chatCheckpoint';
import { chatVocab, pythonCalc, toolCallingModel } from './toolCallingModel';

const OUTPUT_START = '<|output_start|>';

async function run(c: RlConfig, task: RlTask, tools?: (typeof pythonCalc)[]): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const e of trainRl(c, { task, tools })) events.push(e);
  const error = events.find((e) => e.kind === 'error');
  assert.equal(error, undefined, error?.kind === 'error' ? error.message : '');
  return events;
}

/** A task whose checker rewards answers of odd length: some signal for any model. */
function oddTask(seen: string[] = []): RlTask {
  return {
    name: 'calls',
    description: 'any answer',
    checker: 'test',
    items: (split, count) =>
      Array.from({ length: count }, (_, i) => ({
        prompt: `${split === 'train' ? 3 + i : 2}*4?`,
        answer: '',
      })),
    check: (text) => {
      seen.push(text);
      return text.length % 2;
    },
  };
}

test('RL with tools: outputs forced, shown, without loss; the checker reads the text after them', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-rl-tools-'));
  const { config, weights } = toolCallingModel({ answerCalls: true, blockSize: 64 });
  const from = await chatCheckpoint(dir, {
    chatTokens: true,
    tokenizer: chatVocab.tok,
    weights,
    config,
    name: 'tools',
  });
  const seen: string[] = [];
  const task = oddTask(seen);
  const c: RlConfig = {
    ...defaultsOf(RL_OPTIONS),
    from,
    task: 'calls',
    runDir: path.join(dir, 'rl'),
    steps: 2,
    groupSize: 4,
    promptsPerStep: 2,
    maxTokens: 12,
    evalInterval: 0,
    groupsInterval: 1,
    threads: 1,
  };
  const events = await run(c, task, [pythonCalc]);
  const steps = events.filter((e) => e.kind === 'step');
  const groups = events.filter((e) => e.kind === 'groups');
  assert.equal(steps.length, 2);
  assert.equal(groups.length, 2);
  let calls = 0;
  let answersSeen = 0;
  for (const [i, g] of groups.entries()) {
    let tokens = 0;
    let forced = 0;
    for (const { answers } of g.groups)
      for (const a of answers) {
        const f = a.forced ?? [];
        // forced spans are a tool's whole output: <|output_start|> … <|output_end|> (or the block's end)
        for (const [k, at] of f.entries())
          if (a.tokens[at] === OUTPUT_START) {
            calls++;
            assert.ok(k === 0 || f[k - 1] < at - 1, 'an output starts after a sampled token');
            const found = a.tokens.indexOf('<|output_end|>', at);
            const end = found < 0 ? a.tokens.length - 1 : found;
            for (let j = at; j <= end; j++) assert.ok(f.includes(j), `token ${j} of an output is not forced`);
            const call = a.tokens.slice(a.tokens.lastIndexOf('<|tool_start|>', at) + 1, at - 1).join('');
            const m = /^python\n(\d+)\*(\d+)$/.exec(call);
            if (m && found > 0)
              assert.equal(a.tokens.slice(at + 1, end).join(''), String(+m[1] * +m[2]), call);
          } else assert.ok(k > 0 && f[k - 1] === at - 1, `forced token ${at} outside an output`);
        for (const j of f) assert.ok(j < a.tokens.length);
        // what the checker was given: the text after the last forced token
        const after = a.tokens.slice(f.length ? f[f.length - 1] + 1 : 0).join('');
        assert.equal(seen[answersSeen++], after);
        assert.equal(a.reward, after.length % 2);
        tokens += a.tokens.length;
        forced += f.length;
      }
    // the loss counts sampled tokens (the stop token included), never a tool's output
    const step = steps[i] as Extract<RunEvent, { kind: 'step' }>;
    const seenBefore = i ? (steps[i - 1] as Extract<RunEvent, { kind: 'step' }>).tokensSeen : 0;
    const all = Math.round(step.answerTokens! * 8); // every token of the 8 answers, stop tokens included
    assert.ok(all >= tokens && all <= tokens + 8);
    assert.ok(forced > 0);
    assert.equal(step.tokensSeen - seenBefore, all - forced);
  }
  assert.ok(calls >= 4, `only ${calls} tool calls in 16 answers`);

  // without tools the model cannot open a call: nothing is forced
  const off = await run({ ...c, runDir: path.join(dir, 'off') }, task);
  for (const e of off.filter((e) => e.kind === 'groups'))
    for (const { answers } of e.groups)
      for (const a of answers) {
        assert.equal(a.forced, undefined);
        assert.ok(!a.tokens.includes('<|tool_start|>'));
      }
});

test('PPO: the first of 2 updates per batch has the on-policy gradient; the second moves further', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-rl-ppo-'));
  const { config, weights } = toolCallingModel({ answerCalls: true, blockSize: 64 });
  const from = await chatCheckpoint(dir, { chatTokens: true, tokenizer: chatVocab.tok, weights, config });
  const c: RlConfig = {
    ...defaultsOf(RL_OPTIONS),
    from,
    task: 'calls',
    runDir: path.join(dir, 'plain'),
    steps: 1,
    groupSize: 4,
    promptsPerStep: 2,
    maxTokens: 12,
    lr: 1e-2,
    evalInterval: 0,
    groupsInterval: 0,
    threads: 1,
  };
  const step = (events: RunEvent[]) => events.find((e) => e.kind === 'step')!;
  const plain = step(await run(c, oddTask(), [pythonCalc]));
  const ppo = step(
    await run({ ...c, runDir: path.join(dir, 'ppo'), updatesPerBatch: 2, clipEps: 0.1 }, oddTask(), [
      pythonCalc,
    ]),
  );
  assert.equal(ppo.reward, plain.reward); // the same rollouts
  assert.ok(plain.gradNorm > 0);
  assert.ok(
    Math.abs(ppo.gradNorm - plain.gradNorm) < 1e-5 * plain.gradNorm,
    `${ppo.gradNorm} ${plain.gradNorm}`,
  );
  assert.equal(plain.clipFrac, undefined);
  assert.ok(ppo.clipFrac! >= 0 && ppo.clipFrac! <= 1);
  const w = async (run: string) =>
    (await loadCheckpoint(path.join(dir, run, 'checkpoints', 'step-1'))).weights;
  const [start, one, two] = [(await loadCheckpoint(from)).weights, await w('plain'), await w('ppo')];
  const dist = (a: typeof start, b: typeof start) =>
    Object.keys(a).reduce((s, k) => {
      const [x, y] = [Array.from(a[k].data as Float32Array), Array.from(b[k].data as Float32Array)];
      return s + x.reduce((t, v, i) => t + (v - y[i]) ** 2, 0);
    }, 0);
  assert.ok(dist(start, two) > dist(start, one) * 1.5, 'the second update moved the weights further');
});
