/**
 * The Chat panel's worker jobs on tiny checkpoints written here (random weights, a character vocabulary
 * with and without the chat tokens), and the validator of the Chat webview's messages. References:
 * renderChatML and plainChatText, generateTokens called directly on the same prompt.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { plainChatText } from '../../src/engine/chat/chatPrompt';
import { IM_END, IM_START, renderChatML } from '../../src/engine/chat/chatml';
import { KvCacheModel } from '../../src/engine/model/kvCache';
import { generateTokens } from '../../src/engine/sample/generate';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { loadCheckpointTokenizer } from '../../src/engine/train/runTokenizer';
import { isChatWebviewMessage } from '../../src/host/chat/validate';
import type { ChatMessage } from '../../src/protocol/chat';
import type { SampledToken, SamplerParams } from '../../src/protocol/sampler';
import { runChatJob } from '../../src/worker/chatJobs';
import { runSamplerJob } from '../../src/worker/samplerJobs';
import {
  CHAT_CHARS,
  chatCheckpoint,
  chatConfig,
  randomWeights,
  templateTokenizer,
} from '../fixtures/chat/chatCheckpoint';

const root = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-chat-'));
const params: SamplerParams = {
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  seed: 3,
  maxTokens: 40,
  stop: [],
};
const conversation: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Who are you?' },
];
const IM_END_ID = CHAT_CHARS.length + 1;

/** Weights under which <|im_end|> is likely at every step: ln_f's bias points along its embedding. */
function endingWeights() {
  const config = chatConfig(true);
  const w = randomWeights(config);
  const s = 0.31;
  const C = config.nEmbd;
  (w['transformer.ln_f.bias'].data as Float32Array).fill(s);
  (w['transformer.wte.weight'].data as Float32Array).fill(s, IM_END_ID * C, (IM_END_ID + 1) * C);
  return w;
}

async function start(checkpoint: string, messages: ChatMessage[], p = params, streams = 1) {
  const r = await runChatJob({ kind: 'chatStart', checkpoint, messages, params: p, streams });
  assert.equal(r.kind, 'chatStart');
  return r as Extract<typeof r, { kind: 'chatStart' }>;
}

/** Pulls a session to its end, a few tokens at a time, as the panel does. */
async function drain(session: number): Promise<SampledToken[]> {
  const got: SampledToken[] = [];
  for (let done = false; !done;) {
    const r = await runSamplerJob({ kind: 'samplerNext', session, maxTokens: 3, budgetMs: 10_000 });
    assert.equal(r.kind, 'samplerNext');
    if (r.kind !== 'samplerNext') break;
    assert.ok(r.tokens.length <= 3);
    got.push(...r.tokens);
    done = r.done;
  }
  return got;
}

test('chatLoad tells a checkpoint with chat tokens from a base one', async () => {
  const chat = await chatCheckpoint(root, { chatTokens: true, name: 'load-chat' });
  const base = await chatCheckpoint(root, { chatTokens: false, name: 'load-base' });
  const a = await runChatJob({ kind: 'chatLoad', checkpoint: path.join(chat, 'model.safetensors') });
  const b = await runChatJob({ kind: 'chatLoad', checkpoint: base });
  assert.ok(a.kind === 'chatLoad' && a.model.chatTokens && a.model.vocabSize === CHAT_CHARS.length + 2);
  assert.ok(b.kind === 'chatLoad' && !b.model.chatTokens);
});

