/** The import boundaries of ARCHITECTURE.md, enforced: engine without vscode, ORT only in runtime, webviews without host code. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundaryViolations, importsOf, sourceFiles } from '../../scripts/boundaries';

test('the source tree respects the import boundaries', () => {
  const violations = boundaryViolations(sourceFiles('.'));
  assert.deepEqual(violations, []);
});

test('the checker sees every import form', () => {
  const src = `import * as vscode from 'vscode';\nimport type { X } from "../host/x";\nconst o = require('onnxruntime-node');\nexport { y } from './y';\nconst z = await import('../cli/main');\nimport './side-effect';`;
  assert.deepEqual(importsOf(src), [
    'vscode',
    '../host/x',
    'onnxruntime-node',
    './y',
    '../cli/main',
    './side-effect',
  ]);
});

test('the checker reports each kind of violation', () => {
  const files = new Map<string, string>([
    ['src/engine/model/gpt.ts', `import * as vscode from 'vscode';\nimport { a } from '../../host/log';`],
    ['src/engine/graph/run.ts', `import * as ort from 'onnxruntime-node';`],
    ['src/engine/runtime/ort.ts', `import * as ort from 'onnxruntime-node';`],
    ['src/host/x.ts', `const o = require('onnxruntime-node');`],
    [
      'webview/tokenize/main.ts',
      `import { encode } from '../../src/engine/tokenizer/bpe';\nimport type { M } from '../../src/protocol/tokenize';`,
    ],
    ['webview/common/a.ts', `import * as vscode from 'vscode';`],
    ['src/protocol/p.ts', `import { x } from '../engine/x';`],
  ]);
  const found = boundaryViolations(files).map((v) => `${v.file}: ${v.specifier}`);
  assert.deepEqual(found.sort(), [
    'src/engine/graph/run.ts: onnxruntime-node',
    'src/engine/model/gpt.ts: ../../host/log',
    'src/engine/model/gpt.ts: vscode',
    'src/host/x.ts: onnxruntime-node',
    'src/protocol/p.ts: ../engine/x',
    'webview/common/a.ts: vscode',
    'webview/tokenize/main.ts: ../../src/engine/tokenizer/bpe',
  ]);
});
