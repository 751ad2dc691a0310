/**
 * Runs the mocha suite (out/test/integration/index.js) inside code-server's extension host, the way
 * VS Code's own browser integration tests do: the URL payload names extensionDevelopmentPath and
 * extensionTestsPath, and the suite's output and exit code come back through codeAutomationLog/Exit.
 */
import { format } from 'node:util';
import { join } from 'node:path';
import { REPO } from './codeServer';
import { openVSCode } from './workbench';

export async function runIntegrationTests(
  workspace: string,
  timeoutMs = 300_000,
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  let finish!: (code: number) => void;
  const exited = new Promise<number>((r) => (finish = r));
  const vs = await openVSCode({
    workspace,
    beforeLoad: async (page) => {
      await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => {
        const line = format(...(args ?? []));
        lines.push(line);
        process.stdout.write(`  | ${line}\n`);
      });
      await page.exposeFunction('codeAutomationExit', (code: number) => finish(code));
    },
    payload: (server) => [
      ['extensionDevelopmentPath', `vscode-remote://${server.host}${REPO}`],
      [
        'extensionTestsPath',
        `vscode-remote://${server.host}${join(REPO, 'out', 'test', 'integration', 'index.js')}`,
      ],
      ['skipWelcome', 'true'],
    ],
  });
  try {
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<number>((r) => (timer = setTimeout(() => r(-1), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (code === -1) lines.push(`integration tests timed out after ${timeoutMs / 1000} s`);
    await vs.screenshot('integration-final').catch(() => undefined);
    return { code, output: lines.join('\n') };
  } finally {
    await vs.close();
  }
}
