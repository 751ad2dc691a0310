/**
 * `LLM Lens: Show Environment`: versions, onnxruntime-node backends and working execution providers;
 * `LLM Lens: Install CUDA Support…`: asks first (what, from where, how big), downloads with a
 * cancellable progress notification, installs and says what the cuda provider still lacks.
 *
 *   const report = await probeEnvironment(context, worker);
 *   const result = await installCudaSupport(context);  // undefined when the user declines or it fails
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  installCudaProviders,
  probeCudaInChild,
  resolveCudaPackage,
  type CudaInstallEvent,
  type CudaInstallResult,
} from '../engine/runtime/cudaInstall';
import { CUDA_PIECE_NAMES, ortBinDir } from '../engine/runtime/probe';
import type { EnvironmentReport, ProviderStatus, RuntimeReport } from '../protocol/environment';
import type { WorkerClient } from '../worker/client';
import { log } from './log';

/** Runs the runtime probe in the worker and adds what only the host knows. */
export async function probeEnvironment(
  context: vscode.ExtensionContext,
  worker: WorkerClient,
): Promise<EnvironmentReport> {
  const result = await worker.run({ kind: 'probeRuntime', cpus: os.availableParallelism() });
  return {
    extensionVersion: String(context.extension.packageJSON.version),
    vscodeVersion: vscode.version,
    appName: vscode.env.appName,
    uiKind: vscode.env.uiKind === vscode.UIKind.Web ? 'web' : 'desktop',
    runtime: result.report,
    probedAt: new Date().toISOString(),
  };
}

/** The report as Markdown: for the output channel, the clipboard and bug reports. */
export function environmentMarkdown(r: EnvironmentReport): string {
  return [
    `# LLM Lens environment`,
    ``,
    `| | |`,
    `|---|---|`,
    `| LLM Lens | ${r.extensionVersion} |`,
    `| ${r.appName} | ${r.vscodeVersion} (${r.uiKind}) |`,
    ...runtimeRows(r.runtime),
    ``,
    `Probed at ${r.probedAt}.`,
  ].join('\n');
}

export function runtimeRows(rt: RuntimeReport): string[] {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
  return [
    `| Node.js | ${rt.nodeVersion} |`,
    `| Platform | ${rt.platform}-${rt.arch}, ${rt.cpus} CPUs |`,
    `| onnxruntime-node | ${rt.ortVersion ?? `not loaded: ${cell(rt.ortError ?? 'unknown error')}`} |`,
    `| Backends | ${rt.backends.map((b) => `${b.name}${b.bundled ? '' : ' (not bundled)'}`).join(', ') || 'none'} |`,
    ...rt.providers.map(
      (p) =>
        `| Provider ${p.name} | ${p.ok ? `works (${(p.ms ?? 0).toFixed(0)} ms)` : `unavailable: ${cell(unavailable(p))}`} |`,
    ),
  ];
}

/** Why a provider does not work: ORT's message, then the missing pieces by name (the panel has the details). */
function unavailable(p: ProviderStatus): string {
  const missing = (p.missing ?? []).map((m) => CUDA_PIECE_NAMES[m.piece]);
  return [p.error ?? '', missing.length ? `missing: ${missing.join(', ')}` : ''].filter(Boolean).join('; ');
}

const INSTALL = 'Download and Install';

/**
 * `LLM Lens: Install CUDA Support…`. Downloads nothing before the user agrees to the package, its
 * source and its size; the install runs under a cancellable progress notification and ends with
 * the probe's verdict.
 */
export async function installCudaSupport(
  context: vscode.ExtensionContext,
): Promise<CudaInstallResult | undefined> {
  try {
    const pkg = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: 'LLM Lens: looking up the CUDA provider package…',
      },
      () => resolveCudaPackage(),
    );
    const binDir = ortBinDir();
    const choice = await vscode.window.showWarningMessage(
      `Download ${pkg.name} ${pkg.version} (${megabytes(pkg.size)}) to install CUDA support?`,
      {
        modal: true,
        detail:
          `From ${pkg.url} (the NuGet feed ${pkg.feed}), checked against the SHA512 the feed lists. ` +
          `Its CUDA provider libraries go into ${binDir}, where onnxruntime-node loads them. ` +
          'The cuda provider also needs an NVIDIA driver, CUDA 12 and cuDNN 9 on this machine.',
      },
      INSTALL,
    );
    if (choice !== INSTALL) return undefined;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'LLM Lens: CUDA support', cancellable: true },
      (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        let reported = 0;
        const onProgress = (e: CudaInstallEvent) => {
          const pct = e.status === 'downloading' ? Math.floor((100 * e.bytes) / e.total) : reported;
          progress.report({ message: progressMessage(e), increment: pct - reported });
          reported = pct;
        };
        return installCudaProviders(pkg, {
          binDir,
          downloadDir: path.join(context.globalStorageUri.fsPath, 'cuda'),
          signal: ac.signal,
          onProgress,
          probe: () => probeCudaInChild(path.join(context.extensionPath, 'dist', 'cli.js')),
        });
      },
    );
    log().info(`Installed ${result.installed.join(', ')}; cuda: ${JSON.stringify(result.cuda)}`);
    if (result.cuda.ok)
      void vscode.window.showInformationMessage(
        `LLM Lens: CUDA support installed; the cuda execution provider works (${(result.cuda.ms ?? 0).toFixed(0)} ms).`,
      );
    else
      void vscode.window
        .showWarningMessage(
          result.cuda.missing?.length
            ? `LLM Lens: CUDA provider libraries installed; cuda still needs ${result.cuda.missing.map((m) => CUDA_PIECE_NAMES[m.piece]).join(', ')}. The Environment panel says how to get them.`
            : `LLM Lens: CUDA provider libraries installed, but cuda does not work: ${result.cuda.error ?? ''}`,
          'Show Environment',
        )
        .then((b) => b && vscode.commands.executeCommand('llmLens.showEnvironment'));
    return result;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if ((e as { name?: unknown } | undefined)?.name === 'AbortError') {
      void vscode.window.showInformationMessage(
        'LLM Lens: CUDA support install cancelled; run it again to resume the download.',
      );
      return undefined;
    }
    log().error(`Install CUDA Support failed: ${message}`);
    void vscode.window.showErrorMessage(`LLM Lens: Install CUDA Support failed: ${message}`);
    return undefined;
  }
}

/** '0.3 MB', '41.7 MB', '312 MB': one decimal below 100 MB. */
function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e8 ? 1 : 0)} MB`;
}

function progressMessage(e: CudaInstallEvent): string {
  switch (e.status) {
    case 'downloading':
      return `downloading ${megabytes(e.bytes)} of ${megabytes(e.total)}`;
    case 'installing':
      return `installing ${e.file}`;
    case 'probing':
      return 'checking the cuda provider';
  }
}
