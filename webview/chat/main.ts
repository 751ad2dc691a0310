/**
 * The Chat panel: a system prompt, the conversation, a message box; the answers of the last turn stream
 * in token by token (several per turn: parallel universes; a second checkpoint's beside them when
 * comparing); the raw view shows the exact tokens each model sees, special tokens marked. Clicking an
 * answer's token opens it in the Sampler: the distribution it was drawn from, and attention.
 * By keyboard: Ctrl+Enter in the message box sends (as Send does); Shift+Tab from it reaches the answer's
 * tokens, the arrow keys move through them, Enter opens the focused one in the Sampler.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type {
  ChatHostMessage,
  ChatMessage,
  ChatModelInfo,
  ChatPrompt,
  ChatSlot,
  ChatWebviewMessage,
} from '../../src/protocol/chat';
import type { SampledToken, ToolOffer } from '../../src/protocol/sampler';
import { el } from '../common/dom';
import { toolsToggle } from '../common/toolsToggle';
import { samplingControls } from '../common/samplingControls';
import { streamCard, TOOL_OUT_TITLE, toolSpecial, type StreamCard } from '../common/streamCard';
import { hostBridge } from '../common/vscode';

interface State {
  checkpoint?: string;
  compare?: string;
  system: string;
  messages: ChatMessage[];
  /** The Tools toggle (on unless turned off). */
  tools?: boolean;
}
const host = hostBridge<ChatWebviewMessage, ChatHostMessage, State>();
const app = document.getElementById('app')!;
type Field = HTMLElement & { value: string };

const saved = host.getState();
const state: State = {
  system: saved?.system ?? '',
  messages: saved?.messages ?? [],
  tools: saved?.tools ?? true,
  ...pick(saved),
};
const models: Partial<Record<ChatSlot, ChatModelInfo>> = {};
interface Answer {
  slot: ChatSlot;
  card: StreamCard;
}
const answers = new Map<number, Answer>();
let chosen: number | undefined;
let prompts: Partial<Record<ChatSlot, ChatPrompt>> = {};

function pick(s?: State): Partial<State> {
  return { checkpoint: s?.checkpoint, compare: s?.compare };
}

const title = el('span', { id: 'model', class: 'model' }, 'No checkpoint');
const change = el('vscode-button', { id: 'change', secondary: true }, 'Checkpoint…');
change.addEventListener('click', () => host.post({ type: 'pickCheckpoint', slot: 'main' }));
const compareTitle = el('span', { id: 'compare-model', class: 'model' });
const compareBtn = el(
  'vscode-button',
  { id: 'compare', secondary: true, title: 'Answer the same turns with a second checkpoint, side by side' },
  'Compare with…',
);
compareBtn.addEventListener('click', () => host.post({ type: 'pickCheckpoint', slot: 'compare' }));
const endCompare = el(
  'vscode-button',
  { id: 'end-compare', secondary: true, hidden: true },
  'End comparison',
);
endCompare.addEventListener('click', () => host.post({ type: 'endCompare' }));
const baseNote = el('p', { id: 'base-note', class: 'banner', hidden: true });
const systemBox = el('vscode-textfield', {
  id: 'system',
  label: 'System prompt',
  placeholder: 'System prompt (optional)',
  title: 'The first turn of the conversation, role "system"',
}) as Field;
systemBox.value = state.system;
const controls = samplingControls({
  key: 'answers',
  label: 'Answers',
  title: 'parallel answers to the same turn (1–8)',
});
const tools = toolsToggle({
  checked: state.tools !== false,
  off: 'the same prompt without tools (the call token is banned)',
});
const { box: toolsBox, note: toolsNote } = tools;
toolsBox.addEventListener('change', () => {
  state.tools = toolsBox.checked;
  save();
});
let offer: ToolOffer = { names: [], note: '' };
const conversation = el('main', { id: 'conversation', class: 'conversation', 'aria-label': 'Conversation' });
const messageBox = el('vscode-textarea', {
  id: 'message',
  label: 'Message',
  rows: 3,
  placeholder: 'Message (Ctrl+Enter to send)',
  resize: 'vertical',
}) as Field;
const sendBtn = el(
  'vscode-button',
  { id: 'send', title: 'Send (Ctrl+Enter in the message box)', 'aria-keyshortcuts': 'Control+Enter' },
  'Send',
);
const regenerateBtn = el(
  'vscode-button',
  { id: 'regenerate', secondary: true, disabled: true, title: 'New answers to the last message' },
  'Regenerate',
);
const stopBtn = el('vscode-button', { id: 'stop', secondary: true, disabled: true }, 'Stop');
const newChat = el('vscode-button', { id: 'new-chat', secondary: true }, 'New chat');
const status = el(
  'p',
  { id: 'status', class: 'status', 'data-state': 'idle', role: 'status', 'aria-live': 'polite' },
  'Open a checkpoint to chat with.',
);
const raw = el('div', { id: 'raw', class: 'raw' });
const rawView = el(
  'details',
  { id: 'raw-view', class: 'raw-view' },
  el('summary', {}, 'Raw tokens: exactly what the model sees'),
  raw,
);
app.append(
  el('header', { class: 'toolbar' }, title, change, compareBtn, compareTitle, endCompare),
  baseNote,
  systemBox,
  el(
    'div',
    { class: 'toolbar' },
    controls.element,
    el('div', { class: 'tools-toggle' }, toolsBox, toolsNote),
  ),
  conversation,
  messageBox,
  el('div', { class: 'toolbar' }, sendBtn, regenerateBtn, stopBtn, newChat),
  status,
  rawView,
);

