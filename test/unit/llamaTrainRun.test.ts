/**
 * Llama-family runs end to end on the engine: a llama-tiny-shaped pretraining run learns (loss falls),
 * saves checkpoints in Hugging Face Llama form (config.json that llama.ts's own reader and
 * openModelForInference accept, tokenizer.json beside the weights) and a run stopped and resumed equals the
 * uninterrupted run loss for loss and weight for weight; options that do not fit a Llama are refused; and
 * fine-tuning (stage sft) starts from a Hugging Face Llama folder with bf16 weights and its own chat template
 * (test/fixtures/llama/gqa_bf16 + hubFolder.ts's tokenizer), its loss falls, and its checkpoint opens.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { llamaConfigFromJson } from '../../src/engine/model/llama';
import { openModelForInference } from '../../src/engine/sample/openModel';
import { trainGpt, type TrainConfig, type TrainEvent } from '../../src/engine/train/loop';
import { loadTrainCheckpoint } from '../../src/engine/train/modelCheckpoint';
import { prepareRun } from '../../src/engine/train/runConfig';
import type { Tokenizer } from '../../src/engine/tokenizer/tokenizer';
import type { TrainRequest } from '../../src/protocol/training';
import { copyHubFolder } from '../fixtures/llama/hubFolder';

const temps: string[] = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-llama-'));
  temps.push(d);
  return d;
};
const TEXT = 'the quick brown fox jumps over the lazy dog; a lazy dog sleeps in the sun.\n'.repeat(60);
const SMALL = { nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 32, intermediateSize: 48, blockSize: 32 };

function request(dir: string, over: Partial<TrainRequest>): TrainRequest {
  return {
    data: [],
    tokenizer: 'char',
    preset: 'llama-tiny',
    device: 'cpu',
    runDir: path.join(dir, 'run'),
    dataCacheDir: path.join(dir, 'data'),
    threads: 1,
    batchSize: 4,
    evalIters: 0,
    sampleTokens: 0,
    lr: 3e-3,
    warmupIters: 0,
    ...over,
  };
}

async function run(c: TrainConfig, tokenizer: Tokenizer): Promise<TrainEvent[]> {
  const out: TrainEvent[] = [];
  for await (const e of trainGpt(c, { tokenizer })) out.push(e);
  const err = out.find((e) => e.kind === 'error');
  if (err && err.kind === 'error') throw new Error(err.message);
  return out;
}
const losses = (events: TrainEvent[]) => events.flatMap((e) => (e.kind === 'step' ? [e.loss] : []));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function pretrain(dir: string, over: Partial<TrainRequest> = {}) {
  fs.writeFileSync(path.join(dir, 'text.txt'), TEXT);
  const { config, tokenizer } = await prepareRun(
    request(dir, { data: [path.join(dir, 'text.txt')], maxIters: 16, ...SMALL, ...over }),
    () => undefined,
  );
  return { config, tokenizer };
}

test('a llama-tiny run learns, saves a Hugging Face Llama checkpoint that opens, and resumes exactly', async () => {
  const dir = tmp();
  const a = await pretrain(dir, { runDir: path.join(dir, 'a') });
  assert.equal(a.config.model.family, 'llama');
  const full = await run(a.config, a.tokenizer);
  const l = losses(full);
  assert.equal(l.length, 16);
  assert.ok(l[0] > Math.log(a.tokenizer.vocabSize) - 0.3, `first loss ${l[0]} is about ln V at init`);
  assert.ok(mean(l.slice(-4)) < l[0] - 0.3, `loss falls: ${l.map((x) => x.toFixed(3)).join(' ')}`);

  const ckpt = path.join(dir, 'a', 'checkpoints', 'step-16');
  const cfg = JSON.parse(fs.readFileSync(path.join(ckpt, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'llama');
  assert.deepEqual(cfg.architectures, ['LlamaForCausalLM']);
  const read = llamaConfigFromJson(cfg, 'config.json');
  const { family: _, ...asTrained } = a.config.model;
  assert.deepEqual(read, { ...asTrained, ropeScaling: undefined, vocabSize: a.tokenizer.vocabSize });
  assert.ok(fs.existsSync(path.join(ckpt, 'tokenizer.json')), 'tokenizer.json beside the weights');

  const m = await openModelForInference(ckpt);
  assert.equal(m.model.family, 'llama');
  const ids = m.tokenizer.encode('lazy dog');
  assert.deepEqual(ids, a.tokenizer.encode('lazy dog'), 'tokenizer.json encodes as the run did');

  // stopped at 7 and resumed: the same losses and weights as the uninterrupted run
  const b1 = await pretrain(dir, { runDir: path.join(dir, 'b') });
  const part1 = await run({ ...b1.config, stopAfter: 7 }, b1.tokenizer);
  const b2 = await pretrain(dir, {
    runDir: path.join(dir, 'b'),
    resumeFrom: path.join(dir, 'b', 'checkpoints', 'step-7'),
  });
  const part2 = await run(b2.config, b2.tokenizer);
  assert.deepEqual([...losses(part1), ...losses(part2)], l);
  const wa = await loadTrainCheckpoint(ckpt);
  const wb = await loadTrainCheckpoint(path.join(dir, 'b', 'checkpoints', 'step-16'));
  assert.equal(wb.trainer?.step, 16);
  for (const k of Object.keys(wa.weights)) assert.deepEqual(wb.weights[k].data, wa.weights[k].data, k);
});

test('options that do not fit a Llama are refused with the field and the fix', async () => {
  const dir = tmp();
  await assert.rejects(pretrain(dir, { bias: true }), /bias: the Llama family has no biases.*leave bias out/);
  const c = await pretrain(dir, { nKvHead: 3 });
  await assert.rejects(run(c.config, c.tokenizer), /nKvHead 3 does not divide nHead 4.*pick a divisor of 4/);
  await assert.rejects(
    pretrain(dir, { preset: 'tiny', nKvHead: 2, nLayer: 1 }),
    /nKvHead.*: options of the Llama presets.*preset tiny is a GPT-2/,
  );
});

test('sft from a Hugging Face Llama folder (bf16, its own chat template): loss falls, checkpoint opens', async () => {
  const dir = tmp();
  const base = copyHubFolder('gqa_bf16', path.join(dir, 'base'));
  const chat = path.join(dir, 'chat.jsonl');
  const qa = [
    ['hi', 'hello there'],
    ['who are you', 'a tiny llama'],
    ['say yes', 'yes'],
  ];
  fs.writeFileSync(
    chat,
    Array.from({ length: 8 }, () =>
      qa.map(([q, a]) =>
        JSON.stringify({
          messages: [
            { role: 'user', content: q },
            { role: 'assistant', content: a },
          ],
        }),
      ),
    )
      .flat()
      .join('\n') + '\n',
  );
  const { config, tokenizer } = await prepareRun(
    request(dir, { stage: 'sft', initFrom: base, data: [chat], maxIters: 12, lr: 2e-3, preset: 'tiny' }),
    () => undefined,
  );
  assert.equal(config.model.family, 'llama');
  assert.equal(config.model.blockSize, 64, "the base's max_position_embeddings");
  const l = losses(await run(config, tokenizer));
  assert.ok(mean(l.slice(-3)) < l[0] * 0.8, `loss falls: ${l.map((x) => x.toFixed(3)).join(' ')}`);
  const ckpt = path.join(config.runDir, 'checkpoints', 'step-12');
  const cfg = JSON.parse(fs.readFileSync(path.join(ckpt, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'llama');
  assert.equal(cfg.tie_word_embeddings, false);
  assert.equal(cfg.llm_lens.stage, 'sft');
  const m = await openModelForInference(ckpt);
  assert.equal(m.model.family, 'llama');
  assert.equal(m.start?.text, '<s>');
});
