/**
 * The tool loop against a scripted model: a stand-in for the KV-cache model whose every next token is
 * fixed by a script (a one-hot distribution), so the token stream generation produces can be written out
 * by hand: the call the model writes, the output forced after <|tool_end|> (what the tool really returns),
 * the forced tokens fed to the model in order, errors going into the context, banned tokens, and abort.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withChatTokens } from '../../src/engine/chat/chatTokenizer';
import type { KvCache, KvCacheModel } from '../../src/engine/model/kvCache';
import { generateTokens, type GeneratedToken } from '../../src/engine/sample/generate';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { calculator } from '../../src/engine/tools/calculator';
import { clip, encodeLossy, parseCall, toolForcer, toolsOff } from '../../src/engine/tools/toolLoop';
import type { Tool } from '../../src/engine/tools/tool';

const base = new CharTokenizer('chars', [...'\n *+/0123456789=abcdefghijklmnopqrstuvwxyzE:?()".,-<>|_']);
const { tokenizer: tok, chat } = withChatTokens(base, { tools: true });
const tools = chat.tools!;
const plain = (s: string) => tok.encode(s, { disallowedSpecial: new Set() });
const V = tok.vocabSize;

/**
 * A model that writes `script`: it predicts the script's next token and moves on when it is fed that
 * token (so tokens forced in between do not move it), and records every token it is fed.
 */
function scripted(script: number[]) {
  const fed: number[] = [];
  let at = 0;
  const next = () => {
    const logits = new Float32Array(V).fill(-30);
    logits[script[Math.min(at, script.length - 1)]] = 30;
    return logits;
  };
  const m = {
    config: { blockSize: 512, vocabSize: V },
    newCache: () => ({ tokens: [], slides: 0 }) as unknown as KvCache,
    prefill: async (cache: KvCache, ids: number[]) => {
      cache.tokens.push(...ids);
      return next();
    },
    append: async (cache: KvCache, id: number) => {
      cache.tokens.push(id);
      fed.push(id);
      if (id === script[at]) at++;
      return next();
    },
  } as unknown as KvCacheModel;
  return { m, fed };
}

/** The script of a model that calls `name` on `input` and then writes `after`. */
const calling = (name: string, input: string, after: string) => [
  tools.toolStart,
  ...plain(`${name}\n${input}`),
  tools.toolEnd,
  ...plain(after),
  chat.imEnd,
];

async function run(script: number[], toolList: Tool[], o: { banned?: number[]; signal?: AbortSignal } = {}) {
  const { m, fed } = scripted(script);
  const out: GeneratedToken[] = [];
  const force = toolForcer({ tokens: tools, tokenizer: tok, tools: toolList, signal: o.signal });
  for await (const t of generateTokens(
    m,
    plain('1'),
    { temperature: 0, maxTokens: 40, stopTokens: [chat.imEnd], bannedTokens: o.banned },
    { decode: (ids) => tok.decode(ids), force, signal: o.signal },
  ))
    out.push(t);
  return { out, fed, text: tok.decode(out.map((t) => t.id)) };
}

test('a call is run and its output forced into the context; the model goes on after it', async () => {
  const { out, fed, text } = await run(calling('calculator', '12*34', '=='), [calculator]);
  assert.equal(
    text,
    '<|tool_start|>calculator\n12*34<|tool_end|><|output_start|>408<|output_end|>==<|im_end|>',
  );
  const forced = out.filter((t) => t.forced).map((t) => t.id);
  assert.deepEqual(forced, [tools.outputStart, ...plain('408'), tools.outputEnd]);
  // the model was fed the forced tokens right after <|tool_end|>, in order
  const end = fed.indexOf(tools.toolEnd);
  assert.deepEqual(fed.slice(end + 1, end + 1 + forced.length), forced);
  const first = out.find((t) => t.forced)!;
  assert.deepEqual(
    { ...first.tool!, ms: 0 },
    { name: 'calculator', input: '12*34', ok: true, output: '408', ms: 0 },
  );
  assert.equal(out.filter((t) => t.tool).length, 1);
  // positions run on through the forced tokens; forced tokens do not count towards maxTokens
  assert.deepEqual(
    out.map((t) => t.position),
    out.map((_, i) => 1 + i),
  );
  assert.equal(out.at(-1)!.finish, 'stopToken');
});

test('errors go into the context and sampling goes on', async () => {
  const unknown = await run(calling('search', 'x', '=='), [calculator]);
  assert.match(
    unknown.text,
    /<\|output_start\|>Error: there is no tool "search" \(tools: calculator\)<\|output_end\|>==<\|im_end\|>$/,
  );
  const bad = await run(calling('calculator', '1/0', '=='), [calculator]);
  assert.match(bad.text, /<\|output_start\|>Error: division by zero<\|output_end\|>==/);
  const throws: Tool = { name: 'python', run: () => Promise.reject(new Error('worker died')) };
  const died = await run(calling('python', 'x', '=='), [throws]);
  assert.match(died.text, /<\|output_start\|>Error: worker died<\|output_end\|>==/);
  const orphan = await run([...plain('2'), tools.toolEnd, ...plain('=='), chat.imEnd], [calculator]);
  assert.match(
    orphan.text,
    /^2<\|tool_end\|><\|output_start\|>Error: the call has no <\|tool_start\|><\|output_end\|>==/,
  );
});

test('output the tokenizer cannot spell is replaced, long output is cut', async () => {
  const echo: Tool = { name: 'python', run: async (input) => ({ ok: true, output: input, ms: 1 }) };
  const { out } = await run(calling('python', 'e', '=='), [
    { ...echo, run: async () => ({ ok: true, output: 'ÄxÖ9', ms: 1 }) },
  ]);
  assert.equal(out.find((t) => t.tool)!.tool!.output, 'ÄxÖ9');
  assert.deepEqual(encodeLossy(tok, 'ÄxÖ9'), plain('?x?9'));
  assert.equal(clip('abcdef', 4), 'abc…');
  assert.equal(clip('abcd', 4), 'abcd');
  assert.deepEqual(parseCall('calculator\n1 +\n2'), { name: 'calculator', input: '1 +\n2' });
  assert.deepEqual(parseCall(' python '), { name: 'python', input: '' });
});

test('banned tool tokens: the model cannot open a call; stopping ends a running tool', async () => {
  // the script wants <|tool_start|> first; banned, the next best is drawn instead (its logit -30 ties: id 0)
  const off = await run(calling('calculator', '1+1', '=='), [calculator], { banned: toolsOff(tools) });
  assert.ok(!off.out.some((t) => t.id === tools.toolStart || t.forced));
  assert.equal(off.out[0].id, 0);
  const abort = new AbortController();
  const slow: Tool = {
    name: 'python',
    run: (_, o) =>
      new Promise((_resolve, reject) => {
        o.signal?.addEventListener('abort', () => reject(o.signal!.reason as Error));
        setTimeout(() => abort.abort(new Error('stopped by the user')), 10);
      }),
  };
  await assert.rejects(
    run(calling('python', 'x', '=='), [slow], { signal: abort.signal }),
    /stopped by the user/,
  );
});
