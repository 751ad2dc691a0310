/**
 * A finished RL run's metrics.jsonl written by hand, for the dashboard tests: 4 steps against a reward model
 * whose reward climbs (0.2 → 0.8) while the true checker falls (0.6 → 0), then one step's groups.
 *
 *   writeRlRun(dir, [{ prompt: 'Say thanks.', answers: [{ tokens: ['Thanks'], reward: 1, trueReward: 0, advantage: 0.5 }] }]);
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../../src/protocol/training';

type Groups = Extract<RunEvent, { kind: 'groups' }>['groups'];

export function writeRlRun(dir: string, groups: Groups): void {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const events: RunEvent[] = [
    {
      kind: 'start',
      runDir: dir,
      params: 1000,
      tokensPerStep: 64,
      startStep: 0,
      maxIters: 4,
      stage: 'rl',
      time: t0,
    },
  ];
  for (let s = 1; s <= 4; s++)
    events.push({
      kind: 'step',
      step: s,
      loss: 0.1,
      lr: 1e-4,
      gradNorm: 0.5,
      ms: 10,
      tokPerSec: 100,
      tokensSeen: 64 * s,
      reward: 0.2 * s,
      trueReward: 0.8 - 0.2 * s,
      zeroSignal: 0.25,
      answerTokens: 3,
      elapsedMs: 10 * s,
      etaMs: 10,
      time: t0 + 10 * s,
    });
  events.push({ kind: 'groups', step: 4, groups, time: t0 + 41 });
  events.push({ kind: 'done', step: 4, reason: 'finished', elapsedMs: 40, time: t0 + 50 });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
}
