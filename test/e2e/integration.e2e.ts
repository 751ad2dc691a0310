/** The mocha integration suite, inside code-server's extension host with this checkout as the development extension. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeWorkspace } from './harness/codeServer';
import { runIntegrationTests } from './harness/integration';

test('extension-host integration suite passes', async () => {
  const { code, output } = await runIntegrationTests(makeWorkspace({ 'notes.txt': 'hello\n' }));
  assert.match(output, /\d+ passing/, 'mocha reported no passing tests');
  assert.equal(code, 0, `integration suite failed:\n${output}`);
});