test('chatStart renders ChatML + the generation prompt and streams the tokens of generateTokens until <|im_end|>', async () => {
  const weights = endingWeights();
  const ck = await chatCheckpoint(root, { chatTokens: true, name: 'stream', weights });
  const tok = loadCheckpointTokenizer(ck);
  const encode = (t: string) => tok.encode(t, { disallowedSpecial: new Set() });
  const want = renderChatML(conversation, { imStart: IM_END_ID - 1, imEnd: IM_END_ID }, encode, {
    addGenerationPrompt: true,
  });
  const r = await start(ck, conversation, params, 2);
  assert.equal(r.prompt.format, 'chatml');
  assert.deepEqual(r.prompt.ids, want.ids);
  assert.deepEqual(r.prompt.roles, want.roles);
  assert.equal(
    r.prompt.texts.join(''),
    `${IM_START}system\nBe brief.${IM_END}\n${IM_START}user\nWho are you?${IM_END}\n${IM_START}assistant\n`,
  );
  assert.deepEqual(
    r.prompt.texts.filter((_, i) => r.prompt.special[i]),
    [IM_START, IM_END, IM_START, IM_END, IM_START],
  );
  const kv = await KvCacheModel.create(chatConfig(true), weights, { threads: 1 });
  for (const [i, session] of r.sessions.entries()) {
    const got = await drain(session);
    const ref: number[] = [];
    const o = { ...params, seed: params.seed + i, stopTokens: [IM_END_ID] };
    for await (const t of generateTokens(kv, want.ids, o)) ref.push(t.id);
    assert.deepEqual(
      got.map((t) => t.id),
      ref,
      'the same tokens, in the same order',
    );
    assert.ok(got.length > 1 && got.length < params.maxTokens, `${got.length} tokens before the end`);
    assert.equal(got.at(-1)!.id, IM_END_ID, 'ends with <|im_end|>');
    assert.equal(got.at(-1)!.finish, 'stopToken');
    assert.equal(got.at(-1)!.text, IM_END);
    assert.ok(got.slice(0, -1).every((t) => t.id !== IM_END_ID && !t.finish));
  }
  await kv.release();
});

test('special-token text a user types stays text: it neither opens nor closes a turn', async () => {
  const ck = await chatCheckpoint(root, { chatTokens: true, name: 'typed' });
  const r = await start(ck, [{ role: 'user', content: `hi${IM_END}` }]);
  assert.deepEqual(
    r.prompt.texts.filter((_, i) => r.prompt.special[i]),
    [IM_START, IM_END, IM_START],
    'the turn markers only',
  );
  assert.ok(r.prompt.texts.join('').includes(`hi${IM_END}${IM_END}`));
  await runSamplerJob({ kind: 'samplerClose', sessions: r.sessions });
});

test('a base checkpoint gets the "User: …\\nAssistant:" transcript and continues it to maxTokens', async () => {
  const ck = await chatCheckpoint(root, { chatTokens: false, name: 'base' });
  const r = await start(ck, conversation, { ...params, maxTokens: 12 });
  assert.equal(r.prompt.format, 'base');
  assert.equal(r.prompt.texts.join(''), plainChatText(conversation));
  assert.equal(r.prompt.texts.join(''), 'Be brief.\n\nUser: Who are you?\nAssistant:');
  assert.ok(r.prompt.special.every((s) => !s));
  const roleOf = (text: string) => r.prompt.roles[r.prompt.texts.join('').indexOf(text)]; // a token a character
  assert.deepEqual(['Be', 'User', 'Who', 'Assistant'].map(roleOf), ['system', 'user', 'user', 'assistant']);
  const got = await drain(r.sessions[0]);
  assert.equal(got.length, 12);
  assert.equal(got.at(-1)!.finish, 'maxTokens');
});

test('a tokenizer.json with its own chat template renders with it, and answers end at its eos_token', async () => {
  const template =
    "{% for m in messages %}{{ '<s>' + m['role'] + ': ' + m['content'] + '</s>' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<s>assistant: ' }}{% endif %}";
  const tokenizer = templateTokenizer(template);
  const ck = await chatCheckpoint(root, { chatTokens: false, tokenizer, name: 'hub' });
  const loaded = await runChatJob({ kind: 'chatLoad', checkpoint: ck });
  assert.ok(loaded.kind === 'chatLoad' && loaded.model.chatTokens, 'not a base model');
  const r = await start(ck, conversation);
  assert.equal(r.prompt.format, 'template');
  assert.equal(r.prompt.texts.join(''), '<s>system: Be brief.</s><s>user: Who are you?</s><s>assistant: ');
  assert.deepEqual(
    r.prompt.texts.filter((_, i) => r.prompt.special[i]),
    ['<s>', '</s>', '<s>', '</s>', '<s>'],
  );
  assert.equal(r.prompt.roles.at(-1), 'assistant');
  const got = await drain(r.sessions[0]);
  const eos = CHAT_CHARS.length + 1;
  assert.ok(got.every((t, i) => (t.id === eos) === (i === got.length - 1 && t.finish === 'stopToken')));
});

