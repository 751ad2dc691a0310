/**
 * The Sampler panel: a prompt, every sampling control, N parallel generations of one prompt streamed
 * token by token from the worker's KV cache, branches from any token, and the inspection pass
 * (attention grid, one head large, logit lens) over prompt + generated tokens.
 *
 *   await vscode.commands.executeCommand('llmLens.openSampler', vscode.Uri.file('/runs/x/checkpoints/step-200'));
 *   // and generate at once from a context:
 *   await vscode.commands.executeCommand('llmLens.openSampler', uri, { promptIds: [3, 1, 4] });
 *   // or show a finished text with one token selected (the Chat panel's "open this token in the Sampler"):
 *   await SamplerPanel.open(context, worker, uri, { prompt, tokens, label: 'chat answer #2', select: 5 });
 *
 * Generation is pulled from the worker a few tokens at a time (samplerNext), so Stop is immediate and
 * several universes interleave on the one worker thread. A checkpoint with tool tokens runs the tools
 * this window allows (toolPermission.ts) while the Tools toggle is on, and cannot open a call while it is
 * off; a prompt given by a command samples raw (a call is just tokens).
 *
 * The base-model lab (src/engine/sample/lab.ts) is sent to the webview, which runs an experiment as a
 * Generate with its prompt and settings; the regurgitation meter comes here: the passage's first sentence
 * is generated from like any prompt, and the continuation is measured against the rest of the passage.
 * A generation that ends with tokens completes the walkthrough's sampling step; one of a lab prompt, or
 * the meter's measure, its lab step (walkthrough/progress.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LAB_EXPERIMENTS,
  labExperimentOfPrompt,
  measureRegurgitation,
  splitPassage,
} from '../../engine/sample/lab';
import type {
  PromptTokens,
  SampledToken,
  SamplerHostMessage,
  SamplerModelInfo,
  SamplerParams,
  SamplerWebviewMessage,
  ToolNameMsg,
} from '../../protocol/sampler';
import type { WorkerClient } from '../../worker/client';
import { createPanel, PanelHost } from '../panelHost';
import { currentToolOffer, onToolOfferChange, toolsForRun } from '../tools/toolPermission';
import { setWalkthroughKey } from '../walkthrough/progress';
import { webviewOptions } from '../webviewHtml';
import { pumpStream, stopStreams } from './stream';
import { isSamplerWebviewMessage } from './validate';

export const DEFAULT_PARAMS: SamplerParams = {
  temperature: 0.8,
  topK: 200,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  seed: 1337,
  maxTokens: 100,
  stop: [],
};

/** A prompt as text, or as exact token ids (special tokens included). */
type SamplerPrompt = { text: string } | { ids: number[] };

/**
 * A text generated elsewhere (a Chat answer) shown as a finished universe with its token `select`
 * selected: the distribution it was drawn from, and the attention of the position that predicted it.
 */
export interface SamplerShow {
  prompt: PromptTokens;
  tokens: SampledToken[];
  label: string;
  select: number;
}

interface Universe {
  id: number;
  session: number;
  prompt: PromptTokens;
  tokens: SampledToken[];
  running: boolean;
}

/** What the panel holds now (the command returns it: for tests and scripts). */
export interface SamplerSummary {
  model?: SamplerModelInfo;
  universes: { id: number; tokens: number; text: string; running: boolean }[];
}

export class SamplerPanel {
  static readonly viewType = 'llmLens.sampler';
  private static current: SamplerPanel | undefined;

  private model: SamplerModelInfo | undefined;
  private readonly universes = new Map<number, Universe>();
  private nextUniverse = 1;
  private generation = 0;
  /** Resolves once the webview listens: what is posted before is lost. */
  private readonly ready: Promise<void>;
  private onReady = () => {};

  /**
   * Opens (or reveals) the panel on a checkpoint folder or model.safetensors; asks for one without `uri`.
   * With a prompt, generates from it at once; with a SamplerShow, shows it with its token selected.
   */
  static async open(
    context: vscode.ExtensionContext,
    worker: WorkerClient,
    uri?: vscode.Uri,
    then?: SamplerPrompt | SamplerShow,
  ): Promise<SamplerPanel | undefined> {
    const dir = uri?.fsPath ?? (await pickCheckpoint());
    if (!dir) return undefined;
    let p = SamplerPanel.current;
    if (p) p.panel.reveal(vscode.ViewColumn.Active);
    else {
      p = new SamplerPanel(createPanel(context, SamplerPanel.viewType, 'LLM Lens: Sampler'), context, worker);
    }
    await p.load(dir);
    if (then && p.model) {
      await p.ready;
      if ('tokens' in then) await p.show(then);
      else await p.generate(then, DEFAULT_PARAMS, 1);
    }
    return p;
  }

