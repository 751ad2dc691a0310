/**
 * RL as a person does it in a real VS Code. A tiny SFT checkpoint is made with the CLI in the workspace
 * (train → sft on addition, seconds). Start RL… on the base checkpoint is refused with a Fine-Tune…
 * button; on the SFT checkpoint, answering its quick picks (task addition, steps refused at 0, then 6),
 * it runs: the dashboard shows the reward chart with a point per step of metrics.jsonl and the Groups view
 * with the prompts and answers, token by token, of the run's groups events; the Runs view says
 * "rl · finished · step 6/6 · reward …"; Resume says an RL run cannot be resumed yet. A run file with
 * "stage": "rl" starts from its CodeLens. Last, a hand-written RL run against a reward model (its reward
 * climbs, the true checker falls; known advantages; a tool-forced token) shows both curves and tokens
 * tinted green above the group's mean and red below, the forced token apart. Task file… refuses a JSONL
 * with a bad line and writes a good one's path and checker into the run's request.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import type { RunEvent } from '../../src/protocol/training';
import { writeRlRun } from './harness/rlRun';
import { makeWorkspace } from './harness/codeServer';
import { installedVsix } from './harness/vsix';
import { openVSCode, type VSCodeSession } from './harness/workbench';

const CLI = path.resolve('dist/cli.js');
let vs: VSCodeSession;
let ws: string;

/** Runs the CLI in the workspace; fails the test with its stderr when it fails. */
function cli(...args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ws, encoding: 'utf8', input: '' });
  assert.equal(r.status, 0, `llm-lens ${args[0]}: ${r.stderr}`);
}

before(async () => {
  ws = makeWorkspace({ 'README.md': 'rl\n' });
  cli('chat-data', ...'--task addition --max-digits 2 --count 200 --out add.jsonl'.split(' '));
  const tiny = '--n-layer 1 --n-head 2 --n-embd 16 --block-size 96 --batch-size 4 --max-iters 4 --threads 1';
  const quiet = '--eval-iters 0 --sample-tokens 0';
  cli('train', '--data', 'add.jsonl', ...`${tiny} ${quiet} --run-dir base`.split(' '));
  cli(
    'sft',
    ...`--from base/checkpoints/step-4 --data add.jsonl --max-iters 4 --batch-size 4 --threads 1 ${quiet} --run-dir sft`.split(
      ' ',
    ),
  );
  vs = await openVSCode({ workspace: ws, vsix: installedVsix() });
});
after(async () => vs?.close());

