/**
 * LLM Lens: Download Model from Hugging Face… (`llmLens.downloadModel`) and LLM Lens: Set Hugging Face
 * Token… (`llmLens.setHuggingFaceToken`). The download asks for a repo (a list of small models people use,
 * or any org/name) and a revision, then fetches only what LLM Lens runs (engine/hub/download.ts: config,
 * tokenizer files, safetensors shards, each checked against the hub's hash, resumed after an interruption)
 * into the Hugging Face cache, so transformers finds the files too. A notification shows the bytes, the
 * speed and a Cancel button; one download per repo runs at a time. When it is done, the model opens in the
 * Sampler, or in the Chat panel when its tokenizer has a chat template.
 *
 *   await vscode.commands.executeCommand('llmLens.downloadModel', { repo: 'HuggingFaceTB/SmolLM2-135M' });
 *   // { dir: '~/.cache/huggingface/hub/models--HuggingFaceTB--SmolLM2-135M/snapshots/<commit>', chat: false, … }
 *   await vscode.commands.executeCommand('llmLens.setHuggingFaceToken');   // asks; kept in SecretStorage
 *
 * The token lives in VS Code's SecretStorage (HF_TOKEN in the environment is the fallback) and goes only
 * to the hub the download asks. The hub's address (`llmLens.hub.endpoint`, else HF_ENDPOINT) and the cache
 * folder (`llmLens.hub.cacheDir`, else HF_HUB_CACHE / HF_HOME) are machine settings: a workspace cannot
 * point them, and with them the token, elsewhere. Nothing touches the network until the user asks.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_ENDPOINT, downloadModel, HubError, size } from '../../engine/hub/download';
import { ProgressMeter } from '../../engine/hub/progressMeter';
import { defaultHubCache } from '../../engine/hub/cache';
import { checkModelFolder } from '../../engine/model/modelFolder';
import { log } from '../log';

/** SecretStorage key of the Hugging Face access token. */
export const TOKEN_KEY = 'llmLens.huggingFaceToken';

