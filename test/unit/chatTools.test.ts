/**
 * Tool calls in conversations: the JSONL forms read (ours and OpenAI's), the orders refused with the
 * line and the reason, and the rendering: its text equals @huggingface/jinja rendering
 * CHATML_TOOLS_TEMPLATE (which on a conversation without tools equals the plain ChatML template's), its
 * tokens spell exactly that text, and only the assistant's content and calls carry loss, never the
 * forced tool output.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CHATML_TEMPLATE,
  CHATML_TOOLS_TEMPLATE,
  chatMLText,
  renderChatML,
} from '../../src/engine/chat/chatml';
import { withChatTokens } from '../../src/engine/chat/chatTokenizer';
import { parseConversation, type Message } from '../../src/engine/chat/conversation';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';

const line = (messages: unknown[]) => JSON.stringify({ messages });
const CALC: unknown[] = [
  { role: 'user', content: 'What is 347 * 582?' },
  { role: 'assistant', content: '', tool_calls: [{ name: 'calculator', input: '347 * 582' }] },
  { role: 'tool', content: '201954' },
  { role: 'assistant', content: '347 * 582 = 201954.' },
];

test('tool calls are read in our form and in OpenAI form', () => {
  const c = parseConversation(line(CALC), 't.jsonl', 1);
  assert.deepEqual(c.messages, [
    { role: 'user', content: 'What is 347 * 582?' },
    { role: 'assistant', content: '', toolCalls: [{ name: 'calculator', input: '347 * 582' }] },
    { role: 'tool', content: '201954' },
    { role: 'assistant', content: '347 * 582 = 201954.' },
  ]);
  const openai = [
    CALC[0],
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ type: 'function', function: { name: 'calculator', arguments: '347 * 582' } }],
    },
    { role: 'tool', name: 'calculator', content: '201954' },
    CALC[3],
  ];
  assert.deepEqual(parseConversation(line(openai), 't.jsonl', 1).messages, c.messages);
});

test('tool calls out of order are refused with file:line and the reason', () => {
  const bad: [unknown[], RegExp][] = [
    [[CALC[0], CALC[1], CALC[3]], /t\.jsonl:7: message 2 makes 1 more tool call than the tool messages/],
    [[CALC[0], CALC[1], CALC[2]], /the conversation ends with a tool output/],
    [[CALC[0], CALC[1], CALC[2], CALC[0], CALC[3]], /message 4 \(user\) follows a tool output/],
    [
      [CALC[0], CALC[1], { ...(CALC[2] as object), name: 'python' }, CALC[3]],
      /output of "python", but the call it answers \(message 2\) is to "calculator"/,
    ],
    [
      [CALC[0], { role: 'assistant', content: 'x', tool_calls: [] }, CALC[3]],
      /"tool_calls" must be a non-empty list/,
    ],
    [
      [
        CALC[0],
        { role: 'assistant', content: '', tool_calls: [{ name: 'Calc!', input: '1' }] },
        CALC[2],
        CALC[3],
      ],
      /tool call 1: "name" must be a tool name/,
    ],
    [
      [
        CALC[0],
        { role: 'assistant', content: '', tool_calls: [{ name: 'calculator', input: 3 }] },
        CALC[2],
        CALC[3],
      ],
      /tool call 1 \(calculator\): "input" must be a string, got a number/,
    ],
    [
      [{ role: 'user', content: 'x', tool_calls: [{ name: 'a', input: '' }] }, CALC[3]],
      /only assistant messages make "tool_calls"/,
    ],
  ];
  for (const [messages, want] of bad)
    assert.throws(() => parseConversation(line(messages), 't.jsonl', 7), want);
});

const TWO_CALLS: Message[] = [
  { role: 'system', content: 'Use tools.' },
  { role: 'user', content: 'r in cherry, and 2*3?' },
  {
    role: 'assistant',
    content: 'Two calls.',
    toolCalls: [
      { name: 'python', input: 'print("cherry".count("r"))' },
      { name: 'calculator', input: '2*3' },
    ],
  },
  { role: 'tool', content: '2\n' },
  { role: 'tool', content: '6' },
  { role: 'assistant', content: 'So 2 and 6.' },
  { role: 'user', content: 'Thanks' },
  { role: 'assistant', content: 'Welcome.' },
];

test('the text of tool conversations equals @huggingface/jinja rendering CHATML_TOOLS_TEMPLATE', async () => {
  const { Template } = await import('@huggingface/jinja');
  const tools = new Template(CHATML_TOOLS_TEMPLATE);
  const plain = new Template(CHATML_TEMPLATE);
  const jinjaMessages = (ms: Message[]) =>
    ms.map((m) => ({
      role: m.role,
      content: m.content,
      ...(m.toolCalls ? { tool_calls: m.toolCalls } : {}),
    }));
  const calc = parseConversation(line(CALC), 't', 1).messages;
  for (const ms of [calc, TWO_CALLS])
    for (const addGenerationPrompt of [false, true])
      assert.equal(
        chatMLText(ms, { addGenerationPrompt }),
        tools.render({ messages: jinjaMessages(ms), add_generation_prompt: addGenerationPrompt }),
      );
  assert.equal(
    chatMLText(calc),
    '<|im_start|>user\nWhat is 347 * 582?<|im_end|>\n<|im_start|>assistant\n<|tool_start|>calculator\n347 * 582<|tool_end|>' +
      '<|output_start|>201954<|output_end|>347 * 582 = 201954.<|im_end|>\n',
  );
  const noTools: Message[] = [TWO_CALLS[0], TWO_CALLS[1], TWO_CALLS[7]];
  assert.equal(
    tools.render({ messages: noTools, add_generation_prompt: true }),
    plain.render({ messages: noTools, add_generation_prompt: true }),
  );
});

test('tool conversations render to tokens with loss on the content and calls only', () => {
  const chars = [...new Set(chatMLText(TWO_CALLS).replace(/<\|[a-z_]+\|>/g, ''))].sort().join('');
  const base = new CharTokenizer('chars', [...chars]);
  assert.throws(
    () => renderChatML(TWO_CALLS, withChatTokens(base).chat, (s) => base.encode(s)),
    /no tool tokens/,
  );
  const { tokenizer, chat } = withChatTokens(base, { tools: true });
  assert.deepEqual(chat.tools, {
    toolStart: chars.length + 2,
    toolEnd: chars.length + 3,
    outputStart: chars.length + 4,
    outputEnd: chars.length + 5,
  });
  const r = renderChatML(TWO_CALLS, chat, (s) => tokenizer.encode(s, { disallowedSpecial: new Set() }));
  assert.equal(tokenizer.decode(r.ids), chatMLText(TWO_CALLS));
  // the runs of weight 1, decoded, are exactly what the assistant writes
  const runs: string[] = [];
  let run: number[] = [];
  r.ids.forEach((id, i) => {
    if (r.weights[i]) run.push(id);
    if ((!r.weights[i] || i === r.ids.length - 1) && run.length) {
      runs.push(tokenizer.decode(run));
      run = [];
    }
  });
  assert.deepEqual(runs, [
    'Two calls.<|tool_start|>python\nprint("cherry".count("r"))<|tool_end|><|tool_start|>calculator\n2*3<|tool_end|>',
    'So 2 and 6.<|im_end|>',
    'Welcome.<|im_end|>',
  ]);
  const toolText = tokenizer.decode(r.ids.filter((_, i) => r.roles[i] === 'tool'));
  assert.equal(toolText, '<|output_start|>2\n<|output_end|><|output_start|>6<|output_end|>');
});
