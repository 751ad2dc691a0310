/** `LLM Lens: Show Environment`: versions, onnxruntime-node backends and working execution providers. */
import * as os from 'node:os';
import * as vscode from 'vscode';
import type { EnvironmentReport, RuntimeReport } from '../protocol/environment';
import type { WorkerClient } from '../worker/client';

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
        `| Provider ${p.name} | ${p.ok ? `works (${(p.ms ?? 0).toFixed(0)} ms)` : `unavailable: ${cell(p.error ?? '')}`} |`,
    ),
  ];
}