/** What the palette offers first: small open models LLM Lens runs (anything else: "Another repository…"). */
export const SUGGESTED_MODELS: readonly { repo: string; detail: string }[] = [
  { repo: 'HuggingFaceTB/SmolLM2-135M', detail: 'Llama family, 135M parameters, base model' },
  { repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', detail: 'Llama family, 135M parameters, chat' },
  { repo: 'HuggingFaceTB/SmolLM2-360M-Instruct', detail: 'Llama family, 360M parameters, chat' },
  { repo: 'openai-community/gpt2', detail: 'GPT-2, 124M parameters, base model' },
  { repo: 'distilbert/distilgpt2', detail: 'GPT-2 family, 82M parameters, base model' },
  { repo: 'openai-community/gpt2-medium', detail: 'GPT-2, 355M parameters, base model' },
  { repo: 'Qwen/Qwen2.5-0.5B-Instruct', detail: 'Qwen2, 494M parameters, chat' },
  { repo: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', detail: 'Llama family, 1.1B parameters, chat' },
  {
    repo: 'meta-llama/Llama-3.2-1B',
    detail: 'Llama 3.2, 1.2B parameters, base model (gated: needs a token)',
  },
];

const REPO_PATTERN = /^[\w.-]+\/[\w.-]+$/;

export interface DownloadModelArgs {
  repo?: string;
  revision?: string;
  /** After the download: 'auto' (default: Chat when it has a chat template, else the Sampler), or 'none'. */
  open?: 'auto' | 'sampler' | 'chat' | 'none';
}

export type DownloadModelResult =
  | { repo: string; revision: string; dir: string; chat: boolean }
  | { error: string; status?: number }
  | { cancelled: true }
  | undefined;

/** Registers the two commands. */
export function registerHubCommands(context: vscode.ExtensionContext): void {
  const running = new Map<string, Promise<DownloadModelResult>>();
  context.subscriptions.push(
    vscode.commands.registerCommand('llmLens.downloadModel', async (arg?: unknown) => {
      const args = parseArgs(arg);
      if ('error' in args) {
        void vscode.window.showErrorMessage(`LLM Lens: ${args.error}`);
        return args;
      }
      const repo = args.repo ?? (await pickRepo());
      if (!repo) return undefined;
      const revision = args.revision ?? (await askRevision());
      if (!revision) return undefined;
      const key = repo.toLowerCase();
      const already = running.get(key);
      if (already) {
        void vscode.window.showInformationMessage(
          `${repo} is already downloading: its progress is in the notification.`,
        );
        return already;
      }
      const job = download(context, repo, revision, args.open ?? 'auto').finally(() => running.delete(key));
      running.set(key, job);
      return job;
    }),
    vscode.commands.registerCommand('llmLens.setHuggingFaceToken', async (arg?: unknown) =>
      setToken(context, arg),
    ),
  );
}

/** Validates a command argument (from another extension, a test or a keybinding). */
function parseArgs(arg: unknown): DownloadModelArgs | { error: string } {
  if (arg === undefined || arg === null) return {};
  if (typeof arg === 'string') arg = { repo: arg };
  if (typeof arg !== 'object') return { error: 'llmLens.downloadModel takes { repo, revision }' };
  const a = arg as Record<string, unknown>;
  const out: DownloadModelArgs = {};
  if (a.repo !== undefined) {
    if (typeof a.repo !== 'string' || !REPO_PATTERN.test(a.repo.trim()))
      return {
        error: `"${String(a.repo)}" is not a model repo: give it as org/name, e.g. HuggingFaceTB/SmolLM2-135M`,
      };
    out.repo = a.repo.trim();
  }
  if (a.revision !== undefined) {
    if (typeof a.revision !== 'string' || !a.revision.trim())
      return { error: 'the revision must be a branch, tag or commit, e.g. main' };
    out.revision = a.revision.trim();
  }
  if (a.open !== undefined) {
    if (a.open !== 'auto' && a.open !== 'sampler' && a.open !== 'chat' && a.open !== 'none')
      return { error: 'open must be "auto", "sampler", "chat" or "none"' };
    out.open = a.open;
  }
  return out;
}

/** A repo from the suggestions or typed; undefined when the user dismisses. */
async function pickRepo(): Promise<string | undefined> {
  const other = '$(edit) Another repository…';
  const picked = await vscode.window.showQuickPick(
    [
      ...SUGGESTED_MODELS.map((m) => ({ label: m.repo, detail: m.detail })),
      { label: other, detail: 'Any GPT-2, Llama or Qwen2 model repo with safetensors weights' },
    ],
    {
      title: 'Download Model from Hugging Face',
      placeHolder: 'A model repo (only config, tokenizer and safetensors files are fetched)',
      matchOnDetail: true,
    },
  );
  if (!picked) return undefined;
  if (picked.label !== other) return picked.label;
  const typed = await vscode.window.showInputBox({
    title: 'Download Model from Hugging Face',
    prompt: 'The model repo, as org/name',
    placeHolder: 'HuggingFaceTB/SmolLM2-135M',
    ignoreFocusOut: true,
    validateInput: (v) =>
      REPO_PATTERN.test(v.trim())
        ? undefined
        : 'org/name: letters, digits, "-", "_" and "." on each side of one "/"',
  });
  return typed?.trim() || undefined;
}

async function askRevision(): Promise<string | undefined> {
  const r = await vscode.window.showInputBox({
    title: 'Download Model from Hugging Face',
    prompt: 'The revision: a branch, tag or commit',
    value: 'main',
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'a branch, tag or commit, e.g. main'),
  });
  return r?.trim() || undefined;
}

/** The hub's address: the machine setting, else HF_ENDPOINT, else huggingface.co. */
export function hubEndpoint(): string {
  const set = vscode.workspace.getConfiguration('llmLens').get<string>('hub.endpoint', '').trim();
  return set || process.env.HF_ENDPOINT || DEFAULT_ENDPOINT;
}

/** The cache folder: the machine setting (~ expanded), else HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub. */
export function hubCacheDir(): string {
  const set = vscode.workspace.getConfiguration('llmLens').get<string>('hub.cacheDir', '').trim();
  if (!set) return defaultHubCache();
  const home = set === '~' || set.startsWith('~/') ? path.join(os.homedir(), set.slice(1)) : set;
  return path.resolve(home);
}

async function download(
  context: vscode.ExtensionContext,
  repo: string,
  revision: string,
  open: NonNullable<DownloadModelArgs['open']>,
): Promise<DownloadModelResult> {
  const token = (await context.secrets.get(TOKEN_KEY)) || process.env.HF_TOKEN || undefined;
  const endpoint = hubEndpoint();
  const abort = new AbortController();
  const t0 = Date.now();
  let total = 0;
  let dir: string;
  log().info(`download ${repo}@${revision} from ${endpoint}${token ? ' with a token' : ''}`);
  try {
    dir = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Downloading ${repo}`,
        cancellable: true,
      },
      async (progress, cancel) => {
        cancel.onCancellationRequested(() => abort.abort());
        const meter = new ProgressMeter((message, increment) => progress.report({ message, increment }));
        progress.report({ message: 'asking the hub for its files…' });
        const out = await downloadModel({
          repo,
          revision,
          endpoint,
          cacheDir: hubCacheDir(),
          token,
          tokenHint: 'LLM Lens: Set Hugging Face Token…',
          signal: abort.signal,
          onPlan: (files) => {
            total = meter.plan(files);
          },
          onProgress: (p) => meter.update(p),
        });
        meter.flush();
        return out;
      },
    );
  } catch (e) {
    if (abort.signal.aborted) {
      void vscode.window.showInformationMessage(
        `Download of ${repo} cancelled. What arrived is kept: download it again to resume.`,
      );
      return { cancelled: true };
    }
    const error = e instanceof Error ? e.message : String(e);
    const status = e instanceof HubError ? e.status : undefined;
    log().error(`download ${repo}@${revision}: ${error}`);
    const gated = status === 401 || status === 403;
    const actions = gated ? ['Set Token…', 'Open on the Hub'] : [];
    void vscode.window
      .showErrorMessage(`LLM Lens cannot download ${repo}: ${error}`, ...actions)
      .then((a) => {
        if (a === 'Set Token…') void vscode.commands.executeCommand('llmLens.setHuggingFaceToken');
        if (a === 'Open on the Hub') void vscode.env.openExternal(vscode.Uri.parse(`${endpoint}/${repo}`));
      });
    return { error, status };
  }
  const seconds = (Date.now() - t0) / 1000;
  log().info(`downloaded ${repo}@${revision} (${size(total)}) to ${dir} in ${seconds.toFixed(1)} s`);
  let chat: boolean;
  try {
    chat = checkModelFolder(dir).chat;
  } catch (e) {
    const error = `${repo} downloaded to ${dir}, but LLM Lens cannot run it: ${e instanceof Error ? e.message : String(e)}`;
    void vscode.window.showErrorMessage(error);
    return { error };
  }
  const auto = chat ? 'chat' : 'sampler';
  const target = open === 'auto' ? auto : open;
  if (target === 'chat') void vscode.commands.executeCommand('llmLens.openChat', vscode.Uri.file(dir));
  if (target === 'sampler') void vscode.commands.executeCommand('llmLens.openSampler', vscode.Uri.file(dir));
  const others: string[] = [];
  if (target === 'chat') others.push('Open in Sampler');
  else if (chat) others.push('Chat with it');
  void vscode.window
    .showInformationMessage(
      `Downloaded ${repo} (${size(total)}) into the Hugging Face cache.`,
      ...others,
      'Reveal Folder',
    )
    .then((a) => {
      if (a === 'Open in Sampler')
        void vscode.commands.executeCommand('llmLens.openSampler', vscode.Uri.file(dir));
      if (a === 'Chat with it') void vscode.commands.executeCommand('llmLens.openChat', vscode.Uri.file(dir));
      if (a === 'Reveal Folder') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(dir));
    });
  return { repo, revision, dir, chat };
}

/** Asks for the token (or takes it as the argument; "" clears it) and keeps it in SecretStorage. */
async function setToken(
  context: vscode.ExtensionContext,
  arg: unknown,
): Promise<{ set: boolean } | undefined> {
  let token: string | undefined;
  if (typeof arg === 'string') token = arg.trim();
  else {
    const had = await context.secrets.get(TOKEN_KEY);
    token = (
      await vscode.window.showInputBox({
        title: 'Hugging Face access token',
        prompt: had
          ? 'A token is set. Give a new one, or leave this empty to remove it.'
          : "A read token from https://huggingface.co/settings/tokens, for gated and private models. Kept in VS Code's secret storage.",
        placeHolder: 'hf_…',
        password: true,
        ignoreFocusOut: true,
        validateInput: (v) =>
          !v.trim() || /^hf_\w{8,}$/.test(v.trim()) ? undefined : 'a Hugging Face token starts with hf_',
      })
    )?.trim();
    if (token === undefined) return undefined;
  }
  if (token && !/^hf_\w{8,}$/.test(token)) {
    void vscode.window.showErrorMessage(
      'LLM Lens: a Hugging Face token starts with hf_ (nothing was saved).',
    );
    return { set: false };
  }
  if (!token) {
    await context.secrets.delete(TOKEN_KEY);
    void vscode.window.showInformationMessage('Hugging Face token removed.');
    return { set: false };
  }
  await context.secrets.store(TOKEN_KEY, token);
  void vscode.window.showInformationMessage("Hugging Face token saved in VS Code's secret storage.");
  return { set: true };
}
