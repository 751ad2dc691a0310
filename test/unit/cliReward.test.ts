/**
 * llm-lens reward-data, reward-train and reward-score as a person runs them (node dist/cli.js), on a
 * 1-layer character model trained here for 4 steps. reward-data writes what the generator makes;
 * reward-train on 400 pairs for 60 steps prints held-out pair accuracy before and after, the after well
 * above chance (0.5) and above the before, and saves a GPT2ForSequenceClassification checkpoint;
 * reward-score's rewards (one row at a time, the model's whole context) rank the held-out pairs as the
 * training's evaluation (batches padded to the longest pair) said, and score alike in padded batches of 5. Bad input: a pairs file with a broken
 * line and a missing field (file:line and the reason), a checkpoint without the scalar head, no --from,
 * a device that is no execution provider (on the command line and to trainRewardModel).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { generatePreferencePairs, readPreferencePairs } from '../../src/engine/rl/preferences';
import { RewardScorer, trainRewardModel } from '../../src/engine/rl/rewardTrain';

const CLI = path.resolve('dist/cli.js');
const cli = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input: '' });

test('reward-train learns the held-out pairs above chance; reward-score agrees; bad input is named', async () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-cli-reward-'));
  try {
    for (const [split, count] of [
      ['train', 400],
      ['heldout', 100],
    ] as const) {
      const r = cli(
        dir,
        'reward-data',
        '--count',
        String(count),
        '--split',
        split,
        '--out',
        `${split}.jsonl`,
      );
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(
        readPreferencePairs(path.join(dir, `${split}.jsonl`)),
        generatePreferencePairs({ count, split }),
      );
    }
    const held = readPreferencePairs(path.join(dir, 'heldout.jsonl'));
    // a character model whose vocabulary covers the pairs' text
    const text = [...readPreferencePairs(path.join(dir, 'train.jsonl')), ...held]
      .map((p) => `${p.prompt}\n${p.chosen}\n${p.rejected}\n`)
      .join('');
    fs.writeFileSync(path.join(dir, 'text.txt'), text);
    const tiny = '--n-layer 1 --n-head 2 --n-embd 32 --block-size 512 --batch-size 4 --max-iters 4';
    const base = cli(
      dir,
      'train',
      '--data',
      'text.txt',
      ...tiny.split(' '),
      ...'--eval-iters 0 --sample-tokens 0 --threads 1 --run-dir runs/base'.split(' '),
    );
    assert.equal(base.status, 0, base.stderr);
    const baseCkpt = path.join(dir, 'runs', 'base', 'checkpoints', 'step-4');

    const args =
      '--data train.jsonl --heldout heldout.jsonl --steps 60 --lr 1e-3 --threads 1 --run-dir runs/rm';
    const t0 = Date.now();
    const r = cli(dir, 'reward-train', '--from', baseCkpt, ...args.split(' '));
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.status, 0, r.stderr);
    const m = /RESULT reward held-out pair accuracy before ([\d.]+) after ([\d.]+) \(100 pairs\)/.exec(
      r.stdout,
    );
    assert.ok(m, r.stdout);
    const [before, after] = [+m[1], +m[2]];
    console.log(`reward-train: held-out pair accuracy ${before} -> ${after} in ${seconds.toFixed(1)} s`);
    assert.ok(after >= 0.8 && after > before, r.stdout);
    assert.match(r.stdout, /step 60 loss [\d.]+ train pair accuracy/);
    const rm = path.join(dir, 'runs', 'rm', 'checkpoints', 'step-60');
    const config = JSON.parse(fs.readFileSync(path.join(rm, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['GPT2ForSequenceClassification']);
    assert.equal(config.llm_lens.stage, 'reward');

    // reward-score ranks the first 12 held-out pairs as the evaluation did (accuracy counted over them)
    let right = 0;
    const n = 12;
    const printed: number[] = [];
    for (const p of held.slice(0, n)) {
      const s = cli(
        dir,
        'reward-score',
        '--checkpoint',
        rm,
        '--prompt',
        p.prompt,
        '--answer',
        p.chosen,
        '--answer',
        p.rejected,
        '--expected',
        p.answer!,
      );
      assert.equal(s.status, 0, s.stderr);
      const lines = s.stdout.trim().split('\n');
      assert.equal(lines.length, 2, s.stdout);
      assert.match(lines[0], /\ttrue pass \(polite true, answers true, short true\)$/);
      assert.match(lines[1], /\ttrue fail/);
      const [rc, rr] = lines.map((l) => +l.split('\t')[0]);
      assert.ok(Number.isFinite(rc) && Number.isFinite(rr), s.stdout);
      if (rc > rr) right++;
      printed.push(rc);
    }
    // in batches of 5 (the last one padded) the rows score as they do alone
    const scorer = await RewardScorer.load(rm, { batchSize: 5, threads: 1 });
    const batched = await scorer.score(held.slice(0, n).map((p) => ({ prompt: p.prompt, answer: p.chosen })));
    await scorer.release();
    batched.forEach((r, i) => assert.ok(Math.abs(r - printed[i]) < 1e-3, `${i}: ${r} vs ${printed[i]}`));
    assert.ok(right / n >= 0.75, `reward-score ranks ${right} of ${n} held-out pairs right`);

    // bad input
    const bad = path.join(dir, 'bad.jsonl');
    const line1 = JSON.stringify(held[0]);
    fs.writeFileSync(
      bad,
      `${line1}\n{"prompt": "x", "chosen": \n${JSON.stringify({ prompt: 'p', chosen: 'a' })}\n`,
    );
    const b = cli(
      dir,
      'reward-train',
      '--from',
      baseCkpt,
      '--data',
      'bad.jsonl',
      '--heldout',
      'heldout.jsonl',
    );
    assert.equal(b.status, 1);
    assert.match(b.stderr, /bad\.jsonl: 2 bad lines \(1 good\)/);
    assert.match(b.stderr, /bad\.jsonl:2: not valid JSON/);
    assert.match(
      b.stderr,
      /bad\.jsonl:3: missing "rejected": each line needs "prompt", "chosen" and "rejected" strings/,
    );
    const noHead = cli(
      dir,
      'reward-score',
      '--checkpoint',
      baseCkpt,
      '--prompt',
      'hi',
      '--answer',
      'Thanks!',
    );
    assert.equal(noHead.status, 1);
    assert.match(
      noHead.stderr,
      /step-4\/model\.safetensors has no scalar head: a reward model needs score\.weight \[1, 32\]/,
    );
    const noDevice = cli(dir, 'reward-train', '--from', baseCkpt, '--data', 'train.jsonl', '--device', 'gpu');
    assert.equal(noDevice.status, 2);
    assert.match(noDevice.stderr, /reward-train: --device must be one of cpu, webgpu, cuda, got gpu/);
    await assert.rejects(
      trainRewardModel({ from: baseCkpt, data: [], device: 'gpu' as 'cpu' }),
      /device must be one of cpu, webgpu, cuda, got "gpu": use cpu, or a GPU provider that loads here/,
    );
    const noFrom = cli(dir, 'reward-train', '--data', 'train.jsonl');
    assert.equal(noFrom.status, 2);
    assert.match(noFrom.stderr, /reward-train: --from is required/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