function setStatus(text: string, s: string): void {
  status.textContent = text;
  status.dataset.state = s;
}

function save(): void {
  state.system = systemBox.value ?? '';
  host.setState(state);
}

/** The conversation the model answers: the system prompt (if any), then the turns. */
function withSystem(messages: ChatMessage[]): ChatMessage[] {
  const system = (systemBox.value ?? '').trim();
  return system ? [{ role: 'system', content: system }, ...messages] : messages;
}

/**
 * The chosen answer's text as the next turn's assistant message: without its closing special token and
 * without its tool calls (their call and output tokens), which a plain message cannot hold.
 */
function answerText(a: Answer): string {
  let inCall = false;
  const kept = a.card.tokens.filter((t) => {
    if (t.text === '<|tool_start|>') inCall = true;
    const keep = !inCall && !t.toolOutput && t.finish !== 'stopToken';
    if (t.text === '<|tool_end|>') inCall = false;
    return keep;
  });
  return kept.map((t) => t.text).join('');
}

/** True when a loaded checkpoint has the tool tokens: the Tools toggle applies. */
function hasTools(): boolean {
  return !!(models.main?.tools || models.compare?.tools);
}

/** The Tools toggle, shown for models with tool tokens, and what it runs. */
function showTools(): void {
  tools.show(hasTools(), offer);
}

function ask(): void {
  if (!models.main) return setStatus('Open a checkpoint first (Checkpoint…).', 'error');
  save();
  host.post({
    type: 'send',
    messages: withSystem(state.messages),
    params: controls.params([]),
    answers: controls.count(),
    ...(hasTools() ? { tools: toolsBox.checked } : {}),
  });
  setStatus('Answering…', 'running');
}

sendBtn.addEventListener('click', () => {
  const text = (messageBox.value ?? '').trim();
  if (!text) return setStatus('Write a message first.', 'error');
  const a = chosen !== undefined ? answers.get(chosen) : undefined;
  if (a && state.messages.at(-1)?.role === 'user')
    state.messages.push({ role: 'assistant', content: answerText(a) });
  state.messages.push({ role: 'user', content: text });
  messageBox.value = '';
  answers.clear();
  renderConversation();
  ask();
});
messageBox.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey)) return;
  e.preventDefault();
  sendBtn.click();
});
regenerateBtn.addEventListener('click', () => {
  if (state.messages.at(-1)?.role === 'user') ask();
});
stopBtn.addEventListener('click', () => host.post({ type: 'stop' }));
newChat.addEventListener('click', () => {
  host.post({ type: 'stop' });
  state.messages = [];
  answers.clear();
  prompts = {};
  renderConversation();
  renderRaw();
  save();
});

/** Whitespace made visible, as in the Tokens panel: a newline shows as ↵ and still breaks the line. */
function shown(text: string): string {
  return text === '' ? '∅' : text.replace(/\n/g, '↵\n');
}

function renderConversation(): void {
  conversation.replaceChildren(
    ...state.messages.map((m) =>
      el('div', { class: 'msg', 'data-role': m.role }, el('strong', {}, m.role), el('div', {}, m.content)),
    ),
  );
  regenerateBtn.toggleAttribute('disabled', state.messages.at(-1)?.role !== 'user');
}

function column(slot: ChatSlot): HTMLElement {
  let col = conversation.querySelector<HTMLElement>(`.answers[data-slot="${slot}"]`);
  if (!col) {
    let row = conversation.querySelector<HTMLElement>('.turn');
    if (!row) conversation.append((row = el('div', { class: 'turn' })));
    const m = models[slot];
    col = el(
      'section',
      { class: 'answers', 'data-slot': slot },
      el('h3', {}, m ? `${m.label}${m.chatTokens ? '' : ' (base model)'}` : slot),
    );
    if (slot === 'main') row.prepend(col);
    else row.append(col);
  }
  return col;
}

function choose(id: number): void {
  chosen = id;
  for (const [i, a] of answers) a.card.box.classList.toggle('chosen', i === id);
  renderRaw();
}

function addAnswer(id: number, slot: ChatSlot, label: string): void {
  const keep = el(
    'vscode-button',
    {
      secondary: true,
      class: 'choose-btn',
      title: 'Continue the conversation with this answer',
      'aria-label': `Use answer #${id}: continue the conversation with it`,
    },
    'Use this answer',
  );
  keep.addEventListener('click', () => choose(id));
  const card = streamCard(
    { class: 'universe answer', 'data-answer': id, 'data-slot': slot },
    `#${id} ${label}`,
    slot === 'main' ? [keep] : [],
  );
  answers.set(id, { slot, card });
  column(slot).append(card.box);
}

