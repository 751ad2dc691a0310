/**
 * Which tools the panels offer and run (src/host/tools/toolAccess.ts), against the table of the rules
 * written out by hand: python only in a trusted workspace once allowed, asked once, search only with a
 * folder, calculator always.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  mustAsk,
  NOTES,
  toolOffer,
  toolsToRun,
  type PythonConsent,
  resolveSearchFolder,
} from '../../src/host/tools/toolAccess';

// trusted, consent, folder → asks?, runs, offered, note
const TABLE: [boolean, PythonConsent, boolean, boolean, string, string, string][] = [
  [false, undefined, true, false, 'calculator,search', 'calculator,search', NOTES.untrusted],
  [false, 'allowed', true, false, 'calculator,search', 'calculator,search', NOTES.untrusted],
  [false, 'declined', true, false, 'calculator,search', 'calculator,search', NOTES.untrusted],
  [true, undefined, true, true, 'calculator,search', 'calculator,search,python', NOTES.ask],
  [true, 'allowed', true, false, 'calculator,search,python', 'calculator,search,python', ''],
  [true, 'declined', true, false, 'calculator,search', 'calculator,search', NOTES.declined],
  [true, 'allowed', false, false, 'calculator,python', 'calculator,python', NOTES.noFolder],
  [false, undefined, false, false, 'calculator', 'calculator', `${NOTES.untrusted}; ${NOTES.noFolder}`],
];

test('tools by Workspace Trust, the answer about python and the workspace folder', () => {
  for (const [trusted, consent, folder, asks, runs, offered, note] of TABLE) {
    const c = { trusted, consent, folder };
    const at = JSON.stringify(c);
    assert.equal(mustAsk(c), asks, at);
    assert.equal(toolsToRun(c).join(','), runs, at);
    assert.deepEqual(toolOffer(c), { names: offered.split(','), note }, at);
  }
});

test('the search folder: the setting (absolute or relative to the workspace), else the workspace', () => {
  const dirs = new Set(['/w', '/w/docs', '/notes']);
  const isDir = (p: string) => dirs.has(p);
  assert.equal(resolveSearchFolder('', '/w', isDir), '/w');
  assert.equal(resolveSearchFolder('  ', undefined, isDir), undefined);
  assert.equal(resolveSearchFolder('docs', '/w', isDir), '/w/docs');
  assert.equal(resolveSearchFolder('/notes', '/w', isDir), '/notes');
  assert.equal(resolveSearchFolder('/notes', undefined, isDir), '/notes');
  assert.equal(resolveSearchFolder('missing', '/w', isDir), undefined);
  assert.equal(resolveSearchFolder('docs', undefined, isDir), undefined);
});
