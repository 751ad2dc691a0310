/**
 * ChatML rendering against the references: its text equals @huggingface/jinja's rendering of the standard
 * ChatML template, its ids equal transformers.js's apply_chat_template on a tokenizer.json + tokenizer_config.json
 * that carry the template (a small BPE trained here, offline), and its loss weights cover exactly each
 * answer and its <|im_end|> (checked by decoding the weighted runs) and equal those the template path
 * (chatTemplate.ts) finds by rendering prefixes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Message } from '../../src/engine/chat/conversation';
import {
  CHATML_TEMPLATE,
  chatMLText,
  IM_END,
  IM_START,
  renderChatML,
  type ChatTokens,
  type RenderedChat,
} from '../../src/engine/chat/chatml';
import {
  chatTemplateOf,
  renderChatTemplate,
  renderChatTemplateTokens,
  templateSpecialTokens,
} from '../../src/engine/chat/chatTemplate';
import type { BpeTokenizer } from '../../src/engine/tokenizer/bpe';
import { bpeToHuggingFaceJson, huggingFaceTokenizerConfig } from '../../src/engine/tokenizer/toHuggingFace';
import { trainBpe, trainedTokenizer } from '../../src/engine/tokenizer/train';

const conversations: Message[][] = [
  [
    { role: 'user', content: 'Who are you?' },
    { role: 'assistant', content: 'I am Lens, a small model made by the LLM Lens team.' },
  ],
  [
    { role: 'system', content: 'You answer with the work shown.' },
    { role: 'user', content: 'What is 47 + 38?' },
    { role: 'assistant', content: '7 + 8 = 15: write 5, carry 1.\n4 + 3 + 1 = 8.\nSo 47 + 38 = 85.' },
    { role: 'user', content: 'And 85 - 38?' },
    { role: 'assistant', content: 'It is 47.' },
  ],
  [
    { role: 'user', content: 'Spell "fraise" 🍓 — ünïcödé' },
    { role: 'assistant', content: '' },
    { role: 'user', content: 'Hm?' },
  ],
];

/** Zephyr's template: other markers, the eos_token from tokenizer_config.json. */
const ZEPHYR =
  "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token + '\n' }}" +
  "{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token + '\n' }}" +
  "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }}{% endif %}" +
  "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}{% endfor %}";

interface Fixture {
  bpe: BpeTokenizer;
  tokens: ChatTokens;
  encode: (text: string) => number[];
  tjs: (
    name: string,
  ) => Promise<{ apply_chat_template(m: Message[], o: object): number[] | string; config: object }>;
  root: string;
}

let fixture: Promise<Fixture> | undefined;
/** A BPE trained on the conversations' text with the chat tokens as specials, written as two HF folders. */
function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const corpus = conversations.map((c) => chatMLText(c)).join('') + 'assistant\nuser\nsystem\n'.repeat(20);
    const specials = [IM_START, IM_END, '<|user|>', '<|assistant|>', '<|system|>', '</s>'];
    const bpe = trainedTokenizer(await trainBpe(corpus, { vocabSize: 330, specialTokens: specials }));
    const root = mkdtempSync(join(tmpdir(), 'llm-lens-chat-template-'));
    const write = (name: string, template: string) => {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, 'tokenizer.json'), bpeToHuggingFaceJson(bpe));
      const config = JSON.parse(huggingFaceTokenizerConfig(bpe, 256));
      writeFileSync(
        join(root, name, 'tokenizer_config.json'),
        JSON.stringify({ ...config, eos_token: '</s>', chat_template: template }),
      );
    };
    write('chatml', CHATML_TEMPLATE);
    write('zephyr', ZEPHYR);
    const lib = await import('@huggingface/transformers');
    lib.env.allowRemoteModels = false;
    lib.env.localModelPath = root;
    const tjs = async (name: string) =>
      (await lib.AutoTokenizer.from_pretrained(name, { local_files_only: true })) as unknown as Awaited<
        ReturnType<Fixture['tjs']>
      >;
    const tokens = { imStart: bpe.specialTokens.get(IM_START)!, imEnd: bpe.specialTokens.get(IM_END)! };
    const encode = (text: string) => bpe.encode(text, { disallowedSpecial: new Set() });
    return { bpe, tokens, encode, tjs, root };
  })();
  return fixture;
}

/** Maximal runs of weight-1 tokens, decoded. */
function weightedRuns(bpe: BpeTokenizer, r: RenderedChat): string[] {
  const runs: string[] = [];
  let run: number[] = [];
  r.ids.forEach((id, i) => {
    if (r.weights[i]) run.push(id);
    if ((!r.weights[i] || i === r.ids.length - 1) && run.length) {
      runs.push(bpe.decode(run));
      run = [];
    }
  });
  return runs;
}

