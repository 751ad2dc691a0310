/**
 * softwareWebgpuOnly: on Linux a WebGPU adapter can be hardware only with a GPU device node; fake /dev
 * trees with and without /dev/dri/renderD128 or /dev/nvidia0 give the answer, other platforms are not judged.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { softwareWebgpuOnly } from '../../src/engine/runtime/adapter';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-dev-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function dev(name: string, files: string[]): string {
  const d = path.join(root, name);
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), '');
  }
  fs.mkdirSync(d, { recursive: true });
  return d;
}

test('no render node and no NVIDIA device: only a software adapter can run WebGPU', () => {
  const linux = 'linux' as const;
  assert.equal(softwareWebgpuOnly({ dev: dev('bare', ['null', 'dri/card0']), platform: linux }), true);
  assert.equal(
    softwareWebgpuOnly({ dev: dev('amd', ['dri/card0', 'dri/renderD128']), platform: linux }),
    false,
  );
  assert.equal(softwareWebgpuOnly({ dev: dev('nv', ['nvidia0', 'nvidiactl']), platform: linux }), false);
  assert.equal(softwareWebgpuOnly({ dev: dev('ctl', ['nvidiactl', 'nvidia-uvm']), platform: linux }), true);
  assert.equal(softwareWebgpuOnly({ dev: path.join(root, 'absent'), platform: linux }), true);
  assert.equal(softwareWebgpuOnly({ dev: dev('mac', []), platform: 'darwin' }), false);
});
