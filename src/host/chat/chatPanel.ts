/**
 * The Chat panel: a conversation with a checkpoint. Each turn is rendered by the worker with the
 * checkpoint's chat tokens (or as a plain transcript for a base model) and answered token by token from
 * the KV cache until <|im_end|>; several answers of one turn ("parallel universes"), and the same turn
 * answered by a second checkpoint side by side (base vs fine-tuned).
 *
 *   await vscode.commands.executeCommand('llmLens.openChat', vscode.Uri.file('/runs/sft/checkpoints/step-300'));
 *
 * The webview holds the conversation (and keeps it across reloads); the host holds the checkpoints
 * and the running answers, and opens the Sampler on an answer's token. A checkpoint with tool tokens
 * answers with the tools the window allows (toolPermission.ts: calculator, search over the first
 * workspace folder, python in a trusted workspace once allowed) while the panel's Tools toggle is on.
 */
import * as vscode from 'vscode';
import type {
  ChatHostMessage,
  ChatMessage,
  ChatModelInfo,
  ChatPrompt,
  ChatSlot,
  ChatWebviewMessage,
} from '../../protocol/chat';
import type { SampledToken, SamplerParams, ToolNameMsg } from '../../protocol/sampler';
import type { WorkerClient } from '../../worker/client';
import { createPanel, PanelHost } from '../panelHost';
import { DEFAULT_PARAMS, pickCheckpoint, SamplerPanel } from '../sampler/samplerPanel';
import { pumpStream, stopStreams } from '../sampler/stream';
import { currentToolOffer, onToolOfferChange, toolsForRun } from '../tools/toolPermission';
import { webviewOptions } from '../webviewHtml';
import { isChatWebviewMessage } from './validate';

interface Answer {
  id: number;
  slot: ChatSlot;
  checkpoint: string;
  session: number;
  prompt: ChatPrompt;
  tokens: SampledToken[];
  running: boolean;
}

/** What the panel holds now (the commands return it: for tests and scripts). */
export interface ChatSummary {
  models: Partial<Record<ChatSlot, ChatModelInfo>>;
  answers: { id: number; slot: ChatSlot; tokens: number; text: string; running: boolean; prompt: string }[];
}

/** Saved by the webview (vscode.setState), handed back on reload. */
interface ChatState {
  checkpoint?: unknown;
  compare?: unknown;
}

export class ChatPanel {
  static readonly viewType = 'llmLens.chat';
  private static current: ChatPanel | undefined;

  private readonly models: Partial<Record<ChatSlot, ChatModelInfo>> = {};
  private readonly answers = new Map<number, Answer>();
  private nextAnswer = 1;
  private turn = 0;

  /** Opens (or reveals) the panel on a checkpoint folder or model.safetensors; asks for one without `uri`. */
  static async open(
    context: vscode.ExtensionContext,
    worker: WorkerClient,
    uri?: vscode.Uri,
  ): Promise<ChatPanel | undefined> {
    const dir = uri?.fsPath ?? (await pickChatCheckpoint('main'));
    if (!dir) return undefined;
    let p = ChatPanel.current;
    if (p) p.panel.reveal(vscode.ViewColumn.Active);
    else {
      p = new ChatPanel(createPanel(context, ChatPanel.viewType, 'LLM Lens: Chat'), context, worker);
    }
    await p.load('main', dir);
    return p;
  }

  static revive(
    panel: vscode.WebviewPanel,
    context: vscode.ExtensionContext,
    worker: WorkerClient,
    state: unknown,
  ): void {
    panel.webview.options = webviewOptions(context.extensionUri);
    const p = new ChatPanel(panel, context, worker);
    const s = (state ?? {}) as ChatState;
    void (async () => {
      if (typeof s.checkpoint === 'string') await p.load('main', s.checkpoint);
      if (typeof s.compare === 'string') await p.load('compare', s.compare);
    })();
  }

  static get instance(): ChatPanel | undefined {
    return ChatPanel.current;
  }

