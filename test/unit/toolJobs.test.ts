/**
 * Tools in the worker's chat and sampler jobs, on a tiny checkpoint fine-tuned here to call the
 * calculator (fixtures/chat/toolCheckpoint.ts): with tools the answer holds the call, the calculator's
 * output forced into the context (408 = 12 * 34, known by hand) and the model's sentence after it; with
 * tools off the call token is banned and no tool runs. The Sampler's samplerStart does the same when
 * it is given tools.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { ToolNameMsg } from '../../src/protocol/chat';
import type { SampledToken, SamplerParams } from '../../src/protocol/sampler';
import { runChatJob } from '../../src/worker/chatJobs';
import { runSamplerJob } from '../../src/worker/samplerJobs';
import {
  TOOL_ANSWER,
  TOOL_INPUT,
  TOOL_OUTPUT,
  TOOL_QUESTION,
  toolCheckpoint,
} from '../fixtures/chat/toolCheckpoint';

const greedy: SamplerParams = {
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  seed: 1,
  maxTokens: 60,
  stop: [],
};
let ckpt: string;

before(async () => {
  const t0 = performance.now();
  ckpt = await toolCheckpoint(fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-tooljobs-')));
  console.log(`tool checkpoint trained in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
});

async function drain(session: number): Promise<SampledToken[]> {
  const out: SampledToken[] = [];
  for (;;) {
    const r = await runSamplerJob({ kind: 'samplerNext', session, maxTokens: 16, budgetMs: 1000 });
    assert.equal(r.kind, 'samplerNext');
    if (r.kind !== 'samplerNext') return out;
    out.push(...r.tokens);
    if (r.done) return out;
  }
}

async function chat(tools?: ToolNameMsg[]): Promise<SampledToken[]> {
  const r = await runChatJob({
    kind: 'chatStart',
    checkpoint: ckpt,
    messages: [{ role: 'user', content: TOOL_QUESTION }],
    params: greedy,
    streams: 1,
    ...(tools ? { tools } : {}),
  });
  assert.equal(r.kind, 'chatStart');
  return r.kind === 'chatStart' ? drain(r.sessions[0]) : [];
}

const text = (ts: SampledToken[]) => ts.map((t) => t.text).join('');
const forced = (ts: SampledToken[]) =>
  ts
    .filter((t) => t.toolOutput)
    .map((t) => t.text)
    .join('');

test('chat with the calculator: the call, the forced output 408, then the answer that uses it', async () => {
  const model = await runChatJob({ kind: 'chatLoad', checkpoint: ckpt });
  assert.ok(model.kind === 'chatLoad' && model.model.tools, 'the checkpoint has the tool tokens');
  const ts = await chat(['calculator', 'search']);
  assert.equal(
    text(ts),
    `<|tool_start|>calculator\n${TOOL_INPUT}<|tool_end|><|output_start|>${TOOL_OUTPUT}<|output_end|>${TOOL_ANSWER}<|im_end|>`,
  );
  assert.equal(forced(ts), `<|output_start|>${TOOL_OUTPUT}<|output_end|>`, 'only the output is forced');
  const calls = ts.filter((t) => t.tool);
  assert.equal(calls.length, 1);
  assert.deepEqual(
    { ...calls[0].tool!, ms: 0 },
    { name: 'calculator', input: TOOL_INPUT, ok: true, output: TOOL_OUTPUT, ms: 0 },
  );
  assert.ok(calls[0].toolOutput, 'the record sits on the first forced token');
});

test('chat without tools: the call token is banned, nothing is forced', async () => {
  const ts = await chat();
  assert.ok(!text(ts).includes('<|tool_start|>'), text(ts));
  assert.equal(forced(ts), '');
  assert.equal(ts.filter((t) => t.tool).length, 0);
});

test('samplerStart with tools runs them; with an empty list it bans the call; without the field it samples raw', async () => {
  const prompt = `<|im_start|>user\n${TOOL_QUESTION}<|im_end|>\n<|im_start|>assistant\n`;
  const load = await runChatJob({ kind: 'chatLoad', checkpoint: ckpt });
  assert.equal(load.kind, 'chatLoad');
  // the prompt's ids as the chat renders them (special tokens as tokens, not characters)
  const rendered = await runChatJob({
    kind: 'chatStart',
    checkpoint: ckpt,
    messages: [{ role: 'user', content: TOOL_QUESTION }],
    params: { ...greedy, maxTokens: 1 },
    streams: 1,
  });
  assert.ok(rendered.kind === 'chatStart');
  await runSamplerJob({ kind: 'samplerClose', sessions: rendered.sessions });
  assert.equal(rendered.prompt.texts.join(''), prompt);
  const ids = rendered.prompt.ids;
  const start = async (tools?: ToolNameMsg[]) => {
    const r = await runSamplerJob({
      kind: 'samplerStart',
      checkpoint: ckpt,
      prompt: { ids },
      params: greedy,
      streams: 1,
      ...(tools ? { tools } : {}),
    });
    assert.ok(r.kind === 'samplerStart');
    return drain(r.sessions[0]);
  };
  const withTools = await start(['calculator']);
  assert.equal(forced(withTools), `<|output_start|>${TOOL_OUTPUT}<|output_end|>`);
  assert.equal(withTools.find((t) => t.tool)?.tool?.output, TOOL_OUTPUT);
  assert.ok(text(withTools).includes(TOOL_ANSWER), text(withTools));
  const off = await start([]);
  assert.ok(!text(off).includes('<|tool_start|>'), text(off));
  const raw = await start();
  assert.ok(text(raw).startsWith(`<|tool_start|>calculator\n${TOOL_INPUT}<|tool_end|>`), text(raw));
  assert.equal(forced(raw), '', 'no tool loop: nothing is forced');
});