const runsDir = () => path.join(ws, '.llmlens', 'runs');
const runs = () => (fs.existsSync(runsDir()) ? fs.readdirSync(runsDir()) : []);
const events = (name: string): RunEvent[] =>
  fs
    .readFileSync(path.join(runsDir(), name, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RunEvent);
const body = async (view: FrameLocator, key: string) =>
  Number(await view.locator('body').getAttribute(`data-${key}`));

async function waitFor(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  for (let t = 0; t < ms && !ok(); t += 250) await new Promise((r) => setTimeout(r, 250));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

test('Start RL… on a base checkpoint says to fine-tune it first, with a Fine-Tune… button', () =>
  vs.step('rl-base', async () => {
    await vs.runCommand('LLM Lens: Start RL…');
    await vs.pick('base/checkpoints/step-4');
    const text = await vs.notification('RL starts from a fine-tuned (SFT) checkpoint: fine-tune it first');
    assert.match(text, /step-4 has no chat tokens/);
    assert.match(text, /Fine-Tune…/);
    assert.deepEqual(runs(), [], 'no run started');
  }));

test('Start RL… on the SFT checkpoint: the reward chart and Groups view show the run', () =>
  vs.step('rl-start', async () => {
    await vs.runCommand('LLM Lens: Start RL…');
    await vs.pick('sft/checkpoints/step-4');
    await vs.pick('addition');
    // the steps box takes its range from RL_OPTIONS
    await vs.page.locator('.quick-input-widget input').fill('0');
    await vs.page
      .locator('.quick-input-widget .quick-input-message', {
        hasText: 'Steps must be a whole number ≥ 1, got 0',
      })
      .waitFor({ timeout: 10_000 });
    await vs.input('6');
    await waitFor(() => runs().length === 1, 'the run folder');
    const name = runs()[0];
    assert.match(name, /^rl-addition-/);
    const request = JSON.parse(fs.readFileSync(path.join(runsDir(), name, 'request.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      [request.stage, request.task, request.steps, request.device, request.from],
      ['rl', 'addition', 6, 'cpu', path.join(ws, 'sft', 'checkpoints', 'step-4')],
    );
    const view = await vs.webview(`Training: ${name}`);
    await view.locator('body[data-stage="rl"]').waitFor({ state: 'attached', timeout: 60_000 });
    await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 180_000 });
    const all = events(name);
    const steps = all.filter((e) => e.kind === 'step');
    const groups = all.filter((e) => e.kind === 'groups');
    assert.equal(steps.length, 6);
    // a point per step on the reward chart, held-out evaluations on theirs
    assert.equal(await body(view, 'reward-points'), 6);
    assert.equal(await body(view, 'reward-last'), steps.at(-1)!.reward);
    assert.equal(await body(view, 'task-evals'), all.filter((e) => e.kind === 'taskEval').length);
    assert.ok(await view.locator('#reward-chart').isVisible());
    assert.equal(await view.locator('#samples-section').isVisible(), false, 'an RL run has no samples');
    assert.equal((await view.locator('#stat-reward').innerText()).trim(), steps.at(-1)!.reward!.toFixed(3));
    // the Groups view: the newest groups event, its prompts, and its answers token by token
    const newest = groups.at(-1)!;
    assert.equal(await body(view, 'groups-steps'), groups.length);
    assert.equal(await view.locator('#groups-step').inputValue(), String(newest.step));
    const shown = view.locator('#groups .rl-group');
    assert.equal(await shown.count(), newest.groups.length);
    const g0 = newest.groups[0];
    assert.match(await shown.first().locator('.rl-prompt').innerText(), new RegExp(literal(g0.prompt)));
    assert.match(await shown.first().locator('.rl-expected').innerText(), new RegExp(literal(g0.expected!)));
    const answers = shown.first().locator('.rl-answer');
    assert.equal(await answers.count(), g0.answers.length);
    const a0 = g0.answers[0];
    assert.equal(await answers.first().locator('.rl-tok').count(), a0.tokens.length);
    const label = (await answers.first().getAttribute('aria-label'))!;
    assert.ok(label.startsWith(`Answer 1 of ${g0.answers.length}: reward ${a0.reward.toFixed(2)}`), label);
    assert.ok(label.endsWith(a0.tokens.join('')), label);
    assert.equal(await answers.first().getAttribute('tabindex'), '0');
    // another logged step from the selector
    const first = groups[0];
    await view.locator('#groups-step').selectOption(String(first.step));
    await view.locator(`#groups[data-step="${first.step}"]`).waitFor({ state: 'attached', timeout: 10_000 });
    const firstTokens = first.groups[0].answers[0].tokens.length;
    assert.equal(await view.locator('#groups .rl-answer').first().locator('.rl-tok').count(), firstTokens);
    await vs.screenshot('rl-dashboard');
    await view.locator('#groups-view').scrollIntoViewIfNeeded();
    await vs.screenshot('rl-dashboard-groups');

    // the Runs view reads the stage and the reward
    await vs.page.locator('.activitybar .action-label[aria-label^="LLM Lens"]').click();
    const row = vs.page.locator('.part.sidebar .monaco-list-row', { hasText: name }).first();
    await row.waitFor({ timeout: 30_000 });
    assert.match(await row.innerText(), /rl · finished · step 6\/6 · reward \d\.\d\d/);

    // Resume on an RL run says it cannot be resumed yet
    await vs.runCommand('LLM Lens: Resume Training Run');
    await vs.pick(name);
    const says = await vs.notification('RL runs cannot be resumed yet');
    assert.match(says, /Start a new RL run from its checkpoint step 6/);
  }));

test('a run file with "stage": "rl" starts an RL run from its CodeLens', () =>
  vs.step('rl-run-file', async () => {
    fs.writeFileSync(
      path.join(ws, 'rl.llmlens.json'),
      JSON.stringify(
        {
          stage: 'rl',
          name: 'filerl',
          from: 'sft/checkpoints/step-4',
          task: 'addition',
          steps: 2,
          groupSize: 2,
          promptsPerStep: 1,
          maxTokens: 8,
          evalInterval: 0,
        },
        null,
        2,
      ),
    );
    await vs.openFile('rl.llmlens.json');
    await vs.clickCodeLens('Start training');
    await waitFor(() => runs().some((n) => n.startsWith('filerl-')), 'the run file’s run');
    const name = runs().find((n) => n.startsWith('filerl-'))!;
    const view = await vs.webview(`Training: ${name}`);
    await view.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 120_000 });
    assert.equal(await body(view, 'reward-points'), 2);
    const g = events(name).filter((e) => e.kind === 'groups');
    assert.equal(g.at(-1)!.groups[0].answers.length, 2, 'groupSize from the run file');
  }));

/** A hand-written RL run against a reward model: the reward climbs while the true checker falls. */
function gamedRun(dir: string): { advantages: number[] } {
  // rewards 0.9 and 0.1 → mean 0.5, advantages +0.4 and −0.4; the second answer's "=" was forced by a tool
  const advantages = [0.4, -0.4];
  writeRlRun(dir, [
    {
      prompt: 'Say thanks.',
      expected: 'thanks',
      answers: [
        { tokens: ['Thanks', ' ', 'so', '\n'], reward: 0.9, trueReward: 0, advantage: advantages[0] },
        { tokens: ['no', '=', 'x'], forced: [1], reward: 0.1, trueReward: 1, advantage: advantages[1] },
      ],
    },
  ]);
  return { advantages };
}

