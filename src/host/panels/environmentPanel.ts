/** The Environment panel: one instance, revived after a window reload by its serializer. */
import * as vscode from 'vscode';
import type {
  EnvironmentHostMessage,
  EnvironmentReport,
  EnvironmentWebviewMessage,
} from '../../protocol/environment';
import { environmentMarkdown } from '../environment';
import { log } from '../log';
import { webviewHtml, webviewOptions } from '../webviewHtml';
import { isEnvironmentWebviewMessage } from './validate';

export class EnvironmentPanel {
  static readonly viewType = 'llmLens.environment';
  private static current: EnvironmentPanel | undefined;
  private report: EnvironmentReport | undefined;
  private probing: Promise<void> | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  /** Shows the panel (creating it when needed) and runs a fresh probe. */
  static createOrShow(extensionUri: vscode.Uri, probe: () => Promise<EnvironmentReport>): EnvironmentPanel {
    if (EnvironmentPanel.current) {
      EnvironmentPanel.current.panel.reveal();
      void EnvironmentPanel.current.refresh();
      return EnvironmentPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      EnvironmentPanel.viewType,
      'LLM Lens: Environment',
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    return new EnvironmentPanel(panel, extensionUri, probe);
  }

  /** Restores the panel after a reload (WebviewPanelSerializer). */
  static revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    probe: () => Promise<EnvironmentReport>,
  ): EnvironmentPanel {
    panel.webview.options = webviewOptions(extensionUri);
    return new EnvironmentPanel(panel, extensionUri, probe);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly probe: () => Promise<EnvironmentReport>,
  ) {
    EnvironmentPanel.current = this;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'lens.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'environment', 'LLM Lens: Environment');
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, this.disposables);
    void this.refresh();
  }

  /** The last finished report (undefined while the first probe runs or after it failed). */
  get currentReport(): EnvironmentReport | undefined {
    return this.report;
  }

  /** Resolves when the current probe has finished and been posted. */
  refresh(): Promise<void> {
    this.probing ??= (async () => {
      this.post({ type: 'probing' });
      try {
        this.report = await this.probe();
        log().info(environmentMarkdown(this.report));
        this.post({ type: 'report', report: this.report });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        log().error(`Environment probe failed: ${message}`);
        this.post({ type: 'error', message });
      } finally {
        this.probing = undefined;
      }
    })();
    return this.probing;
  }

  private onMessage(raw: unknown): void {
    if (!isEnvironmentWebviewMessage(raw)) {
      log().warn(`Environment panel: ignored an invalid message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m: EnvironmentWebviewMessage = raw;
    switch (m.type) {
      case 'ready':
        if (this.report) this.post({ type: 'report', report: this.report });
        else this.post({ type: 'probing' });
        break;
      case 'refresh':
        void this.refresh();
        break;
      case 'installCuda':
        void vscode.commands.executeCommand('llmLens.installCuda').then(() => this.refresh());
        break;
      case 'copy':
        if (this.report)
          void vscode.env.clipboard
            .writeText(environmentMarkdown(this.report))
            .then(() => vscode.window.showInformationMessage('LLM Lens: environment report copied.'));
        break;
    }
  }

  private post(message: EnvironmentHostMessage): void {
    void this.panel.webview.postMessage(message);
  }

  private dispose(): void {
    if (EnvironmentPanel.current === this) EnvironmentPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
