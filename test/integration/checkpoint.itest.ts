/** The Checkpoint Inspector through the real extension host: Open Checkpoint on a safetensors file, an ONNX model and a broken file. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { encodeModel, OnnxDataType } from '../../src/engine/graph/onnxProto';
import { writeSafetensorsAtomic } from '../../src/engine/checkpoint/writer';

interface Opened {
  path: string;
  params?: number;
  tensors?: number;
  architecture?: string;
  error?: string;
}

describe('LLM Lens: Checkpoint Inspector', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llm-lens-itest-ckpt-'));
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    rmSync(dir, { recursive: true, force: true });
  });

  it('contributes custom editors for *.safetensors and *.onnx', () => {
    const pkg = vscode.extensions.getExtension('llm-lens.llm-lens')!.packageJSON as {
      contributes: {
        customEditors: { viewType: string; selector: { filenamePattern: string }[]; priority: string }[];
      };
    };
    const editors = Object.fromEntries(pkg.contributes.customEditors.map((e) => [e.viewType, e]));
    assert.deepEqual(editors['llmLens.checkpoint'].selector, [{ filenamePattern: '*.safetensors' }]);
    assert.equal(editors['llmLens.checkpoint'].priority, 'default');
    assert.deepEqual(editors['llmLens.onnx'].selector, [{ filenamePattern: '*.onnx' }]);
  });

  it('opens a safetensors checkpoint in the inspector tab and counts its parameters', async () => {
    const file = join(dir, 'model.safetensors');
    await writeSafetensorsAtomic(file, [
      { name: 'transformer.wte.weight', dtype: 'F32', shape: [10, 4], data: new Float32Array(40).fill(0.5) },
      {
        name: 'transformer.h.0.attn.c_attn.weight',
        dtype: 'F32',
        shape: [4, 12],
        data: new Float32Array(48),
      },
      { name: 'transformer.h.0.ln_1.weight', dtype: 'BF16', shape: [4], data: new Uint16Array(4) },
    ]);
    const r = (await vscode.commands.executeCommand(
      'llmLens.openCheckpoint',
      vscode.Uri.file(file),
    )) as Opened;
    assert.deepEqual(r, { path: file, params: 40 + 48 + 4, tensors: 3, architecture: 'GPT-2' });
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.ok(tab?.input instanceof vscode.TabInputCustom, 'a custom editor tab');
    assert.equal((tab.input as vscode.TabInputCustom).viewType, 'llmLens.checkpoint');
    assert.equal(tab.label, 'model.safetensors');
  });

  it('opens an ONNX model with its initializers as tensors', async () => {
    const file = join(dir, 'tiny.onnx');
    writeFileSync(
      file,
      encodeModel({
        irVersion: 9,
        opsetImport: [{ domain: '', version: 20 }],
        graph: {
          name: 'g',
          node: [{ opType: 'MatMul', input: ['x', 'W'], output: ['y'] }],
          initializer: [
            { name: 'W', dims: [3, 2], dataType: OnnxDataType.FLOAT, floatData: [1, 2, 3, 4, 5, 6] },
          ],
          input: [
            {
              name: 'x',
              type: {
                tensorType: {
                  elemType: OnnxDataType.FLOAT,
                  shape: { dim: [{ dimParam: 'n' }, { dimValue: 3 }] },
                },
              },
            },
          ],
          output: [
            {
              name: 'y',
              type: {
                tensorType: {
                  elemType: OnnxDataType.FLOAT,
                  shape: { dim: [{ dimParam: 'n' }, { dimValue: 2 }] },
                },
              },
            },
          ],
        },
      }),
    );
    const r = (await vscode.commands.executeCommand(
      'llmLens.openCheckpoint',
      vscode.Uri.file(file),
    )) as Opened;
    assert.equal(r.params, 6);
    assert.equal(r.tensors, 1);
    assert.equal(
      (vscode.window.tabGroups.activeTabGroup.activeTab?.input as vscode.TabInputCustom).viewType,
      'llmLens.onnx',
    );
  });

  it("a file that is not safetensors opens with the reader's error instead of failing", async () => {
    const file = join(dir, 'notes.safetensors');
    writeFileSync(file, 'just some notes, not tensors');
    const r = (await vscode.commands.executeCommand(
      'llmLens.openCheckpoint',
      vscode.Uri.file(file),
    )) as Opened;
    assert.equal(r.params, undefined);
    assert.match(r.error ?? '', /notes\.safetensors/);
    assert.equal(vscode.window.tabGroups.activeTabGroup.activeTab?.label, 'notes.safetensors');
  });
});
