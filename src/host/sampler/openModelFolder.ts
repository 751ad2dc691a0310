/**
 * LLM Lens: Open Model Folder… (`llmLens.openModelFolder`): a model downloaded into the Hugging Face cache
 * (listed first when there are any) or a model folder (config.json, safetensors, tokenizer.json; GPT-2,
 * Llama or Qwen2) checked (modelFolder.ts: what is not supported is refused with the model_type and what
 * is) and opened in the Sampler, with "Chat with it" offered when its tokenizer has a chat template or the
 * chat tokens.
 *
 *   await vscode.commands.executeCommand('llmLens.openModelFolder', vscode.Uri.file('/models/SmolLM2-135M'));
 *   // { sampler: SamplerSummary, chat: true } or { error: 'config.json: model_type "mistral" is not supported: …' }
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { listCachedModels } from '../../engine/hub/cache';
import { checkModelFolder } from '../../engine/model/modelFolder';
import { hubCacheDir } from '../hub/downloadCommand';
import type { SamplerSummary } from './samplerPanel';

export type OpenModelFolderResult =
  { sampler: SamplerSummary | undefined; chat: boolean } | { error: string } | undefined;

/** A downloaded model (the Hugging Face cache), or a folder from the dialog. */
async function pickModel(): Promise<string | undefined> {
  const cached = listCachedModels(hubCacheDir());
  if (!cached.length) return pickFolder();
  const browse = '$(folder-opened) Browse…';
  const picked = await vscode.window.showQuickPick(
    [
      ...cached.map((m) => ({
        label: m.repo,
        description: m.refs.length ? m.refs.join(', ') : m.commit.slice(0, 7),
        detail: m.dir,
      })),
      { label: browse, description: 'a folder with config.json, safetensors and tokenizer.json', detail: '' },
    ],
    { title: 'Open Model Folder', placeHolder: 'A downloaded model, or Browse… for a folder' },
  );
  if (!picked) return undefined;
  return picked.label === browse ? pickFolder() : picked.detail;
}

async function pickFolder(): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    title: 'A Hugging Face model folder (config.json, model.safetensors, tokenizer.json)',
  });
  return uris?.[0]?.fsPath;
}

/** Registers LLM Lens: Open Model Folder… (with an optional folder Uri). */
export function registerOpenModelFolder(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(
      'llmLens.openModelFolder',
      async (arg?: unknown): Promise<OpenModelFolderResult> => {
        const dir = arg instanceof vscode.Uri ? arg.fsPath : await pickModel();
        if (!dir) return undefined;
        let chat: boolean;
        try {
          chat = checkModelFolder(dir).chat;
        } catch (e) {
          const error = e instanceof Error ? e.message : String(e);
          void vscode.window.showErrorMessage(`LLM Lens cannot open this model: ${error}`);
          return { error };
        }
        const sampler = await vscode.commands.executeCommand<SamplerSummary | undefined>(
          'llmLens.openSampler',
          vscode.Uri.file(dir),
        );
        if (chat)
          void vscode.window
            .showInformationMessage(`${path.basename(dir)} has a chat template.`, 'Chat with it')
            .then((c) => c && vscode.commands.executeCommand('llmLens.openChat', vscode.Uri.file(dir)));
        return { sampler, chat };
      },
    ),
  );
}
