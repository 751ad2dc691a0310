/**
 * What the Sampler and the Chat panel do alike with their webview panel: icon, HTML shell, untrusted
 * messages in, typed messages out, errors shown in the panel and the log, disposal.
 *
 *   const host = new PanelHost(panel, context, 'chat', 'LLM Lens: Chat', {
 *     valid: isChatWebviewMessage,
 *     message: (m) => this.onMessage(m),
 *     dispose: () => this.dispose(),
 *   });
 *   host.post({ type: 'busy', message: 'Loading…' });
 */
import * as vscode from 'vscode';
import { log } from './log';
import { webviewHtml, webviewOptions } from './webviewHtml';

/** A new panel of `viewType` in the active column, its context kept while hidden. */
export function createPanel(
  context: vscode.ExtensionContext,
  viewType: string,
  title: string,
): vscode.WebviewPanel {
  return vscode.window.createWebviewPanel(viewType, title, vscode.ViewColumn.Active, {
    ...webviewOptions(context.extensionUri),
    retainContextWhenHidden: true,
  });
}

export class PanelHost<ToWebview, FromWebview> {
  readonly disposables: vscode.Disposable[] = [];

  /** @param bundle the webview bundle (dist/webview/<bundle>.js) */
  constructor(
    readonly panel: vscode.WebviewPanel,
    context: vscode.ExtensionContext,
    bundle: string,
    title: string,
    on: {
      /** The webview's messages are untrusted: only those `valid` accepts reach `message`. */
      valid: (m: unknown) => m is FromWebview;
      message: (m: FromWebview) => Promise<void>;
      dispose: () => void;
    },
  ) {
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'lens.svg');
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, bundle, title);
    panel.onDidDispose(on.dispose, null, this.disposables);
    const receive = (m: unknown) => {
      if (on.valid(m)) void on.message(m);
      else log().warn(`${title}: ignored an invalid message ${JSON.stringify(m)?.slice(0, 200)}`);
    };
    panel.webview.onDidReceiveMessage(receive, null, this.disposables);
  }

  post(message: ToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  /** Logs the error and returns its message (for the panel's error message). */
  static errorText(what: string, e: unknown): string {
    const message = e instanceof Error ? e.message : String(e);
    log().error(`${what}: ${message}`);
    return message;
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