/** The page's getComputedStyle, as the test's Node typings see it (no DOM library). */
interface Styles {
  getComputedStyle(e: unknown): { backgroundColor: string; outlineStyle: string };
}

/** The red, green and blue of a CSS colour as the browser computes it (rgb() or color(srgb …)). */
function rgbOf(css: string): [number, number, number] {
  const n = (css.match(/[\d.]+/g) ?? []).map(Number);
  return css.startsWith('color(') ? [n[0] * 255, n[1] * 255, n[2] * 255] : [n[0], n[1], n[2]];
}

test('a gamed reward shows beside the true checker; tokens are tinted by their advantage', () =>
  vs.step('rl-gamed', async () => {
    gamedRun(path.join(runsDir(), 'gamed-rl'));
    await vs.runCommand('LLM Lens: Open Training Dashboard');
    await vs.pick('gamed-rl');
    const view = await vs.webview('Training: gamed-rl');
    await view.locator('body[data-stage="rl"]').waitFor({ state: 'attached', timeout: 30_000 });
    assert.equal(await body(view, 'reward-points'), 4);
    assert.equal(await body(view, 'true-reward-points'), 4);
    // the last step's values as written above: the learned reward at 0.8, the true checker at 0
    assert.match((await view.locator('body').getAttribute('data-reward-curves'))!, /(^|,)true checker($|,)/);
    assert.ok(Math.abs((await body(view, 'reward-last')) - 0.8) < 1e-9);
    assert.ok(Math.abs(await body(view, 'true-reward-last')) < 1e-9);
    assert.equal((await view.locator('#stat-true-reward').innerText()).trim(), '0.000');
    const answers = view.locator('#groups .rl-answer');
    assert.equal(await answers.count(), 2);
    const [better, worse] = [answers.nth(0), answers.nth(1)];
    assert.match(
      (await better.getAttribute('aria-label'))!,
      /reward 0\.90, true checker 0\.00, advantage \+0\.40/,
    );
    assert.match(
      (await worse.getAttribute('aria-label'))!,
      /advantage minus 0\.40, 1 tokens forced by a tool/,
    );
    const bg = (l: ReturnType<FrameLocator['locator']>) =>
      l.evaluate((e) => (globalThis as unknown as Styles).getComputedStyle(e).backgroundColor).then(rgbOf);
    // above the group's mean: green over red; below: red over green; the forced token: no tint, outlined
    const [gr, gg] = await bg(better.locator('.rl-tok').first());
    const [rr, rg] = await bg(worse.locator('.rl-tok').first());
    assert.ok(gg > gr, `the better answer's token is green: ${[gr, gg]}`);
    assert.ok(rr > rg, `the worse answer's token is red: ${[rr, rg]}`);
    const forced = worse.locator('.rl-tok').nth(1);
    assert.match((await forced.getAttribute('class'))!, /\bforced\b/);
    assert.equal(
      await forced.evaluate((e) => (globalThis as unknown as Styles).getComputedStyle(e).outlineStyle),
      'dashed',
      'the forced token is outlined',
    );
    // whitespace shows: the space as ·, the newline as ↵
    assert.equal(await better.locator('.rl-tok').nth(1).innerText(), '·');
    assert.match(await better.locator('.rl-tok').nth(3).innerText(), /^↵/);
    await view.locator('#groups-view').scrollIntoViewIfNeeded();
    await vs.screenshot('rl-groups');
  }));

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('Task file… takes a workspace JSONL and its checker; a bad line is refused naming file and line', () =>
  vs.step('rl-task-file', async () => {
    fs.writeFileSync(path.join(ws, 'bad.jsonl'), '{"prompt": "2+2?", "answer": "4"}\n{"prompt": "3+3?"}\n');
    await vs.runCommand('LLM Lens: Start RL…');
    await vs.pick('sft/checkpoints/step-4');
    await vs.pick('Task file…');
    await vs.pick('bad.jsonl');
    await vs.pick('numeric');
    await vs.notification('bad.jsonl:2: "answer" is missing');
    const before = runs().length;
    const sums = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ prompt: `What is ${i} + 2?`, answer: i + 2 }),
    );
    fs.writeFileSync(path.join(ws, 'sums.jsonl'), sums.join('\n') + '\n');
    await vs.runCommand('LLM Lens: Start RL…');
    await vs.pick('sft/checkpoints/step-4');
    await vs.pick('Task file…');
    await vs.pick('sums.jsonl');
    await vs.pick('numeric');
    await vs.input('2');
    await waitFor(() => runs().some((n) => n.startsWith('rl-sums-')), 'the task file’s run');
    assert.equal(runs().length, before + 1);
    const name = runs().find((n) => n.startsWith('rl-sums-'))!;
    const request = JSON.parse(fs.readFileSync(path.join(runsDir(), name, 'request.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    // what the RL loop is asked for; whether it runs task files is the engine's (src/engine/rl)
    assert.deepEqual(
      [request.stage, request.task, request.checker, request.steps],
      ['rl', path.join(ws, 'sums.jsonl'), 'numeric', 2],
    );
  }));