test('ChatML text equals @huggingface/jinja rendering the standard ChatML template', async () => {
  const { Template } = await import('@huggingface/jinja');
  const jinja = new Template(CHATML_TEMPLATE);
  for (const messages of conversations)
    for (const addGenerationPrompt of [false, true])
      assert.equal(
        chatMLText(messages, { addGenerationPrompt }),
        jinja.render({ messages, add_generation_prompt: addGenerationPrompt }),
      );
});

test("ChatML ids equal transformers.js's apply_chat_template on a tokenizer.json with the template", async () => {
  const f = await getFixture();
  const tjs = await f.tjs('chatml');
  for (const messages of conversations)
    for (const add_generation_prompt of [false, true]) {
      const ours = renderChatML(messages, f.tokens, f.encode, { addGenerationPrompt: add_generation_prompt });
      const opts = { add_generation_prompt, return_tensor: false, return_dict: false };
      assert.deepEqual(ours.ids, tjs.apply_chat_template(messages, { ...opts, tokenize: true }));
      assert.equal(f.bpe.decode(ours.ids), tjs.apply_chat_template(messages, { ...opts, tokenize: false }));
      assert.ok(ours.ids.filter((id) => id === f.tokens.imStart).length >= messages.length);
    }
});

test('loss weights: exactly each answer and its <|im_end|>; headers, user and system text 0', async () => {
  const f = await getFixture();
  for (const messages of conversations) {
    const r = renderChatML(messages, f.tokens, f.encode);
    assert.equal(r.ids.length, r.weights.length);
    assert.equal(r.ids.length, r.roles.length);
    const answers = messages.filter((m) => m.role === 'assistant').map((m) => m.content + IM_END);
    assert.deepEqual(weightedRuns(f.bpe, r), answers);
    // every token with weight 1 belongs to an assistant turn, and every turn's first token is <|im_start|>
    r.weights.forEach((w, i) => w && assert.equal(r.roles[i], 'assistant'));
    const prompt = renderChatML(messages, f.tokens, f.encode, { addGenerationPrompt: true });
    const tail = prompt.ids.slice(r.ids.length);
    assert.deepEqual(prompt.ids.slice(0, r.ids.length), r.ids);
    assert.equal(f.bpe.decode(tail), `${IM_START}assistant\n`);
    assert.deepEqual(prompt.weights.slice(r.ids.length), new Array(tail.length).fill(0));
  }
});

test('the template path (prefix renders) finds the same ids, weights and roles as renderChatML', async () => {
  const f = await getFixture();
  const template = chatTemplateOf({ chat_template: CHATML_TEMPLATE })!;
  for (const messages of conversations)
    for (const addGenerationPrompt of [false, true])
      assert.deepEqual(
        renderChatTemplateTokens(template, messages, f.bpe, { addGenerationPrompt }),
        renderChatML(messages, f.tokens, f.encode, { addGenerationPrompt }),
      );
});

test("another template (Zephyr's, eos_token from the config): text as transformers.js, answers weighted", async () => {
  const f = await getFixture();
  const tjs = await f.tjs('zephyr');
  const config = { eos_token: '</s>', chat_template: [{ name: 'default', template: ZEPHYR }] };
  const template = chatTemplateOf(config)!;
  const specialTokens = templateSpecialTokens(config);
  for (const messages of conversations) {
    const opts = { add_generation_prompt: true, return_tensor: false, return_dict: false };
    const text = renderChatTemplate(template, messages, { addGenerationPrompt: true, specialTokens });
    assert.equal(text, tjs.apply_chat_template(messages, { ...opts, tokenize: false }));
    const r = renderChatTemplateTokens(template, messages, f.bpe, {
      addGenerationPrompt: true,
      specialTokens,
    });
    assert.deepEqual(r.ids, tjs.apply_chat_template(messages, { ...opts, tokenize: true }));
    const answers = messages.filter((m) => m.role === 'assistant').map((m) => m.content + '</s>');
    assert.deepEqual(weightedRuns(f.bpe, r), answers);
    assert.equal(r.roles.at(-1), 'assistant'); // the generation prompt
    assert.equal(r.roles[0], messages[0].role);
  }
});

test('a template that rewrites earlier turns is refused; named templates need a default', () => {
  const counting = "{{ messages|length }}{% for m in messages %}{{ m['content'] }}{% endfor %}";
  assert.throws(
    () =>
      renderChatTemplateTokens(counting, conversations[0], {
        encodeWithOffsets: () => [],
      }),
    /does not begin the whole conversation/,
  );
  assert.throws(() => chatTemplateOf({ chat_template: [{ name: 'tool_use', template: 'x' }] }), /"default"/);
  assert.equal(chatTemplateOf({}), undefined);
  assert.deepEqual(templateSpecialTokens({ bos_token: { content: '<s>' }, eos_token: null }), {
    bos_token: '<s>',
  });
});
