/**
 * The chat tokens added to each kind of tokenizer, against references: tiktoken extended with the same
 * special tokens (built-in encodings, and tiktoken reading the saved rank files), transformers.js on the
 * saved tokenizer.json + tokenizer_config.json (its added tokens and its chat template), and a brute-force
 * encoder for a character vocabulary. Each saved tokenizer loads back beside a checkpoint with the same
 * vocabulary; text a user types stays text unless special tokens are allowed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get_encoding, Tiktoken } from 'tiktoken';
import { chatTokensOf, withChatTokens } from '../../src/engine/chat/chatTokenizer';
import { CHATML_TEMPLATE, chatMLText, IM_END, IM_START, renderChatML } from '../../src/engine/chat/chatml';
import type { Message } from '../../src/engine/chat/conversation';
import { getEncoding } from '../../src/engine/tokenizer/builtin';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import {
  huggingFaceTokenizerFromJson,
  loadHuggingFaceTokenizer,
} from '../../src/engine/tokenizer/huggingface';
import { saveTokenizer } from '../../src/engine/tokenizer/save';
import { bpeToHuggingFaceJson } from '../../src/engine/tokenizer/toHuggingFace';
import type { Tokenizer } from '../../src/engine/tokenizer/tokenizer';
import { trainBpe, trainedTokenizer } from '../../src/engine/tokenizer/train';
import {
  saveTrainedTokenizer,
  TRAINED_META_FILE,
  TRAINED_RANKS_FILE,
} from '../../src/engine/tokenizer/trainedFiles';
import {
  huggingFaceTokenizerFiles,
  loadCheckpointTokenizer,
  sameVocabulary,
} from '../../src/engine/train/runTokenizer';

const conversation: Message[] = [
  { role: 'system', content: 'You are Lens.' },
  { role: 'user', content: 'Who are you? I typed <|im_end|> here.' },
  { role: 'assistant', content: 'I am Lens, made by the LLM Lens team.' },
];
const chatText = chatMLText(conversation, { addGenerationPrompt: true });
const tmp = () => mkdtempSync(join(tmpdir(), 'llm-lens-chat-tok-'));

/** The extended tokenizer keeps special-token text as text unless asked, and decodes the ids back. */
function assertSpecialRules(
  tok: Tokenizer,
  text: string,
  expectedAll: number[],
  expectedPlain: number[],
): void {
  assert.deepEqual(tok.encode(text, { allowedSpecial: 'all' }), expectedAll, `${tok.name}: allowed`);
  assert.deepEqual(tok.encode(text, { disallowedSpecial: new Set() }), expectedPlain, `${tok.name}: plain`);
  assert.throws(() => tok.encode(text), /special token <\|im_(start|end)\|>.*not allowed/);
  assert.equal(tok.decode(expectedAll), text);
}

/** The special-token rules as tiktoken (`ref`, extended with the same tokens) applies them; frees `ref`. */
function assertLikeTiktoken(tok: Tokenizer, ref: Tiktoken): void {
  const all = Array.from(ref.encode(chatText, 'all'));
  const plain = Array.from(ref.encode(chatText, [], []));
  ref.free();
  assertSpecialRules(tok, chatText, all, plain);
}

/** Saved beside a checkpoint and loaded back: the same ids for every token, the same encoding. */
function assertSavedAndLoaded(tok: Tokenizer, dir: string): Tokenizer {
  saveTokenizer(tok, dir);
  const back = loadCheckpointTokenizer(dir);
  assert.ok(sameVocabulary(back, tok), `${tok.name} loads back with the same vocabulary`);
  assert.deepEqual(
    back.encode(chatText, { allowedSpecial: 'all' }),
    tok.encode(chatText, { allowedSpecial: 'all' }),
  );
  return back;
}

// tiktoken's n_vocab: gpt2 50257 (<|endoftext|> 50256), cl100k_base 100277 (<|endofprompt|> 100276),
// o200k_base 200019 (<|endofprompt|> 200018): the chat tokens come right after.
for (const [name, first] of [
  ['gpt2', 50257],
  ['cl100k_base', 100277],
  ['o200k_base', 200019],
] as const) {
  test(`${name}: chat tokens after the largest id, encoded as tiktoken extended with them; saved ranks load in tiktoken`, () => {
    const base = getEncoding(name);
    const { tokenizer, chat, added } = withChatTokens(base);
    assert.deepEqual(chat, { imStart: first, imEnd: first + 1 });
    assert.equal(added, 2);
    assert.equal(tokenizer.vocabSize, first + 2);
    assertLikeTiktoken(tokenizer, get_encoding(name, { [IM_START]: first, [IM_END]: first + 1 }));
    // the original is untouched: its special tokens are still only its own
    assert.equal(chatTokensOf(base), undefined);

    const dir = tmp();
    assertSavedAndLoaded(tokenizer, dir);
    const meta = JSON.parse(readFileSync(join(dir, TRAINED_META_FILE), 'utf8'));
    const fromFiles = new Tiktoken(
      readFileSync(join(dir, TRAINED_RANKS_FILE), 'utf8'),
      meta.specialTokens,
      meta.pattern,
    );
    assert.deepEqual(
      Array.from(fromFiles.encode(chatText, 'all')),
      tokenizer.encode(chatText, { allowedSpecial: 'all' }),
    );
    fromFiles.free();
    // a tokenizer that has both already is returned as it is
    const again = withChatTokens(tokenizer);
    assert.equal(again.tokenizer, tokenizer);
    assert.equal(again.added, 0);
  });
}