  static revive(
    panel: vscode.WebviewPanel,
    context: vscode.ExtensionContext,
    worker: WorkerClient,
    state: unknown,
  ): void {
    panel.webview.options = webviewOptions(context.extensionUri);
    const p = new SamplerPanel(panel, context, worker);
    const dir = (state as { checkpoint?: unknown } | undefined)?.checkpoint;
    if (typeof dir === 'string') void p.load(dir);
  }

  static get instance(): SamplerPanel | undefined {
    return SamplerPanel.current;
  }

  private readonly host: PanelHost<SamplerHostMessage, SamplerWebviewMessage>;
  private readonly offerChange: vscode.Disposable;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly worker: WorkerClient,
  ) {
    SamplerPanel.current = this;
    this.ready = new Promise((resolve) => (this.onReady = resolve));
    this.host = new PanelHost(panel, context, 'sampler', 'LLM Lens: Sampler', {
      valid: isSamplerWebviewMessage,
      message: (m) => this.onMessage(m),
      dispose: () => this.dispose(),
    });
    this.offerChange = onToolOfferChange(() => this.postTools());
  }

  get summary(): SamplerSummary {
    return {
      model: this.model,
      universes: [...this.universes.values()].map((u) => ({
        id: u.id,
        tokens: u.tokens.length,
        text: u.tokens.map((t) => t.text).join(''),
        running: u.running,
      })),
    };
  }

  private async load(checkpoint: string): Promise<void> {
    this.post({ type: 'busy', message: `Loading ${checkpoint}…` });
    try {
      const r = await this.worker.run({ kind: 'samplerLoad', checkpoint });
      this.model = r.model;
      this.panel.title = `Sampler: ${r.model.label}`;
      this.post({ type: 'model', model: r.model, params: DEFAULT_PARAMS });
      this.postTools();
    } catch (e) {
      this.fail('Could not load the checkpoint', e);
    }
  }

  private async onMessage(m: SamplerWebviewMessage): Promise<void> {
    try {
      switch (m.type) {
        case 'ready':
          if (this.model) this.post({ type: 'model', model: this.model, params: DEFAULT_PARAMS });
          this.postTools();
          this.post({ type: 'lab', experiments: [...LAB_EXPERIMENTS] });
          this.onReady();
          break;
        case 'generate':
          await this.generate({ text: m.prompt }, m.params, m.streams, await this.tools(m.tools));
          break;
        case 'stop':
          await this.stop();
          break;
        case 'branch':
          await this.branch(m.universe, m.index, m.tokenId, m.params, await this.tools(m.tools));
          break;
        case 'inspect':
          await this.inspect(m.universe);
          break;
        case 'attention': {
          const r = await this.worker.run({ kind: 'samplerAttention', layer: m.layer, head: m.head });
          this.post({ type: 'attention', layer: r.layer, head: r.head, n: r.n, weights: r.weights });
          break;
        }
        case 'pickCheckpoint': {
          const dir = await pickCheckpoint();
          if (dir) await this.load(dir);
          break;
        }
        case 'regurgitate':
          await this.regurgitate(m.passage, m.params);
          break;
      }
    } catch (e) {
      this.fail('Sampler', e);
    }
  }

  private postTools(): void {
    this.post({ type: 'tools', offer: currentToolOffer(this.context) });
  }

  /**
   * What samplerStart gets for the Tools toggle of a model with tool tokens: the tools this window allows
   * (the first time, python is asked about) when on, none (the call token banned) when off.
   */
  private async tools(toggle: boolean | undefined): Promise<{ tools?: ToolNameMsg[]; searchDir?: string }> {
    if (!this.model?.tools || toggle === undefined) return {};
    if (!toggle) return { tools: [] };
    const run = await toolsForRun(this.context);
    this.postTools(); // the answer about python changes what is offered
    return run;
  }

  private async generate(
    prompt: SamplerPrompt,
    params: SamplerParams,
    streams: number,
    tools: { tools?: ToolNameMsg[]; searchDir?: string } = {},
  ): Promise<Universe[]> {
    if (!this.model) return [];
    await this.stop();
    this.universes.clear();
    const gen = ++this.generation;
    const r = await this.worker.run({
      kind: 'samplerStart',
      checkpoint: this.model.checkpoint,
      prompt,
      params,
      streams,
      ...tools,
    });
    const us = r.sessions.map((session, i) => ({
      id: this.nextUniverse++,
      session,
      prompt: r.prompt,
      tokens: [],
      running: true,
      label: `seed ${params.seed + i}`,
    }));
    for (const u of us) this.universes.set(u.id, u);
    this.post({
      type: 'started',
      universes: us.map((u) => ({ id: u.id, label: u.label })),
      prompt: r.prompt,
    });
    await Promise.all(us.map((u) => this.pump(u, gen)));
    if (gen === this.generation && us.some((u) => u.tokens.length)) {
      setWalkthroughKey('sampled');
      if ('text' in prompt && labExperimentOfPrompt(prompt.text)) setWalkthroughKey('labOpened');
    }
    return us;
  }

  /**
   * The regurgitation meter: one universe (the panel's settings; the lab sets them greedy) from the
   * passage's first sentence, then how much of what it wrote is the rest of the passage verbatim. A universe stopped by
   * Stop is measured as far as it got; one replaced by a newer generation is not.
   */
  private async regurgitate(passage: string, params: SamplerParams): Promise<void> {
    if (!this.model) return;
    const s = splitPassage(passage);
    const [u] = await this.generate({ text: s.prompt }, params, 1);
    if (!u || this.universes.get(u.id) !== u) return;
    const texts = u.tokens.map((t) => t.text);
    this.post({
      type: 'regurgitation',
      universe: u.id,
      prompt: s.prompt,
      remainder: s.remainder,
      split: s.split,
      continuation: texts.join(''),
      measure: measureRegurgitation(s.remainder, texts),
    });
    setWalkthroughKey('labOpened');
  }

  private async branch(
    universe: number,
    index: number,
    tokenId: number,
    params: SamplerParams,
    tools: { tools?: ToolNameMsg[]; searchDir?: string },
  ): Promise<void> {
    const parent = this.universes.get(universe);
    if (!this.model || !parent || index > parent.tokens.length || tokenId >= this.model.vocabSize) return;
    const step = parent.tokens[index];
    if (step?.toolOutput) return; // put there by a tool, not drawn: there is no choice to replace
    const kept = parent.tokens.slice(0, index);
    const alt = step?.top.find((t) => t.id === tokenId) ?? step?.topRaw.find((t) => t.id === tokenId);
    const forced: SampledToken = {
      ...(step ?? emptyStep()),
      id: tokenId,
      text: alt?.text ?? '',
      logit: alt?.logit ?? 0,
      forced: true,
      finish: undefined,
      prob: step?.top.find((t) => t.id === tokenId)?.p ?? 0,
      rawProb: step?.topRaw.find((t) => t.id === tokenId)?.p ?? 0,
    };
    const ids = [...parent.prompt.ids, ...kept.map((t) => t.id), tokenId];
    const remaining = Math.max(1, params.maxTokens - kept.length - 1);
    const r = await this.worker.run({
      kind: 'samplerStart',
      checkpoint: this.model.checkpoint,
      prompt: { ids },
      params: { ...params, maxTokens: remaining },
      streams: 1,
      ...tools,
    });
    const u: Universe = {
      id: this.nextUniverse++,
      session: r.sessions[0],
      prompt: parent.prompt,
      tokens: [...kept, forced],
      running: true,
    };
    this.universes.set(u.id, u);
    this.post({
      type: 'started',
      universes: [
        { id: u.id, label: `branch of #${universe} at token ${index + 1}`, branchOf: { universe, index } },
      ],
      prompt: parent.prompt,
      keep: { universe: u.id, tokens: u.tokens },
    });
    await this.pump(u, this.generation);
  }

  /** Shows a finished text as the one universe, selects its token and inspects the context it was drawn from. */
  private async show(s: SamplerShow): Promise<void> {
    if (!this.model || s.select < 0 || s.select >= s.tokens.length) return;
    await this.stop();
    this.universes.clear();
    ++this.generation;
    const u: Universe = {
      id: this.nextUniverse++,
      session: -1, // no worker session: nothing more is generated
      prompt: s.prompt,
      tokens: [...s.tokens],
      running: false,
    };
    this.universes.set(u.id, u);
    this.post({
      type: 'started',
      universes: [{ id: u.id, label: s.label }],
      prompt: s.prompt,
      keep: { universe: u.id, tokens: u.tokens },
    });
    this.post({ type: 'done', universe: u.id, reason: 'done' });
    this.post({ type: 'select', universe: u.id, index: s.select });
    await this.inspect(u.id, s.select);
  }

  /** Pulls tokens of one universe until it ends, Stop is pressed or a new generation starts. */
  private pump(u: Universe, gen: number): Promise<void> {
    return pumpStream(this.worker, u, () => gen === this.generation, {
      tokens: (tokens, tokPerSec) => this.post({ type: 'tokens', universe: u.id, tokens, tokPerSec }),
      done: (reason) => this.post({ type: 'done', universe: u.id, reason }),
    });
  }

  private async stop(): Promise<void> {
    await stopStreams(this.worker, this.universes.values(), (x) =>
      this.post({ type: 'done', universe: x.id, reason: 'stopped' }),
    );
  }

  /**
   * Inspects a universe's prompt + generated tokens; with `before`, only the context its token `before`
   * was drawn from, with the attention row of its last position (the one that predicted the token).
   */
  private async inspect(universe: number, before?: number): Promise<void> {
    const u = this.universes.get(universe);
    if (!u || !this.model) return;
    this.post({ type: 'busy', message: 'Inspecting attention and the logit lens…' });
    const ids = [...u.prompt.ids, ...u.tokens.slice(0, before).map((t) => t.id)];
    const r = await this.worker.run({
      kind: 'samplerInspect',
      checkpoint: this.model.checkpoint,
      ids,
      thumbSize: 48,
    });
    const from = before === undefined ? undefined : r.view.ids.length - 1;
    this.post({ type: 'inspection', universe, view: r.view, ...(from === undefined ? {} : { from }) });
  }

  private fail(what: string, e: unknown): void {
    this.post({ type: 'error', message: PanelHost.errorText(what, e) });
  }

  private post(message: SamplerHostMessage): void {
    this.host.post(message);
  }

  private dispose(): void {
    void this.stop();
    this.offerChange.dispose();
    if (SamplerPanel.current === this) SamplerPanel.current = undefined;
    this.host.dispose();
  }
}