/** The stop token that ends an answer (<|im_end|>) and a tool call's markup are special tokens. */
const special = (t: SampledToken) => (t.finish === 'stopToken' ? ' special' : toolSpecial(t));

function appendTokens(id: number, tokens: SampledToken[]): void {
  const onClick = (index: number) => host.post({ type: 'openInSampler', answer: id, index });
  answers.get(id)?.card.append(tokens, onClick, special);
  if (chosen === id) renderRaw();
}

const FORMATS: Record<ChatPrompt['format'], string> = {
  chatml: 'ChatML',
  template: "the tokenizer's chat template",
  base: 'plain transcript (no chat tokens)',
};

const ROLE_CLASS: Record<string, string> = { system: 'c4', user: 'c1', assistant: 'c3', tool: 'c2' };

/** Each slot's prompt tokens, then the chosen answer's (or the slot's first), each a span. */
function renderRaw(): void {
  raw.replaceChildren();
  for (const slot of ['main', 'compare'] as const) {
    const p = prompts[slot];
    if (!p) continue;
    const a =
      (chosen !== undefined && answers.get(chosen)?.slot === slot ? answers.get(chosen) : undefined) ??
      [...answers.values()].find((x) => x.slot === slot);
    const spans = p.ids.map((id, i) =>
      el(
        'span',
        {
          class: `tok ${ROLE_CLASS[p.roles[i]] ?? 'c0'}${p.special[i] ? ' special' : ''}`,
          title: `id ${id} · ${p.roles[i]}${p.special[i] ? ' · special token' : ''}`,
        },
        shown(p.texts[i]),
      ),
    );
    const gen = (a?.card.tokens ?? []).map((t) =>
      el(
        'span',
        {
          class: `tok gen${special(t)}${t.toolOutput ? ' tool-out' : ''}`,
          title: `id ${t.id} · ${t.toolOutput ? TOOL_OUT_TITLE : 'generated'}`,
        },
        shown(t.text),
      ),
    );
    const m = models[slot];
    const head = `${m?.label ?? slot}: ${p.ids.length} prompt tokens, ${FORMATS[p.format]}`;
    raw.append(
      el('h4', {}, head),
      el('p', { class: 'status' }, p.notes.join(' · ')),
      el(
        'div',
        { class: 'tokens', 'data-slot': slot, role: 'group', 'aria-label': `${head}, then the answer's` },
        ...spans,
        ...gen,
      ),
    );
  }
}

function showModels(): void {
  const m = models.main;
  if (m) {
    title.textContent = `${m.label} — ${m.nLayer} layers, ${m.nEmbd} wide, block ${m.blockSize}, vocabulary ${m.vocabSize} (${m.tokenizer})`;
  }
  const c = models.compare;
  compareTitle.textContent = c ? `vs ${c.label}` : '';
  endCompare.hidden = !c;
  const bases = [m, c].filter((x): x is ChatModelInfo => !!x && !x.chatTokens).map((x) => x.label);
  baseNote.hidden = !bases.length;
  baseNote.textContent = bases.length
    ? `${bases.join(' and ')}: this is a base model: no chat tokens. It sees the conversation as a "User: …\\nAssistant:" document and continues it.`
    : '';
}

const READY = {
  main: 'Ready. Write a message.',
  compare: 'Comparing: each turn is answered by both checkpoints.',
  ended: 'Comparison ended.',
};

function running(): boolean {
  return [...answers.values()].some((a) => a.card.running);
}

host.onMessage((m) => {
  switch (m.type) {
    case 'model': {
      if (m.model) models[m.slot] = m.model;
      else delete models[m.slot];
      state[m.slot === 'main' ? 'checkpoint' : 'compare'] = m.model?.checkpoint;
      save();
      showModels();
      showTools();
      controls.fill(m.params, 1);
      setStatus(READY[m.model ? m.slot : 'ended'], 'ready');
      break;
    }
    case 'tools':
      offer = m.offer;
      showTools();
      break;
    case 'started': {
      answers.clear();
      chosen = undefined;
      renderConversation();
      prompts = m.prompts;
      for (const a of m.answers) addAnswer(a.id, a.slot, a.label);
      const first = m.answers.find((a) => a.slot === 'main');
      if (first) choose(first.id);
      stopBtn.removeAttribute('disabled');
      setStatus('Answering…', 'running');
      break;
    }
    case 'tokens': {
      appendTokens(m.answer, m.tokens);
      answers.get(m.answer)?.card.rate(m.tokPerSec);
      break;
    }
    case 'done': {
      answers.get(m.answer)?.card.finish(m.reason === 'stopToken' ? 'end of turn' : m.reason);
      if (!running()) {
        stopBtn.setAttribute('disabled', '');
        setStatus('Done. Click a token for its distribution and attention in the Sampler.', 'done');
      }
      break;
    }
    case 'busy':
      setStatus(m.message, 'busy');
      break;
    case 'error':
      setStatus(m.message, 'error');
      break;
  }
});

renderConversation();
host.post({ type: 'ready' });
