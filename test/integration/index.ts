/**
 * The extension-host integration suite (mocha, the real `vscode` API). Runs under code-server via
 * test/e2e/harness/integration.ts, and under @vscode/test-electron with `npm run test:electron`.
 */
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec' });
  mocha.suite.emit('pre-require', globalThis, 'integration', mocha);
  // Suites are bundled into this file; require() runs each one now that mocha's globals exist.
  /* eslint-disable @typescript-eslint/no-require-imports */
  require('./environment.itest');
  require('./tokenize.itest');
  require('./checkpoint.itest');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new Promise((resolve, reject) => {
    mocha.run((failures) =>
      failures ? reject(new Error(`${failures} integration test(s) failed`)) : resolve(),
    );
  });
}