function emptyStep(): SampledToken {
  return {
    id: 0,
    text: '',
    prob: 0,
    rawProb: 0,
    logit: 0,
    rank: 0,
    entropy: 0,
    sampledEntropy: 0,
    top: [],
    topRaw: [],
  };
}

/** Quick pick of the workspace's checkpoints (folders with a model.safetensors), or a folder/file dialog. */
export async function pickCheckpoint(
  title = 'LLM Lens: Open Sampler',
  placeHolder = 'Pick a checkpoint to sample from',
): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/model.safetensors', '**/node_modules/**', 200);
  const dirs = [...new Set(found.map((f) => path.dirname(f.fsPath)))].sort().reverse();
  const browse = {
    label: '$(folder-opened) Browse…',
    description: 'a checkpoint folder or model.safetensors',
    dir: '',
  };
  const items = [
    ...dirs.map((d) => ({
      label: path.basename(d),
      description: vscode.workspace.asRelativePath(d),
      dir: d,
    })),
    browse,
  ];
  const pick = dirs.length ? await vscode.window.showQuickPick(items, { title, placeHolder }) : browse;
  if (!pick) return undefined;
  if (pick.dir) return pick.dir;
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    filters: { Safetensors: ['safetensors'] },
    title: 'Checkpoint folder or model.safetensors',
  });
  return uris?.[0]?.fsPath;
}

/** The prompt of openSampler's options: ids (whole numbers) or text; anything else is none. */
function samplerPrompt(o?: { promptIds?: unknown; prompt?: unknown }): SamplerPrompt | undefined {
  const ids = o?.promptIds;
  if (Array.isArray(ids) && ids.length && ids.every((i) => Number.isSafeInteger(i) && i >= 0))
    return { ids: ids as number[] };
  return typeof o?.prompt === 'string' ? { text: o.prompt } : undefined;
}

/** Registers LLM Lens: Open Sampler… (with an optional Uri argument) and the panel serializer. */
export function registerSampler(context: vscode.ExtensionContext, worker: WorkerClient): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(
      'llmLens.openSampler',
      async (uri?: vscode.Uri, o?: { promptIds?: unknown; prompt?: unknown }) => {
        const p = await SamplerPanel.open(
          context,
          worker,
          uri instanceof vscode.Uri ? uri : undefined,
          samplerPrompt(o),
        );
        return p?.summary;
      },
    ),
    vscode.commands.registerCommand('llmLens.samplerSummary', () => SamplerPanel.instance?.summary),
    vscode.window.registerWebviewPanelSerializer(SamplerPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => SamplerPanel.revive(panel, context, worker, state),
    }),
  );
}
