/**
 * The Sampler panel: prompt, sampling controls, Generate / Stop, N universes side by side as token
 * spans; a token's distribution (bar chart + table, branch from any candidate); the inspection of a
 * universe (attention grid, one head large, "from this token", logit lens). A checkpoint with tool tokens
 * gets a Tools toggle; a tool's output is a block in the universe's text (not clickable: not drawn).
 * The base-model lab (lab.ts) sits under the header: an experiment fills the prompt and fields and generates.
 * By keyboard: Ctrl+Enter in the prompt generates (as the Generate button does); Tab reaches a universe's
 * tokens, the arrow keys move through them, Enter opens a token's distribution and moves focus to it,
 * Escape closes it and returns to the token.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type {
  LabExperiment,
  PromptTokens,
  SampledToken,
  SamplerHostMessage,
  SamplerModelInfo,
  SamplerParams,
  SamplerWebviewMessage,
  ToolOffer,
} from '../../src/protocol/sampler';
import { el } from '../common/dom';
import { toolsToggle } from '../common/toolsToggle';
import { samplingControls } from '../common/samplingControls';
import { streamCard, tokenSpan, toolSpecial, type StreamCard } from '../common/streamCard';
import { hostBridge } from '../common/vscode';
import { closeDistribution, renderDistribution } from './distribution';
import { InspectPanel } from './inspectView';
import { LabSection } from './lab';

interface State {
  checkpoint?: string;
}
const host = hostBridge<SamplerWebviewMessage, SamplerHostMessage, State>();
const app = document.getElementById('app')!;

type Field = HTMLElement & { value: string };

let model: SamplerModelInfo | undefined;
const universes = new Map<number, { prompt: PromptTokens; card: StreamCard }>();

const title = el('span', { id: 'model', class: 'model' }, 'No checkpoint');
const change = el('vscode-button', { id: 'change', secondary: true }, 'Checkpoint…');
change.addEventListener('click', () => host.post({ type: 'pickCheckpoint' }));
const promptBox = el('vscode-textarea', {
  id: 'prompt',
  label: 'Prompt',
  rows: 3,
  placeholder: 'Prompt (empty: start from the end-of-text token)',
  resize: 'vertical',
}) as Field;
const controls = samplingControls({
  key: 'streams',
  label: 'Universes',
  title: 'parallel samples of the same prompt (1–8)',
});
const stopField = el('vscode-textfield', {
  id: 'p-stop',
  label: 'Stop strings',
  placeholder: 'Stop strings, separated by |  (\\n = newline)',
  title: 'generation ends once the text contains one of these',
}) as Field;
const tools = toolsToggle({ checked: true, off: 'it cannot open a call' });
const { box: toolsBox, note: toolsNote } = tools;
let offer: ToolOffer = { names: [], note: '' };
const generateBtn = el(
  'vscode-button',
  { id: 'generate', title: 'Generate (Ctrl+Enter in the prompt)', 'aria-keyshortcuts': 'Control+Enter' },
  'Generate',
);
const stopBtn = el('vscode-button', { id: 'stop', secondary: true, disabled: true }, 'Stop');
const status = el(
  'p',
  { id: 'status', class: 'status', 'data-state': 'idle', role: 'status', 'aria-live': 'polite' },
  'Open a checkpoint to sample from.',
);
const notes = el('p', { id: 'notes', class: 'status' });
const board = el('main', { id: 'universes', class: 'universes', 'aria-label': 'Universes' });
/** A token's distribution; focused (not a tab stop) when opened from the keyboard. */
const dist = el('section', { id: 'dist', class: 'dist', tabindex: -1 });
/** The token whose distribution is open: Escape goes back to it. */
let distOpener: { universe: number; index: number } | undefined;
const inspectRoot = el('section', { id: 'inspect', class: 'inspect', 'aria-label': 'Inspection' });
const inspect = new InspectPanel(inspectRoot, (layer, head) => host.post({ type: 'attention', layer, head }));
const lab = new LabSection({
  run: (e) => {
    promptBox.value = e.prompt;
    applyLab(e);
    generate();
  },
  apply: applyLab,
  regurgitate: (passage) => {
    if (!model) return setStatus('Open a checkpoint first (Checkpoint…).', 'error');
    host.post({ type: 'regurgitate', passage, params: params() });
    setStatus('Generating from the passage’s first sentence…', 'running');
  },
});
app.append(
  el('header', { class: 'toolbar' }, title, change),
  lab.element,
  promptBox,
  controls.element,
  el('div', { class: 'toolbar' }, stopField, toolsBox, generateBtn, stopBtn),
  toolsNote,
  status,
  notes,
  board,
  dist,
  inspectRoot,
);

function setStatus(text: string, state: string): void {
  status.textContent = text;
  status.dataset.state = state;
}

function params(): SamplerParams {
  return controls.params(
    stopField.value
      .split('|')
      .map((s) => s.replace(/\\n/g, '\n'))
      .filter((s) => s.length > 0),
  );
}

/** The Tools toggle, for a model with tool tokens only. */
const toolsParam = () => (model?.tools ? { tools: toolsBox.checked } : {});

function showTools(): void {
  tools.show(!!model?.tools, offer);
}

/** A lab experiment's settings into the fields (the seed stays), its stop strings into the stop field. */
function applyLab(e: LabExperiment): void {
  const { streams, stop, ...numbers } = e.settings;
  controls.set(numbers, streams);
  stopField.value = stop.map((s) => s.replace(/\n/g, '\\n')).join('|');
}