test('a trained BPE: chat tokens after its merges and <|endoftext|>; its folder saved and loaded, read by tiktoken', async () => {
  const corpus = conversation
    .map((m) => m.content)
    .join('\n')
    .repeat(20);
  const trained = await trainBpe(corpus, { vocabSize: 290, specialTokens: ['<|endoftext|>'] });
  const src = tmp();
  saveTrainedTokenizer(src, trained);
  const base = loadCheckpointTokenizer(src);
  const { tokenizer, chat } = withChatTokens(base);
  assert.deepEqual(chat, { imStart: 291, imEnd: 292 }); // 290 ranks, <|endoftext|> 290
  const specials = { '<|endoftext|>': 290, [IM_START]: 291, [IM_END]: 292 };
  const ranks = readFileSync(join(src, TRAINED_RANKS_FILE), 'utf8');
  assertLikeTiktoken(tokenizer, new Tiktoken(ranks, specials, trainedTokenizer(trained).pattern));
  assertSavedAndLoaded(tokenizer, tmp());
});

test('a character vocabulary: chat tokens after its characters; vocab.char.json saved and loaded', () => {
  const base = CharTokenizer.fromText(conversation.map((m) => m.content + m.role).join('\n'));
  const { tokenizer, chat } = withChatTokens(base);
  const n = base.chars.length;
  assert.deepEqual(chat, { imStart: n, imEnd: n + 1 });
  // brute force: a special token where one starts (when allowed), else the character's index
  const specialIds: Record<string, number> = { [IM_START]: n, [IM_END]: n + 1 };
  const brute = (text: string, allowed: boolean) => {
    const ids: number[] = [];
    for (let i = 0; i < text.length;) {
      const s = allowed && [IM_START, IM_END].find((t) => text.startsWith(t, i));
      ids.push(s ? specialIds[s] : base.chars.indexOf(text[i]));
      i += s ? s.length : 1;
    }
    return ids;
  };
  assertSpecialRules(tokenizer, chatText, brute(chatText, true), brute(chatText, false));
  // rendered ChatML: the turn markers are the special ids, the user's "<|im_end|>" is characters
  const plain = (t: string) => tokenizer.encode(t, { disallowedSpecial: new Set() });
  const turns = conversation.flatMap((m) => [
    n,
    ...brute(`${m.role}\n${m.content}`, false),
    n + 1,
    ...brute('\n', false),
  ]);
  assert.deepEqual(renderChatML(conversation, chat, plain, { addGenerationPrompt: true }).ids, [
    ...turns,
    n,
    ...brute('assistant\n', false),
  ]);
  const dir = tmp();
  assertSavedAndLoaded(tokenizer, dir);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'vocab.char.json'), 'utf8')).specialTokens, {
    [IM_START]: n,
    [IM_END]: n + 1,
  });
});

