/** LLM Lens: Show Environment, through the real command and the real extension host. */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { EnvironmentReport } from '../../src/protocol/environment';

describe('LLM Lens: Show Environment', () => {
  it('activates on its command and contributes the Runs view and the log', async () => {
    const ext = vscode.extensions.getExtension('llm-lens.llm-lens');
    assert.ok(ext, 'the extension is installed');
    await ext.activate();
    const pkg = ext.packageJSON as {
      activationEvents?: string[];
      contributes: { views: Record<string, { id: string }[]> };
    };
    assert.ok(!(pkg.activationEvents ?? []).includes('*'), 'no * activation');
    assert.deepEqual(
      pkg.contributes.views.llmLens.map((v) => v.id),
      ['llmLens.runs'],
    );
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('llmLens.showEnvironment'));
  });

  it('reports versions and a working CPU execution provider', async () => {
    const report = (await vscode.commands.executeCommand('llmLens.showEnvironment')) as EnvironmentReport;
    assert.ok(report, 'the command returns its report');
    const ext = vscode.extensions.getExtension('llm-lens.llm-lens')!;
    assert.equal(ext.isActive, true);
    assert.equal(report.extensionVersion, ext.packageJSON.version);
    assert.equal(report.vscodeVersion, vscode.version);
    // The reference: the onnxruntime-node package that ships with the extension.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a file of the installed extension, at run time
    const ortPkg = require(`${ext.extensionPath}/node_modules/onnxruntime-node/package.json`) as {
      version: string;
    };
    assert.equal(report.runtime.ortVersion, ortPkg.version);
    assert.equal(report.runtime.nodeVersion, process.versions.node);
    assert.deepEqual(
      report.runtime.providers.map((p) => p.name),
      ['cpu', 'webgpu', 'cuda'],
    );
    const cpu = report.runtime.providers.find((p) => p.name === 'cpu')!;
    assert.equal(cpu.ok, true, `cpu provider failed: ${cpu.error}`);
    for (const p of report.runtime.providers)
      assert.ok(p.ok || (p.error && p.error.length > 0), `${p.name} has neither ok nor a reason`);
    assert.ok(report.runtime.backends.some((b) => b.name === 'cpu'));
  });

  it('opens one Environment panel and reuses it', async () => {
    await vscode.commands.executeCommand('llmLens.showEnvironment');
    // the extension host's tab model follows the workbench asynchronously: wait for the panel's tab
    const tabs = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label === 'LLM Lens: Environment');
    for (let i = 0; i < 50 && !tabs().length; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500)); // and for a second tab, were the panel not reused
    assert.equal(tabs().length, 1);
  });
});
