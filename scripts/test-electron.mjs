// Runs the extension-host integration suite (out/test/integration) in desktop VS Code through
// @vscode/test-electron. It downloads VS Code, so it works only where that download is reachable;
// offline, `npm test` runs the same suite in code-server instead (test/e2e/integration.e2e.ts).
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { runTests } from '@vscode/test-electron';

execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
try {
  await runTests({
    version: process.env.VSCODE_VERSION ?? '1.100.3',
    extensionDevelopmentPath: resolve('.'),
    extensionTestsPath: resolve('out/test/integration/index.js'),
    launchArgs: ['--disable-extensions', '--disable-workspace-trust', resolve('test/fixtures/workspace')],
  });
} catch (e) {
  console.error(`test:electron failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