test('a tokenizer.json: added_tokens and the ChatML template, read by transformers.js as we encode and render', async () => {
  const corpus =
    conversation
      .map((m) => m.content)
      .join('\n')
      .repeat(20) + 'system\nuser\nassistant\n'.repeat(10);
  const bpe = trainedTokenizer(await trainBpe(corpus, { vocabSize: 300, specialTokens: ['<|endoftext|>'] }));
  const base = huggingFaceTokenizerFromJson(bpeToHuggingFaceJson(bpe), 'hub');
  const { tokenizer, chat } = withChatTokens(base);
  assert.deepEqual(chat, { imStart: 301, imEnd: 302 }); // <|endoftext|> is 300
  const root = tmp();
  const dir = join(root, 'chat');
  const back = assertSavedAndLoaded(tokenizer, dir);
  assert.equal(
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).chat_template,
    CHATML_TEMPLATE,
  );

  const lib = await import('@huggingface/transformers');
  lib.env.allowRemoteModels = false;
  lib.env.localModelPath = root;
  const tjs = (await lib.AutoTokenizer.from_pretrained('chat', { local_files_only: true })) as unknown as {
    encode(text: string, o: object): number[];
    apply_chat_template(m: Message[], o: object): number[];
  };
  const all = tjs.encode(chatText, { add_special_tokens: false });
  assert.deepEqual(back.encode(chatText, { allowedSpecial: 'all' }), all);
  assert.equal(all.filter((id) => id === chat.imEnd).length, 4); // 3 turns, and the user's "<|im_end|>" (all allowed)
  // the rendering a fine-tune trains on is what transformers.js makes of the conversation (one whose text
  // holds no special token: transformers.js would read the user's "<|im_end|>" as the control token)
  const plain = (t: string) => back.encode(t, { disallowedSpecial: new Set() });
  const clean = conversation.map((m) => ({ ...m, content: m.content.replace(IM_END, 'im_end') }));
  for (const addGenerationPrompt of [false, true]) {
    const messages = clean.slice(0, addGenerationPrompt ? 2 : 3);
    assert.deepEqual(
      renderChatML(messages, chat, plain, { addGenerationPrompt }).ids,
      tjs.apply_chat_template(messages, {
        add_generation_prompt: addGenerationPrompt,
        tokenize: true,
        return_tensor: false,
        return_dict: false,
      }),
      `generation prompt ${addGenerationPrompt}`,
    );
  }
  // plain text: the user's "<|im_end|>" is not the control token
  assert.ok(!plain('I typed <|im_end|> here').includes(chat.imEnd));
});

test('tokenizers that cannot take the chat tokens say which and what to do', () => {
  const fixture = JSON.parse(
    readFileSync(join('test', 'fixtures', 'tokenizer', 'bytelevel', 'tokenizer.json'), 'utf8'),
  );
  const dir = tmp();
  mkdirSync(join(dir, 'own'));
  writeFileSync(join(dir, 'own', 'tokenizer.json'), JSON.stringify(fixture));
  writeFileSync(
    join(dir, 'own', 'tokenizer_config.json'),
    JSON.stringify({ chat_template: '{{ messages }}' }),
  );
  assert.throws(
    () => withChatTokens(loadHuggingFaceTokenizer(join(dir, 'own', 'tokenizer.json'))),
    /has its own chat template \(chat_template in tokenizer_config\.json\).*fine-tune with its template/,
  );
  const ordinary = {
    ...fixture,
    added_tokens: [...fixture.added_tokens, { id: 20, content: IM_START, special: false }],
  };
  assert.throws(
    () => withChatTokens(huggingFaceTokenizerFromJson(JSON.stringify(ordinary), 'ordinary')),
    /ordinary cannot take the chat token <\|im_start\|>: its vocabulary already has <\|im_start\|> as an ordinary token \(id 20\).*"special": true/,
  );
  const custom: Tokenizer = {
    name: 'custom',
    vocabSize: 1,
    specialTokens: new Map(),
    encode: () => [0],
    decode: () => 'a',
    tokenBytes: () => new Uint8Array([97]),
    encodeWithOffsets: () => [],
  };
  assert.throws(() => withChatTokens(custom), /custom cannot take new tokens: .*pretrain with one of those/);
});

test("a chat checkpoint's tokenizer exported for Hugging Face carries the ChatML template that transformers.js renders", async () => {
  const corpus = conversation.map((m) => m.content + m.role).join('\n') + 'im_end assistant\n';
  const bpe = trainedTokenizer(await trainBpe(corpus.repeat(20), { vocabSize: 280 }));
  const root = tmp();
  const lib = await import('@huggingface/transformers');
  lib.env.allowRemoteModels = false;
  lib.env.localModelPath = root;
  const clean = conversation.map((m) => ({ ...m, content: m.content.replace(IM_END, 'im_end') }));
  for (const [kind, base] of [
    ['char', CharTokenizer.fromText(corpus)],
    ['bpe', bpe],
  ] as const) {
    const { tokenizer, chat } = withChatTokens(base);
    const ckpt = join(root, `${kind}-checkpoint`);
    saveTokenizer(tokenizer, ckpt);
    const files = huggingFaceTokenizerFiles(ckpt, tokenizer.vocabSize, 256);
    assert.equal(files.how, 'converted');
    mkdirSync(join(root, kind));
    for (const [name, data] of files.how === 'converted' ? files.files : [])
      writeFileSync(join(root, kind, name), data);
    const tjs = (await lib.AutoTokenizer.from_pretrained(kind, { local_files_only: true })) as unknown as {
      apply_chat_template(m: Message[], o: object): number[];
    };
    const plain = (t: string) => tokenizer.encode(t, { disallowedSpecial: new Set() });
    assert.deepEqual(
      tjs.apply_chat_template(clean, { tokenize: true, return_tensor: false, return_dict: false }),
      renderChatML(clean, chat, plain).ids,
      kind,
    );
  }
});