function generate(): void {
  if (!model) return setStatus('Open a checkpoint first (Checkpoint…).', 'error');
  host.post({
    type: 'generate',
    prompt: promptBox.value ?? '',
    params: params(),
    streams: controls.count(),
    ...toolsParam(),
  });
  setStatus('Generating…', 'running');
}

generateBtn.addEventListener('click', generate);
promptBox.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    generate();
  }
});
stopBtn.addEventListener('click', () => host.post({ type: 'stop' }));

function addUniverse(id: number, label: string, prompt: PromptTokens): void {
  const text = el(
    'div',
    { class: 'utext' },
    ...prompt.texts.map((t, i) => tokenSpan(t, 'prompt', { title: `prompt token ${i}` })),
  );
  const insp = el(
    'vscode-button',
    {
      secondary: true,
      class: 'inspect-btn',
      title: 'Attention maps and logit lens of this text',
      'aria-label': `Inspect universe #${id}: attention maps and logit lens`,
    },
    'Inspect',
  );
  insp.addEventListener('click', () => host.post({ type: 'inspect', universe: id }));
  const card = streamCard({ 'data-universe': id }, `#${id} ${label}`, [insp], text);
  universes.set(id, { prompt, card });
  board.append(card.box);
}

function appendTokens(id: number, tokens: SampledToken[]): void {
  universes.get(id)?.card.append(
    tokens,
    (index, byKey) => selectToken(id, index, byKey),
    (t) => `${t.forced ? ' forced' : ''}${toolSpecial(t)}`,
  );
}

/** Shows a token's distribution; `focus`: moves the keyboard focus to it (Escape returns to the token). */
function selectToken(universe: number, index: number, focus = false): void {
  const u = universes.get(universe);
  const step = u?.card.tokens[index];
  if (!u || !step || step.toolOutput) return;
  for (const s of board.querySelectorAll('.tok.selected')) s.classList.remove('selected');
  u.card.text.querySelector(`.tok.gen[data-index="${index}"]`)?.classList.add('selected');
  distOpener = { universe, index };
  renderDistribution(dist, step, `Universe #${universe}, token ${index + 1}`, (tokenId) =>
    host.post({ type: 'branch', universe, index, tokenId, params: params(), ...toolsParam() }),
  );
  if (focus) dist.focus();
}

/** Escape in the distribution or on a token closes the distribution; focus goes back to its token. */
document.addEventListener('keydown', (e) => {
  const at = document.activeElement;
  if (e.key !== 'Escape' || !dist.hasChildNodes() || !(dist.contains(at) || board.contains(at))) return;
  e.preventDefault();
  closeDistribution(dist);
  for (const s of board.querySelectorAll('.tok.selected')) s.classList.remove('selected');
  if (distOpener) universes.get(distOpener.universe)?.card.focus(distOpener.index);
  distOpener = undefined;
});

function running(): boolean {
  return [...universes.values()].some((u) => u.card.running);
}

host.onMessage((m) => {
  switch (m.type) {
    case 'model': {
      model = m.model;
      host.setState({ checkpoint: m.model.checkpoint });
      title.textContent = `${m.model.label} — ${m.model.nLayer} layers, ${m.model.nHead} heads, ${m.model.nEmbd} wide, block ${m.model.blockSize}, vocabulary ${m.model.vocabSize} (${m.model.tokenizer})`;
      controls.fill(m.params, 3);
      showTools();
      setStatus(`Ready. An empty prompt starts from ${m.model.startToken}.`, 'ready');
      break;
    }
    case 'tools':
      offer = m.offer;
      showTools();
      break;
    case 'started': {
      if (!m.universes.some((u) => u.branchOf)) {
        universes.clear();
        board.replaceChildren();
        closeDistribution(dist);
      }
      notes.textContent = m.prompt.notes.join(' · ');
      for (const u of m.universes) addUniverse(u.id, u.label, m.prompt);
      if (m.keep) appendTokens(m.keep.universe, m.keep.tokens);
      stopBtn.removeAttribute('disabled');
      setStatus('Generating…', 'running');
      break;
    }
    case 'tokens': {
      appendTokens(m.universe, m.tokens);
      universes.get(m.universe)?.card.rate(m.tokPerSec);
      break;
    }
    case 'done': {
      universes.get(m.universe)?.card.finish(m.reason);
      if (!running()) {
        stopBtn.setAttribute('disabled', '');
        setStatus(
          'Done. Click a token for its distribution; Inspect a universe for attention and the logit lens.',
          'done',
        );
      }
      break;
    }
    case 'inspection':
      inspect.show(m.view);
      if (m.from !== undefined) inspect.fromToken(m.from);
      else inspectRoot.scrollIntoView({ block: 'start' });
      setStatus(
        m.from === undefined
          ? `Inspected universe #${m.universe}.`
          : `Inspected universe #${m.universe} up to the selected token: the attention of the position that predicted it is shown.`,
        'inspected',
      );
      break;
    case 'select':
      selectToken(m.universe, m.index, true);
      dist.scrollIntoView({ block: 'start' });
      break;
    case 'attention':
      inspect.showHead(m.layer, m.head, m.n, m.weights);
      break;
    case 'lab':
      lab.setExperiments(m.experiments);
      break;
    case 'regurgitation':
      lab.showMeasure(m);
      setStatus(
        `Measured: ${m.measure.verbatimChars} of ${m.measure.continuationChars} characters verbatim.`,
        'measured',
      );
      break;
    case 'busy':
      setStatus(m.message, 'busy');
      break;
    case 'error':
      setStatus(m.message, 'error');
      break;
  }
});

host.post({ type: 'ready' });