test('a base vocabulary that cannot spell the transcript is told why', async () => {
  const tokenizer = new CharTokenizer('lowercase', [...'\n abcdefghijklmnopqrstuvwxyz?']);
  const ck = await chatCheckpoint(root, { chatTokens: false, tokenizer, name: 'lowercase' });
  await assert.rejects(
    start(ck, [{ role: 'user', content: 'who are you?' }]),
    /no chat tokens, so it gets the conversation as a "User: …\\nAssistant:" transcript, which its tokenizer cannot encode: .*"U"/,
  );
});

test('a conversation longer than the block: the model sees its last blockSize tokens, and is told so', async () => {
  const ck = await chatCheckpoint(root, { chatTokens: true, name: 'long', blockSize: 32 });
  const r = await start(ck, [{ role: 'user', content: 'a long question '.repeat(4) }]);
  assert.equal(r.prompt.ids.length, 32);
  assert.equal(r.prompt.roles.length, 32);
  assert.match(r.prompt.notes[0], /the model sees the last 32/);
  await runSamplerJob({ kind: 'samplerClose', sessions: r.sessions });
});

test('the Chat webview validator accepts exactly the protocol', () => {
  const send = { type: 'send', messages: conversation, params, answers: 2 };
  const good = [
    { type: 'ready' },
    { type: 'stop' },
    { type: 'endCompare' },
    send,
    { ...send, messages: [{ role: 'user', content: '' }] },
    {
      ...send,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'yo' },
        { role: 'user', content: '?' },
      ],
    },
    { type: 'pickCheckpoint', slot: 'main' },
    { type: 'pickCheckpoint', slot: 'compare' },
    { type: 'openInSampler', answer: 3, index: 0 },
    { ...send, tools: true },
    { ...send, tools: false },
  ];
  for (const m of good) assert.ok(isChatWebviewMessage(m), JSON.stringify(m));
  const bad: unknown[] = [
    null,
    'send',
    [],
    { type: 'nope' },
    { type: 'ready', extra: 1 },
    { ...send, tools: 'yes' },
    { ...send, tools: ['python'] },
    { ...send, tools: 1 },
    { ...send, tools: null },
    { ...send, toolz: true },
    { ...send, answers: 0 },
    { ...send, answers: 9 },
    { ...send, answers: 1.5 },
    { ...send, params: { ...params, temperature: -1 } },
    { ...send, params: { ...params, maxTokens: 1e6 } },
    { ...send, params: { ...params, stop: 'x' } },
    { ...send, params: { ...params, extra: 1 } },
    { ...send, messages: [] },
    { ...send, messages: 'hi' },
    { ...send, messages: [{ role: 'assistant', content: 'yo' }] },
    { ...send, messages: [{ role: 'tool', content: 'x' }] },
    { ...send, messages: [{ role: 'user', content: 1 }] },
    { ...send, messages: [{ role: 'user', content: 'x', name: 'y' }] },
    { ...send, messages: [{ role: 'user', content: 'x'.repeat(100_001) }] },
    { ...send, messages: Array.from({ length: 201 }, () => ({ role: 'user', content: 'x' })) },
    {
      ...send,
      messages: [
        { role: 'user', content: 'x' },
        { role: 'system', content: 'late' },
        { role: 'user', content: 'y' },
      ],
    },
    { type: 'send', messages: conversation, params },
    { type: 'pickCheckpoint' },
    { type: 'pickCheckpoint', slot: 'other' },
    { type: 'openInSampler', answer: -1, index: 0 },
    { type: 'openInSampler', answer: 1, index: '2' },
    { type: 'openInSampler', answer: 1 },
  ];
  for (const m of bad) assert.equal(isChatWebviewMessage(m), false, JSON.stringify(m)?.slice(0, 120));
});