  private readonly host: PanelHost<ChatHostMessage, ChatWebviewMessage>;
  private readonly offerChange: vscode.Disposable;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly worker: WorkerClient,
  ) {
    ChatPanel.current = this;
    this.host = new PanelHost(panel, context, 'chat', 'LLM Lens: Chat', {
      valid: isChatWebviewMessage,
      message: (m) => this.onMessage(m),
      dispose: () => this.dispose(),
    });
    this.offerChange = onToolOfferChange(() => this.postTools());
  }

  get summary(): ChatSummary {
    return {
      models: { ...this.models },
      answers: [...this.answers.values()].map((a) => ({
        id: a.id,
        slot: a.slot,
        tokens: a.tokens.length,
        text: a.tokens.map((t) => t.text).join(''),
        running: a.running,
        prompt: a.prompt.texts.join(''),
      })),
    };
  }

  private async load(slot: ChatSlot, checkpoint: string): Promise<void> {
    this.post({ type: 'busy', message: `Loading ${checkpoint}…` });
    try {
      const r = await this.worker.run({ kind: 'chatLoad', checkpoint });
      this.models[slot] = r.model;
      if (slot === 'main') this.panel.title = `Chat: ${r.model.label}`;
      this.post({ type: 'model', slot, model: r.model, params: DEFAULT_PARAMS });
      this.postTools();
    } catch (e) {
      this.fail('Could not load the checkpoint', e);
    }
  }

  private async onMessage(m: ChatWebviewMessage): Promise<void> {
    try {
      switch (m.type) {
        case 'ready':
          for (const slot of ['main', 'compare'] as const)
            if (this.models[slot])
              this.post({ type: 'model', slot, model: this.models[slot], params: DEFAULT_PARAMS });
          this.postTools();
          break;
        case 'send':
          await this.send(m.messages, m.params, m.answers, m.tools === true);
          break;
        case 'stop':
          await this.stop();
          break;
        case 'pickCheckpoint': {
          const dir = await pickChatCheckpoint(m.slot);
          if (dir) await this.load(m.slot, dir);
          break;
        }
        case 'endCompare':
          delete this.models.compare;
          this.post({ type: 'model', slot: 'compare', params: DEFAULT_PARAMS });
          break;
        case 'openInSampler':
          await this.openInSampler(m.answer, m.index);
          break;
      }
    } catch (e) {
      this.fail('Chat', e);
    }
  }

  /** The tools a model with tool tokens may use here, for the Tools toggle's note. */
  private postTools(): void {
    this.post({ type: 'tools', offer: currentToolOffer(this.context) });
  }

  /**
   * Starts `count` answers of the conversation on each loaded checkpoint and streams them; with `tools`,
   * a checkpoint with tool tokens runs the tools this window allows (the first time, python is asked about).
   */
  private async send(
    messages: ChatMessage[],
    params: SamplerParams,
    count: number,
    tools: boolean,
  ): Promise<void> {
    if (!this.models.main) return this.post({ type: 'error', message: 'Open a checkpoint first.' });
    await this.stop();
    let run: { tools: ToolNameMsg[]; searchDir?: string } = { tools: [] };
    if (tools && (this.models.main.tools || this.models.compare?.tools)) {
      run = await toolsForRun(this.context);
      this.postTools(); // the answer about python changes what is offered
    }
    this.answers.clear();
    const turn = ++this.turn;
    const started: Answer[] = [];
    const prompts: Partial<Record<ChatSlot, ChatPrompt>> = {};
    const sessions = () => started.map((a) => a.session);
    for (const slot of ['main', 'compare'] as const) {
      const model = this.models[slot];
      if (!model) continue;
      const r = await this.worker
        .run({ kind: 'chatStart', checkpoint: model.checkpoint, messages, params, streams: count, ...run })
        .catch(async (e: unknown) => {
          await this.close(sessions()); // the other checkpoint's answers of this turn
          throw new Error(`${model.label}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        });
      const answer = { slot, checkpoint: model.checkpoint, prompt: r.prompt, running: true };
      for (const session of r.sessions)
        started.push({ ...answer, id: this.nextAnswer++, session, tokens: [] });
      if (turn !== this.turn) return void (await this.close(sessions())); // a newer turn began meanwhile
      prompts[slot] = r.prompt;
    }
    for (const a of started) this.answers.set(a.id, a);
    this.post({
      type: 'started',
      answers: started.map((a, i) => ({
        id: a.id,
        slot: a.slot,
        label: `seed ${params.seed + (i % count)}`,
      })),
      prompts,
    });
    await Promise.all(started.map((a) => this.pump(a, turn)));
  }

  private pump(a: Answer, turn: number): Promise<void> {
    return pumpStream(this.worker, a, () => turn === this.turn, {
      tokens: (tokens, tokPerSec) => this.post({ type: 'tokens', answer: a.id, tokens, tokPerSec }),
      done: (reason) => this.post({ type: 'done', answer: a.id, reason }),
    });
  }

  private async stop(): Promise<void> {
    await stopStreams(this.worker, this.answers.values(), (x) =>
      this.post({ type: 'done', answer: x.id, reason: 'stopped' }),
    );
  }

  private async close(sessions: number[]): Promise<void> {
    if (sessions.length) await this.worker.run({ kind: 'samplerClose', sessions });
  }

  /**
   * The Sampler on the answer with its token `index` selected: the distribution it was drawn from (the
   * one this answer was sampled with) and the attention of the position that predicted it.
   */
  private async openInSampler(answer: number, index: number): Promise<void> {
    const a = this.answers.get(answer);
    if (!a || index >= a.tokens.length) return;
    const { ids, texts, notes } = a.prompt;
    await SamplerPanel.open(this.context, this.worker, vscode.Uri.file(a.checkpoint), {
      prompt: { ids, texts, notes },
      tokens: a.tokens,
      label: `chat answer #${a.id}`,
      select: index,
    });
  }

  private fail(what: string, e: unknown): void {
    this.post({ type: 'error', message: PanelHost.errorText(what, e) });
  }

  private post(message: ChatHostMessage): void {
    this.host.post(message);
  }

  private dispose(): void {
    void this.stop();
    this.offerChange.dispose();
    if (ChatPanel.current === this) ChatPanel.current = undefined;
    this.host.dispose();
  }
}

function pickChatCheckpoint(slot: ChatSlot): Promise<string | undefined> {
  return slot === 'main'
    ? pickCheckpoint('LLM Lens: Open Chat', 'Pick a checkpoint to chat with')
    : pickCheckpoint('LLM Lens: Compare', 'Pick a second checkpoint to answer the same turns');
}

/** A Uri argument: a Uri (palette, Explorer, the Checkpoint Inspector) or a tree item with one (the Runs view). */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const r = (arg as { resourceUri?: unknown } | undefined)?.resourceUri;
  return r instanceof vscode.Uri ? r : undefined;
}

/** Registers LLM Lens: Open Chat… (with an optional checkpoint argument) and the panel serializer. */
export function registerChat(context: vscode.ExtensionContext, worker: WorkerClient): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('llmLens.openChat', async (arg?: unknown) => {
      const p = await ChatPanel.open(context, worker, uriOf(arg));
      return p?.summary;
    }),
    vscode.commands.registerCommand('llmLens.chatSummary', () => ChatPanel.instance?.summary),
    vscode.window.registerWebviewPanelSerializer(ChatPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => ChatPanel.revive(panel, context, worker, state),
    }),
  );
}
